"""Evaluating an outside system's output file as a tracked run (a TREC run file).

A search team keeps its own retriever; what it hands ModelLab is the retriever's output.
The tracked run that uploaded the file carries the provenance every run needs (dataset
version, seed, code version); the task type reads the file (``TaskType.read_predictions``)
and the task's evaluator writes the run's EvalHarness folder from it, on the dataset
version's test units, exactly as for a template run. Units of the file outside the test
split are left out and counted.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import msgspec
import numpy as np
from sqlalchemy import update

from modellab.datasets.ingest import get_dataset
from modellab.diskfull import disk_full_as
from modellab.domain import DatasetVersion, Run, RunStatus
from modellab.errors import InvalidInputError, ModelLabError
from modellab.plugins import Registry
from modellab.runs.artifacts import run_dir, sha256_of
from modellab.runs.lifecycle import load_run, metrics_from_eval
from modellab.runs.options import EvalSettings, eval_defaults
from modellab.runs.tracking import (
    TrackedRunRequest,
    add_artifact,
    create_tracked_run,
    finish_tracked,
    running_tracked,
    safe_relative,
)
from modellab.runs.training import load_run_frames, prediction_rows, strongest_baseline
from modellab.settings import Settings
from modellab.store import datasets as dataset_repo
from modellab.store.database import Database
from modellab.store.models import RunRow
from modellab.tasks import (
    GROUP,
    TARGET,
    BaselinePredictions,
    EvalRequest,
    TaskPredictions,
)


@dataclass(frozen=True)
class FileEvaluation:
    """The run with its report, and how many of the file's units were left out."""

    run: Run
    units: int
    outside_test: int


async def evaluate_file(
    db: Database, settings: Settings, registry: Registry, run_id: str, path: str
) -> FileEvaluation:
    """Evaluate ``files/<path>`` of the running tracked run ``run_id`` into its ``eval/``.

    :raises InvalidInputError: the file is missing or broken (naming its line), the
        dataset's task reads no output file, or no unit of the file is a test unit.
    """
    async with db.session() as session:
        row, project = await running_tracked(session, run_id)
        vrow = await dataset_repo.get_version_row_by_id(session, row.dataset_version_id)
        version = await dataset_repo.to_domain(session, vrow, project.slug)
    folder = run_dir(settings.artifact_root, project.slug, row.id)
    source = folder / "files" / safe_relative(path)
    if not source.is_file():
        raise InvalidInputError(f"run {row.id} has no uploaded file {path!r}")
    run = (await load_run(db, row.id))[0]
    baseline = None
    # The bar of the task's own templates (BM25 for retrieval): the strongest baseline.
    own = sorted(t.name for t in registry.templates.values() if t.task_type == version.task)
    for template in own:
        as_template = msgspec.structs.replace(run, template=template)
        baseline = await strongest_baseline(db, settings, as_template, version)
        if baseline is not None:
            break
    with disk_full_as("the eval folder"):
        units, outside = await asyncio.to_thread(
            _evaluate, registry, settings, version, run, folder, source, baseline
        )
    metrics = metrics_from_eval(folder)
    async with db.session() as session:
        await session.execute(update(RunRow).where(RunRow.id == row.id).values(metrics=metrics))
    return FileEvaluation((await load_run(db, row.id))[0], units, outside)


def _evaluate(
    registry: Registry,
    settings: Settings,
    version: DatasetVersion,
    run: Run,
    folder: Path,
    source: Path,
    baseline: BaselinePredictions | None,
) -> tuple[int, int]:
    task = registry.task_type(version.task)
    if task.read_predictions is None:
        raise InvalidInputError(
            f"task {task.name!r} of {version.ref} reads no outside output file; attach an "
            "EvalHarness folder instead"
        )
    evaluator = registry.evaluator_for(task.name)
    predicted = task.read_predictions(source)
    prepared = load_run_frames(version, settings, task)
    test = prepared.test_x
    if predicted.units is None:
        raise InvalidInputError(f"{source.name}: the file names no unit of its predictions")
    units = np.asarray(predicted.units).astype(str)
    tested = set(test[GROUP].astype(str)) if task.grouped else set(test.index.astype(str))
    keep = np.isin(units, sorted(tested))
    n_units = np.unique(units).size
    outside = int(np.unique(units[~keep]).size)
    if not keep.any():
        raise InvalidInputError(
            f"{source.name}: none of its {n_units} units is a test unit of {version.ref}"
        )
    predicted = TaskPredictions(
        np.asarray(predicted.y_pred)[keep],
        units=units[keep],
        items=None if predicted.items is None else np.asarray(predicted.items)[keep],
    )
    rows = prediction_rows(task, prepared, predicted, baseline)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".eval-") as tmp:
        staging = Path(tmp) / "eval"
        evaluator.evaluate(
            EvalRequest(
                out_dir=staging,
                model=None,  # type: ignore[arg-type]
                test_frame=test,
                y_true=prepared.test_y,
                train_frame=prepared.train.drop(columns=[TARGET]),
                train_target=prepared.train[TARGET].to_numpy(),
                split=version.split.strategy.value,
                time_column=version.split.time_column,
                baseline=rows.baseline,
                run_key=run.run_key,
                dataset_ref=version.ref,
                dataset_checksum=version.checksum,
                split_checksum=version.split.checksum,
                commit=run.code_version.git_commit or "unknown",
                seed=run.seed,
                reproduce_command=f"modellab evaluate-file {run.id} {source.name}",
                y_pred=rows.predicted.y_pred,
                units=rows.keys.units,
                items=rows.keys.items,
                truth=rows.truth,
                eval_settings=EvalSettings(n_bootstrap=int(eval_defaults()["n_bootstrap"])),
            )
        )
        rows.table.write_parquet(folder / "predictions.parquet")
        final = folder / "eval"
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    return n_units, outside


async def evaluate_outside_file(
    db: Database,
    settings: Settings,
    registry: Registry,
    req: TrackedRunRequest,
    source: Path,
) -> FileEvaluation:
    """A tracked run for an outside system's output file ``source``: the file is read
    (and refused, naming its line, before any run exists), kept as ``files/<name>`` with
    its sha256 in the run's config, evaluated, and the run finished. A failure after the
    run exists finishes it as failed with the reason.
    """
    version = await get_dataset(db, f"{req.project}/{req.dataset}")
    task = registry.task_type(version.task)
    if task.read_predictions is None:
        raise InvalidInputError(f"task {task.name!r} of {version.ref} reads no outside output file")
    await asyncio.to_thread(task.read_predictions, source)
    digest = await asyncio.to_thread(sha256_of, source)
    config = {**req.config, "file": source.name, "sha256": digest}
    # The version the file was read against, not whatever is newest when the run starts.
    pinned = replace(req, dataset=f"{version.name}@{version.version}", config=config)
    run = await create_tracked_run(db, settings, pinned)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / source.name
            shutil.copyfile(source, copy)
            await add_artifact(db, settings, run.id, source.name, copy)
        result = await evaluate_file(db, settings, registry, run.id, source.name)
    except BaseException as exc:
        reason = exc.message if isinstance(exc, ModelLabError) else f"{type(exc).__name__}: {exc}"
        await finish_tracked(db, settings, run.id, RunStatus.FAILED, reason)
        raise
    done = await finish_tracked(db, settings, run.id, RunStatus.SUCCEEDED, None)
    return FileEvaluation(done, result.units, result.outside_test)
