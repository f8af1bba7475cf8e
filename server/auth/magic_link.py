"""Magic links: a one-time sign-in link sent by email.

The token is 32 random bytes; only its SHA-256 is stored. It is valid for 15 minutes,
one redemption claims it with a single atomic update (two concurrent redemptions give
one session), and a new link revokes the older ones of the same address. The token
rides in the link's fragment (``#token=``), which browsers never send to a server, so
it cannot land in an access log or a proxy's log.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import update

from modellab.access.secrets import digest, new_secret
from modellab.access.users import User, may_sign_in, user_for_sign_in
from modellab.errors import NotAuthenticatedError
from modellab.server.auth import mail
from modellab.settings import Settings
from modellab.store.database import Database
from modellab.store.models import MagicLinkRow, utcnow

log = logging.getLogger("modellab.server.auth")

LIFETIME = timedelta(minutes=15)
NO_ACCOUNT = (
    "this address has no account here, and sign-up is invite-only: ask an owner of a "
    "project to add you as a member"
)
#: the path of the confirm page, under MODELLAB_PUBLIC_URL
CONFIRM_PATH = "/auth/magic-link"


def link_for(settings: Settings, token: str) -> str:
    """The link in the mail: always built from MODELLAB_PUBLIC_URL, never the Host header."""
    assert settings.public_url is not None
    return f"{settings.public_url}{CONFIRM_PATH}#token={quote(token)}"


async def issue_link(db: Database, settings: Settings, email: str) -> None:
    """Create a token for ``email`` (revoking older ones) and mail the link.

    Runs after the response is sent, so known and unknown addresses answer alike.
    An address that may not sign in (no account under invite-only sign-up, or the
    local user) gets no mail.
    """
    token = new_secret()
    now = utcnow()
    async with db.session() as session:
        if not await may_sign_in(session, email, may_sign_up=settings.may_sign_up(email)):
            log.info("no sign-in mail for %s: no account, and sign-up does not admit it", email)
            return
        await session.execute(
            update(MagicLinkRow)
            .where(
                MagicLinkRow.email == email,
                MagicLinkRow.used_at.is_(None),
                MagicLinkRow.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        session.add(
            MagicLinkRow(
                token_hash=digest(token), email=email, created_at=now, expires_at=now + LIFETIME
            )
        )
    message = mail.compose(settings.mail_from, email, link_for(settings, token))
    try:
        await asyncio.to_thread(mail.send, settings.smtp_url, message, settings.home / "outbox")
    except Exception:
        log.exception("could not send the sign-in mail to %s", email)


async def redeem_link(db: Database, settings: Settings, token: str) -> User:
    """Claim ``token`` once and return its user (created at first sign-in if allowed).

    :raises NotAuthenticatedError: the link is unknown, used, replaced or expired, or its
        address may no longer sign in.
    """
    now = utcnow()
    async with db.session() as session:
        claimed = (
            await session.execute(
                update(MagicLinkRow)
                .where(
                    MagicLinkRow.token_hash == digest(token),
                    MagicLinkRow.used_at.is_(None),
                    MagicLinkRow.revoked_at.is_(None),
                    MagicLinkRow.expires_at > now,
                )
                .values(used_at=now)
                .returning(MagicLinkRow.email)
            )
        ).scalar_one_or_none()
        if claimed is None:
            raise NotAuthenticatedError(
                "this sign-in link is not valid: it was used already, replaced by a newer "
                "one, or is older than 15 minutes; ask for a new link"
            )
        row = await user_for_sign_in(session, claimed, may_sign_up=settings.may_sign_up(claimed))
        if row is None:
            raise NotAuthenticatedError(NO_ACCOUNT)
        return User(row.id, row.email, row.name)
