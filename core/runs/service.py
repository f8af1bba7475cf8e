"""Run service: create, execute, list and annotate runs (CLI and API call these).

A run records its config, seed, dataset version and checksum, split checksum, code
version and environment before it starts; without them it cannot be created.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modellab.datasets.ingest import parse_ref
from modellab.domain import DatasetVersion, Run, RunStatus
from modellab.errors import InvalidInputError
from modellab.ids import uuid7
from modellab.plugins import Registry
from modellab.runs.artifacts import run_dir, write_bytes_atomic, write_json_atomic
from modellab.runs.configs import build_config, config_dict
from modellab.runs.metadata import code_version, environment, git_diff
from modellab.settings import Settings
from modellab.store import datasets as dataset_repo
from modellab.store import runs as repo
from modellab.store.database import Database
from modellab.store.models import utcnow
from modellab.store.projects import get_project_row
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
    n_bootstrap: int = 1000
    repo_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_key(
    version: DatasetVersion,
    template: str,
    model: str,
    config: dict[str, Any],
    seed: int,
    code: dict[str, Any],
) -> str:
    """A hash of everything that determines a run's results (not its id or time)."""
    identity = {
        "dataset_checksum": version.checksum,
        "split_checksum": version.split.checksum,
        "target": version.target,
        "features": version.feature_columns,
        "template": template,
        "model": model,
        "config": config,
        "seed": seed,
        "commit": code.get("git_commit"),
        "diff": code.get("diff_sha256"),
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
    return shlex.join(parts)


async def create_run(db: Database, settings: Settings, registry: Registry, req: RunRequest) -> Run:
    """Validate the request and record a queued run, with run.json and config.json.

    :raises InvalidInputError: unknown template, model, config key or value, dataset.
    """
    template = registry.template(req.template)
    variant = template.variant(req.model)
    if variant is None:
        names = ", ".join(f"{v.name} ({v.role})" for v in template.variants)
        raise InvalidInputError(
            f"template {template.name!r} has no model {req.model!r}; models: {names}"
        )
    if req.seed < 0:
        raise InvalidInputError(f"--seed must be a non-negative integer, got {req.seed}")
    if req.n_bootstrap < 10:
        raise InvalidInputError(f"--n-bootstrap must be at least 10, got {req.n_bootstrap}")
    config = config_dict(build_config(variant.config_type, req.overrides, variant.name))
    slug, name, number = parse_ref(
        req.dataset if "/" in req.dataset else f"{req.project}/{req.dataset}"
    )
    if slug != req.project:
        raise InvalidInputError(
            f"dataset {req.dataset!r} belongs to project {slug!r}, not {req.project!r}"
        )
    code = code_version(req.repo_dir)
    diff = git_diff(req.repo_dir or Path.cwd()) if code.git_dirty else None
    owner = registry.owners.get(("templates", template.name), "")
    plugin = next((p for p in registry.plugins if p.name == owner), None)
    env = environment(req.repo_dir) | {
        "plugin": {
            "name": owner,
            "distribution": plugin.distribution if plugin else None,
            "version": plugin.version if plugin else None,
        }
    }
    async with db.session() as session:
        project = await get_project_row(session, req.project)
        vrow = await dataset_repo.get_version_row(session, project, name, number)
        version = await dataset_repo.to_domain(session, vrow, project.slug)
        if version.task != template.task_type:
            raise InvalidInputError(
                f"dataset {version.ref} is a {version.task} dataset; template {template.name!r} "
                f"is for {template.task_type}"
            )
        code_dict = {"git_commit": code.git_commit, "diff_sha256": code.diff_sha256}
        run = Run(
            id=uuid7(),
            project=project.slug,
            dataset_version_id=version.id,
            dataset_checksum=version.checksum,
            split_checksum=version.split.checksum,
            kind="train",
            template=template.name,
            model=variant.name,
            role=variant.role,
            run_key=run_key(version, template.name, variant.name, config, req.seed, code_dict),
            seed=req.seed,
            config=config,
            code_version=code,
            environment=env | {"n_bootstrap": req.n_bootstrap, "dataset": version.ref},
            status=RunStatus.QUEUED,
            created_at=utcnow(),
        )
        await repo.insert_run(session, run, project.id)
    folder = run_dir(settings.artifact_root, run.project, run.id)
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        folder / "config.json",
        {"template": run.template, "model": run.model, "seed": run.seed, "config": run.config},
    )
    write_json_atomic(folder / "run.json", run_document(run, version))
    if diff is not None:
        # The uncommitted change as it was when the run started, for the repro pack.
        write_bytes_atomic(folder / "code.diff", diff.encode())
    return run


def run_document(run: Run, version: DatasetVersion) -> dict[str, Any]:
    """The full metadata of a run as written to run.json."""
    return {
        "run": run,
        "dataset": {
            "ref": version.ref,
            "id": version.id,
            "checksum": version.checksum,
            "split": version.split,
            "target": version.target,
            "feature_columns": version.feature_columns,
            "task": version.task,
        },
        "reproduce": reproduce_command(run, version.ref),
    }


def reference_baseline(template: Template) -> ModelVariant:
    """The baseline ``--with-baseline`` runs: the last baseline the template declares.

    Templates declare baselines from simplest to strongest, so the last one is the
    bar a candidate has to clear.
    """
    return [v for v in template.variants if v.role == "baseline"][-1]


async def find_baseline(db: Database, version: DatasetVersion, template: str) -> Run | None:
    """The newest succeeded baseline run of ``template`` on this version and split."""
    async with db.session() as session:
        row = await repo.latest_baseline(session, version.id, version.split.checksum, template)
        return None if row is None else await repo.to_domain(session, row, version.project)


async def find_same_run(
    db: Database, settings: Settings, registry: Registry, req: RunRequest
) -> Run | None:
    """A succeeded run that computed exactly what ``req`` asks (same run key), if any."""
    template = registry.template(req.template)
    variant = template.variant(req.model)
    if variant is None:
        return None
    config = config_dict(build_config(variant.config_type, req.overrides, variant.name))
    slug, name, number = parse_ref(
        req.dataset if "/" in req.dataset else f"{req.project}/{req.dataset}"
    )
    code = code_version(req.repo_dir)
    async with db.session() as session:
        project = await get_project_row(session, slug)
        vrow = await dataset_repo.get_version_row(session, project, name, number)
        version = await dataset_repo.to_domain(session, vrow, project.slug)
        key = run_key(
            version,
            template.name,
            variant.name,
            config,
            req.seed,
            {"git_commit": code.git_commit, "diff_sha256": code.diff_sha256},
        )
        for row in await repo.list_runs(
            session,
            project,
            status=RunStatus.SUCCEEDED.value,
            template=template.name,
            model=variant.name,
        ):
            if row.run_key == key and row.environment.get("n_bootstrap") == req.n_bootstrap:
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
    async with db.session() as session:
        prow = await get_project_row(session, project)
        rows = await repo.list_runs(session, prow, status, template, model, limit=limit)
        return [await repo.to_domain(session, r, prow.slug) for r in rows]


async def add_note(db: Database, run_id: str, text: str) -> Run:
    """Append a timestamped note ("what changed my mind") to a run."""
    text = text.strip()
    if not text:
        raise InvalidInputError("a note needs some text")
    async with db.session() as session:
        row, project = await repo.get_run_row(session, run_id)
        await repo.append_note(session, row.id, text)
        await session.flush()
        return await repo.to_domain(session, row, project.slug)
