"""Tracked runs as MLflow's clients see them, and the MLflow calls that change them.

Every call here goes through the tracking service (:mod:`modellab.runs.tracking`): an
MLflow run is a tracked run, with the same rules. Above all, it is refused at
``runs/create`` unless its tags name a stored dataset version, a seed and a commit;
``MLFLOW_RUN_CONTEXT`` adds such tags to every run of an unchanged script.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import func, select, update

from modellab import __version__
from modellab.access.actor import Role
from modellab.domain import CodeVersion, RunStatus
from modellab.errors import InvalidInputError, NotFoundError
from modellab.mlflow.experiments import epoch_ms, experiment_row, parse_number
from modellab.nonfinite import NonFinite, as_logged
from modellab.runs import tracking
from modellab.settings import Settings
from modellab.store import runs as repo
from modellab.store.database import Database
from modellab.store.models import (
    ExperimentRow,
    ProjectRow,
    RunLatestMetricRow,
    RunMetricRow,
    RunParamRow,
    RunRow,
    RunTagRow,
)
from modellab.store.projects import get_project_row

DATASET_TAG = "modellab.dataset"
SEED_TAG = "modellab.seed"
COMMIT_TAGS = ("mlflow.source.git.commit", "modellab.git_commit")
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
CONTEXT_VARIABLE = "MLFLOW_RUN_CONTEXT"

#: ModelLab's run states as MLflow names them
STATUS_NAMES = {
    "queued": "SCHEDULED",
    "running": "RUNNING",
    "succeeded": "FINISHED",
    "failed": "FAILED",
    "timed_out": "FAILED",
    "cancelled": "KILLED",
}
#: how an MLflow client may end a run
ENDINGS = {
    "FINISHED": RunStatus.SUCCEEDED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.CANCELLED,
}


class Metric(msgspec.Struct, frozen=True):
    """A metric point in MLflow's shape."""

    key: str
    value: float | NonFinite
    timestamp: int
    step: int


class KeyValue(msgspec.Struct, frozen=True):
    """A param or a tag in MLflow's shape."""

    key: str
    value: str


class RunInfo(msgspec.Struct, frozen=True):
    """What MLflow's clients read about a run besides its data."""

    run_id: str
    run_uuid: str
    run_name: str
    experiment_id: str
    user_id: str
    status: str
    start_time: int
    artifact_uri: str
    lifecycle_stage: str
    end_time: int | None = None


class RunData(msgspec.Struct, frozen=True):
    """The newest value of each metric, the params and the tags of a run."""

    metrics: list[Metric]
    params: list[KeyValue]
    tags: list[KeyValue]


class RunInputs(msgspec.Struct, frozen=True):
    """The datasets the run's code declared (``mlflow.log_input``)."""

    dataset_inputs: list[dict[str, Any]]


class MlflowRun(msgspec.Struct, frozen=True):
    """A run as MLflow's ``runs/get`` answers it."""

    info: RunInfo
    data: RunData
    inputs: RunInputs


def artifact_uri(run_id: str) -> str:
    """Where MLflow's clients put a run's files: served by this endpoint's artifacts
    routes (the client resolves the scheme against its tracking URI, prefix and all)."""
    return f"mlflow-artifacts:/{run_id}"


async def project_run(session: Any, project: str, run_id: str) -> tuple[RunRow, ProjectRow]:
    """A run of ``project`` (the endpoint's); another project's run is not found."""
    row, proj = await repo.get_run_row(session, run_id)
    if proj.slug != project:
        raise NotFoundError(f"project {project!r} has no run {run_id!r}")
    return row, proj


async def views(session: Any, rows: Sequence[RunRow]) -> list[MlflowRun]:
    """``rows`` as MLflow runs, in their order: four queries however many runs."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    params: dict[str, list[KeyValue]] = {i: [] for i in ids}
    for run_id, key, value in await session.execute(
        select(RunParamRow.run_id, RunParamRow.key, RunParamRow.value)
        .where(RunParamRow.run_id.in_(ids))
        .order_by(RunParamRow.run_id, RunParamRow.key)
    ):
        params[run_id].append(KeyValue(key, value))
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    for run_id, key, value in await session.execute(
        select(RunTagRow.run_id, RunTagRow.key, RunTagRow.value).where(RunTagRow.run_id.in_(ids))
    ):
        tags[run_id][key] = value
    stamps = {
        (run_id, key): stamp
        for run_id, key, stamp in await session.execute(
            select(RunMetricRow.run_id, RunMetricRow.key, func.max(RunMetricRow.timestamp))
            .join(
                RunLatestMetricRow,
                (RunLatestMetricRow.run_id == RunMetricRow.run_id)
                & (RunLatestMetricRow.key == RunMetricRow.key)
                & (RunLatestMetricRow.step == RunMetricRow.step),
            )
            .where(RunMetricRow.run_id.in_(ids))
            .group_by(RunMetricRow.run_id, RunMetricRow.key)
        )
    }
    metrics: dict[str, list[Metric]] = {i: [] for i in ids}
    for m in await session.scalars(
        select(RunLatestMetricRow)
        .where(RunLatestMetricRow.run_id.in_(ids))
        .order_by(RunLatestMetricRow.run_id, RunLatestMetricRow.key)
    ):
        value = "NaN" if m.nan else as_logged(m.value)
        stamp = stamps.get((m.run_id, m.key)) or 0
        metrics[m.run_id].append(Metric(m.key, value, int(stamp), int(m.step)))
    numbers = dict(
        (
            await session.execute(
                select(ExperimentRow.id, ExperimentRow.number).where(
                    ExperimentRow.id.in_({r.experiment_id for r in rows if r.experiment_id})
                )
            )
        ).all()
    )
    out = []
    for r in rows:
        run_tags = tags[r.id] | {RUN_NAME_TAG: r.model}
        number = numbers.get(r.experiment_id, 0) if r.experiment_id else 0
        info = RunInfo(
            run_id=r.id,
            run_uuid=r.id,
            run_name=r.model,
            experiment_id=str(number),
            user_id=run_tags.get(USER_TAG, ""),
            status=STATUS_NAMES[r.status],
            start_time=epoch_ms(r.started_at or r.created_at) or 0,
            end_time=epoch_ms(r.finished_at),
            artifact_uri=artifact_uri(r.id),
            lifecycle_stage="active",
        )
        data = RunData(
            metrics=metrics[r.id],
            params=params[r.id],
            tags=[KeyValue(k, v) for k, v in sorted(run_tags.items())],
        )
        out.append(MlflowRun(info, data, RunInputs(list(r.inputs or []))))
    return out


async def get_run(db: Database, project: str, run_id: str) -> MlflowRun:
    """One run of ``project`` as MLflow's clients read it."""
    async with db.session() as session:
        row, _ = await project_run(session, project, run_id)
        return (await views(session, [row]))[0]


def provenance(tags: dict[str, str]) -> tuple[str, int, str]:
    """The dataset version, seed and commit the tags of a new run name.

    :raises InvalidInputError: naming each missing or malformed tag and how to set it.
    """
    problems = []
    dataset = tags.get(DATASET_TAG, "").strip()
    if not dataset:
        problems.append(f"tag {DATASET_TAG} (NAME@VERSION of a dataset version in this project)")
    seed_text = tags.get(SEED_TAG, "").strip()
    seed = -1
    if not seed_text:
        problems.append(f"tag {SEED_TAG} (the integer seed of the run)")
    else:
        try:
            seed = int(seed_text)
        except ValueError:
            problems.append(f"tag {SEED_TAG} must be an integer, not {seed_text[:40]!r}")
    commit = next((tags[t].strip() for t in COMMIT_TAGS if tags.get(t, "").strip()), "")
    if not commit:
        problems.append(
            f"tag {COMMIT_TAGS[0]} (set by the client in a git checkout) or {COMMIT_TAGS[1]}"
        )
    if problems:
        example = json.dumps({DATASET_TAG: "NAME@VERSION", SEED_TAG: "7"})
        raise InvalidInputError(
            "a ModelLab run must say what it trained on, with which seed and code; missing: "
            + "; ".join(problems)
            + f". Set them for every run of a script with {CONTEXT_VARIABLE}='{example}' "
            "(and run it in a git checkout), or pass them as tags to mlflow.start_run"
        )
    return dataset, seed, commit


def _ms(value: int | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidInputError(f"time {value} is not a time in ms since the epoch") from None


async def create_run(
    db: Database,
    settings: Settings,
    project: str,
    experiment_id: str,
    tags: dict[str, str],
    start_time: int | None = None,
    run_name: str | None = None,
    imported_from: str | None = None,
) -> MlflowRun:
    """Start a tracked run from MLflow's ``runs/create`` (or an import of an MLflow run).

    Its tags must carry the provenance (see :func:`provenance`); the name comes from
    ``run_name``, else the ``mlflow.runName`` tag, else the run's id.
    """
    dataset, seed, commit = provenance(tags)
    number = parse_number(experiment_id)
    async with db.session() as session:
        proj = await get_project_row(session, project, Role.EDITOR)
        experiment = await experiment_row(session, proj, number)
    name = (run_name or tags.get(RUN_NAME_TAG) or "").strip()
    request = tracking.TrackedRunRequest(
        project=project,
        dataset=dataset,
        name=name or "mlflow-run",
        seed=seed,
        code_version=CodeVersion(modellab_version=__version__, git_commit=commit, git_dirty=False),
        environment={"client": "mlflow"},
        tags={k: v for k, v in tags.items() if k != RUN_NAME_TAG},
        started_at=_ms(start_time),
        experiment_id=experiment.id,
        imported_from=imported_from,
    )
    run = await tracking.create_tracked_run(db, settings, request)
    if not name:  # named by its id, as MLflow names a run it was given no name for
        name = f"run-{run.id[-12:]}"
        async with db.session() as session:
            await session.execute(update(RunRow).where(RunRow.id == run.id).values(model=name))
    # A new run holds only its tags: answered without reading it back.
    info = RunInfo(
        run_id=run.id,
        run_uuid=run.id,
        run_name=name,
        experiment_id=str(number),
        user_id=tags.get(USER_TAG, ""),
        status=STATUS_NAMES[run.status.value],
        start_time=epoch_ms(run.started_at) or 0,
        artifact_uri=artifact_uri(run.id),
        lifecycle_stage="active",
    )
    given = request.tags | {RUN_NAME_TAG: name}
    data = RunData([], [], [KeyValue(k, v) for k, v in sorted(given.items())])
    return MlflowRun(info, data, RunInputs([]))


async def update_run(
    db: Database,
    settings: Settings,
    project: str,
    run_id: str,
    status: str | None,
    end_time: int | None = None,
    run_name: str | None = None,
) -> RunInfo:
    """Rename a run and/or end it (FINISHED, FAILED or KILLED) at ``end_time``."""
    if status not in (None, "RUNNING", *ENDINGS):
        raise InvalidInputError(
            f"status {status!r}: a run is updated to RUNNING, FINISHED, FAILED or KILLED"
        )
    async with db.session() as session:
        row, _ = await project_run(session, project, run_id)
        if run_name and run_name.strip():
            if len(run_name) > 200:
                raise InvalidInputError("a run name has at most 200 characters")
            await session.execute(
                update(RunRow).where(RunRow.id == row.id).values(model=run_name.strip())
            )
    if status in ENDINGS:
        await tracking.finish_tracked(db, settings, run_id, ENDINGS[status], None, _ms(end_time))
    return (await get_run(db, project, run_id)).info


async def log_batch(
    db: Database,
    project: str,
    run_id: str,
    params: dict[str, str],
    metrics: Sequence[tracking.MetricPoint],
    tags: dict[str, str],
) -> None:
    """MLflow's log-batch, log-metric, log-parameter and set-tag, on a running run."""
    async with db.session() as session:
        await project_run(session, project, run_id)
    name = tags.pop(RUN_NAME_TAG, None)
    await tracking.log_batch(db, run_id, params, metrics, tags)
    if name is not None and name.strip():
        async with db.session() as session:
            await session.execute(
                update(RunRow).where(RunRow.id == run_id).values(model=name.strip()[:200])
            )


INPUTS_LIMIT = 100


async def log_inputs(db: Database, project: str, run_id: str, datasets: list[Any]) -> None:
    """Keep the dataset inputs a run's code declared (name, digest, source, context)."""
    for i, item in enumerate(datasets):
        if not isinstance(item, dict) or not isinstance(item.get("dataset"), dict):
            raise InvalidInputError(f"datasets[{i}]: expected an object with a 'dataset' object")
    async with db.session() as session:
        row, _ = await tracking.running_tracked(session, run_id)
        await project_run(session, project, run_id)
        kept = list(row.inputs or [])
        seen = {json.dumps(d, sort_keys=True) for d in kept}
        for item in datasets:
            if json.dumps(item, sort_keys=True) not in seen:
                kept.append(item)
        if len(kept) > INPUTS_LIMIT:
            raise InvalidInputError(f"a run declares at most {INPUTS_LIMIT} dataset inputs")
        await session.execute(update(RunRow).where(RunRow.id == row.id).values(inputs=kept))


async def metric_history(
    db: Database, project: str, run_id: str, key: str, offset: int, limit: int
) -> tuple[list[Metric], bool]:
    """Points ``offset`` to ``offset + limit`` of metric ``key`` by step, and whether
    more follow."""
    async with db.session() as session:
        row, _ = await project_run(session, project, run_id)
        found = (
            await session.scalars(
                select(RunMetricRow)
                .where(RunMetricRow.run_id == row.id, RunMetricRow.key == key)
                .order_by(RunMetricRow.step, RunMetricRow.id)
                .offset(offset)
                .limit(limit + 1)
            )
        ).all()
    points = [
        Metric(r.key, "NaN" if r.nan else as_logged(r.value), int(r.timestamp or 0), int(r.step))
        for r in found[:limit]
    ]
    return points, len(found) > limit
