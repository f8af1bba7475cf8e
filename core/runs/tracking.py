"""Runs logged by outside code: training scripts that do not use ModelLab's templates.

A tracked run obeys the rules of every run: it names a stored dataset version (so its
checksum and split are known), a seed and a code version, or it cannot be created. Its
code then logs params and step-wise metrics in batches, uploads files, attaches an
EvalHarness folder (checked against the contract) and finishes the run; from then on it
has the same run page and comparisons as a template run.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from modellab.access.actor import Role
from modellab.datasets.refs import parse_ref
from modellab.diskfull import disk_full_as
from modellab.domain import MAX_SEED, CodeVersion, Run, RunStatus
from modellab.errors import ConflictError, ContractViolationError, InvalidInputError
from modellab.ids import uuid7
from modellab.nonfinite import NonFinite, as_logged
from modellab.runs.artifacts import is_plain_relative, run_dir
from modellab.runs.documents import check_document
from modellab.runs.lifecycle import end_run, load_run, metrics_from_eval
from modellab.settings import Settings
from modellab.store import datasets as dataset_repo
from modellab.store import runs as repo
from modellab.store.database import Database
from modellab.store.models import (
    ProjectRow,
    RunLatestMetricRow,
    RunMetricRow,
    RunParamRow,
    RunRow,
    RunTagRow,
    utcnow,
)
from modellab.store.projects import get_project_row

TRACKED = "tracked"
#: the template label of runs whose code lives outside ModelLab
EXTERNAL_TEMPLATE = "external"
MAX_BATCH = 10_000
KEY_LIMIT = 250


class MetricPoint(msgspec.Struct, frozen=True):
    """One value of a metric at a step, as the training code logged it: a NaN or an
    infinity (written ``"NaN"``, ``"Infinity"``, ``"-Infinity"``) is kept, a step may be
    negative, ``timestamp`` is ms since the epoch (None: not given)."""

    key: str
    value: float | NonFinite
    step: int = 0
    timestamp: int | None = None


@dataclass(frozen=True)
class TrackedRunRequest:
    """What outside code says about the run it is about to train."""

    project: str
    dataset: str  # NAME or NAME@VERSION
    name: str
    seed: int
    code_version: CodeVersion
    config: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: when the code started the run (None: now); an import keeps the original time
    started_at: datetime | None = None
    #: the row id of the experiment the run belongs to (None: the project's Default)
    experiment_id: str | None = None
    #: ``mlflow:<run id>`` when an import makes the run; one run per source run
    imported_from: str | None = None


def _check_key(key: str, what: str) -> str:
    if not key or len(key) > KEY_LIMIT or any(c in key for c in "\x00\n\r"):
        raise InvalidInputError(
            f"{what} key {key!r} must be 1 to {KEY_LIMIT} printable characters on one line"
        )
    return key


async def create_tracked_run(
    db: Database,
    settings: Settings,
    req: TrackedRunRequest,
    params: dict[str, Any] | None = None,
    metrics: Sequence[MetricPoint] = (),
) -> Run:
    """Record a running tracked run, with a first batch of params and metrics.

    Refused without a stored dataset version, a seed or a code version. One transaction;
    run.json is written when the run finishes (the database holds it meanwhile).
    """
    if not req.name.strip() or len(req.name) > 200:
        raise InvalidInputError("a tracked run needs a name of 1 to 200 characters")
    if not 0 <= req.seed <= MAX_SEED:
        raise InvalidInputError(f"seed must be an integer from 0 to {MAX_SEED}, got {req.seed}")
    if not (req.code_version.git_commit or "").strip():
        raise InvalidInputError(
            "code_version.git_commit is required: a run must say which code it ran "
            "(the commit of the training repository)"
        )
    check_document(req.config, "config")
    check_document(req.environment, "environment")
    _check_batch(params or {}, metrics)
    _check_tags(req.tags)
    slug, name, number = parse_ref(f"{req.project}/{req.dataset}")
    now = utcnow()
    started = req.started_at or now
    async with db.session() as session:
        target = await _dataset_target(db, session, slug, name, number)
        identity = {
            "dataset_checksum": target.checksum,
            "split_checksum": target.split_checksum,
            "name": req.name,
            "config": req.config,
            "seed": req.seed,
            "commit": req.code_version.git_commit,
            "diff": req.code_version.diff_sha256,
        }
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]
        run = Run(
            id=uuid7(),
            project=slug,
            dataset_version_id=target.version_id,
            dataset_checksum=target.checksum,
            split_checksum=target.split_checksum,
            kind=TRACKED,
            template=EXTERNAL_TEMPLATE,
            model=req.name.strip(),
            role="candidate",
            run_key=key,
            seed=req.seed,
            config=req.config,
            code_version=req.code_version,
            environment=req.environment | {"dataset": f"{slug}/{name}@{target.version}"},
            status=RunStatus.RUNNING,
            created_at=min(now, started),
            started_at=started,
        )
        values = repo.row_values(run, target.project_id) | {
            "experiment_id": req.experiment_id,
            "imported_from": req.imported_from,
        }
        try:
            async with session.begin_nested():
                await session.execute(insert(RunRow), [values])
        except IntegrityError:
            if req.imported_from is None:
                raise
            raise ConflictError(f"{req.imported_from} was imported already") from None
        if params or metrics:
            await _store_batch(session, run.id, target.project_id, params or {}, metrics, new=True)
        await _store_tags(session, run.id, req.tags)
    return run


async def running_tracked(session: Any, run_id: str) -> tuple[RunRow, ProjectRow]:
    """The row of a tracked run that is still running (editors only), and its project."""
    row, project = await repo.get_run_row(session, run_id, Role.EDITOR)
    if row.kind != TRACKED:
        raise ConflictError(f"run {row.id} is a template run; only tracked runs take logs")
    if row.status != RunStatus.RUNNING.value:
        raise ConflictError(f"run {row.id} is {row.status}; logs go to running runs only")
    return row, project


@dataclass(frozen=True)
class _Target:
    project_id: str
    version_id: str
    version: int
    checksum: str
    split_checksum: str


async def _dataset_target(
    db: Database, session: Any, slug: str, name: str, number: int | None
) -> _Target:
    # The user's access is checked on every call; dataset versions never change once
    # stored, so each database's named versions are looked up once.
    project = await get_project_row(session, slug, Role.EDITOR)
    cache: dict[tuple[str, str, int], _Target] = db.cache.setdefault("tracking_targets", {})
    if number is not None and (project.id, name, number) in cache:
        return cache[project.id, name, number]
    vrow = await dataset_repo.get_version_row(session, project, name, number)
    target = _Target(project.id, vrow.id, vrow.version, vrow.checksum, str(vrow.split["checksum"]))
    cache[project.id, name, vrow.version] = target
    return target


def _check_batch(params: dict[str, Any], metrics: Sequence[MetricPoint]) -> None:
    if len(params) + len(metrics) > MAX_BATCH:
        raise InvalidInputError(f"a batch holds at most {MAX_BATCH} params and metric points")
    for k in params:
        _check_key(k, "param")
    for m in metrics:
        # NaN, infinities and negative steps are what training code logs: kept as logged.
        _check_key(m.key, "metric")


async def _store_batch(
    session: Any,
    run_id: str,
    project_id: str,
    params: dict[str, Any],
    metrics: Sequence[MetricPoint],
    new: bool = False,
) -> None:
    """Insert a batch; ``new``: the run was created in this transaction (nothing stored)."""
    if params and new:
        rows = [
            {"run_id": run_id, "key": k, "value": v if isinstance(v, str) else json.dumps(v)}
            for k, v in params.items()
        ]
        await session.execute(insert(RunParamRow), rows)
    elif params:
        existing = {
            p.key: p.value
            for p in await session.scalars(
                select(RunParamRow).where(
                    RunParamRow.run_id == run_id, RunParamRow.key.in_(list(params))
                )
            )
        }
        fresh = []
        for k, v in params.items():
            text = v if isinstance(v, str) else json.dumps(v)
            if k in existing and existing[k] != text:
                raise ConflictError(
                    f"param {k!r} is already {existing[k]!r}; params are set once per run"
                )
            if k not in existing:
                fresh.append({"run_id": run_id, "key": k, "value": text})
        if fresh:
            await session.execute(insert(RunParamRow), fresh)
    if not metrics:
        return
    await session.execute(
        insert(RunMetricRow),
        [
            {
                "run_id": run_id,
                "key": m.key,
                "step": m.step,
                "timestamp": m.timestamp,
                **_stored(m.value),
            }
            for m in metrics
        ],
    )
    newest: dict[str, MetricPoint] = {}
    for m in metrics:
        if m.key not in newest or m.step >= newest[m.key].step:
            newest[m.key] = m
    latest = (
        {}
        if new
        else {
            r.key: r
            for r in await session.scalars(
                select(RunLatestMetricRow).where(
                    RunLatestMetricRow.run_id == run_id,
                    RunLatestMetricRow.key.in_(list(newest)),
                )
            )
        }
    )
    add = []
    for k, m in newest.items():
        if k not in latest:
            add.append(
                {
                    "run_id": run_id,
                    "project_id": project_id,
                    "key": k,
                    "step": m.step,
                    **_stored(m.value),
                }
            )
        elif m.step >= latest[k].step:
            stored = _stored(m.value)
            latest[k].step, latest[k].value, latest[k].nan = m.step, stored["value"], stored["nan"]
    if add:
        await session.execute(insert(RunLatestMetricRow), add)


def _stored(value: float | str) -> dict[str, Any]:
    """The value and nan columns of a logged value (SQLite cannot hold a NaN)."""
    number = float(value)  # "NaN" and "Infinity" included
    return {"value": 0.0, "nan": True} if math.isnan(number) else {"value": number, "nan": False}


def _logged(value: float, nan: bool | None) -> float | NonFinite:
    """A stored value back as it was logged."""
    return "NaN" if nan else as_logged(value)


#: characters a tag's value may hold (MLflow's limit)
TAG_VALUE_LIMIT = 8000


def _check_tags(tags: dict[str, str]) -> None:
    for k, v in tags.items():
        _check_key(k, "tag")
        if len(v) > TAG_VALUE_LIMIT:
            raise InvalidInputError(
                f"tag {k!r}: its value has {len(v):,} characters, at most {TAG_VALUE_LIMIT:,}"
            )


async def _store_tags(session: Any, run_id: str, tags: dict[str, str]) -> None:
    """Set ``tags``, replacing the values of keys already set."""
    if not tags:
        return
    await session.execute(
        delete(RunTagRow).where(RunTagRow.run_id == run_id, RunTagRow.key.in_(list(tags)))
    )
    await session.execute(
        insert(RunTagRow), [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
    )


async def log_batch(
    db: Database,
    run_id: str,
    params: dict[str, Any] | None = None,
    metrics: Sequence[MetricPoint] = (),
    tags: dict[str, str] | None = None,
) -> int:
    """Store params, metric points and tags in one transaction; return how many points."""
    params, tags = params or {}, tags or {}
    _check_batch(params, metrics)
    _check_tags(tags)
    async with db.session() as session:
        row, _ = await running_tracked(session, run_id)
        await _store_batch(session, row.id, row.project_id, params, metrics)
        await _store_tags(session, row.id, tags)
    return len(metrics)


async def run_tags(db: Database, run_id: str) -> dict[str, str]:
    """The tags of a run, by key: each tag's newest value."""
    return await _by_key(db, run_id, RunTagRow)


async def _by_key(
    db: Database, run_id: str, table: type[RunParamRow] | type[RunTagRow]
) -> dict[str, str]:
    """A run's rows of ``table`` (params or tags) as key to value, sorted by key."""
    async with db.session() as session:
        row, _ = await repo.get_run_row(session, run_id)
        found = await session.execute(
            select(table.key, table.value).where(table.run_id == row.id).order_by(table.key)
        )
        return {str(k): str(v) for k, v in found}


async def metric_history(db: Database, run_id: str, key: str) -> list[MetricPoint]:
    """Every logged value of metric ``key``, by step."""
    async with db.session() as session:
        row, _ = await repo.get_run_row(session, run_id)
        found = await session.scalars(
            select(RunMetricRow)
            .where(RunMetricRow.run_id == row.id, RunMetricRow.key == key)
            .order_by(RunMetricRow.step, RunMetricRow.id)
        )
        return [MetricPoint(r.key, _logged(r.value, r.nan), r.step, r.timestamp) for r in found]


class MetricSeries(msgspec.Struct, frozen=True):
    """One logged metric of a run: how many points, over which steps, and the last value."""

    key: str
    points: int
    first_step: int
    last_step: int


async def metric_series(db: Database, run_id: str) -> list[MetricSeries]:
    """Every metric the run logged by step, by key: what its charts draw."""
    async with db.session() as session:
        row, _ = await repo.get_run_row(session, run_id)
        found = await session.execute(
            select(
                RunMetricRow.key,
                func.count(),
                func.min(RunMetricRow.step),
                func.max(RunMetricRow.step),
            )
            .where(RunMetricRow.run_id == row.id)
            .group_by(RunMetricRow.key)
            .order_by(RunMetricRow.key)
        )
        return [MetricSeries(k, int(n), int(lo), int(hi)) for k, n, lo, hi in found]


async def run_params(db: Database, run_id: str) -> dict[str, str]:
    """The params of a run, by key."""
    return await _by_key(db, run_id, RunParamRow)


def safe_relative(path: str) -> str:
    """``path`` as a plain relative path inside a run's folder, or InvalidInputError."""
    # Windows-style separators are accepted as separators, then checked like any path.
    normalized = path.replace("\\", "/")
    if not is_plain_relative(normalized):
        raise InvalidInputError(
            f"artifact path {path[:80]!r}{'...' if len(path) > 80 else ''}: use a relative "
            "path of plain names (no '..', no leading dot or slash; at most 200 bytes a name "
            "and 1024 in all)"
        )
    return normalized


async def add_artifact(
    db: Database, settings: Settings, run_id: str, path: str, source: Path
) -> str:
    """Move ``source`` into the run's folder as ``files/<path>``; return that path.

    :raises DiskFullError: the artifact root filled up; no partial file stays.
    """
    rel = "files/" + safe_relative(path)
    async with db.session() as session:
        row, project = await running_tracked(session, run_id)
    folder = run_dir(settings.artifact_root, project.slug, row.id)
    target = folder / rel
    tmp = target.with_name(f".{target.name}.{uuid7()}.tmp")
    try:
        with disk_full_as(f"file {rel!r}"):
            target.parent.mkdir(parents=True, exist_ok=True)
            # A rename on the same file system; else a copy, which a full disk cuts short.
            shutil.move(str(source), tmp)
            tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rel


#: An eval archive may expand to at most this many bytes and members: an EvalHarness
#: folder is a few JSON files and plots, and a decompression bomb must fail before it
#: writes anything.
EVAL_MAX_BYTES = 256 * 1024 * 1024
EVAL_MAX_MEMBERS = 10_000


def _extract_eval(archive: Path, into: Path) -> None:
    """Extract an eval archive into ``into`` after checking every member's header.

    Refusals name the member as it is in the archive, never a path on this server.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members: list[tarfile.TarInfo] = []
            expanded = 0
            for m in tar:  # headers only: nothing is written until every one passed
                name = m.name.removeprefix("./").rstrip("/")
                if name in ("", "."):
                    continue
                if len(members) >= EVAL_MAX_MEMBERS:
                    raise InvalidInputError(
                        f"eval archive: more than {EVAL_MAX_MEMBERS:,} members; an eval "
                        "folder holds a few files"
                    )
                if not (m.isfile() or m.isdir()):
                    raise InvalidInputError(f"eval archive: {m.name!r} is not a file or folder")
                if not is_plain_relative(name):
                    raise InvalidInputError(
                        f"eval archive: member {m.name[:80]!r} is not a plain relative path "
                        "inside the eval folder"
                    )
                expanded += m.size
                if expanded > EVAL_MAX_BYTES:
                    raise InvalidInputError(
                        f"eval archive: expands to more than {EVAL_MAX_BYTES // 2**20} MB"
                    )
                members.append(m)
            tar.extractall(into, members=members, filter="data")
    except tarfile.FilterError:
        # Its message holds the absolute path the member would have reached.
        raise InvalidInputError(
            "eval archive: a member would land outside the eval folder"
        ) from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile):
        raise InvalidInputError("eval archive: not a readable tar archive") from None


def _install_eval(folder: Path, archive: Path) -> None:
    """Extract and check the archive beside the run's files, then swap it in as eval/."""
    from evalharness.schemas.validate import validate_folder

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".eval-") as tmp:
        staging = Path(tmp) / "eval"
        staging.mkdir()
        _extract_eval(archive, staging)
        # An archive of the folder itself (eval/...) or of its contents both work.
        inner = staging / "eval"
        root = inner if inner.is_dir() and not (staging / "eval_summary.json").exists() else staging
        violations = validate_folder(root)
        if violations:
            raise ContractViolationError(
                f"the eval folder breaks the EvalHarness contract in {len(violations)} "
                f"way(s): {'; '.join(violations[:5])}",
                violations,
            )
        final = folder / "eval"
        if final.exists():
            shutil.rmtree(final)
        root.rename(final)


async def attach_eval(db: Database, settings: Settings, run_id: str, archive: Path) -> Run:
    """Install an EvalHarness folder (a tar archive) as the run's ``eval/``.

    :raises ContractViolationError: listing every way the folder breaks the contract.
    :raises DiskFullError: the artifact root filled up; nothing of the archive stays.
    """
    async with db.session() as session:
        row, project = await running_tracked(session, run_id)
    folder = run_dir(settings.artifact_root, project.slug, row.id)
    with disk_full_as("the eval folder"):
        _install_eval(folder, archive)
    metrics = metrics_from_eval(folder)
    async with db.session() as session:
        await session.execute(update(RunRow).where(RunRow.id == row.id).values(metrics=metrics))
    return (await load_run(db, row.id))[0]


async def finish_tracked(
    db: Database,
    settings: Settings,
    run_id: str,
    status: RunStatus,
    reason: str | None,
    finished_at: datetime | None = None,
) -> Run:
    """End a tracked run as succeeded, failed or cancelled (its code was stopped: MLflow's
    KILLED); its logs are closed from then on. ``finished_at``: when the code says it
    ended (None: now)."""
    if status not in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED):
        raise InvalidInputError(
            f"a tracked run finishes as succeeded, failed or cancelled, not {status}"
        )
    async with db.session() as session:
        row, project = await running_tracked(session, run_id)
        metrics = dict(row.metrics or {})
        latest = await session.scalars(
            select(RunLatestMetricRow).where(RunLatestMetricRow.run_id == row.id)
        )
        metrics["latest"] = {
            m.key: _logged(m.value, m.nan) for m in sorted(latest, key=lambda m: m.key)
        }
    run_dir(settings.artifact_root, project.slug, row.id).mkdir(parents=True, exist_ok=True)
    # end_run writes run.json and config.json's counterpart lives in the database.
    return await end_run(db, settings, row.id, status, reason, metrics, finished_at)
