"""Sending sign-in mail over SMTP, or into the server log when no SMTP is configured."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from modellab.errors import InvalidInputError

log = logging.getLogger("modellab.server.mail")


def compose(sender: str, to: str, link: str) -> EmailMessage:
    """The sign-in message: plain text, the link on a line of its own."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Sign in to ModelLab"
    message.set_content(
        "Open this link to sign in to ModelLab. It works once, for 15 minutes:\n\n"
        f"{link}\n\n"
        "If you did not ask to sign in, ignore this message.\n"
    )
    return message


def send(smtp_url: str | None, message: EmailMessage) -> None:
    """Deliver ``message`` through ``smtp_url`` (blocking: call it off the event loop)."""
    if smtp_url is None:
        # Local mode without SMTP: the person running the server reads the link here.
        log.warning("no MODELLAB_SMTP_URL: sign-in mail for %s:\n%s", message["To"], message)
        return
    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise InvalidInputError(f"MODELLAB_SMTP_URL must be smtp://host:port, got {smtp_url!r}")
    smtp_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    port = parts.port or (465 if parts.scheme == "smtps" else 25)
    with smtp_class(parts.hostname, port, timeout=30) as smtp:
        if parts.scheme == "smtp":
            smtp.ehlo()
            # Encrypt whenever the server can, before any password crosses the wire.
            if smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(message)
