"""Sending sign-in mail over SMTP, or into an owner-only outbox folder without SMTP.

A sign-in link is a secret, so it never goes into a log line: without SMTP the message
is written to ``$MODELLAB_HOME/outbox/`` and the log says only where.
"""

from __future__ import annotations

import logging
import os
import smtplib
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from modellab.errors import InvalidInputError
from modellab.ids import uuid7
from modellab.settings import redact_url

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


def write_to_outbox(outbox: Path, message: EmailMessage) -> Path:
    """Save ``message`` as an owner-only ``.eml`` file in ``outbox``; return its path."""
    outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = outbox / f"{uuid7()}.eml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(message.as_bytes())
    return path


def send(smtp_url: str | None, message: EmailMessage, outbox: Path) -> None:
    """Deliver ``message`` through ``smtp_url``, or into ``outbox`` without one.

    Blocking: call it off the event loop.
    """
    if smtp_url is None:
        # Without SMTP the person running the server opens the message there.
        path = write_to_outbox(outbox, message)
        log.warning("no MODELLAB_SMTP_URL: the sign-in mail for %s is in %s", message["To"], path)
        return
    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise InvalidInputError(
            f"MODELLAB_SMTP_URL must be smtp://host:port, got {redact_url(smtp_url)!r}"
        )
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
