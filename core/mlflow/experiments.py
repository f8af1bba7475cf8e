"""Experiments: named groups of a project's tracked runs, as MLflow numbers them.

Each project has its own experiments, numbered from 0; experiment 0 is the project's
"Default", made the first time anything asks for it (a bare ``mlflow.start_run()`` logs
there without looking it up). Experiments are never deleted: a run keeps its group.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from modellab.access.actor import Role
from modellab.errors import ConflictError, InvalidInputError, NotFoundError
from modellab.ids import uuid7
from modellab.store.database import Database
from modellab.store.models import ExperimentRow, ProjectRow, RunRow, utcnow
from modellab.store.projects import get_project_row

DEFAULT_NUMBER = 0
DEFAULT_NAME = "Default"
NAME_LIMIT = 500


class Experiment(msgspec.Struct, frozen=True):
    """An experiment as MLflow's clients read it (times in ms since the epoch)."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int


class ExperimentExistsError(ConflictError):
    """An experiment of that name is already in the project."""

    kind = "already-exists"


def epoch_ms(moment: datetime | None) -> int | None:
    """``moment`` as ms since the epoch (MLflow's times)."""
    return None if moment is None else round(moment.timestamp() * 1000)


def _experiment(row: ExperimentRow, updated: datetime | None) -> Experiment:
    created = epoch_ms(row.created_at) or 0
    return Experiment(
        experiment_id=str(row.number),
        name=row.name,
        artifact_location="mlflow-artifacts:/",
        lifecycle_stage="active",
        creation_time=created,
        last_update_time=max(created, epoch_ms(updated) or 0),
    )


def parse_number(experiment_id: str) -> int:
    """An experiment id as its number; InvalidInputError for anything but digits."""
    text = str(experiment_id).strip()
    if not text.isdigit() or len(text) > 9:
        raise InvalidInputError(f"experiment id {experiment_id!r} must be a number such as 0")
    return int(text)


async def experiment_row(session: Any, project: ProjectRow, number: int) -> ExperimentRow:
    """Experiment ``number`` of ``project``; the Default one is made on first use."""
    found: ExperimentRow | None = await session.scalar(
        select(ExperimentRow).where(
            ExperimentRow.project_id == project.id, ExperimentRow.number == number
        )
    )
    if found is not None:
        return found
    if number != DEFAULT_NUMBER:
        raise NotFoundError(f"project {project.slug!r} has no experiment {number}")
    row = ExperimentRow(
        id=uuid7(),
        project_id=project.id,
        number=DEFAULT_NUMBER,
        name=DEFAULT_NAME,
        created_at=project.created_at,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:  # made meanwhile by a concurrent request
        return await experiment_row(session, project, number)
    return row


async def _newest_run(session: Any, row: ExperimentRow) -> datetime | None:
    found: datetime | None = await session.scalar(
        select(func.max(RunRow.created_at)).where(RunRow.experiment_id == row.id)
    )
    return found


async def get_experiment(db: Database, project: str, experiment_id: str) -> Experiment:
    """Experiment ``experiment_id`` (its number) of ``project``."""
    number = parse_number(experiment_id)
    async with db.session() as session:
        row = await experiment_row(session, await get_project_row(session, project), number)
        return _experiment(row, await _newest_run(session, row))


async def experiment_by_name(db: Database, project: str, name: str) -> Experiment:
    """The experiment called ``name`` in ``project``; "Default" always exists."""
    async with db.session() as session:
        proj = await get_project_row(session, project)
        row: ExperimentRow | None
        if name == DEFAULT_NAME:
            row = await experiment_row(session, proj, DEFAULT_NUMBER)
        else:
            row = await session.scalar(
                select(ExperimentRow).where(
                    ExperimentRow.project_id == proj.id, ExperimentRow.name == name
                )
            )
            if row is None:
                raise NotFoundError(f"project {project!r} has no experiment named {name!r}")
        return _experiment(row, await _newest_run(session, row))


async def create_experiment(db: Database, project: str, name: str) -> Experiment:
    """A new experiment called ``name`` in ``project`` (editors); numbered after the last."""
    name = name.strip()
    if not name or len(name) > NAME_LIMIT or any(c in name for c in "\x00\n\r"):
        raise InvalidInputError(
            f"an experiment needs a name of 1 to {NAME_LIMIT} characters on one line"
        )
    async with db.session() as session:
        proj = await get_project_row(session, project, Role.EDITOR)
        await experiment_row(session, proj, DEFAULT_NUMBER)
        taken = await session.scalar(
            select(ExperimentRow.id).where(
                ExperimentRow.project_id == proj.id, ExperimentRow.name == name
            )
        )
        if taken is not None:
            raise ExperimentExistsError(f"project {project!r} already has an experiment {name!r}")
        last = await session.scalar(
            select(func.max(ExperimentRow.number)).where(ExperimentRow.project_id == proj.id)
        )
        number = int(last or 0) + 1
        row = ExperimentRow(
            id=uuid7(), project_id=proj.id, number=number, name=name, created_at=utcnow()
        )
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:
            raise ExperimentExistsError(
                f"project {project!r} got an experiment {name!r} (or its number) meanwhile; "
                "ask for it by name"
            ) from None
        return _experiment(row, None)


async def list_experiments(db: Database, project: str) -> list[Experiment]:
    """Every experiment of ``project``, by number (Default first)."""
    async with db.session() as session:
        proj = await get_project_row(session, project)
        await experiment_row(session, proj, DEFAULT_NUMBER)
        rows = (
            await session.scalars(
                select(ExperimentRow)
                .where(ExperimentRow.project_id == proj.id)
                .order_by(ExperimentRow.number)
            )
        ).all()
        newest = dict(
            (
                await session.execute(
                    select(RunRow.experiment_id, func.max(RunRow.created_at))
                    .where(RunRow.project_id == proj.id, RunRow.experiment_id.is_not(None))
                    .group_by(RunRow.experiment_id)
                )
            ).all()
        )
        return [_experiment(r, newest.get(r.id)) for r in rows]
