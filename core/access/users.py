"""Users: found or created by email, the identity both sign-in methods verify."""

from __future__ import annotations

import re

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from modellab.access.actor import LOCAL_ACTOR, LOCAL_EMAIL, LOCAL_USER_ID, Actor
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


async def may_sign_in(session: AsyncSession, email: str, *, may_sign_up: bool) -> bool:
    """Whether ``email`` may sign in: it has an account, or may create one.

    The local user (the CLI's, the owner of local-mode projects) is never reachable by
    signing in. An address without an account gets one only when ``may_sign_up``; else
    it must have been invited (added as a project member, or ``modellab user add``).
    """
    if email == LOCAL_EMAIL:
        return False
    row = await session.scalar(select(UserRow.id).where(UserRow.email == email))
    if row is not None:
        return row != LOCAL_USER_ID
    return may_sign_up


async def user_for_sign_in(
    session: AsyncSession, email: str, *, may_sign_up: bool, name: str | None = None
) -> UserRow | None:
    """The account ``email`` signs in to (created when allowed); None when refused."""
    if not await may_sign_in(session, email, may_sign_up=may_sign_up):
        return None
    return await user_by_email(session, email, name)


async def ensure_user(db: Database, email: str, name: str | None = None) -> User:
    """The user with ``email``, created when new (an invite), looked up as the system.

    An address names one account across the installation, so finding or making it
    cannot run in a user's context: on PostgreSQL row-level security shows a user only
    the users sharing a project with them, and lets no user write ``users`` (see
    migration 0011). Callers that act for a user check first that the user may invite.
    """
    address = normalize_email(email)
    async with db.as_system().session() as session:
        row = await user_by_email(session, address, name)
        return User(row.id, row.email, row.name)


def actor_for(user: User, via: str) -> Actor:
    """The actor a signed-in ``user`` acts as."""
    if user.id == LOCAL_USER_ID:
        return LOCAL_ACTOR
    return Actor(user_id=user.id, email=user.email, via=via)
