"""Answer only requests addressed to this server's own names (the Host header).

Without this check, DNS rebinding reaches a local-mode server from any web page: the
attacker's name resolves to 127.0.0.1, the browser calls it same-origin, and the server
would act as the local user. The allowed names are loopback names in local mode, the
public URL's host with sign-in, or ``MODELLAB_ALLOWED_HOSTS``.
"""

from __future__ import annotations

from typing import Any

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from modellab.errors import InvalidInputError
from modellab.settings import Settings


def host_name(header: str) -> str:
    """The name part of a Host header value: no port, lower case, IPv6 without brackets."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def check_host(header: str | None, settings: Settings) -> None:
    """Refuse a request whose Host is not one of the names this server answers to."""
    allowed = settings.hosts
    if header is not None and host_name(header) in allowed:
        return
    names = ", ".join(sorted(allowed))
    shown = (header or "(none)")[:100]
    raise InvalidInputError(
        f"this server does not answer to the host name {shown!r}; it answers to {names} "
        "(set MODELLAB_ALLOWED_HOSTS to add the names it is reached by)"
    )


class HostGuard(ASGIMiddleware):
    """Checks the Host header of every HTTP request, public routes included."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Refuse before anything else runs, then pass the request on."""
        services: Any = scope["app"].state["services"]
        host = None
        for key, value in scope.get("headers", []):
            if key == b"host":
                host = value.decode("latin-1")
                break
        check_host(host, services.settings)
        await next_app(scope, receive, send)
