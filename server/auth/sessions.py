"""Browser sessions: a fresh random id at every sign-in, revoked server-side at sign-out."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from modellab.access.actor import Actor
from modellab.access.secrets import digest, new_secret
from modellab.access.users import User, actor_for
from modellab.store.database import Database
from modellab.store.models import SessionRow, UserRow, utcnow

COOKIE = "modellab_session"
LIFETIME = timedelta(days=14)


async def create_session(db: Database, user: User) -> str:
    """Start a session for ``user``; return the secret that goes into the cookie."""
    secret = new_secret()
    now = utcnow()
    async with db.session() as session:
        session.add(
            SessionRow(
                id_hash=digest(secret), user_id=user.id, created_at=now, expires_at=now + LIFETIME
            )
        )
    return secret


async def resolve_session(db: Database, secret: str) -> Actor | None:
    """The actor of a live session; None when unknown, expired or signed out."""
    if len(secret) > 200:
        return None
    async with db.session() as session:
        found = (
            await session.execute(
                select(UserRow)
                .join(SessionRow, SessionRow.user_id == UserRow.id)
                .where(
                    SessionRow.id_hash == digest(secret),
                    SessionRow.revoked_at.is_(None),
                    SessionRow.expires_at > utcnow(),
                )
            )
        ).scalar_one_or_none()
    if found is None:
        return None
    return actor_for(User(found.id, found.email, found.name), "session")


async def revoke_session(db: Database, secret: str) -> None:
    """Sign out: the session id stops working at once, wherever it was copied."""
    async with db.session() as session:
        await session.execute(
            update(SessionRow)
            .where(SessionRow.id_hash == digest(secret), SessionRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
