"""Project members and their roles: owners manage them, members see who they are."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from modellab.access.actor import Role
from modellab.access.users import ensure_user, normalize_email
from modellab.errors import ConflictError, InvalidInputError, NotFoundError
from modellab.store.database import Database
from modellab.store.models import ProjectMemberRow, UserRow, utcnow
from modellab.store.projects import get_project_row


class Member(msgspec.Struct, frozen=True):
    """A user's role in a project."""

    email: str
    role: Role
    added_at: datetime


async def list_members(db: Database, slug: str) -> list[Member]:
    """The members of project ``slug``, by email (any member may look)."""
    async with db.session() as session:
        project = await get_project_row(session, slug, Role.VIEWER)
        rows = (
            await session.execute(
                select(UserRow.email, ProjectMemberRow.role, ProjectMemberRow.created_at)
                .join(UserRow, UserRow.id == ProjectMemberRow.user_id)
                .where(ProjectMemberRow.project_id == project.id)
                .order_by(UserRow.email)
            )
        ).all()
    return [Member(email, Role(role), added) for email, role, added in rows]


async def set_member(db: Database, slug: str, email: str, role: str) -> Member:
    """Add ``email`` to the project with ``role``, or change their role (owners only).

    An address that never signed in gets a user now, so the project is there when they do.
    """
    try:
        wanted = Role(role)
    except ValueError:
        raise InvalidInputError(f"unknown role {role!r}; roles: owner, editor, viewer") from None
    address = normalize_email(email)
    # Owners only, asked before the account is made, so a refused request invites nobody.
    async with db.session() as session:
        await get_project_row(session, slug, Role.OWNER)
    # The account is found or made as the system (see ensure_user), between this
    # request's transactions rather than inside one: nested, a request would hold two
    # pooled connections at once, and enough of them could wait on each other forever.
    user = await ensure_user(db, address)
    async with db.session() as session:
        project = await get_project_row(session, slug, Role.OWNER)
        row = await session.get(ProjectMemberRow, (project.id, user.id))
        if row is None:
            row = ProjectMemberRow(
                project_id=project.id, user_id=user.id, role=wanted.value, created_at=utcnow()
            )
            session.add(row)
        else:
            if row.role == Role.OWNER.value and wanted is not Role.OWNER:
                await _keep_an_owner(session, project.id, slug)
            row.role = wanted.value
        await session.flush()
        return Member(address, wanted, row.created_at)


async def remove_member(db: Database, slug: str, email: str) -> None:
    """Remove ``email`` from the project (owners only); the last owner stays."""
    address = normalize_email(email)
    async with db.session() as session:
        project = await get_project_row(session, slug, Role.OWNER)
        user = await session.scalar(select(UserRow).where(UserRow.email == address))
        row = None if user is None else await session.get(ProjectMemberRow, (project.id, user.id))
        if row is None or user is None:
            raise NotFoundError(f"{address} is not a member of project {slug!r}")
        if row.role == Role.OWNER.value:
            await _keep_an_owner(session, project.id, slug)
        await session.execute(
            delete(ProjectMemberRow).where(
                ProjectMemberRow.project_id == project.id, ProjectMemberRow.user_id == user.id
            )
        )


async def _keep_an_owner(session: AsyncSession, project_id: str, slug: str) -> None:
    owners = await session.scalar(
        select(func.count())
        .select_from(ProjectMemberRow)
        .where(ProjectMemberRow.project_id == project_id, ProjectMemberRow.role == "owner")
    )
    if (owners or 0) <= 1:
        raise ConflictError(f"project {slug!r} needs an owner; make someone else owner first")
