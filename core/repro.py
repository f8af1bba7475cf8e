"""Reproducibility packs: export a run, re-execute it elsewhere, verify it reproduces.

A pack is a gzip'd tar with ``manifest.json`` (what to run, every checksum), the run's
``run.json``/``config.json``, the model and eval folders, the run's ``latency.json`` (its
timings, for reference only: see :data:`NOT_BYTE_CHECKED`), the uncommitted diff when the
code was dirty, the locked environment (``uv.lock``, or a full package list), and the
dataset's original bytes when under 100 MB (or with ``--include-data``). Entries are
sorted and carry no timestamps, so exporting twice gives the same archive.

A pack to reproduce is untrusted input. Every member is checked before anything is
written: plain relative names only (no absolute path, ``..``, backslash, NUL or control
character, no over-long or duplicate name), regular files and folders only (no link,
device or FIFO). Every name the manifest gives stays inside the pack; every member but
the manifest and REPRODUCE.md is listed with its checksum. A malformed pack is refused
with one InvalidInputError line naming the bad entry.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from importlib.metadata import distributions
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from modellab.access.actor import Role
from modellab.datasets import ingest
from modellab.datasets.splits import SplitRequest
from modellab.datasets.storage import dataset_dir, source_name
from modellab.domain import MAX_SEED, ColumnRole, RunStatus, SplitStrategy
from modellab.errors import ConflictError, InvalidInputError, ModelLabError
from modellab.plugins import Registry
from modellab.projects import create_project
from modellab.runs import service as run_service
from modellab.runs.artifacts import file_hashes, run_dir, sha256_of, visible_files
from modellab.runs.executors import command_executor, run_and_wait
from modellab.runs.latency import LATENCY_FILE
from modellab.runs.metadata import find_lockfile
from modellab.runs.options import bootstrap_replicates, parse_options
from modellab.settings import Settings
from modellab.store import datasets as dataset_repo
from modellab.store import runs as run_repo
from modellab.store.database import Database
from modellab.store.projects import get_project_row

DATA_LIMIT_BYTES = 100 * 1024 * 1024
PACK_VERSION = 1
#: files of a pack that reproduce never compares byte for byte: inference timings differ
#: between machines (and between two runs on one machine), so a re-run cannot match them
NOT_BYTE_CHECKED = (LATENCY_FILE,)


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
    db: Database,
    settings: Settings,
    run_id: str,
    output: Path,
    include_data: bool = False,
    include_diff: bool = True,
) -> dict[str, Any]:
    """Write the repro pack of a succeeded run to ``output``; return its manifest.

    ``include_diff=False`` leaves out the uncommitted diff a CLI run recorded (packs
    served by the API: that diff is the machine owner's working tree).
    """
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
        if rel.startswith(("model/", "eval/")) or rel in ("run.json", "config.json", LATENCY_FILE):
            entries[rel] = path.read_bytes()
    if include_diff and (folder / "code.diff").exists():
        entries["code/uncommitted.diff"] = (folder / "code.diff").read_bytes()
    lock = find_lockfile()
    if lock is not None:
        entries["env/uv.lock"] = lock.read_bytes()
    entries["env/packages.txt"] = _package_list()
    if with_data:
        for f in version.provenance.files:
            entries[f"data/{f.path}"] = (source / source_name(f.sha256, f.path)).read_bytes()
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
            "n_bootstrap": bootstrap_replicates(parse_options(run.options), run.environment),
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
            "roles": dict(sorted(version.provenance.roles.items())),
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
    #: files of the pack or the re-run deliberately not compared (:data:`NOT_BYTE_CHECKED`)
    not_compared: list[str] = field(default_factory=list)


#: the most members a pack may hold: a run's files and its dataset's come to a few dozen
MAX_MEMBERS = 100_000
#: a name part and a whole member name, in bytes, as a file system keeps them
MAX_NAME_BYTES = 200
MAX_PATH_BYTES = 1024
MANIFEST_MAX_BYTES = 16 * 1024 * 1024
#: how deep the manifest's metrics may nest (a run's hold three levels)
MAX_DEPTH = 32
#: members a pack holds besides the files its manifest lists
UNLISTED = ("manifest.json", "REPRODUCE.md")

Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}\Z")]
#: text the CLI may print: no control characters (a terminal would run escape codes)
Printable = Annotated[str, msgspec.Meta(pattern=r"^[^\x00-\x1f\x7f]*\Z")]


class PackSplit(msgspec.Struct):
    """The split a pack's dataset was made with."""

    strategy: SplitStrategy
    test_size: float | None
    seed: int
    time_column: str | None
    group_column: str | None
    checksum: Sha256


class PackFile(msgspec.Struct):
    """One original data file of a pack's dataset."""

    path: str
    sha256: Sha256
    bytes: int


class PackDataset(msgspec.Struct):
    """A pack's dataset: how to add it again and what it must hash to."""

    name: Printable
    checksum: Sha256
    target: str
    task: str | None
    kind: Literal["file", "folder"]
    source: str | None
    files: list[PackFile]
    included: bool
    split: PackSplit
    #: the column roles given at ingest (``--role``); packs made before them have none
    roles: dict[str, ColumnRole] = {}


class PackRun(msgspec.Struct):
    """The run a pack re-executes."""

    id: Printable
    project: Printable
    template: Printable
    model: Printable
    seed: Annotated[int, msgspec.Meta(ge=0, le=MAX_SEED)]
    config: dict[str, Any]
    n_bootstrap: int
    options: dict[str, Any] | None = None


class PackCommands(msgspec.Struct):
    """The manifest's instructions; ``dataset`` is printed when the data is not found."""

    dataset: Printable


class PackManifest(msgspec.Struct):
    """The parts of ``manifest.json`` that ``reproduce`` reads (others are ignored)."""

    pack_version: int
    run: PackRun
    dataset: PackDataset
    metrics: dict[str, Any]
    commands: PackCommands
    files: dict[str, Sha256]


def _shown(name: str) -> str:
    # repr() escapes NUL and control characters; a long name is cut, not echoed whole.
    return repr(name[:80]) + ("..." if len(name) > 80 else "")


def path_problem(name: str) -> str | None:
    """Why ``name`` cannot name a file inside a pack, or None when it can.

    A pack's names are plain relative paths: nothing absolute, no ``..`` or empty parts,
    no backslash, NUL or control character, no part over MAX_NAME_BYTES.
    """
    if not name:
        return "the name is empty"
    if "\x00" in name:
        return "the name holds a NUL character"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "the name holds a control character"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "the name is an absolute path"
    if "\\" in name:
        return "the name holds a backslash"
    parts = name.split("/")
    if ".." in parts:
        return "the name holds a '..' part"
    if any(p in ("", ".") for p in parts):
        return "the name holds an empty or '.' part"
    if len(name.encode()) > MAX_PATH_BYTES or any(len(p.encode()) > MAX_NAME_BYTES for p in parts):
        return f"the name is longer than a file system keeps ({MAX_NAME_BYTES} bytes a part)"
    return None


def _member_kind_problem(m: tarfile.TarInfo) -> str | None:
    if m.isfile() or m.isdir():
        return None
    if m.issym():
        return "it is a symbolic link"
    if m.islnk():
        return "it is a hard link"
    if m.ischr() or m.isblk():
        return "it is a device file"
    if m.isfifo():
        return "it is a FIFO"
    return "it is not a regular file or folder"


def _checked_members(tar: tarfile.TarFile, label: str) -> list[tarfile.TarInfo]:
    """Every member of ``tar``, refusing the first one that may not be extracted."""
    members: list[tarfile.TarInfo] = []
    #: casefolded name -> (name, whether a folder): names equal but for case would
    #: overwrite each other on some file systems
    seen: dict[str, tuple[str, bool]] = {}
    for m in tar:
        if len(members) == MAX_MEMBERS:
            raise InvalidInputError(f"{label}: the pack holds more than {MAX_MEMBERS:,} members")
        # Folders may be archived as "name/"; that slash is no empty part.
        name = m.name[:-1] if m.isdir() and m.name.endswith("/") else m.name
        why = path_problem(name) or _member_kind_problem(m)
        key = name.casefold()
        if why is None and key in seen and not (m.isdir() and seen[key][1]):
            why = "the pack holds that name twice"
        if why is not None:
            raise InvalidInputError(f"{label}: member {_shown(m.name)} is refused: {why}")
        seen[key] = (name, m.isdir())
        members.append(m)
    for key in seen:
        parts = key.split("/")
        for i in range(1, len(parts)):
            parent = seen.get("/".join(parts[:i]))
            if parent is not None and not parent[1]:
                raise InvalidInputError(
                    f"{label}: member {_shown(parent[0])} is refused: it is a file and a "
                    "folder at once"
                )
    return members


def _extract(pack: Path, into: Path) -> dict[str, Path]:
    """Check every member of ``pack``, then write its files under ``into``.

    Nothing but regular files and folders with plain relative names is written, each
    with fresh permissions; returns the files by member name.
    """
    label = str(pack)
    out: dict[str, Path] = {}
    try:
        raw = pack.open("rb")
    except OSError as exc:
        raise InvalidInputError(f"{label}: cannot read: {exc.strerror or exc}") from None
    try:
        with raw, tarfile.open(fileobj=raw, mode="r:gz") as tar:
            members = _checked_members(tar, label)
            for m in members:
                if not m.isfile():
                    continue
                target = into.joinpath(*m.name.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                if src is None:  # cannot happen for a regular file; refuse rather than guess
                    raise InvalidInputError(f"{label}: member {_shown(m.name)} has no data")
                # "x": a name seen twice could never overwrite the first file.
                with src, target.open("xb") as dst:
                    shutil.copyfileobj(src, dst)
                out[m.name] = target
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InvalidInputError(
            f"{label}: not a readable repro pack (a .tar.gz archive): {exc or 'truncated'}"
        ) from None
    return out


def _depth(obj: Any) -> int:
    """How deep dicts and lists nest in ``obj`` (without recursion: it may be deep)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack += [(v, level + 1) for v in (item.values() if isinstance(item, dict) else item)]
    return deepest


def _read_manifest(label: str, files: dict[str, Path]) -> PackManifest:
    path = files.get("manifest.json")
    if path is None:
        raise InvalidInputError(f"{label}: no manifest.json; not a ModelLab repro pack")
    if path.stat().st_size > MANIFEST_MAX_BYTES:
        raise InvalidInputError(
            f"{label}: manifest.json is over {MANIFEST_MAX_BYTES // 2**20} MB; "
            "not a ModelLab repro manifest"
        )
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInputError(f"{label}: manifest.json is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{label}: manifest.json is not JSON: {exc}") from None
    except RecursionError:
        raise InvalidInputError(f"{label}: manifest.json is nested too deeply") from None
    try:
        m = msgspec.convert(raw, PackManifest)
    except msgspec.ValidationError as exc:
        raise InvalidInputError(
            f"{label}: manifest.json is not a ModelLab repro manifest: {exc}"
        ) from None
    if _depth(m.metrics) > MAX_DEPTH:
        raise InvalidInputError(f"{label}: manifest.json metrics nest over {MAX_DEPTH} levels")
    if m.pack_version != PACK_VERSION:
        raise InvalidInputError(
            f"{label}: pack version {m.pack_version}; this ModelLab reads version {PACK_VERSION}"
        )
    for name in m.files:
        why = path_problem(name)
        if why is not None:
            raise InvalidInputError(f"{label}: manifest file {_shown(name)} is refused: {why}")
    d = m.dataset
    if d.included and not d.files:
        raise InvalidInputError(f"{label}: manifest.json lists no file of the included dataset")
    for f in d.files:
        why = path_problem(f.path)
        if why is not None:
            raise InvalidInputError(f"{label}: dataset file {_shown(f.path)} is refused: {why}")
        if d.included and f"data/{f.path}" not in m.files:
            raise InvalidInputError(
                f"{label}: dataset file {_shown(f.path)} has no checksum in the manifest's files"
            )
    return m


def _verify_files(label: str, m: PackManifest, files: dict[str, Path]) -> None:
    """Every listed file is in the pack with its checksum; nothing else is."""
    unlisted = sorted(files.keys() - m.files.keys() - set(UNLISTED))
    if unlisted:
        # Unchecked bytes could reach the dataset (a folder is added whole): refuse them.
        raise InvalidInputError(
            f"{label}: member {_shown(unlisted[0])} is refused: the manifest does not list it"
        )
    for name, digest in sorted(m.files.items()):
        path = files.get(name)
        if path is None:
            raise InvalidInputError(
                f"{label}: the manifest lists {_shown(name)}, which the pack does not hold"
            )
        got = sha256_of(path)
        if got != digest:
            what = (
                "dataset checksum mismatch"
                if name.startswith("data/")
                else "file checksum mismatch"
            )
            raise ReproError(f"{what}: {name} has sha256 {got}, the manifest says {digest}")


def _metric_drift(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(a.keys() | b.keys()):
            # A key from the pack is printed: escape what a terminal would run.
            shown = k if k.isprintable() else repr(k)
            out += _metric_drift(a.get(k), b.get(k), f"{path}.{shown}" if path else shown)
        return out
    if a == b:
        return []
    if isinstance(a, int | float) and isinstance(b, int | float):
        return [f"{path}: {a} -> {b} (drift {b - a:+.3g})"]
    return [f"{path}: {a!r} -> {b!r}"]


async def reproduce_pack(
    db: Database, settings: Settings, registry: Registry, pack: Path
) -> ReproReport:
    """Re-execute a pack's run into a fresh run and verify data, metrics and eval folder.

    The pack is untrusted: every member and every name its manifest lists must be a plain
    relative path inside it, and a malformed pack is refused with InvalidInputError.
    """
    if not pack.is_file():
        raise InvalidInputError(f"{pack}: no such file")
    label = str(pack)
    with tempfile.TemporaryDirectory(prefix="modellab-repro-") as tmp_name:
        tmp = Path(tmp_name)
        files = _extract(pack, tmp)
        m = _read_manifest(label, files)
        _verify_files(label, m, files)
        d = m.dataset
        project = m.run.project
        with contextlib.suppress(ConflictError):  # the project may exist already
            await create_project(db, project, project)
        if d.included:
            data_root = tmp / "data"
            path = data_root if d.kind == "folder" else files[f"data/{d.files[0].path}"]
            split = d.split
            req = ingest.AddRequest(
                project=project,
                name=d.name,
                path=path,
                target=d.target,
                task=d.task,
                split=SplitRequest(
                    split.strategy,
                    split.test_size or 0.2,
                    split.seed,
                    split.time_column,
                    split.group_column,
                ),
                source=d.source,
                roles=dict(d.roles),
            )
            try:
                version = (await ingest.add_dataset(db, settings, registry.task_types, req)).version
            except ModelLabError as error:
                # Name the data as the pack holds it, not by this machine's temp folder.
                error.message = error.message.replace(f"{tmp}{os.sep}", "")
                raise
        else:
            async with db.session() as session:
                prow = await get_project_row(session, project, Role.EDITOR)
                row = await dataset_repo.find_by_checksum(session, prow.id, d.name, d.checksum)
                if row is None:
                    raise ReproError(
                        f"dataset checksum mismatch: {project}/{d.name} holds no version "
                        f"with sha256 {d.checksum}; {m.commands.dataset}"
                    )
                version = await dataset_repo.to_domain(session, row, project)
        if version.checksum != d.checksum:
            raise ReproError(
                f"dataset checksum mismatch: expected {d.checksum}, got {version.checksum}"
            )
        if version.split.checksum != d.split.checksum:
            raise ReproError(
                f"split checksum mismatch: expected {d.split.checksum}, "
                f"got {version.split.checksum}"
            )
        r = m.run
        new = await run_service.create_run(
            db,
            settings,
            registry,
            run_service.RunRequest(
                project,
                version.ref,
                r.template,
                r.model,
                r.seed,
                dict(r.config),
                r.n_bootstrap,
                options=dict(r.options or {}),
            ),
        )
        async with command_executor(db, settings, 1) as executor:
            (ended,) = await run_and_wait(executor, [new.id])
        report = ReproReport(reproduced=False, original_run=r.id, new_run=ended.id)
        if ended.status is not RunStatus.SUCCEEDED:
            report.messages.append(f"the re-run {ended.status.value}: {ended.status_reason}")
            return report
        new_eval = run_dir(settings.artifact_root, project, ended.id) / "eval"
        old_files = {k[len("eval/") :]: v for k, v in m.files.items() if k.startswith("eval/")}
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
        # The byte check covers eval/ only; timings are said to be skipped, not silently.
        new_folder = new_eval.parent
        report.not_compared = [
            name for name in NOT_BYTE_CHECKED if name in m.files or (new_folder / name).exists()
        ]
        report.drifted_metrics = _metric_drift(m.metrics, ended.metrics)
        report.reproduced = not report.drifted_files and not report.drifted_metrics
        return report
