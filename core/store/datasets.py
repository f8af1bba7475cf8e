"""Repository of dataset versions and their appended notes."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from modellab.access.actor import Role
from modellab.domain import DatasetVersion, Note
from modellab.errors import ConflictError, NotFoundError
from modellab.ids import uuid7
from modellab.store.models import DatasetNoteRow, DatasetVersionRow, ProjectRow, utcnow
from modellab.store.scope import check_access


def _builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


async def _notes(session: AsyncSession, version_id: str) -> list[Note]:
    rows = await session.scalars(
        select(DatasetNoteRow)
        .where(DatasetNoteRow.dataset_version_id == version_id)
        .order_by(DatasetNoteRow.created_at, DatasetNoteRow.id)
    )
    return [Note(created_at=r.created_at, text=r.text) for r in rows]


async def to_domain(session: AsyncSession, row: DatasetVersionRow, project: str) -> DatasetVersion:
    """Decode a row (and its notes) into a :class:`DatasetVersion`."""
    data = {
        "id": row.id,
        "project": project,
        "name": row.name,
        "version": row.version,
        "checksum": row.checksum,
        "task": row.task,
        "target": row.target,
        "rows": row.rows,
        "columns": row.n_columns,
        "feature_columns": row.feature_columns,
        "schema": row.schema,
        "profile": row.profile,
        "split": row.split,
        "provenance": row.provenance,
        "created_at": row.created_at,
        "schema_diff": row.schema_diff,
        "notes": await _notes(session, row.id),
    }
    return msgspec.convert(data, DatasetVersion, from_attributes=False)


async def latest_version(
    session: AsyncSession, project_id: str, name: str
) -> DatasetVersionRow | None:
    """The newest version of dataset ``name``, if any."""
    return await session.scalar(
        select(DatasetVersionRow)
        .where(DatasetVersionRow.project_id == project_id, DatasetVersionRow.name == name)
        .order_by(DatasetVersionRow.version.desc())
        .limit(1)
    )


async def find_by_checksum(
    session: AsyncSession, project_id: str, name: str, checksum: str
) -> DatasetVersionRow | None:
    """The version of ``name`` holding exactly these bytes, if any."""
    return await session.scalar(
        select(DatasetVersionRow).where(
            DatasetVersionRow.project_id == project_id,
            DatasetVersionRow.name == name,
            DatasetVersionRow.checksum == checksum,
        )
    )


async def get_version_row(
    session: AsyncSession, project: ProjectRow, name: str, version: int | None
) -> DatasetVersionRow:
    """Version ``version`` of ``name`` (the newest when None), or :class:`NotFoundError`."""
    if version is None:
        row = await latest_version(session, project.id, name)
    else:
        row = await session.scalar(
            select(DatasetVersionRow).where(
                DatasetVersionRow.project_id == project.id,
                DatasetVersionRow.name == name,
                DatasetVersionRow.version == version,
            )
        )
    if row is None:
        what = f"{project.slug}/{name}" + (f"@{version}" if version is not None else "")
        raise NotFoundError(
            f"no dataset version {what}; list them with: modellab dataset list {project.slug}"
        )
    return row


async def get_version_row_by_id(session: AsyncSession, version_id: str) -> DatasetVersionRow:
    """The dataset version with primary key ``version_id``."""
    row = await session.get(DatasetVersionRow, version_id)
    missing = f"no dataset version with id {version_id!r}"
    if row is None:
        raise NotFoundError(missing)
    project = await session.get(ProjectRow, row.project_id)
    assert project is not None
    await check_access(session, project, Role.VIEWER, missing)
    return row


async def insert_version(session: AsyncSession, version: DatasetVersion, project_id: str) -> None:
    """Insert a new version; a version number taken meanwhile is a :class:`ConflictError`."""
    row = DatasetVersionRow(
        id=version.id,
        project_id=project_id,
        name=version.name,
        version=version.version,
        checksum=version.checksum,
        task=version.task,
        target=version.target,
        rows=version.rows,
        n_columns=version.columns,
        feature_columns=version.feature_columns,
        schema=_builtins(version.schema),
        profile=_builtins(version.profile),
        split=_builtins(version.split),
        provenance=_builtins(version.provenance),
        schema_diff=_builtins(version.schema_diff),
        created_at=version.created_at,
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise ConflictError(
            f"dataset {version.name!r} version {version.version} was added meanwhile; try again"
        ) from None
    for note in version.notes:
        session.add(
            DatasetNoteRow(
                id=uuid7(),
                dataset_version_id=version.id,
                created_at=note.created_at,
                text=note.text,
            )
        )


async def append_note(session: AsyncSession, version_id: str, text: str) -> Note:
    """Append a note; notes are never edited or removed."""
    note = Note(created_at=utcnow(), text=text)
    session.add(
        DatasetNoteRow(
            id=uuid7(), dataset_version_id=version_id, created_at=note.created_at, text=text
        )
    )
    return note


async def list_versions(session: AsyncSession, project: ProjectRow) -> list[DatasetVersionRow]:
    """Every version of every dataset of ``project``, by name then version."""
    rows = await session.scalars(
        select(DatasetVersionRow)
        .where(DatasetVersionRow.project_id == project.id)
        .order_by(DatasetVersionRow.name, DatasetVersionRow.version)
    )
    return list(rows)


async def count_versions(session: AsyncSession, project_id: str) -> int:
    """How many dataset versions ``project_id`` holds."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(DatasetVersionRow)
            .where(DatasetVersionRow.project_id == project_id)
        )
        or 0
    )
