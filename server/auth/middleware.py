"""Who each request runs as: a bearer token, a session cookie, or the local user.

Every route requires a user unless its handler is marked ``opt={"public": True}``; the
test suite walks the routes and checks each one against an explicit public list.
Tokens of the local user work only in local mode.
State-changing requests authenticated by a cookie must come from the server's own
origin (the browser's Origin header), which stops cross-site form posts.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from modellab.access.actor import LOCAL_ACTOR, LOCAL_USER_ID
from modellab.access.tokens import resolve_token
from modellab.errors import ForbiddenError, NotAuthenticatedError
from modellab.server.auth.sessions import COOKIE, resolve_session
from modellab.settings import Settings

PUBLIC = "public"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, as browsers send it in Origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> None:
    """Refuse a state-changing request whose Origin is not this server's."""
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    origin = connection.headers.get("origin")
    if settings.public_url is not None:
        expected = origin_of(settings.public_url)
    else:
        # Local mode: the page must come from the address the browser used for the API.
        expected = origin_of(f"{connection.url.scheme}://{connection.headers.get('host', '')}")
        if origin is None:  # not a browser: curl, the Python client, tests
            return
    if origin is None or origin.lower() != expected:
        raise ForbiddenError(
            f"cross-site request refused: Origin {origin or '(none)'} is not {expected}"
        )


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """Sets ``request.user`` to the :class:`~modellab.access.actor.Actor` of the request."""

    def __init__(self, app: Any) -> None:
        super().__init__(app, exclude_from_auth_key=PUBLIC)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        services = connection.app.state["services"]
        settings: Settings = services.settings
        header = connection.headers.get("authorization")
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise NotAuthenticatedError("the Authorization header must be: Bearer <token>")
            actor = await resolve_token(services.system_db, value.strip())
            if actor is None:
                raise NotAuthenticatedError(
                    "the API token is unknown, revoked or expired; create one with: "
                    "modellab token create"
                )
            if settings.sign_in_enabled and actor.user_id == LOCAL_USER_ID:
                # The local user owns every local-mode project; a token made for it
                # (perhaps by a page that reached the local server) must not outlive
                # local mode.
                raise NotAuthenticatedError(
                    "this API token belongs to the local user and works only while the "
                    "server runs in local mode (without MODELLAB_PUBLIC_URL)"
                )
            return AuthenticationResult(user=actor, auth="token")
        cookie = connection.cookies.get(COOKIE)
        if cookie and settings.sign_in_enabled:
            actor = await resolve_session(services.system_db, cookie)
            if actor is None:
                raise NotAuthenticatedError("your session has ended; sign in again")
            check_origin(connection, settings)
            return AuthenticationResult(user=actor, auth="session")
        if not settings.sign_in_enabled:
            check_origin(connection, settings)
            return AuthenticationResult(user=LOCAL_ACTOR, auth="local")
        raise NotAuthenticatedError(
            "sign in first: open the web UI, or send an API token as 'Authorization: Bearer "
            "<token>' (create one with: modellab token create)"
        )
