"""The web UI: one HTML page at ``/`` and its static files under ``/ui``.

The UI consumes only the JSON API. Its pages are public (the sign-in page is one of
them); every API call they make needs a user like any other. A strict
Content-Security-Policy allows only this server's own scripts and styles, so even a
rendering bug could not run injected markup.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Response, Router, get
from litestar.static_files import create_static_files_router

from modellab.server.auth.middleware import PUBLIC

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@get("/", opt={PUBLIC: True}, include_in_schema=False, media_type="text/html")
async def index() -> Response[bytes]:
    """The single page of the UI; its router works on the URL's #fragment."""
    return Response((WEB_DIR / "index.html").read_bytes(), media_type="text/html", headers=HEADERS)


def web_router() -> Router:
    """The UI's static files under ``/ui``, with the same security headers."""
    return create_static_files_router(
        path="/ui",
        directories=[WEB_DIR],
        opt={PUBLIC: True},
        include_in_schema=False,
        name="ui",
        # Every response of this router carries the page's policy too.
        after_request=_with_headers,
    )


async def _with_headers(response: Response[object]) -> Response[object]:
    response.headers.update(HEADERS)
    return response
