"""Users: found or created by email, the identity both sign-in methods verify."""

from __future__ import annotations

import re

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from modellab.access.actor import LOCAL_ACTOR, LOCAL_USER_ID, Actor
from modellab.errors import InvalidInputError
from modellab.ids import uuid7
from modellab.store.database import Database
from modellab.store.models import UserRow, utcnow

# Deliberately loose: the mail server is the judge; this only refuses what cannot be one.
EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[^@\s<>\"',;]{1,255}\Z")


class User(msgspec.Struct, frozen=True):
    """A person who signs in."""

    id: str
    email: str
    name: str | None = None


def normalize_email(email: str) -> str:
    """Lower-cased and trimmed; :class:`InvalidInputError` when it cannot be an address."""
    value = email.strip().lower()
    if not EMAIL.match(value) or len(value) > 320:
        raise InvalidInputError(f"{email!r} is not an email address")
    return value


async def user_by_email(session: AsyncSession, email: str, name: str | None = None) -> UserRow:
    """The user with ``email``, created when new (signing in for the first time)."""
    row = await session.scalar(select(UserRow).where(UserRow.email == email))
    if row is not None:
        return row
    row = UserRow(id=uuid7(), email=email, name=name, created_at=utcnow())
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # created meanwhile by a concurrent sign-in
        found = await session.scalar(select(UserRow).where(UserRow.email == email))
        assert found is not None
        return found
    return row


async def ensure_user(db: Database, email: str, name: str | None = None) -> User:
    """The user with ``email``, created when new."""
    address = normalize_email(email)
    async with db.session() as session:
        row = await user_by_email(session, address, name)
        return User(row.id, row.email, row.name)


def actor_for(user: User, via: str) -> Actor:
    """The actor a signed-in ``user`` acts as."""
    if user.id == LOCAL_USER_ID:
        return LOCAL_ACTOR
    return Actor(user_id=user.id, email=user.email, via=via)
