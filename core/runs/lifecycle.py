"""The states a run moves through, shared by every way of executing one.

``claim_run`` is the compare-and-set ``queued -> running``; ``end_run`` records the
final state once (a run that already ended keeps its state) and rewrites run.json. A run
that waits on another (a candidate queued with its baseline) cannot be claimed before
that run succeeded, and ends with it when it ends any other way.
Light on imports: the processes that only watch runs never load scikit-learn.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from modellab.diskfull import is_disk_full
from modellab.domain import DatasetVersion, Run, RunStatus
from modellab.redact import redact_for
from modellab.runs.artifacts import run_dir, write_json_atomic
from modellab.runs.options import parse_options, run_features
from modellab.runs.service import run_document
from modellab.settings import Settings
from modellab.store import datasets as dataset_repo
from modellab.store import runs as repo
from modellab.store.database import Database
from modellab.store.models import utcnow

log = logging.getLogger("modellab.jobs")

PARTIAL_OUTPUTS = (
    "model",
    ".model.tmp",
    "eval",
    "predictions.parquet",
    ".predictions.parquet.tmp",
    "latency.json",
    "recall_latency.png",
)


def remove_partial_outputs(folder: Path) -> None:
    """Remove what a run that did not succeed may have left half-written.

    run.json, config.json and logs.txt stay: they say what was tried and why it ended.
    So do this process's own temporary files (``write_bytes_atomic``'s
    ``.NAME.tmp-<pid>``), which are never in flight while a run ends; another process's
    are what a writer stopped mid-write left (a timed-out or killed training process, a
    lost worker).
    """
    for leftover in PARTIAL_OUTPUTS:
        target = folder / leftover
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
    for partial in folder.glob(".eval*"):
        shutil.rmtree(partial, ignore_errors=True)
    own = f".tmp-{os.getpid()}"
    for partial in folder.glob(".*.tmp-*"):
        if partial.is_file() and not partial.name.endswith(own):
            partial.unlink(missing_ok=True)


async def load_run(db: Database, run_id: str) -> tuple[Run, DatasetVersion]:
    """The run ``run_id`` and its dataset version."""
    async with db.session() as session:
        row, project = await repo.get_run_row(session, run_id)
        run = await repo.to_domain(session, row, project.slug)
        vrow = await dataset_repo.get_version_row_by_id(session, run.dataset_version_id)
        version = await dataset_repo.to_domain(session, vrow, project.slug)
    return run, version


async def claim_run(db: Database, run_id: str) -> bool:
    """The compare-and-set ``queued -> running``; False when another delivery won."""
    async with db.session() as session:
        row, _ = await repo.get_run_row(session, run_id)
        return await repo.claim(session, row.id, utcnow())


async def end_run(
    db: Database,
    settings: Settings,
    run_id: str,
    status: RunStatus,
    reason: str | None,
    metrics: dict[str, Any] | None = None,
    finished_at: datetime | None = None,
) -> Run:
    """Record how a run ended (unless it already has) and rewrite its run.json.

    The reason is shown to every reader of the run, through the API too: paths of this
    server in it (an exception's file name, say) are made relative to their root.
    """
    if reason is not None:
        reason = redact_for(settings, reason)
    async with db.session() as session:
        await repo.finish(session, run_id, status, reason, metrics, finished_at)
    ended, version = await load_run(db, run_id)
    folder = run_dir(settings.artifact_root, ended.project, ended.id)
    if folder.is_dir():
        try:
            document = run_document(ended, version, written_features(folder, ended, version))
            write_json_atomic(folder / "run.json", document)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            # The database holds the outcome; failing here would turn a run that ended
            # into one whose watcher crashed.
            log.warning("run %s: the disk is full; its run.json was not rewritten", run_id)
    if ended.status in repo.FINAL and ended.status is not RunStatus.SUCCEEDED:
        await end_waiting_runs(db, settings, ended)
    return ended


def written_features(folder: Path, run: Run, version: DatasetVersion) -> list[str]:
    """The columns run.json says the run trains on: fixed when the run was created, by
    its template's input roles (which only the registry knows); the default roles' for a
    folder without them."""
    recorded = recorded_features(folder)
    return run_features(version, parse_options(run.options)) if recorded is None else recorded


def recorded_features(folder: Path) -> list[str] | None:
    """The columns the run in ``folder`` trained on, as its run.json records them (None:
    no run.json, or one written before runs recorded them)."""
    try:
        doc = msgspec.json.decode((folder / "run.json").read_bytes())
        features = doc["dataset"]["run_features"]
    except (OSError, msgspec.DecodeError, KeyError, TypeError):
        return None
    return [str(f) for f in features]


async def end_waiting_runs(db: Database, settings: Settings, ended: Run) -> list[Run]:
    """End the runs waiting on ``ended``, which did not succeed, with its reason.

    A cancelled baseline cancels its candidate; a failed or timed-out one fails it.
    """
    async with db.session() as session:
        waiting = await repo.waiting_on(session, ended.id)
    status = RunStatus.CANCELLED if ended.status is RunStatus.CANCELLED else RunStatus.FAILED
    why = f"its baseline run {ended.id} {ended.status.value.replace('_', ' ')}"
    reason = f"{why}: {ended.status_reason}" if ended.status_reason else why
    return [await end_run(db, settings, run_id, status, reason) for run_id in waiting]


def metrics_from_eval(folder: Path) -> dict[str, Any]:
    """The numbers a run keeps in the database, read back from the contract files."""
    summary = msgspec.json.decode((folder / "eval" / "eval_summary.json").read_bytes())
    metrics = msgspec.json.decode((folder / "eval" / "metrics.json").read_bytes())
    return {
        "headline": summary["headline"],
        "primary_metric": summary["primary_metric"],
        # Which way is better, so listings can rank runs without the eval folder.
        "higher_is_better": {
            name: better
            for name, better in sorted(metrics.get("higher_is_better", {}).items())
            if name in summary["headline"]
        },
        "baseline": summary["baseline"],
        "improvement_is_meaningful": summary["improvement_is_meaningful"],
        "n_test": summary["n_examples"],
        "warnings": summary.get("warnings", []),
        # Features suspected of leaking the target: the project card and compare mark them.
        "leak_suspects": summary.get("leak_suspects", []),
    }
