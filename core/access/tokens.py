"""API tokens for the CLI (``MODELLAB_TOKEN``), the Python client and scripts.

A token is shown once at creation; only its SHA-256 is stored. A token may be limited to
one project, may be read-only and may expire; it never grants more than its user holds.
Its limits hold on the token routes too: a project-limited token sees and revokes only
the tokens of its project, and a read-only one revokes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
from sqlalchemy import ColumnElement, or_, select, true, update

from modellab.access.actor import Actor, Role
from modellab.access.secrets import digest, new_secret
from modellab.errors import ForbiddenError, InvalidInputError, NotFoundError
from modellab.ids import uuid7
from modellab.store.database import Database
from modellab.store.models import ApiTokenRow, ProjectRow, UserRow, utcnow
from modellab.store.projects import get_project_row

PREFIX = "mlt_"
#: the longest lifetime a token may be given, in days (ten years)
MAX_DAYS = 3650


class ApiToken(msgspec.Struct, frozen=True):
    """A token as listed: never its secret."""

    id: str
    name: str
    project: str | None
    read_only: bool
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    #: None: the token works until revoked
    expires_at: datetime | None = None


class NewToken(msgspec.Struct, frozen=True):
    """A token just created: ``secret`` is shown this once."""

    token: ApiToken
    secret: str


def _require_user(db: Database) -> Actor:
    if db.actor is None:
        raise InvalidInputError("API tokens belong to a user; this database view has none")
    return db.actor


def _within_scope(actor: Actor) -> ColumnElement[bool]:
    """The tokens a request may see and manage: a project-limited token, its project's."""
    if actor.via == "token" and actor.project_id is not None:
        return ApiTokenRow.project_id == actor.project_id
    return true()


async def create_token(
    db: Database,
    name: str,
    project: str | None = None,
    read_only: bool = False,
    expires_in_days: int | None = None,
    max_days: int | None = None,
) -> NewToken:
    """Create a token for the database view's user, limited to ``project`` if given.

    With ``expires_in_days`` the token stops working that many days from now.
    ``max_days`` (the server's ``MODELLAB_TOKEN_DAYS``) is the default lifetime and the
    longest allowed.
    """
    actor = _require_user(db)
    if max_days is not None:
        if expires_in_days is not None and expires_in_days > max_days:
            raise InvalidInputError(
                f"tokens here live at most {max_days} days (MODELLAB_TOKEN_DAYS); "
                f"{expires_in_days} asked"
            )
        expires_in_days = expires_in_days or max_days
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInputError("a token name must be 1 to 200 characters")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_DAYS:
        raise InvalidInputError(
            f"a token's lifetime must be 1 to {MAX_DAYS} days, got {expires_in_days}"
        )
    if actor.via == "token" and (actor.read_only or actor.project_id is not None):
        raise ForbiddenError("a read-only or project-limited token cannot create tokens")
    secret = new_secret(PREFIX)
    now = utcnow()
    expires_at = now + timedelta(days=expires_in_days) if expires_in_days is not None else None
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
            expires_at=expires_at,
        )
        session.add(row)
        await session.flush()
    token = ApiToken(row.id, name, project, read_only, now, expires_at=expires_at)
    return NewToken(token, secret)


async def list_tokens(db: Database) -> list[ApiToken]:
    """The user's tokens within the request's scope, newest first, revoked ones included."""
    actor = _require_user(db)
    async with db.session() as session:
        rows = (
            await session.execute(
                select(ApiTokenRow, ProjectRow.slug)
                .outerjoin(ProjectRow, ProjectRow.id == ApiTokenRow.project_id)
                .where(ApiTokenRow.user_id == actor.user_id, _within_scope(actor))
                .order_by(ApiTokenRow.created_at.desc(), ApiTokenRow.id.desc())
            )
        ).all()
    return [
        ApiToken(
            r.id,
            r.name,
            slug,
            r.read_only,
            r.created_at,
            r.last_used_at,
            r.revoked_at,
            r.expires_at,
        )
        for r, slug in rows
    ]


async def revoke_token(db: Database, token_id: str) -> ApiToken:
    """Revoke one of the user's tokens; another user's, or one outside the scope of the
    token making the request, is not found."""
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
                _within_scope(actor),
            )
            .values(revoked_at=utcnow())
        )
    for token in await list_tokens(db):
        if token.id == token_id:
            return token
    raise NotFoundError(f"no API token {token_id!r}")


async def resolve_token(db: Database, secret: str) -> Actor | None:
    """The actor a bearer token stands for; None when unknown, revoked or expired."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    now = utcnow()
    async with db.session() as session:
        found = (
            await session.execute(
                select(ApiTokenRow, UserRow)
                .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                .where(
                    ApiTokenRow.token_hash == digest(secret),
                    ApiTokenRow.revoked_at.is_(None),
                    or_(ApiTokenRow.expires_at.is_(None), ApiTokenRow.expires_at > now),
                )
            )
        ).first()
        if found is None:
            return None
        token, user = found
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
