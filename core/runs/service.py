"""Run service: queue, list, cancel and annotate runs (the CLI, the API and the demo
call these; executors execute what is queued, see :mod:`modellab.runs.job`).

A run records its config, seed, dataset version and checksum, split checksum, code
version and environment before it starts; without them it cannot be created.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modellab.access.actor import Role
from modellab.datasets.refs import parse_ref
from modellab.domain import MAX_SEED, CodeVersion, DatasetVersion, Run, RunStatus
from modellab.errors import InvalidInputError
from modellab.ids import uuid7
from modellab.runs.artifacts import run_dir, write_bytes_atomic, write_json_atomic
from modellab.runs.configs import build_config, config_dict
from modellab.runs.documents import check_document
from modellab.runs.metadata import code_version, environment, git_diff, installed_code_version
from modellab.runs.options import (
    FEATURE_ROLES,
    RunOptions,
    bootstrap_replicates,
    parse_options,
    run_features,
)
from modellab.settings import Settings
from modellab.store import datasets as dataset_repo
from modellab.store import runs as repo
from modellab.store.database import Database
from modellab.store.models import utcnow
from modellab.store.projects import get_project_row

if TYPE_CHECKING:
    # Types only: the plugin machinery (pluggy, entry points) is not needed to read runs.
    from modellab.plugins import Registry
    from modellab.tasks import ModelVariant, Template


@dataclass(frozen=True)
class RunRequest:
    """What ``modellab run`` takes."""

    project: str
    dataset: str  # NAME or NAME@VERSION
    template: str
    model: str
    seed: int = 0
    overrides: tuple[str, ...] | dict[str, Any] = ()
    #: bootstrap replicates (``--n-bootstrap``): the ``n_bootstrap`` evaluation setting
    #: of ``options``, which may give it too (None: the setting or EvalHarness' default)
    n_bootstrap: int | None = None
    repo_dir: Path | None = None
    #: record the git state (commit, diff) of ``repo_dir``: true for the CLI, whose
    #: working tree is the run's code; false through the API, where the server's own
    #: checkout is not the caller's code and its diff is nobody else's to read
    from_checkout: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    #: the run ends as timed_out when training takes longer (None: no limit)
    timeout_seconds: float | None = None
    #: run options (modellab.runs.options.RunOptions fields): columns, leakage thresholds
    options: dict[str, Any] = field(default_factory=dict)


def run_key(
    version: DatasetVersion,
    template: str,
    model: str,
    config: dict[str, Any],
    seed: int,
    code: CodeVersion,
    options: RunOptions | None = None,
    roles: tuple[str, ...] = FEATURE_ROLES,
) -> str:
    """A hash of everything that determines a run's results (not its id or time);
    ``roles`` are the template's input roles."""
    opts = options or RunOptions()
    identity = {
        "dataset_checksum": version.checksum,
        "split_checksum": version.split.checksum,
        "target": version.target,
        "features": run_features(version, opts, roles),
        "eval": opts.eval.given(),
        "template": template,
        "model": model,
        "config": config,
        "seed": seed,
        "commit": code.git_commit,
        "diff": code.diff_sha256,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def reproduce_command(run: Run, dataset: str) -> str:
    """The ``modellab run`` command that repeats ``run``, every config value explicit."""
    parts = [
        "modellab",
        "run",
        "--project",
        run.project,
        "--dataset",
        dataset,
        "--template",
        run.template,
        "--model",
        run.model,
        "--seed",
        str(run.seed),
    ]
    for key, value in sorted(run.config.items()):
        parts += ["--set", f"{key}={json.dumps(value)}"]
    parts += option_args(parse_options(run.options))
    return shlex.join(parts)


def option_args(options: RunOptions) -> list[str]:
    """The ``modellab run`` flags that give ``options`` (none for the defaults)."""
    parts: list[str] = []
    for name in options.exclude:
        parts += ["--exclude", name]
    if options.features is not None:
        parts += ["--features", ",".join(options.features)]
    for key, value in options.eval.given().items():
        if key == "n_bootstrap":
            parts += ["--n-bootstrap", str(value)]
        else:
            parts += ["--eval", f"{key}={json.dumps(value)}"]
    return parts


@dataclass(frozen=True)
class Resolved:
    """A run request checked against the plugins and the store, with its run key."""

    template: Template
    variant: ModelVariant
    config: dict[str, Any]
    project_id: str
    version: DatasetVersion
    code: CodeVersion
    key: str
    options: RunOptions


async def resolve(
    db: Database, registry: Registry, req: RunRequest, need: Role = Role.VIEWER
) -> Resolved:
    """Check ``req`` and find what it names; the run key says what it would compute.

    ``need`` is the role the user must hold in the project (editor to create the run).

    :raises InvalidInputError: unknown template, model, config key or value, dataset.
    """
    template = registry.template(req.template)
    variant = template.variant(req.model)
    if variant is None:
        names = ", ".join(f"{v.name} ({v.role})" for v in template.variants)
        raise InvalidInputError(
            f"template {template.name!r} has no model {req.model!r}; models: {names}"
        )
    if not 0 <= req.seed <= MAX_SEED:
        raise InvalidInputError(f"--seed must be an integer from 0 to {MAX_SEED}, got {req.seed}")
    if req.timeout_seconds is not None and not req.timeout_seconds > 0:
        raise InvalidInputError(
            f"timeout must be a positive number of seconds, got {req.timeout_seconds}"
        )
    config = config_dict(build_config(variant.config_type, req.overrides, variant.name))
    check_document(config, "config")
    slug, name, number = parse_ref(
        req.dataset if "/" in req.dataset else f"{req.project}/{req.dataset}"
    )
    if slug != req.project:
        raise InvalidInputError(
            f"dataset {req.dataset!r} belongs to project {slug!r}, not {req.project!r}"
        )
    code = code_version(req.repo_dir) if req.from_checkout else installed_code_version()
    async with db.session() as session:
        project = await get_project_row(session, req.project, need)
        vrow = await dataset_repo.get_version_row(session, project, name, number)
        version = await dataset_repo.to_domain(session, vrow, project.slug)
    if version.task != template.task_type:
        raise InvalidInputError(
            f"dataset {version.ref} is a {version.task} dataset; template {template.name!r} "
            f"is for {template.task_type}"
        )
    options = parse_options(_with_replicates(req))
    key = run_key(
        version, template.name, variant.name, config, req.seed, code, options, template.input_roles
    )
    return Resolved(template, variant, config, project.id, version, code, key, options)


def _with_replicates(req: RunRequest) -> dict[str, Any]:
    """The requested options with ``req.n_bootstrap`` as their ``n_bootstrap`` setting.

    :raises InvalidInputError: the options' own setting gives another count.
    """
    if req.n_bootstrap is None:
        return req.options
    settings = dict(req.options.get("eval") or {})
    given = settings.setdefault("n_bootstrap", req.n_bootstrap)
    if given != req.n_bootstrap:
        raise InvalidInputError(
            f"--n-bootstrap {req.n_bootstrap} and --eval n_bootstrap={given} disagree; give one"
        )
    return {**req.options, "eval": settings}


@dataclass(frozen=True)
class QueuedRuns:
    """What one request queued: the run it asked for, and the baseline it waits on."""

    run: Run
    #: the baseline this request queued for ``run`` (None: none was needed, or one was
    #: already queued or running, and ``run.waits_on`` names it)
    baseline: Run | None = None

    @property
    def ids(self) -> list[str]:
        """The ids of the runs queued, the baseline first."""
        return [r.id for r in (self.baseline, self.run) if r is not None]


async def queue_run(
    db: Database,
    settings: Settings,
    registry: Registry,
    req: RunRequest,
    with_baseline: bool = False,
) -> QueuedRuns:
    """Record the run ``req`` asks for as queued; with ``with_baseline``, its baseline too.

    A candidate whose dataset version and split have no succeeded baseline of its
    template then gets one: the template's reference baseline, queued first with the
    candidate's seed, bootstrap count, options and time limit; the candidate waits on it
    (or on such a baseline already queued or running). A waiting run is claimed only
    once its baseline succeeded, and ends with the baseline's reason if it does not.
    Executing the runs is the caller's executor's job.

    :raises InvalidInputError: as :func:`create_run`; nothing is queued then.
    """
    # The candidate is checked before its baseline is written: a bad request queues none.
    r = await resolve(db, registry, req, Role.EDITOR)
    if (
        not with_baseline
        or r.variant.role != "candidate"
        or await find_baseline(db, r.version, r.template.name) is not None
    ):
        return QueuedRuns(await _record_run(db, settings, registry, req, r, None))
    async with db.session() as session:
        pending = await repo.pending_baselines(
            session, r.version.id, r.version.split.checksum, r.template.name
        )
    baseline = None
    if pending:
        waits_on = pending[0]
    else:
        # The baseline sees the same columns and rules as the candidate it is the bar of.
        base_req = dataclasses.replace(
            req, dataset=r.version.ref, model=reference_baseline(r.template).name, overrides=()
        )
        baseline = await create_run(db, settings, registry, base_req)
        waits_on = baseline.id
    run = await _record_run(db, settings, registry, req, r, waits_on)
    return QueuedRuns(run, baseline)


async def create_run(db: Database, settings: Settings, registry: Registry, req: RunRequest) -> Run:
    """Validate the request and record a queued run, with run.json and config.json.

    :raises InvalidInputError: unknown template, model, config key or value, dataset.
    """
    r = await resolve(db, registry, req, Role.EDITOR)
    return await _record_run(db, settings, registry, req, r, None)


async def _record_run(
    db: Database,
    settings: Settings,
    registry: Registry,
    req: RunRequest,
    r: Resolved,
    waits_on: str | None,
) -> Run:
    """Write the queued run ``r`` resolved from ``req``: its row, config.json, run.json.

    ``waits_on`` names a run that must succeed before this one may start.
    """
    diff = git_diff(req.repo_dir or Path.cwd()) if req.from_checkout and r.code.git_dirty else None
    owner = registry.owners.get(("templates", r.template.name), "")
    plugin = next((p for p in registry.plugins if p.name == owner), None)
    env = environment(req.repo_dir) | {
        "plugin": {
            "name": owner,
            "distribution": plugin.distribution if plugin else None,
            "version": plugin.version if plugin else None,
        },
        "dataset": r.version.ref,
    }
    version = r.version
    run = Run(
        id=uuid7(),
        project=version.project,
        dataset_version_id=version.id,
        dataset_checksum=version.checksum,
        split_checksum=version.split.checksum,
        kind="train",
        template=r.template.name,
        model=r.variant.name,
        role=r.variant.role,
        run_key=r.key,
        seed=req.seed,
        config=r.config,
        options=r.options.as_dict(),
        code_version=r.code,
        environment=env,
        status=RunStatus.QUEUED,
        created_at=utcnow(),
        timeout_seconds=req.timeout_seconds,
        waits_on=waits_on,
    )
    async with db.session() as session:
        await repo.insert_run(session, run, r.project_id)
    folder = run_dir(settings.artifact_root, run.project, run.id)
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        folder / "config.json",
        {
            "template": run.template,
            "model": run.model,
            "seed": run.seed,
            "config": run.config,
            "options": run.options,
        },
    )
    features = run_features(version, r.options, r.template.input_roles)
    write_json_atomic(folder / "run.json", run_document(run, version, features))
    if diff is not None:
        # The uncommitted change as it was when the run started, for the repro pack.
        write_bytes_atomic(folder / "code.diff", diff.encode())
    return run


def run_document(run: Run, version: DatasetVersion, features: list[str]) -> dict[str, Any]:
    """The full metadata of a run as written to run.json; ``features`` are the columns
    it trains on (:func:`~modellab.runs.options.run_features` with its template's roles)."""
    return {
        "run": run,
        "dataset": {
            "ref": version.ref,
            "id": version.id,
            "checksum": version.checksum,
            "split": version.split,
            "target": version.target,
            "feature_columns": version.feature_columns,
            "run_features": features,
            "task": version.task,
        },
        "reproduce": reproduce_command(run, version.ref),
    }


def reference_baseline(template: Template) -> ModelVariant:
    """The baseline :func:`queue_run` queues: the last baseline the template declares.

    Templates declare baselines from simplest to strongest, so the last one is the
    bar a candidate has to clear.
    """
    return [v for v in template.variants if v.role == "baseline"][-1]


async def find_baseline(db: Database, version: DatasetVersion, template: str) -> Run | None:
    """The strongest succeeded baseline run of ``template`` on this version and split."""
    async with db.session() as session:
        rows = await repo.baselines_by_strength(
            session, version.id, version.split.checksum, template
        )
        return await repo.to_domain(session, rows[0], version.project) if rows else None


async def find_same_run(
    db: Database, settings: Settings, registry: Registry, req: RunRequest
) -> Run | None:
    """A succeeded run that computed exactly what ``req`` asks (same run key), if any."""
    r = await resolve(db, registry, req)
    replicates = bootstrap_replicates(r.options, {})
    async with db.session() as session:
        project = await get_project_row(session, r.version.project)
        for row in await repo.list_runs(
            session,
            project,
            status=RunStatus.SUCCEEDED.value,
            template=r.template.name,
            model=r.variant.name,
        ):
            # Runs from before the setting kept their count out of the key, in environment.
            legacy = row.environment.get("n_bootstrap")
            if row.run_key == r.key and (legacy is None or legacy == replicates):
                return await repo.to_domain(session, row, project.slug)
    return None


async def get_run(db: Database, run_id: str) -> Run:
    """The run ``run_id`` (or a unique prefix of 8+ characters)."""
    async with db.session() as session:
        row, project = await repo.get_run_row(session, run_id)
        return await repo.to_domain(session, row, project.slug)


async def list_runs(
    db: Database,
    project: str,
    status: str | None = None,
    template: str | None = None,
    model: str | None = None,
    limit: int = 100,
) -> list[Run]:
    """Runs of ``project``, newest first."""
    page = await list_runs_page(
        db, project, RunFilter(status=status, template=template, model=model), limit
    )
    return page.items


@dataclass(frozen=True)
class RunFilter:
    """Which runs a listing keeps."""

    status: str | None = None
    template: str | None = None
    model: str | None = None
    dataset_version_id: str | None = None
    #: keep runs whose latest value of ``metric`` lies in [metric_min, metric_max]
    metric: str | None = None
    metric_min: float | None = None
    metric_max: float | None = None


@dataclass(frozen=True)
class RunPage:
    """One page of runs and the cursor of the next page (None on the last page)."""

    items: list[Run]
    next_cursor: str | None


def encode_cursor(run: Run) -> str:
    """An opaque cursor pointing just past ``run`` in the newest-first order."""
    raw = f"{run.created_at.isoformat()}|{run.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) a cursor points past; a bad cursor is invalid input."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, run_id = raw.split("|", 1)
        when = datetime.fromisoformat(created)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError(
            f"invalid cursor {cursor!r}: pass the next_cursor of the previous page"
        ) from None
    if when.tzinfo is None or len(run_id) != 36:
        raise InvalidInputError(
            f"invalid cursor {cursor!r}: pass the next_cursor of the previous page"
        )
    return when, run_id


async def list_runs_page(
    db: Database,
    project: str,
    where: RunFilter | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> RunPage:
    """One page of ``project``'s runs, newest first (keyset pagination)."""
    if not 1 <= limit <= 1000:
        raise InvalidInputError(f"limit must be between 1 and 1000, got {limit}")
    where = where or RunFilter()
    after = decode_cursor(cursor) if cursor else None
    async with db.session() as session:
        prow = await get_project_row(session, project)
        rows = await repo.list_runs(
            session,
            prow,
            where.status,
            where.template,
            where.model,
            where.dataset_version_id,
            limit=limit + 1,
            after=after,
            metric=(where.metric, where.metric_min, where.metric_max) if where.metric else None,
        )
        items = await repo.to_domain_many(session, rows[:limit], prow.slug)
    return RunPage(items, encode_cursor(items[-1]) if len(rows) > limit else None)


@dataclass(frozen=True)
class RunFacets:
    """What a project's runs can be filtered by: each field's distinct values, sorted."""

    statuses: list[str]
    templates: list[str]
    models: list[str]
    #: dataset version ids
    dataset_versions: list[str]
    #: metric names: tracked runs' logged metrics and trained runs' headline metrics
    metrics: list[str]


async def run_facets(db: Database, project: str) -> RunFacets:
    """The filter choices of ``project``'s runs listing."""
    async with db.session() as session:
        prow = await get_project_row(session, project)
        return RunFacets(**await repo.facets(session, prow))


async def add_note(db: Database, run_id: str, text: str) -> Run:
    """Append a timestamped note ("what changed my mind") to a run."""
    text = text.strip()
    if not text:
        raise InvalidInputError("a note needs some text")
    async with db.session() as session:
        row, project = await repo.get_run_row(session, run_id, Role.EDITOR)
        await repo.append_note(session, row.id, text)
        await session.flush()
        return await repo.to_domain(session, row, project.slug)


async def cancel_run(db: Database, settings: Settings, run_id: str) -> Run:
    """Cancel a queued run at once; ask the process executing a running run to stop it.

    Runs waiting on a queued run that is cancelled are cancelled with it.

    :raises ConflictError: the run already ended.
    """
    from modellab.runs.lifecycle import end_run

    async with db.session() as session:
        row, _ = await repo.get_run_row(session, run_id, Role.EDITOR)
        status = await repo.request_cancel(session, row.id, utcnow())
    if status is RunStatus.CANCELLED:
        # Ended in the database already: end_run rewrites run.json to say so and ends
        # the runs waiting on this one, as for any run that ends.
        return await end_run(db, settings, row.id, RunStatus.CANCELLED, None)
    return await get_run(db, row.id)
