"""API tokens for the CLI (``MODELLAB_TOKEN``), the Python client and scripts.

A token is shown once at creation; only its SHA-256 is stored. A token may be limited to
one project and may be read-only; it never grants more than its user holds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
from sqlalchemy import select, update

from modellab.access.actor import Actor, Role
from modellab.access.secrets import digest, new_secret
from modellab.errors import ForbiddenError, InvalidInputError, NotFoundError
from modellab.ids import uuid7
from modellab.store.database import Database
from modellab.store.models import ApiTokenRow, ProjectRow, UserRow, utcnow
from modellab.store.projects import get_project_row

PREFIX = "mlt_"


class ApiToken(msgspec.Struct, frozen=True):
    """A token as listed: never its secret."""

    id: str
    name: str
    project: str | None
    read_only: bool
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class NewToken(msgspec.Struct, frozen=True):
    """A token just created: ``secret`` is shown this once."""

    token: ApiToken
    secret: str


def _require_user(db: Database) -> Actor:
    if db.actor is None:
        raise InvalidInputError("API tokens belong to a user; this database view has none")
    return db.actor


async def create_token(
    db: Database, name: str, project: str | None = None, read_only: bool = False
) -> NewToken:
    """Create a token for the database view's user, limited to ``project`` if given."""
    actor = _require_user(db)
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInputError("a token name must be 1 to 200 characters")
    if actor.via == "token" and (actor.read_only or actor.project_id is not None):
        raise ForbiddenError("a read-only or project-limited token cannot create tokens")
    secret = new_secret(PREFIX)
    now = utcnow()
    async with db.session() as session:
        project_id = None
        if project is not None:
            project_id = (await get_project_row(session, project, Role.VIEWER)).id
        row = ApiTokenRow(
            id=uuid7(),
            user_id=actor.user_id,
            name=name,
            token_hash=digest(secret),
            project_id=project_id,
            read_only=read_only,
            created_at=now,
        )
        session.add(row)
        await session.flush()
    token = ApiToken(row.id, name, project, read_only, now)
    return NewToken(token, secret)


async def list_tokens(db: Database) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included."""
    actor = _require_user(db)
    async with db.session() as session:
        rows = (
            await session.execute(
                select(ApiTokenRow, ProjectRow.slug)
                .outerjoin(ProjectRow, ProjectRow.id == ApiTokenRow.project_id)
                .where(ApiTokenRow.user_id == actor.user_id)
                .order_by(ApiTokenRow.created_at.desc(), ApiTokenRow.id.desc())
            )
        ).all()
    return [
        ApiToken(r.id, r.name, slug, r.read_only, r.created_at, r.last_used_at, r.revoked_at)
        for r, slug in rows
    ]


async def revoke_token(db: Database, token_id: str) -> ApiToken:
    """Revoke one of the user's tokens; another user's token is not found."""
    actor = _require_user(db)
    if actor.via == "token" and actor.read_only:
        raise ForbiddenError("this API token is read-only; create one without --read-only")
    async with db.session() as session:
        await session.execute(
            update(ApiTokenRow)
            .where(
                ApiTokenRow.id == token_id,
                ApiTokenRow.user_id == actor.user_id,
                ApiTokenRow.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )
    for token in await list_tokens(db):
        if token.id == token_id:
            return token
    raise NotFoundError(f"no API token {token_id!r}")


async def resolve_token(db: Database, secret: str) -> Actor | None:
    """The actor a bearer token stands for; None when unknown or revoked."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    async with db.session() as session:
        found = (
            await session.execute(
                select(ApiTokenRow, UserRow)
                .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                .where(ApiTokenRow.token_hash == digest(secret), ApiTokenRow.revoked_at.is_(None))
            )
        ).first()
        if found is None:
            return None
        token, user = found
        now = utcnow()
        # Coarse on purpose: a write per request would cost more than the request.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            token.last_used_at = now
    return Actor(
        user_id=user.id,
        email=user.email,
        via="token",
        project_id=token.project_id,
        read_only=token.read_only,
    )
