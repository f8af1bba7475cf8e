"""Where the server may listen: only loopback until sign-in is configured."""

from __future__ import annotations

import ipaddress

from modellab.errors import InvalidInputError
from modellab.settings import Settings


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: Settings) -> None:
    """Refuse to serve on a non-loopback address without sign-in, and say how to set it up.

    On loopback without sign-in every request runs as the single local user, which is
    only safe when nobody else can reach the port.
    """
    if is_loopback(host):
        return
    if settings.sign_in_enabled and (settings.smtp_url or settings.oidc_enabled):
        return
    raise InvalidInputError(
        f"refusing to serve on {host}: without sign-in anyone who reaches it acts as the "
        "local user. Set MODELLAB_PUBLIC_URL (the address people open) and a sign-in "
        "method: MODELLAB_SMTP_URL and MODELLAB_MAIL_FROM for magic links, and/or "
        "MODELLAB_OIDC_CLIENT_ID and MODELLAB_OIDC_CLIENT_SECRET for Google; or serve on "
        "127.0.0.1"
    )
