"""Repository of runs and their appended notes.

``claim`` is the compare-and-set that moves a run from queued to running, so a job
delivered twice executes once.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from modellab.access.actor import Role
from modellab.domain import Note, Run, RunStatus
from modellab.errors import ConflictError, NotFoundError
from modellab.ids import uuid7
from modellab.store.models import (
    DatasetVersionRow,
    ProjectRow,
    RunLatestMetricRow,
    RunNoteRow,
    RunRow,
    utcnow,
)
from modellab.store.projects import get_project_row
from modellab.store.scope import check_access, visible_projects

FINAL = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.TIMED_OUT)


async def to_domain(session: AsyncSession, row: RunRow, project: str) -> Run:
    """Decode a row (and its notes) into a :class:`Run`."""
    return (await to_domain_many(session, [row], project))[0]


async def to_domain_many(session: AsyncSession, rows: list[RunRow], project: str) -> list[Run]:
    """Decode rows of one project, loading all their notes with one query."""
    notes: dict[str, list[Note]] = {row.id: [] for row in rows}
    if rows:
        found = await session.scalars(
            select(RunNoteRow)
            .where(RunNoteRow.run_id.in_(list(notes)))
            .order_by(RunNoteRow.created_at, RunNoteRow.id)
        )
        for n in found:
            notes[n.run_id].append(Note(created_at=n.created_at, text=n.text))
    return [_decode(row, project, notes[row.id]) for row in rows]


def _decode(row: RunRow, project: str, notes: list[Note]) -> Run:
    data: dict[str, Any] = {
        "id": row.id,
        "project": project,
        "dataset_version_id": row.dataset_version_id,
        "dataset_checksum": row.dataset_checksum,
        "split_checksum": row.split_checksum,
        "kind": row.kind,
        "template": row.template,
        "model": row.model,
        "role": row.role,
        "run_key": row.run_key,
        "seed": row.seed,
        "config": row.config,
        "options": row.options or {},
        "code_version": row.code_version,
        "environment": row.environment,
        "status": row.status,
        "status_reason": row.status_reason,
        "metrics": row.metrics,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "heartbeat_at": row.heartbeat_at,
        "timeout_seconds": row.timeout_seconds,
        "waits_on": row.waits_on,
        "notes": notes,
    }
    return msgspec.convert(data, Run)


def row_values(run: Run, project_id: str) -> dict[str, Any]:
    """The column values of a new run's row."""
    return {
        "id": run.id,
        "project_id": project_id,
        "dataset_version_id": run.dataset_version_id,
        "dataset_checksum": run.dataset_checksum,
        "split_checksum": run.split_checksum,
        "kind": run.kind,
        "template": run.template,
        "model": run.model,
        "role": run.role,
        "run_key": run.run_key,
        "seed": run.seed,
        "config": run.config,
        "options": run.options,
        "code_version": msgspec.to_builtins(run.code_version),
        "environment": run.environment,
        "status": run.status.value,
        "status_reason": run.status_reason,
        "metrics": run.metrics,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "timeout_seconds": run.timeout_seconds,
        "waits_on": run.waits_on,
    }


async def insert_run(session: AsyncSession, run: Run, project_id: str) -> None:
    """Insert a new run."""
    session.add(RunRow(**row_values(run, project_id)))
    await session.flush()


RUN_REF = re.compile(
    r"^(?P<project>[^/@:]+)/(?P<dataset>[^/@:]+)(@(?P<version>\d+))?:(?P<model>[^/@:]+)$"
)


async def _by_reference(session: AsyncSession, ref: str, need: Role) -> tuple[RunRow, ProjectRow]:
    """``PROJECT/DATASET[@VERSION]:MODEL``: the newest succeeded run of MODEL on it."""
    m = RUN_REF.match(ref)
    if m is None:
        raise NotFoundError(
            f"invalid run reference {ref!r}; expected PROJECT/DATASET[@VERSION]:MODEL"
        )
    project = await get_project_row(session, m["project"], need)
    query = (
        select(RunRow)
        .join(DatasetVersionRow, DatasetVersionRow.id == RunRow.dataset_version_id)
        .where(
            RunRow.project_id == project.id,
            DatasetVersionRow.name == m["dataset"],
            RunRow.model == m["model"],
            RunRow.status == RunStatus.SUCCEEDED.value,
        )
        .order_by(RunRow.created_at.desc(), RunRow.id.desc())
        .limit(1)
    )
    if m["version"]:
        query = query.where(DatasetVersionRow.version == int(m["version"]))
    row = await session.scalar(query)
    if row is None:
        raise NotFoundError(f"no succeeded run matches {ref!r}")
    return row, project


async def get_run_row(
    session: AsyncSession, run_id: str, need: Role = Role.VIEWER
) -> tuple[RunRow, ProjectRow]:
    """The run ``run_id``: a full id, a unique prefix of 8+ characters, or a reference
    ``PROJECT/DATASET[@VERSION]:MODEL`` (the newest succeeded run of that model).

    A run of a project the user is not a member of is not found, like a missing one;
    a role below ``need`` is a :class:`ForbiddenError`.
    """
    if ":" in run_id:
        return await _by_reference(session, run_id, need)
    query = select(RunRow, ProjectRow).join(ProjectRow, ProjectRow.id == RunRow.project_id)
    # Prefixes are matched among the user's projects only, so another project's runs can
    # neither be found nor make a prefix ambiguous.
    condition = visible_projects(session)
    if condition is not None:
        query = query.where(condition)
    if len(run_id) == 36:
        found = (await session.execute(query.where(RunRow.id == run_id))).all()
    elif len(run_id) >= 8:
        # Escaped: a prefix is text, never a LIKE pattern ('%' would match every run).
        prefix = RunRow.id.startswith(run_id, autoescape=True)
        found = (await session.execute(query.where(prefix).limit(2))).all()
    else:
        found = []
    missing = f"no run {run_id!r}; list runs with: modellab runs --project P"
    if not found:
        raise NotFoundError(missing)
    if len(found) > 1:
        raise ConflictError(f"run id prefix {run_id!r} is ambiguous; give more characters")
    run_row, project_row = found[0]
    await check_access(session, project_row, need, missing)
    return run_row, project_row


def _ready() -> ColumnElement[bool]:
    """A run waits on nothing, or on a run that succeeded."""
    waited = aliased(RunRow)
    return or_(
        RunRow.waits_on.is_(None),
        select(waited.id)
        .where(waited.id == RunRow.waits_on, waited.status == RunStatus.SUCCEEDED.value)
        .exists(),
    )


async def claim(session: AsyncSession, run_id: str, now: datetime) -> bool:
    """Move ``run_id`` from queued to running; False when someone else already did, or
    when the run waits on one that has not succeeded yet."""
    result = await session.execute(
        update(RunRow)
        .where(RunRow.id == run_id, RunRow.status == RunStatus.QUEUED.value, _ready())
        .values(
            status=RunStatus.RUNNING.value,
            started_at=now,
            heartbeat_at=now,
            attempts=RunRow.attempts + 1,
        )
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def heartbeat(session: AsyncSession, run_id: str, now: datetime) -> bool:
    """Mark a running run as alive; False when it is no longer running."""
    result = await session.execute(
        update(RunRow)
        .where(RunRow.id == run_id, RunRow.status == RunStatus.RUNNING.value)
        .values(heartbeat_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def waiting_on(session: AsyncSession, run_id: str) -> list[str]:
    """The queued runs that wait on ``run_id``, oldest first."""
    found = await session.scalars(
        select(RunRow.id)
        .where(RunRow.waits_on == run_id, RunRow.status == RunStatus.QUEUED.value)
        .order_by(RunRow.created_at, RunRow.id)
    )
    return list(found)


async def request_cancel(session: AsyncSession, run_id: str, now: datetime) -> RunStatus:
    """Cancel a queued run at once, or ask the process watching a running run to stop it.

    Returns the run's status after the request; a run that already ended is refused.
    """
    result = await session.execute(
        update(RunRow)
        .where(RunRow.id == run_id, RunRow.status == RunStatus.QUEUED.value)
        .values(
            status=RunStatus.CANCELLED.value,
            status_reason="cancelled before it started",
            finished_at=now,
            cancel_requested_at=now,
        )
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return RunStatus.CANCELLED
    result = await session.execute(
        update(RunRow)
        .where(RunRow.id == run_id, RunRow.status == RunStatus.RUNNING.value)
        .values(cancel_requested_at=now)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return RunStatus.RUNNING
    status = await session.scalar(select(RunRow.status).where(RunRow.id == run_id))
    if status is None:
        raise NotFoundError(f"no run {run_id!r}")
    raise ConflictError(
        f"run {run_id} already ended ({status}); only queued or running runs can be cancelled"
    )


async def watch_state(session: AsyncSession, run_id: str) -> tuple[str, datetime | None]:
    """(status, cancel_requested_at) of a run, for the process that watches it."""
    row = (
        await session.execute(
            select(RunRow.status, RunRow.cancel_requested_at).where(RunRow.id == run_id)
        )
    ).one()
    return str(row[0]), row[1]


async def stale_runs(session: AsyncSession, older_than: datetime) -> list[RunRow]:
    """Running runs whose heartbeat stopped before ``older_than``."""
    return list(
        await session.scalars(
            select(RunRow)
            .where(RunRow.status == RunStatus.RUNNING.value, RunRow.heartbeat_at < older_than)
            .order_by(RunRow.heartbeat_at, RunRow.id)
        )
    )


async def requeue(session: AsyncSession, run_id: str, heartbeat_before: datetime) -> bool:
    """Put a lost running run back in the queue (compare-and-set on its old heartbeat)."""
    result = await session.execute(
        update(RunRow)
        .where(
            RunRow.id == run_id,
            RunRow.status == RunStatus.RUNNING.value,
            RunRow.heartbeat_at < heartbeat_before,
        )
        .values(status=RunStatus.QUEUED.value, started_at=None, heartbeat_at=None)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def queued_run_ids(session: AsyncSession, older_than_seconds: float = 0.0) -> list[str]:
    """Ids of the runs queued for at least ``older_than_seconds``, oldest first; runs
    still waiting on another are left out (that run's job submits them)."""
    query = select(RunRow.id).where(RunRow.status == RunStatus.QUEUED.value, _ready())
    if older_than_seconds > 0:
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        query = query.where(RunRow.created_at <= cutoff)
    return list(await session.scalars(query.order_by(RunRow.created_at, RunRow.id)))


async def finish(
    session: AsyncSession,
    run_id: str,
    status: RunStatus,
    reason: str | None = None,
    metrics: dict[str, Any] | None = None,
    finished_at: datetime | None = None,
) -> bool:
    """Record the end of a running run (at ``finished_at``, None: now); a run that
    already ended is left as it is."""
    values: dict[str, Any] = {
        "status": status.value,
        "status_reason": reason,
        "finished_at": finished_at or utcnow(),
    }
    if metrics is not None:
        values["metrics"] = metrics
    result = await session.execute(
        update(RunRow)
        .where(
            RunRow.id == run_id,
            RunRow.status.in_([RunStatus.RUNNING.value, RunStatus.QUEUED.value]),
        )
        .values(**values)
        .returning(RunRow.project_id)
    )
    project_id = result.scalar_one_or_none()
    if project_id is None:
        return False
    if metrics:
        await index_headline(session, run_id, project_id, metrics)
    return True


def headline_values(metrics: dict[str, Any]) -> dict[str, float]:
    """The headline metric values of a trained run's ``metrics`` (name to value)."""
    headline = metrics.get("headline")
    if not isinstance(headline, dict):
        return {}
    values = {}
    for name, estimate in headline.items():
        value = estimate.get("value") if isinstance(estimate, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[str(name)] = float(value)
    return values


async def index_headline(
    session: AsyncSession, run_id: str, project_id: str, metrics: dict[str, Any]
) -> None:
    """Put a trained run's headline metrics where run listings filter on metrics.

    Tracked runs fill ``run_latest_metrics`` as they log; a trained run's numbers come
    from its eval report at the end, so the metric filters of the runs listing (and of
    the UI's runs table) see both kinds of run.
    """
    values = headline_values(metrics)
    logged = await session.scalars(
        select(RunLatestMetricRow.key).where(RunLatestMetricRow.run_id == run_id)
    )
    for key in logged:  # a value the run logged itself stays
        values.pop(key, None)
    if values:
        await session.execute(
            insert(RunLatestMetricRow),
            [
                {"run_id": run_id, "project_id": project_id, "key": k, "step": 0, "value": v}
                for k, v in sorted(values.items())
            ],
        )


async def list_runs(
    session: AsyncSession,
    project: ProjectRow,
    status: str | None = None,
    template: str | None = None,
    model: str | None = None,
    dataset_version_id: str | None = None,
    limit: int = 100,
    after: tuple[datetime, str] | None = None,
    metric: tuple[str, float | None, float | None] | None = None,
) -> list[RunRow]:
    """Runs of ``project``, newest first, optionally filtered.

    ``after`` is a keyset cursor, the (created_at, id) of the last run of the previous
    page: the query walks the (project, created_at, id) index instead of skipping rows,
    so page 1000 costs what page 1 costs.
    """
    query = select(RunRow).where(RunRow.project_id == project.id)
    if status:
        query = query.where(RunRow.status == status)
    if template:
        query = query.where(RunRow.template == template)
    if model:
        query = query.where(RunRow.model == model)
    if dataset_version_id:
        query = query.where(RunRow.dataset_version_id == dataset_version_id)
    if metric is not None:
        key, low, high = metric
        latest = select(RunLatestMetricRow.run_id).where(
            RunLatestMetricRow.project_id == project.id,
            RunLatestMetricRow.key == key,
            # A NaN (stored as 0) is in no range.
            RunLatestMetricRow.nan.is_not(True),
        )
        if low is not None:
            latest = latest.where(RunLatestMetricRow.value >= low)
        if high is not None:
            latest = latest.where(RunLatestMetricRow.value <= high)
        query = query.where(RunRow.id.in_(latest))
    if after is not None:
        created, run_id = after
        query = query.where(
            or_(
                RunRow.created_at < created,
                and_(RunRow.created_at == created, RunRow.id < run_id),
            )
        )
    query = query.order_by(RunRow.created_at.desc(), RunRow.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def facets(session: AsyncSession, project: ProjectRow) -> dict[str, list[str]]:
    """The distinct values a runs listing of ``project`` can filter on, sorted."""

    async def distinct_of(column: Any) -> list[str]:
        rows = await session.scalars(
            select(column).where(RunRow.project_id == project.id).distinct()
        )
        return sorted(str(v) for v in rows if v is not None)

    metrics = await session.scalars(
        select(RunLatestMetricRow.key).where(RunLatestMetricRow.project_id == project.id).distinct()
    )
    return {
        "statuses": await distinct_of(RunRow.status),
        "templates": await distinct_of(RunRow.template),
        "models": await distinct_of(RunRow.model),
        "dataset_versions": await distinct_of(RunRow.dataset_version_id),
        "metrics": sorted(metrics),
    }


def baseline_strength(row: RunRow) -> tuple[float, str] | None:
    """(score, metric) of a finished baseline: its primary metric, signed so that larger
    is better; None when its report gave no primary value."""
    metrics = row.metrics or {}
    primary = metrics.get("primary_metric")
    value = (metrics.get("headline") or {}).get(primary or "", {}).get("value")
    if primary is None or value is None:
        return None
    higher = (metrics.get("higher_is_better") or {}).get(primary, True)
    return (float(value) if higher else -float(value)), primary


async def pending_baselines(
    session: AsyncSession, dataset_version_id: str, split_checksum: str, template: str
) -> list[str]:
    """Ids of the queued or running baseline runs of ``template`` on this dataset
    version and split, the newest first."""
    found = await session.scalars(
        select(RunRow.id)
        .where(
            RunRow.dataset_version_id == dataset_version_id,
            RunRow.split_checksum == split_checksum,
            RunRow.template == template,
            RunRow.role == "baseline",
            RunRow.status.in_([RunStatus.QUEUED.value, RunStatus.RUNNING.value]),
        )
        .order_by(RunRow.created_at.desc(), RunRow.id.desc())
    )
    return list(found)


async def baselines_by_strength(
    session: AsyncSession, dataset_version_id: str, split_checksum: str, template: str
) -> list[RunRow]:
    """Succeeded baseline runs of ``template`` on this dataset version and split, the
    strongest first (by each report's primary metric; ties: the newest first).

    The strongest is the bar a candidate must clear: judging it against a weaker one
    (a majority-class baseline trained last) would flatter it.
    """
    rows = list(
        await session.scalars(
            select(RunRow)
            .where(
                RunRow.dataset_version_id == dataset_version_id,
                RunRow.split_checksum == split_checksum,
                RunRow.template == template,
                RunRow.role == "baseline",
                RunRow.status == RunStatus.SUCCEEDED.value,
            )
            .order_by(RunRow.created_at.desc(), RunRow.id.desc())
        )
    )

    def weakness(row: RunRow) -> float:
        strength = baseline_strength(row)
        return -strength[0] if strength is not None else float("inf")

    # A stable sort keeps the newest first among equals; unscored runs go last.
    return sorted(rows, key=weakness)


async def append_note(session: AsyncSession, run_id: str, text: str) -> Note:
    """Append a note to a run; notes are never edited or removed."""
    note = Note(created_at=utcnow(), text=text)
    session.add(RunNoteRow(id=uuid7(), run_id=run_id, created_at=note.created_at, text=text))
    return note
