"""Repository of projects."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from modellab.domain import Project
from modellab.errors import ConflictError, NotFoundError
from modellab.ids import uuid7
from modellab.store.models import ProjectRow, utcnow


def _project(row: ProjectRow) -> Project:
    return Project(id=row.id, slug=row.slug, name=row.name, created_at=row.created_at)


async def insert_project(session: AsyncSession, slug: str, name: str) -> Project:
    """Insert a project; a taken slug is a :class:`ConflictError`."""
    row = ProjectRow(id=uuid7(), slug=slug, name=name, created_at=utcnow())
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise ConflictError(f"a project with slug {slug!r} already exists") from None
    return _project(row)


async def get_project_row(session: AsyncSession, slug: str) -> ProjectRow:
    """The project row with ``slug``, or :class:`NotFoundError`."""
    row = await session.scalar(select(ProjectRow).where(ProjectRow.slug == slug))
    if row is None:
        raise NotFoundError(f"no project {slug!r}; create it with: modellab project create {slug}")
    return row


async def get_project(session: AsyncSession, slug: str) -> Project:
    """The project with ``slug``, or :class:`NotFoundError`."""
    return _project(await get_project_row(session, slug))


async def list_projects(session: AsyncSession) -> list[Project]:
    """All projects, by slug."""
    rows = await session.scalars(select(ProjectRow).order_by(ProjectRow.slug))
    return [_project(r) for r in rows]
