"""Keep sign-in secrets out of the access log.

Sign-in links carry their token in the URL fragment, which is never sent; but an old
link, or a provider's redirect back (``/auth/google/callback?code=...&state=...``), puts
one-time secrets in the query string, and uvicorn logs every request line. This filter
drops the query string of the sign-in routes from each access-log record.
"""

from __future__ import annotations

import logging

#: the access logger of uvicorn, which ``modellab serve`` runs
ACCESS_LOGGER = "uvicorn.access"
#: request paths whose query strings may hold secrets
SECRET_QUERY_PATHS = ("/auth/",)


class RedactSignInQueries(logging.Filter):
    """Replaces the query string of a sign-in route's request line by ``?[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's path argument; never drops a record."""
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        return True


def redact(path: str) -> str:
    """``path`` without its query string when it is a sign-in route."""
    base, sep, _ = path.partition("?")
    if sep and base.startswith(SECRET_QUERY_PATHS):
        return f"{base}?[redacted]"
    return path


def install() -> None:
    """Add the filter to the access logger once (idempotent)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactSignInQueries) for f in logger.filters):
        logger.addFilter(RedactSignInQueries())
