"""Repository of projects."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from modellab.access.actor import Role
from modellab.domain import Project
from modellab.errors import ConflictError, ForbiddenError, NotFoundError
from modellab.ids import uuid7
from modellab.store.models import ProjectMemberRow, ProjectRow, utcnow
from modellab.store.scope import actor_of, check_access, visible_projects


def _project(row: ProjectRow) -> Project:
    return Project(id=row.id, slug=row.slug, name=row.name, created_at=row.created_at)


async def insert_project(session: AsyncSession, slug: str, name: str) -> Project:
    """Insert a project owned by the session's user; a taken slug is a :class:`ConflictError`."""
    actor = actor_of(session)
    if actor is not None and (actor.read_only or actor.project_id is not None):
        raise ForbiddenError(
            "this API token cannot create projects: it is read-only or limited to one project"
        )
    now = utcnow()
    row = ProjectRow(id=uuid7(), slug=slug, name=name, created_at=now)
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise ConflictError(f"a project with slug {slug!r} already exists") from None
    if actor is not None:
        session.add(
            ProjectMemberRow(
                project_id=row.id, user_id=actor.user_id, role=Role.OWNER.value, created_at=now
            )
        )
        await session.flush()
    return _project(row)


def no_project(slug: str) -> str:
    """What a missing project and a project the user is not a member of both answer."""
    return f"no project {slug!r}; create it with: modellab project create {slug}"


async def get_project_row(session: AsyncSession, slug: str, need: Role = Role.VIEWER) -> ProjectRow:
    """The project row with ``slug`` if the user holds ``need`` in it.

    Missing and not-a-member are the same :class:`NotFoundError`; a lower role is a
    :class:`ForbiddenError`.
    """
    row = await session.scalar(select(ProjectRow).where(ProjectRow.slug == slug))
    if row is None:
        raise NotFoundError(no_project(slug))
    await check_access(session, row, need, no_project(slug))
    return row


async def get_project(session: AsyncSession, slug: str) -> Project:
    """The project with ``slug``, or :class:`NotFoundError`."""
    return _project(await get_project_row(session, slug))


async def list_projects(session: AsyncSession) -> list[Project]:
    """The user's projects, by slug."""
    query = select(ProjectRow).order_by(ProjectRow.slug)
    condition = visible_projects(session)
    if condition is not None:
        query = query.where(condition)
    rows = await session.scalars(query)
    return [_project(r) for r in rows]
