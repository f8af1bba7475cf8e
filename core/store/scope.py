"""Scoping every query to the projects the session's user belongs to.

A session opened by :meth:`Database.as_actor` carries its :class:`Actor` in
``session.info``; repositories pass every project they load through
:func:`check_access`. A project the user is not a member of answers exactly like a
project that does not exist, so ids cannot be probed. Sessions without an actor are
the system's own (run executors and reapers) and see everything; on PostgreSQL,
row-level security stands behind this as a second line.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from modellab.access.actor import Actor, Role
from modellab.errors import ForbiddenError, NotFoundError
from modellab.store.models import ProjectMemberRow, ProjectRow


def actor_of(session: AsyncSession) -> Actor | None:
    """The user this session runs as; None for the system's own sessions."""
    actor = session.info.get("actor")
    assert actor is None or isinstance(actor, Actor)
    return actor


def visible_projects(session: AsyncSession) -> ColumnElement[bool] | None:
    """A condition on ``projects.id`` admitting only the actor's projects (None: all)."""
    actor = actor_of(session)
    if actor is None:
        return None
    member_of = select(ProjectMemberRow.project_id).where(ProjectMemberRow.user_id == actor.user_id)
    condition: ColumnElement[bool] = ProjectRow.id.in_(member_of)
    if actor.project_id is not None:
        condition = condition & (ProjectRow.id == actor.project_id)
    return condition


async def role_in(session: AsyncSession, project_id: str) -> Role | None:
    """The actor's role in ``project_id`` (owner for the system), None if not a member."""
    actor = actor_of(session)
    if actor is None:
        return Role.OWNER
    if not actor.sees_project(project_id):
        return None
    role = await session.scalar(
        select(ProjectMemberRow.role).where(
            ProjectMemberRow.project_id == project_id,
            ProjectMemberRow.user_id == actor.user_id,
        )
    )
    return Role(role) if role is not None else None


async def check_access(
    session: AsyncSession, project: ProjectRow, need: Role, not_found: str
) -> Role:
    """Refuse unless the actor holds ``need`` in ``project``.

    Non-members get :class:`NotFoundError` with ``not_found``, the message a missing
    object gets; members below ``need`` and read-only tokens get :class:`ForbiddenError`.
    """
    role = await role_in(session, project.id)
    if role is None:
        raise NotFoundError(not_found)
    actor = actor_of(session)
    if need is not Role.VIEWER and actor is not None and actor.read_only:
        raise ForbiddenError("this API token is read-only; create one without --read-only")
    if role.rank < need.rank:
        raise ForbiddenError(
            f"your role in project {project.slug!r} is {role.value}; "
            f"this needs {need.value} or above (ask an owner of the project)"
        )
    return role
