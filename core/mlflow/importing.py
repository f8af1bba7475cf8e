"""``modellab import mlflow``: MLflow runs become tracked runs, each exactly once.

Every run goes through the same service functions as the MLflow endpoint (provenance
checks included), keyed on its source run id (``imported_from``), so importing again
creates nothing twice. Parents are imported before their nested runs, whose
``mlflow.parentRunId`` tag then names the parent's ModelLab run. A run whose provenance
cannot be mapped is listed, never completed with made-up values; a run that fails half
way is removed again, so nothing half-imported stays.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, select

from modellab.access.actor import Role
from modellab.errors import ModelLabError, NotFoundError
from modellab.mlflow import experiments, runs
from modellab.mlflow.runs import COMMIT_TAGS, DATASET_TAG, SEED_TAG
from modellab.mlflow.sources import Skipped, Source, SourceRun
from modellab.runs import tracking
from modellab.runs.artifacts import run_dir
from modellab.settings import Settings
from modellab.store.database import Database
from modellab.store.models import RunRow
from modellab.store.projects import get_project_row

PARENT_TAG = "mlflow.parentRunId"
#: params and points per stored batch (the tracking service's limit)
BATCH = tracking.MAX_BATCH


@dataclass(frozen=True)
class Provenance:
    """What the user states for runs whose tags do not say it (None: nothing)."""

    dataset: str | None = None
    seed: int | None = None
    seed_param: str | None = None
    commit: str | None = None


@dataclass(frozen=True)
class Imported:
    """A run made by this import, or found made by an earlier one."""

    source_run_id: str
    run_id: str
    name: str
    points: int = 0
    files: int = 0
    note: str | None = None


@dataclass
class ImportReport:
    """What an import did, run by run."""

    imported: list[Imported] = field(default_factory=list)
    already: list[Imported] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def source_key(run_id: str) -> str:
    """The ``imported_from`` of a run made from MLflow run ``run_id``."""
    return f"mlflow:{run_id}"


def _provenance(run: SourceRun, stated: Provenance) -> tuple[dict[str, str], list[str]]:
    """The provenance tags the run gets, and what is still missing."""
    tags: dict[str, str] = {}
    missing = []
    if not run.tags.get(DATASET_TAG):
        if stated.dataset:
            tags[DATASET_TAG] = stated.dataset
        else:
            missing.append(f"a dataset version (tag {DATASET_TAG}, or --dataset NAME@VERSION)")
    if not run.tags.get(SEED_TAG):
        if stated.seed_param and run.params.get(stated.seed_param, "").strip():
            tags[SEED_TAG] = run.params[stated.seed_param].strip()
        elif stated.seed is not None:
            tags[SEED_TAG] = str(stated.seed)
        else:
            missing.append(f"a seed (tag {SEED_TAG}, or --seed-param NAME or --seed N)")
    if not any(run.tags.get(t) for t in COMMIT_TAGS):
        if stated.commit:
            tags[COMMIT_TAGS[1]] = stated.commit
        else:
            missing.append(f"a commit (tag {COMMIT_TAGS[0]}, or --commit SHA)")
    return tags, missing


def _parents_first(found: list[SourceRun]) -> list[SourceRun]:
    by_id = {r.run_id: r for r in found}
    ordered: list[SourceRun] = []
    placed: set[str] = set()

    def place(run: SourceRun, seen: frozenset[str]) -> None:
        if run.run_id in placed:
            return
        parent = by_id.get(run.tags.get(PARENT_TAG, ""))
        if parent is not None and parent.run_id not in seen:
            place(parent, seen | {run.run_id})
        placed.add(run.run_id)
        ordered.append(run)

    for run in found:
        place(run, frozenset())
    return ordered


async def import_runs(
    db: Database,
    settings: Settings,
    project: str,
    source: Source,
    stated: Provenance = Provenance(),
    progress: Callable[[str], None] = lambda _: None,
) -> ImportReport:
    """Import every run of ``source`` into ``project`` that is not there yet."""
    report = ImportReport()
    found, report.skipped = source.runs()
    async with db.session() as session:
        proj = await get_project_row(session, project, Role.EDITOR)
        rows = await session.execute(
            select(RunRow.imported_from, RunRow.id, RunRow.model).where(
                RunRow.project_id == proj.id, RunRow.imported_from.is_not(None)
            )
        )
        done = {str(key): (str(i), str(name)) for key, i, name in rows}
    new_ids = {k.removeprefix("mlflow:"): v[0] for k, v in done.items()}
    for run in _parents_first(found):
        label = f"run {run.run_id} ({run.name or 'unnamed'})"
        if source_key(run.run_id) in done:
            earlier, name = done[source_key(run.run_id)]
            report.already.append(Imported(run.run_id, earlier, name))
            continue
        if run.deleted:
            report.skipped.append(Skipped(label, "deleted in MLflow"))
            continue
        if run.status in ("RUNNING", "SCHEDULED"):
            report.skipped.append(
                Skipped(label, f"still {run.status} in MLflow: import it once it has ended")
            )
            continue
        extra, missing = _provenance(run, stated)
        if missing:
            report.skipped.append(Skipped(label, "no provenance: needs " + "; ".join(missing)))
            continue
        progress(f"importing {label}")
        try:
            made = await _import_one(db, settings, project, source, run, extra, new_ids)
        except ModelLabError as exc:
            report.skipped.append(Skipped(label, exc.message))
            continue
        new_ids[run.run_id] = made.run_id
        report.imported.append(made)
    return report


async def _experiment_id(db: Database, project: str, name: str) -> str:
    try:
        return (await experiments.experiment_by_name(db, project, name)).experiment_id
    except NotFoundError:
        return (await experiments.create_experiment(db, project, name)).experiment_id


async def _import_one(
    db: Database,
    settings: Settings,
    project: str,
    source: Source,
    run: SourceRun,
    extra: dict[str, str],
    new_ids: dict[str, str],
) -> Imported:
    experiment = await _experiment_id(db, project, run.experiment or experiments.DEFAULT_NAME)
    tags = run.tags | extra
    if tags.get(PARENT_TAG) in new_ids:
        tags[PARENT_TAG] = new_ids[tags[PARENT_TAG]]
    created = await runs.create_run(
        db,
        settings,
        project,
        experiment,
        tags,
        run.start_time,
        run.name or None,
        imported_from=source_key(run.run_id),
    )
    run_id = created.info.run_id
    try:
        params = list(run.params.items())
        for i in range(0, len(params), BATCH):
            await runs.log_batch(db, project, run_id, dict(params[i : i + BATCH]), [], {})
        for i in range(0, len(run.metrics), BATCH):
            await runs.log_batch(db, project, run_id, {}, run.metrics[i : i + BATCH], {})
        if run.inputs:
            await runs.log_inputs(db, project, run_id, run.inputs)
        files, note = await _copy_artifacts(db, settings, source, run, run_id)
        await runs.update_run(db, settings, project, run_id, run.status, run.end_time)
    except BaseException:
        await _discard(db, settings, project, run_id)
        raise
    return Imported(run.run_id, run_id, created.info.run_name, len(run.metrics), files, note)


async def _copy_artifacts(
    db: Database, settings: Settings, source: Source, run: SourceRun, run_id: str
) -> tuple[int, str | None]:
    """Copy the run's files in; how many, and a note when they are missing."""
    with source.artifacts(run) as folder:
        if folder is None:
            return 0, "its artifact folder is missing: imported without files"
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
        settings.home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=settings.home) as tmp:
            for path in files:
                copy = Path(tmp) / "file"
                shutil.copyfile(path, copy)  # add_artifact moves its source in
                await tracking.add_artifact(
                    db, settings, run_id, path.relative_to(folder).as_posix(), copy
                )
        return len(files), None


async def _discard(db: Database, settings: Settings, project: str, run_id: str) -> None:
    """Remove a run an import could not finish: its row (which takes its logs along)
    and its folder."""
    async with db.session() as session:
        await session.execute(delete(RunRow).where(RunRow.id == run_id))
    shutil.rmtree(run_dir(settings.artifact_root, project, run_id), ignore_errors=True)
