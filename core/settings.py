"""Where ModelLab keeps its state, read from the environment.

``MODELLAB_HOME`` (default ``./.modellab``) holds the SQLite database;
``MODELLAB_DATABASE_URL`` overrides the database; ``MODELLAB_ARTIFACT_ROOT`` (default
``./artifacts``) holds datasets and run artifacts; ``MODELLAB_MAX_UPLOAD_MB`` caps the
size of a dataset file (default 1024); ``MODELLAB_REDIS_URL`` sends runs to arq workers;
``MODELLAB_HEARTBEAT_SECONDS`` and ``MODELLAB_STALE_AFTER_SECONDS`` tune how lost workers
are detected.

Sign-in: ``MODELLAB_PUBLIC_URL`` (the address people open; links are built from it)
turns sign-in on. ``MODELLAB_SMTP_URL`` (``smtp://user:password@host:port``, or
``smtps://`` for TLS) and ``MODELLAB_MAIL_FROM`` send magic links;
``MODELLAB_OIDC_CLIENT_ID``, ``MODELLAB_OIDC_CLIENT_SECRET`` and ``MODELLAB_OIDC_ISSUER``
(default Google's) enable sign-in with Google or another OpenID provider.
``MODELLAB_SIGN_UP_DOMAINS`` lets addresses of those domains (``*``: any) create an
account at first sign-in; unset, sign-in is invite-only. ``MODELLAB_ALLOWED_HOSTS``
lists the host names the server answers to (default: loopback names in local mode, the
public URL's host with sign-in). ``MODELLAB_TOKEN_DAYS`` gives new API tokens a
lifetime.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from modellab.errors import InvalidInputError

#: the names a local-mode server answers to: a browser reaches it only through these
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Settings:
    """Resolved configuration for one process."""

    home: Path
    database_url: str
    artifact_root: Path
    max_upload_bytes: int
    #: the tables' owner, for migrations; None migrates as ``database_url``'s role
    migration_database_url: str | None = None
    #: arq's Redis; None runs queued runs in the server itself (the embedded executor)
    redis_url: str | None = None
    #: how often the process watching a run marks it alive
    heartbeat_seconds: float = 2.0
    #: a running run whose heartbeat is older than this lost its worker
    stale_after_seconds: float = 30.0
    #: where people reach the server; None runs in local mode as the single local user
    public_url: str | None = None
    smtp_url: str | None = None
    mail_from: str = "ModelLab <modellab@localhost>"
    oidc_issuer: str = "https://accounts.google.com"
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    #: domains whose addresses may create an account at first sign-in ("*": any);
    #: empty: invite-only, only addresses that already have an account sign in
    sign_up_domains: tuple[str, ...] = ()
    #: Host header names the server answers to; empty: the defaults of :attr:`hosts`
    allowed_hosts: tuple[str, ...] = ()
    #: lifetime of new API tokens and the longest one may ask for; None: no limit
    token_days: int | None = None

    @property
    def hosts(self) -> frozenset[str]:
        """The host names (without port) requests may be addressed to.

        Checking the Host header stops DNS rebinding: a page on another name that
        resolves to this server cannot talk to it.
        """
        if self.allowed_hosts:
            return frozenset(self.allowed_hosts)
        if self.public_url is not None:
            return frozenset({(urlsplit(self.public_url).hostname or "").lower()})
        return frozenset(LOOPBACK_HOSTS)

    def may_sign_up(self, email: str) -> bool:
        """Whether ``email`` (normalized) may create an account by signing in."""
        domain = email.rpartition("@")[2]
        return "*" in self.sign_up_domains or domain in self.sign_up_domains

    @property
    def sign_in_enabled(self) -> bool:
        """Requests need a session or a token (else all run as the local user)."""
        return self.public_url is not None

    @property
    def oidc_enabled(self) -> bool:
        """Sign-in with Google (or another OpenID provider) is configured."""
        return self.public_url is not None and bool(self.oidc_client_id)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: the process environment)."""
        env = dict(os.environ) if environ is None else environ
        home = Path(env.get("MODELLAB_HOME") or ".modellab").absolute()
        url = env.get("MODELLAB_DATABASE_URL") or f"sqlite+aiosqlite:///{home / 'modellab.db'}"
        root = Path(env.get("MODELLAB_ARTIFACT_ROOT") or "artifacts").absolute()
        raw_limit = env.get("MODELLAB_MAX_UPLOAD_MB") or "1024"
        try:
            limit_mb = float(raw_limit)
        except ValueError:
            raise InvalidInputError(
                f"MODELLAB_MAX_UPLOAD_MB must be a number of megabytes, got {raw_limit!r}"
            ) from None
        if limit_mb <= 0:
            raise InvalidInputError(f"MODELLAB_MAX_UPLOAD_MB must be positive, got {raw_limit!r}")
        return cls(
            home=home,
            database_url=normalize_database_url(url),
            artifact_root=root,
            migration_database_url=(
                normalize_database_url(env["MODELLAB_MIGRATION_DATABASE_URL"])
                if env.get("MODELLAB_MIGRATION_DATABASE_URL")
                else None
            ),
            max_upload_bytes=int(limit_mb * 1024 * 1024),
            redis_url=env.get("MODELLAB_REDIS_URL") or None,
            heartbeat_seconds=_seconds(env, "MODELLAB_HEARTBEAT_SECONDS", 2.0),
            stale_after_seconds=_seconds(env, "MODELLAB_STALE_AFTER_SECONDS", 30.0),
            public_url=_public_url(env.get("MODELLAB_PUBLIC_URL")),
            smtp_url=_smtp_url(env.get("MODELLAB_SMTP_URL")),
            mail_from=env.get("MODELLAB_MAIL_FROM") or "ModelLab <modellab@localhost>",
            oidc_issuer=env.get("MODELLAB_OIDC_ISSUER") or "https://accounts.google.com",
            oidc_client_id=env.get("MODELLAB_OIDC_CLIENT_ID") or None,
            oidc_client_secret=env.get("MODELLAB_OIDC_CLIENT_SECRET") or None,
            sign_up_domains=_names(env, "MODELLAB_SIGN_UP_DOMAINS"),
            allowed_hosts=_names(env, "MODELLAB_ALLOWED_HOSTS"),
            token_days=_days(env.get("MODELLAB_TOKEN_DAYS")),
        )


def _public_url(raw: str | None) -> str | None:
    if not raw:
        return None
    url = raw.rstrip("/")
    if not url.startswith(("http://", "https://")) or "?" in url or "#" in url:
        raise InvalidInputError(
            f"MODELLAB_PUBLIC_URL must be an http(s) address like https://modellab.example.com, "
            f"got {raw!r}"
        )
    return url


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for any message or log line."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # an unparseable port: show no part after the scheme
        return url.split("://", 1)[0] + "://***"
    if password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return SplitResult(parts.scheme, f"{user}:***@{host}", *parts[2:]).geturl()


def _smtp_url(raw: str | None) -> str | None:
    """Checked at start-up, so that a bad URL is not first seen (and echoed) at a send."""
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        port, parts = -1, urlsplit("")
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname or port == -1:
        raise InvalidInputError(
            "MODELLAB_SMTP_URL must be smtp://user:password@host:port or smtps://..., got "
            f"{redact_url(raw)!r}"
        )
    return raw


def _days(raw: str | None) -> int | None:
    if not raw:
        return None
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 3650:
        raise InvalidInputError(f"MODELLAB_TOKEN_DAYS must be 1 to 3650 days, got {raw!r}")
    return int(raw)


def _names(env: dict[str, str], name: str) -> tuple[str, ...]:
    """A comma list of host or domain names, lower-cased, sorted."""
    raw = env.get(name) or ""
    names = sorted({part.strip().lower() for part in raw.split(",") if part.strip()})
    for item in names:
        if item != "*" and not all(c.isalnum() or c in ".-:[]" for c in item):
            raise InvalidInputError(f"{name} holds {item!r}, which is not a host or domain name")
    return tuple(names)


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInputError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise InvalidInputError(f"{name} must be positive, got {raw!r}")
    return value


def normalize_database_url(url: str) -> str:
    """Pick the async driver for a plain ``postgresql://`` or ``sqlite://`` URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url
