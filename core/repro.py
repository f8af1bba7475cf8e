"""Reproducibility packs: export a run, re-execute it elsewhere, verify it reproduces.

A pack is a gzip'd tar with ``manifest.json`` (what to run, every checksum), the run's
``run.json``/``config.json``, the model and eval folders, the uncommitted diff when the
code was dirty, the locked environment (``uv.lock``, or a full package list), and the
dataset's original bytes when under 100 MB (or with ``--include-data``). Entries are
sorted and carry no timestamps, so exporting twice gives the same archive.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import tarfile
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

from modellab.access.actor import Role
from modellab.datasets import ingest
from modellab.datasets.splits import SplitRequest
from modellab.datasets.storage import dataset_dir
from modellab.domain import RunStatus, SplitStrategy
from modellab.errors import ConflictError, InvalidInputError, ModelLabError
from modellab.plugins import Registry
from modellab.projects import create_project
from modellab.runs import service as run_service
from modellab.runs.artifacts import file_hashes, run_dir, visible_files
from modellab.runs.execute import execute_run
from modellab.runs.metadata import find_lockfile
from modellab.settings import Settings
from modellab.store import datasets as dataset_repo
from modellab.store import runs as run_repo
from modellab.store.database import Database
from modellab.store.projects import get_project_row

DATA_LIMIT_BYTES = 100 * 1024 * 1024
PACK_VERSION = 1


class ReproError(ModelLabError):
    """A pack did not reproduce, or its data does not match its checksums."""

    exit_code = 1
    kind = "not-reproduced"


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _package_list() -> bytes:
    lines = sorted(
        f"{d.metadata['Name']}=={d.version}" for d in distributions() if d.metadata["Name"]
    )
    return ("\n".join(lines) + "\n").encode()


async def export_pack(
    db: Database, settings: Settings, run_id: str, output: Path, include_data: bool = False
) -> dict[str, Any]:
    """Write the repro pack of a succeeded run to ``output``; return its manifest."""
    async with db.session() as session:
        row, project = await run_repo.get_run_row(session, run_id)
        run = await run_repo.to_domain(session, row, project.slug)
        vrow = await dataset_repo.get_version_row_by_id(session, run.dataset_version_id)
        version = await dataset_repo.to_domain(session, vrow, project.slug)
    if run.status is not RunStatus.SUCCEEDED:
        raise InvalidInputError(
            f"run {run.id} is {run.status.value}; only a succeeded run can be exported"
        )
    folder = run_dir(settings.artifact_root, run.project, run.id)
    source = dataset_dir(settings.artifact_root, version.project, version.checksum) / "source"
    data_bytes = sum(f.bytes for f in version.provenance.files)
    with_data = include_data or data_bytes < DATA_LIMIT_BYTES
    entries: dict[str, bytes] = {}
    for rel, path in visible_files(folder):
        if rel.startswith(("model/", "eval/")) or rel in ("run.json", "config.json"):
            entries[rel] = path.read_bytes()
    if (folder / "code.diff").exists():
        entries["code/uncommitted.diff"] = (folder / "code.diff").read_bytes()
    lock = find_lockfile()
    if lock is not None:
        entries["env/uv.lock"] = lock.read_bytes()
    entries["env/packages.txt"] = _package_list()
    if with_data:
        for f in version.provenance.files:
            suffix = ".parquet" if f.path.lower().endswith(".parquet") else ".csv"
            entries[f"data/{f.path}"] = (source / f"{f.sha256}{suffix}").read_bytes()
    s = version.split
    reproduce = f"modellab reproduce {output.name}"
    manifest: dict[str, Any] = {
        "pack_version": PACK_VERSION,
        "run": {
            "id": run.id,
            "run_key": run.run_key,
            "project": run.project,
            "template": run.template,
            "model": run.model,
            "seed": run.seed,
            "config": run.config,
            "options": run.options,
            "n_bootstrap": run.environment.get("n_bootstrap", 1000),
        },
        "code_version": {
            "modellab_version": run.code_version.modellab_version,
            "git_commit": run.code_version.git_commit,
            "git_dirty": run.code_version.git_dirty,
            "diff_sha256": run.code_version.diff_sha256,
        },
        "dataset": {
            "name": version.name,
            "version": version.version,
            "ref": version.ref,
            "checksum": version.checksum,
            "target": version.target,
            "task": version.task,
            "kind": version.provenance.kind,
            "source": version.provenance.source,
            "files": [
                {"path": f.path, "sha256": f.sha256, "bytes": f.bytes}
                for f in version.provenance.files
            ],
            "included": with_data,
            "split": {
                "strategy": s.strategy.value,
                "test_size": s.test_size,
                "seed": s.seed,
                "time_column": s.time_column,
                "group_column": s.group_column,
                "checksum": s.checksum,
            },
        },
        "metrics": run.metrics,
        "commands": {
            "install": "uv sync",
            "dataset": (
                "included in data/"
                if with_data
                else f"not included ({data_bytes / 2**20:.0f} MB): add the file with sha256 "
                f"{version.checksum} as modellab dataset add --project {run.project} "
                f"--name {version.name} --target {version.target} FILE"
            ),
            "run": run_service.reproduce_command(run, version.ref),
            "reproduce": reproduce,
        },
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(entries.items())},
    }
    entries["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    entries["REPRODUCE.md"] = _readme(manifest).encode()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    with (
        tmp.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(entries):
            _add_bytes(tar, name, entries[name])
    tmp.replace(output)
    return manifest


def _readme(m: dict[str, Any]) -> str:
    c = m["commands"]
    return (
        f"# Reproduce run {m['run']['id']}\n\n"
        f"{m['run']['template']}/{m['run']['model']}, seed {m['run']['seed']}, on "
        f"{m['dataset']['ref']} (sha256 {m['dataset']['checksum']}).\n\n"
        f"1. Install: `{c['install']}` at commit {m['code_version']['git_commit']}"
        f"{' plus code/uncommitted.diff' if m['code_version']['git_dirty'] else ''}.\n"
        f"2. Dataset: {c['dataset']}.\n"
        f"3. Re-run and verify: `{c['reproduce']}` (or by hand: `{c['run']}`).\n"
    )


@dataclass
class ReproReport:
    """What ``reproduce`` found."""

    reproduced: bool
    original_run: str
    new_run: str | None
    drifted_files: list[str] = field(default_factory=list)
    drifted_metrics: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def _safe_extract(pack: Path, into: Path) -> None:
    try:
        with tarfile.open(pack, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{pack}: not a readable repro pack: {exc}") from None


def _metric_drift(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(a.keys() | b.keys()):
            out += _metric_drift(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        return out
    if a == b:
        return []
    if isinstance(a, int | float) and isinstance(b, int | float):
        return [f"{path}: {a} -> {b} (drift {b - a:+.3g})"]
    return [f"{path}: {a!r} -> {b!r}"]


async def reproduce_pack(
    db: Database, settings: Settings, registry: Registry, pack: Path
) -> ReproReport:
    """Re-execute a pack's run into a fresh run and verify data, metrics and eval folder."""
    if not pack.is_file():
        raise InvalidInputError(f"{pack}: no such file")
    with tempfile.TemporaryDirectory(prefix="modellab-repro-") as tmp_name:
        tmp = Path(tmp_name)
        _safe_extract(pack, tmp)
        manifest_path = tmp / "manifest.json"
        if not manifest_path.exists():
            raise InvalidInputError(f"{pack}: no manifest.json; not a ModelLab repro pack")
        m = json.loads(manifest_path.read_text())
        for name, digest in m["files"].items():
            path = tmp / name
            got = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"
            if got != digest:
                what = (
                    "dataset checksum mismatch"
                    if name.startswith("data/")
                    else "file checksum mismatch"
                )
                raise ReproError(f"{what}: {name} has sha256 {got}, the manifest says {digest}")
        d = m["dataset"]
        project = m["run"]["project"]
        with contextlib.suppress(ConflictError):  # the project may exist already
            await create_project(db, project, project)
        if d["included"]:
            data_root = tmp / "data"
            path = data_root if d["kind"] == "folder" else data_root / d["files"][0]["path"]
            split = d["split"]
            req = ingest.AddRequest(
                project=project,
                name=d["name"],
                path=path,
                target=d["target"],
                task=d["task"],
                split=SplitRequest(
                    SplitStrategy(split["strategy"]),
                    split["test_size"] or 0.2,
                    split["seed"],
                    split["time_column"],
                    split["group_column"],
                ),
                source=d["source"],
            )
            version = (await ingest.add_dataset(db, settings, req)).version
        else:
            async with db.session() as session:
                prow = await get_project_row(session, project, Role.EDITOR)
                row = await dataset_repo.find_by_checksum(
                    session, prow.id, d["name"], d["checksum"]
                )
                if row is None:
                    raise ReproError(
                        f"dataset checksum mismatch: {project}/{d['name']} holds no version "
                        f"with sha256 {d['checksum']}; {m['commands']['dataset']}"
                    )
                version = await dataset_repo.to_domain(session, row, project)
        if version.checksum != d["checksum"]:
            raise ReproError(
                f"dataset checksum mismatch: expected {d['checksum']}, got {version.checksum}"
            )
        if version.split.checksum != d["split"]["checksum"]:
            raise ReproError(
                f"split checksum mismatch: expected {d['split']['checksum']}, "
                f"got {version.split.checksum}"
            )
        r = m["run"]
        new = await run_service.create_run(
            db,
            settings,
            registry,
            run_service.RunRequest(
                project,
                version.ref,
                r["template"],
                r["model"],
                r["seed"],
                dict(r["config"]),
                int(r["n_bootstrap"]),
                options=dict(r.get("options") or {}),
            ),
        )
        ended = await execute_run(db, settings, registry, new.id)
        report = ReproReport(reproduced=False, original_run=r["id"], new_run=ended.id)
        if ended.status is not RunStatus.SUCCEEDED:
            report.messages.append(f"the re-run {ended.status.value}: {ended.status_reason}")
            return report
        new_eval = run_dir(settings.artifact_root, project, ended.id) / "eval"
        old_files = {k[len("eval/") :]: v for k, v in m["files"].items() if k.startswith("eval/")}
        new_files = file_hashes(new_eval)
        for rel in sorted(old_files.keys() | new_files.keys()):
            if old_files.get(rel) != new_files.get(rel):
                state = (
                    "missing"
                    if rel not in new_files
                    else "new"
                    if rel not in old_files
                    else "differs"
                )
                report.drifted_files.append(f"eval/{rel} ({state})")
        report.drifted_metrics = _metric_drift(m["metrics"], ended.metrics)
        report.reproduced = not report.drifted_files and not report.drifted_metrics
        return report
