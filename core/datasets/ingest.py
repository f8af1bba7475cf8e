"""Dataset service: add a version, show, list and annotate (CLI and API call these).

Adding is all-or-nothing: files are staged under a temporary folder beside their final
place and renamed in only after every check passed, and the database row is written
last; a failure at any step leaves no version, row or file behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import msgspec
import numpy as np
import polars as pl

from modellab.access.actor import Role
from modellab.datasets import reading
from modellab.datasets.profile import profile_frame
from modellab.datasets.reading import ParsedTable, Progress, ScanResult
from modellab.datasets.refs import parse_ref
from modellab.datasets.schema import (
    build_schema,
    check_task,
    column_facts,
    diff_schemas,
    infer_task,
    no_feature_reason,
)
from modellab.datasets.sources import (
    SourceFormat,
    SourceTables,
    find_format,
    folder_files,
    read_source,
)
from modellab.datasets.splits import (
    Split,
    SplitRequest,
    describe_split,
    duplicate_records,
    groups_on_both_sides,
    make_split,
    row_hashes,
    save_split,
)
from modellab.datasets.storage import (
    attachment_path,
    dataset_dir,
    datasets_root,
    source_name,
    split_path,
)
from modellab.diskfull import disk_full_as
from modellab.domain import (
    ColumnRole,
    ColumnSchema,
    DatasetVersion,
    DataWarning,
    DuplicateRecords,
    Note,
    Provenance,
    SchemaDiff,
    SourceFile,
    SplitInfo,
    SplitStrategy,
)
from modellab.errors import ConflictError, InvalidInputError, TooLargeError
from modellab.ids import uuid7
from modellab.settings import Settings
from modellab.store import datasets as repo
from modellab.store.database import Database
from modellab.store.models import ProjectRow, utcnow
from modellab.store.projects import get_project_row
from modellab.tasks import TaskType

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
PREDEFINED_STEMS = ("train", "test")


def check_name(name: str) -> str:
    """Refuse a dataset name that is not letters, digits, ``.``, ``_`` or ``-``."""
    if not NAME.match(name):
        raise InvalidInputError(
            f"invalid dataset name {name!r}: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 100 characters"
        )
    return name


@dataclass(frozen=True)
class AddRequest:
    """Everything ``dataset add`` takes."""

    project: str
    name: str
    path: Path
    #: the target column; "" when a source format's folder implies it
    target: str
    task: str | None = None
    split: SplitRequest = field(default_factory=SplitRequest)
    source: str | None = None
    notes: str | None = None
    #: columns the user leaves out of the default feature set (``--exclude``)
    exclude: tuple[str, ...] = ()
    #: the only columns that may be features (``--features``); None: every column
    features: tuple[str, ...] | None = None
    #: the user's column roles (``--role COLUMN=ROLE``); other columns' are inferred
    roles: Mapping[str, ColumnRole] = field(default_factory=dict)


@dataclass(frozen=True)
class AddResult:
    """The version added, or the existing one holding the same bytes."""

    version: DatasetVersion
    created: bool


@dataclass
class StagedFile:
    relpath: str
    staged: Path
    kind: str
    delimiter: str
    scan: ScanResult


@dataclass
class Staged:
    checksum: str
    provenance: Provenance
    files: list[StagedFile]
    predefined: bool
    #: what a source format read from the staged files (None: CSV and Parquet tables)
    tables: SourceTables | None = None


@dataclass
class Prepared:
    frame: pl.DataFrame
    schema: list[ColumnSchema]
    split: Split
    split_info: SplitInfo
    version_fields: dict[str, object]


def _stage_file(src: Path, relpath: str, source_dir: Path, index: int) -> StagedFile:
    kind = reading.file_kind(src)
    delimiter = reading.delimiter_for(src) if kind == "csv" else ","
    tmp = source_dir / f".part-{index}"
    scan = reading.copy_and_scan(src, tmp, delimiter, text=kind == "csv")
    final = source_dir / source_name(scan.sha256, relpath)
    tmp.replace(final)
    return StagedFile(relpath, final, kind, delimiter, scan)


def _folder_checksum(files: list[StagedFile]) -> str:
    """A folder's checksum: each file's relative path and digest, in path order."""
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.relpath):
        digest.update(f"{f.relpath}\x00{f.scan.sha256}\n".encode())
    return digest.hexdigest()


def _provenance(kind: str, path: Path, files: list[StagedFile], fmt: str | None) -> Provenance:
    return Provenance(
        kind=kind,
        original_name=path.name,
        files=[
            SourceFile(
                f.relpath, f.scan.sha256, f.scan.size, f.delimiter if f.kind == "csv" else None
            )
            for f in files
        ],
        format=fmt,
    )


def stage_formatted(
    path: Path, fmt: SourceFormat, staging: Path, max_bytes: int, progress: Progress
) -> Staged:
    """Copy a folder in a source format's layout into ``staging`` while checksumming it,
    then read the staged copy through the format (the bytes read are the bytes hashed)."""
    source_dir = staging / "source"
    source_dir.mkdir(parents=True)
    relpaths = folder_files(path)
    total = sum((path / rel).stat().st_size for rel in relpaths)
    if total > max_bytes:
        raise TooLargeError(
            f"{path}: {total / 2**20:.1f} MB of files is over the upload limit of "
            f"{max_bytes / 2**20:.0f} MB (set MODELLAB_MAX_UPLOAD_MB to raise it)"
        )
    files: list[StagedFile] = []
    for i, rel in enumerate(relpaths):
        progress(f"hashing {rel}")
        tmp = source_dir / f".part-{i}"
        scan = reading.copy_and_scan(path / rel, tmp, text=False)
        final = source_dir / source_name(scan.sha256, rel)
        tmp.replace(final)
        kind = "parquet" if rel.lower().endswith(".parquet") else "text"
        files.append(StagedFile(rel, final, kind, ",", scan))
    progress(f"reading {fmt.description}")
    tables = read_source(fmt, path, {f.relpath: f.staged for f in files})
    return Staged(
        _folder_checksum(files),
        _provenance("folder", path, files, fmt.name),
        files,
        predefined=False,
        tables=tables,
    )


def stage_source(path: Path, staging: Path, max_bytes: int, progress: Progress) -> Staged:
    """Copy the file or folder's data files into ``staging`` while checksumming them."""
    source_dir = staging / "source"
    source_dir.mkdir(parents=True)
    if path.is_dir():
        candidates = [path / rel for rel in folder_files(path)]
        data = [p for p in candidates if p.suffix.lower() in reading.DATA_SUFFIXES]
        others = [p.relative_to(path).as_posix() for p in candidates if p not in data]
        if others:
            raise InvalidInputError(
                f"{path}: the folder holds files that are neither CSV nor Parquet: "
                f"{', '.join(others[:5])}{' ...' if len(others) > 5 else ''}; remove them or "
                "point at a folder of data files only"
            )
        if not data:
            raise InvalidInputError(f"{path}: the folder holds no .csv, .tsv or .parquet file")
        total = sum(p.stat().st_size for p in data)
        if total > max_bytes:
            raise TooLargeError(
                f"{path}: {total / 2**20:.1f} MB of data files is over the upload limit of "
                f"{max_bytes / 2**20:.0f} MB (set MODELLAB_MAX_UPLOAD_MB to raise it)"
            )
        files: list[StagedFile] = []
        for i, p in enumerate(data):
            rel = p.relative_to(path).as_posix()
            reading.check_size(p, max_bytes)
            progress(f"hashing {rel}")
            files.append(_stage_file(p, rel, source_dir, i))
        stems = {Path(f.relpath).stem.lower() for f in files if "/" not in f.relpath}
        predefined = set(PREDEFINED_STEMS) <= stems
        if predefined and len(files) != 2:
            extra = [
                f.relpath for f in files if Path(f.relpath).stem.lower() not in PREDEFINED_STEMS
            ]
            raise InvalidInputError(
                f"{path}: a folder with train and test files declares its own split and may "
                f"hold nothing else, but it also holds {', '.join(extra)}"
            )
        checksum = _folder_checksum(files)
        kind = "folder"
    else:
        reading.check_size(path, max_bytes)
        progress(f"hashing {path.name}")
        files = [_stage_file(path, path.name, source_dir, 0)]
        checksum = files[0].scan.sha256
        predefined = False
        kind = "file"
    return Staged(checksum, _provenance(kind, path, files, None), files, predefined)


def parse_file(path: Path) -> ParsedTable:
    """Parse one CSV or Parquet file strictly."""
    if reading.file_kind(path) == "parquet":
        return reading.read_parquet_strict(path)
    return reading.read_csv_strict(path, reading.delimiter_for(path))


def _parse(f: StagedFile, display: Path) -> ParsedTable:
    try:
        if f.kind == "parquet":
            return reading.read_parquet_strict(f.staged)
        return reading.read_csv_strict(f.staged, f.delimiter)
    except InvalidInputError as exc:
        # Staged files are named by hash; the user knows the file by its own name.
        raise InvalidInputError(exc.message.replace(str(f.staged), str(display))) from None


def _combine(
    staged: Staged, origin: Path, parsed: ParsedTable | None
) -> tuple[pl.DataFrame, list[str], list[str], int | None]:
    """Parse every staged file; stack them (train first for a predefined split)."""
    files = staged.files
    if staged.predefined:
        files = sorted(files, key=lambda f: PREDEFINED_STEMS.index(Path(f.relpath).stem.lower()))
    tables: list[ParsedTable] = []
    for f in files:
        display = origin / f.relpath if origin.is_dir() else origin
        tables.append(parsed if parsed is not None else _parse(f, display))
    first = tables[0].frame.columns
    for f, t in zip(files[1:], tables[1:], strict=True):
        if set(t.frame.columns) != set(first):
            missing = sorted(set(first) - set(t.frame.columns))
            extra = sorted(set(t.frame.columns) - set(first))
            raise InvalidInputError(
                f"{origin / f.relpath}: its columns differ from {files[0].relpath}'s "
                f"(missing: {missing or 'none'}; extra: {extra or 'none'})"
            )
    frames = [t.frame.select(first) for t in tables]
    try:
        frame = pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]
    except pl.exceptions.PolarsError as exc:
        raise InvalidInputError(f"{origin}: the files' column types do not agree: {exc}") from None
    warnings = [w for t in tables for w in t.warnings]
    generated = sorted({g for t in tables for g in t.generated_columns})
    n_train = tables[0].frame.height if staged.predefined else None
    return frame, warnings, generated, n_train


def prepare(
    task_types: Mapping[str, TaskType],
    staged: Staged,
    req: AddRequest,
    parquet_path: Path,
    previous: list[ColumnSchema] | None,
    previous_version: int | None,
    progress: Progress,
    parsed: ParsedTable | None = None,
) -> Prepared:
    """Parse, infer the schema, profile and split: every check that can refuse the data.

    ``parsed`` is the single source file, already parsed while it was being staged.
    """
    progress("parsing")
    if staged.tables is not None:
        frame, parse_warnings = staged.tables.table, list(staged.tables.warnings)
        generated: list[str] = []
        n_train = staged.tables.train_rows
        _write_attachments(staged.tables, parquet_path.parent)
    else:
        frame, parse_warnings, generated, n_train = _combine(staged, req.path, parsed)
    # The Parquet copy depends on nothing the checks compute: it is written while they
    # run (polars releases the GIL), and only a version that passes them keeps it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        written = pool.submit(
            frame.write_parquet, parquet_path, compression="lz4", statistics=False
        )
        prepared = _check_profile_split(
            task_types,
            staged,
            req,
            frame,
            parse_warnings,
            generated,
            n_train,
            previous,
            previous_version,
            progress,
        )
        written.result()
    if staged.tables is not None:
        profile = msgspec.structs.replace(
            prepared.version_fields["profile"],  # type: ignore[type-var]
            source=staged.tables.profile,
        )
        prepared.version_fields["profile"] = profile
    return prepared


def _write_attachments(tables: SourceTables, folder: Path) -> None:
    """Store the format's attachments in the staged dataset folder."""
    for name in sorted(tables.attachments):
        path = attachment_path(folder, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tables.attachments[name].write_parquet(path, compression="lz4", statistics=False)


def _formatted_request(
    req: AddRequest, task: TaskType, fmt: SourceFormat, staged: Staged
) -> AddRequest:
    """``req`` with the target, task and split a source format's folder implies; flags that
    contradict them are refused."""
    if req.target not in ("", fmt.target):
        raise InvalidInputError(
            f"{req.path}: a {fmt.description} folder's target is {fmt.target!r}; leave out "
            f"--target (it names {req.target!r})"
        )
    if req.task not in (None, task.name):
        raise InvalidInputError(
            f"{req.path}: a {fmt.description} folder is a {task.name!r} dataset; leave out "
            f"--task (it names {req.task!r})"
        )
    split = req.split
    group = split.group_column or fmt.group_column
    if staged.tables is not None and staged.tables.train_rows is not None:
        strategy = SplitStrategy.PREDEFINED
    elif split.strategy in (SplitStrategy.RANDOM, SplitStrategy.GROUP):
        strategy = SplitStrategy.GROUP
    else:
        raise InvalidInputError(
            f"{req.path}: a {fmt.description} folder is split by {fmt.group_column!r} "
            f"(each {task.unit} on one side); leave out --split {split.strategy.value}"
        )
    return replace(
        req,
        target=fmt.target,
        task=task.name,
        split=SplitRequest(strategy, split.test_size, split.seed, None, group),
        roles={**fmt.roles, **req.roles},
    )


def _check_profile_split(
    task_types: Mapping[str, TaskType],
    staged: Staged,
    req: AddRequest,
    frame: pl.DataFrame,
    parse_warnings: list[str],
    generated: list[str],
    n_train: int | None,
    previous: list[ColumnSchema] | None,
    previous_version: int | None,
    progress: Progress,
) -> Prepared:
    """Everything :func:`prepare` does with the parsed table but write its Parquet copy."""
    target = req.target
    if frame.width == 1:
        raise InvalidInputError(f"{req.path}: {reading.one_column_reason(frame.columns[0])}")
    if not target:
        shown = ", ".join(frame.columns[:20]) + (" ..." if frame.width > 20 else "")
        raise InvalidInputError(
            f"{req.path}: name the column to predict with --target; columns are: {shown}"
        )
    if target not in frame.columns:
        shown = ", ".join(frame.columns[:20]) + (" ..." if frame.width > 20 else "")
        raise InvalidInputError(
            f"{req.path}: target column {target!r} not found; columns are: {shown}"
        )
    progress("inferring schema")
    facts = column_facts(frame)
    tf = facts[target]
    if tf.nulls == frame.height:
        raise InvalidInputError(f"{req.path}: target column {target!r} is missing in every row")
    # A source format's rows are not all it holds: a collection that lists only relevant
    # judgments has one grade, and its documents are what a model learns to tell apart.
    if tf.n_unique <= 1 and staged.tables is None:
        value = frame[target].drop_nulls().head(1).to_list()[0]
        raise InvalidInputError(
            f"{req.path}: target column {target!r} holds the single value {value!r} in every "
            "row; there is nothing to learn"
        )
    if req.task is not None and req.task not in task_types:
        known = ", ".join(sorted(task_types)) or "none"
        raise InvalidInputError(f"unknown task {req.task!r}; installed: {known}")
    task = task_types[req.task or infer_task(target, tf, task_types)]
    check_task(target, task, tf, task_types)
    split_req = req.split
    own_split = staged.tables is not None and staged.tables.train_rows is not None
    if staged.predefined or own_split:
        split_req = SplitRequest(
            SplitStrategy.PREDEFINED,
            req.split.test_size,
            req.split.seed,
            group_column=req.split.group_column,
        )
    elif req.split.strategy is SplitStrategy.PREDEFINED:
        raise InvalidInputError(
            "--split predefined needs a folder holding train.* and test.* files"
        )
    split_req.validate()
    if task.grouped:
        _check_grouped_split(req, task, split_req)
    roles = _checked_roles(req, frame, split_req)
    excluded: dict[str, str] = {}
    for flag, named in (("--exclude", req.exclude), ("--features", req.features or ())):
        for col in named:
            if col not in frame.columns:
                raise InvalidInputError(
                    f"{req.path}: {flag} names {col!r}, which is not a column; columns are: "
                    + ", ".join(frame.columns[:20])
                    + (" ..." if frame.width > 20 else "")
                )
            if col == target:
                raise InvalidInputError(f"{req.path}: {flag} names the target {col!r}")
    if req.features is not None:
        for col in frame.columns:
            if col != target and col not in req.features:
                excluded.setdefault(col, "not in the feature list chosen by the user (--features)")
    for col in req.exclude:
        excluded[col] = "left out by the user (--exclude)"
    schema = build_schema(
        frame, facts, target, set(generated), excluded, roles, split_req.group_column
    )
    # Free text is an input too: the text templates train on it.
    if not any(c.role in ("feature", "text") for c in schema):
        raise InvalidInputError(f"{req.path}: {no_feature_reason(schema)}")
    warnings = [DataWarning("parse", w) for w in parse_warnings]
    if all(_looks_numeric(c) for c in frame.columns):
        warnings.insert(
            0,
            DataWarning(
                "header_looks_like_data",
                f"every column name is a number ({', '.join(frame.columns[:5])}"
                f"{' ...' if frame.width > 5 else ''}): does the file lack a header row? "
                "Its first line was read as column names",
            ),
        )
    for name in generated:
        warnings.append(
            DataWarning(
                "generated_column_name",
                f"a column had an empty header and was named {name!r} (as a pandas index "
                "written to CSV has)",
                name,
            )
        )
    present = frame[target].is_not_null().to_numpy()
    usable = np.flatnonzero(present)
    dropped = frame.height - usable.size
    if dropped:
        first = ", ".join(str(int(i) + 1) for i in np.flatnonzero(~present)[:5])
        warnings.append(
            DataWarning(
                "dropped_missing_target",
                f"{dropped} rows whose target {target!r} is missing are left out of train "
                f"and test (data rows {first}{' ...' if dropped > 5 else ''})",
                target,
            )
        )
    progress("profiling")
    row_hash = row_hashes(frame)
    # The split needs nothing from the profile: it is drawn meanwhile, and its
    # single-threaded steps use the core that the profile's last steps leave idle.
    with ThreadPoolExecutor(max_workers=1) as pool:
        drawn = pool.submit(
            _split_rows, req, frame, schema, task, split_req, usable, n_train, row_hash
        )
        profile = profile_frame(frame, schema, facts, target, task, dropped, warnings, row_hash)
        progress("splitting")
        split, split_info = drawn.result()
    if split.test.size < SMALL_TEST_SPLIT:
        # Not refused (a smoke test on a tiny file is legitimate), but never silent.
        small = DataWarning(
            "small_test_split",
            f"the test split has only {split.test.size} row(s): metrics will swing from "
            f"row to row and confidence intervals will be wide or missing; aim for "
            f"{SMALL_TEST_SPLIT} or more test rows",
        )
        profile = msgspec.structs.replace(profile, warnings=[*profile.warnings, small])
    diff = (
        diff_schemas(previous, schema, previous_version) if previous and previous_version else None
    )
    fields: dict[str, object] = {
        "task": task.name,
        "rows": frame.height,
        "columns": frame.width,
        "feature_columns": [c.name for c in schema if c.role == "feature"],
        "profile": profile,
        "schema_diff": diff,
    }
    return Prepared(frame, schema, split, split_info, fields)


def _check_grouped_split(req: AddRequest, task: TaskType, split_req: SplitRequest) -> None:
    """A task whose units are groups of rows (a query's documents) is split by group.

    A query whose documents sat on both sides would be ranked at test time by a model that
    learned from its other documents' labels: a leak no metric would show.
    """
    if split_req.group_column is None or split_req.strategy not in (
        SplitStrategy.GROUP,
        SplitStrategy.PREDEFINED,
    ):
        raise InvalidInputError(
            f"{req.path}: task {task.name!r} scores each {task.unit} as a group of rows, so "
            f"the split must keep every {task.unit} on one side: add --split group "
            f"--group-column COLUMN (the column holding each row's {task.unit} id)"
        )


def _checked_roles(
    req: AddRequest, frame: pl.DataFrame, split_req: SplitRequest
) -> dict[str, ColumnRole]:
    """The user's roles, checked against the columns, with the split's group column
    as a ``group``.

    :raises InvalidInputError: a role names a missing column or the target, gives
        another column the target role, or contradicts --exclude or the split.
    """
    roles = dict(req.roles)
    for col, role in sorted(roles.items()):
        if col not in frame.columns:
            raise InvalidInputError(
                f"{req.path}: --role names {col!r}, which is not a column; columns are: "
                + ", ".join(frame.columns[:20])
                + (" ..." if frame.width > 20 else "")
            )
        if col == req.target:
            raise InvalidInputError(f"{req.path}: --role names the target {col!r}")
        if role is ColumnRole.TARGET:
            raise InvalidInputError(
                f"{req.path}: --role {col}=target: the target is --target ({req.target!r})"
            )
        if col in req.exclude and role is not ColumnRole.EXCLUDED:
            raise InvalidInputError(f"{req.path}: {col!r} has --role {role} and --exclude")
    group = split_req.group_column
    if group and roles.setdefault(group, ColumnRole.GROUP) is not ColumnRole.GROUP:
        raise InvalidInputError(
            f"{req.path}: {group!r} is the split's --group-column, so its role is "
            f"group, not {roles[group]}"
        )
    return roles


def _split_rows(
    req: AddRequest,
    frame: pl.DataFrame,
    schema: list[ColumnSchema],
    task: TaskType,
    split_req: SplitRequest,
    usable: np.ndarray,
    n_train: int | None,
    row_hash: pl.Series,
) -> tuple[Split, SplitInfo]:
    """The version's train/test split of the ``usable`` rows, and its description.

    ``row_hash`` is :func:`row_hashes` of ``frame``.
    """
    target = req.target
    duplicates: DuplicateRecords | None = None
    if n_train is not None:
        split = Split(usable[usable < n_train], usable[usable >= n_train])
        if split.train.size == 0 or split.test.size == 0:
            raise InvalidInputError(f"{req.path}: the train or test file has no row with a target")
    else:
        codes = None
        if split_req.strategy in (SplitStrategy.RANDOM, SplitStrategy.STRATIFIED):
            # A record is what a model reads: its features and its free text.
            records = [*(c.name for c in schema if c.role in ("feature", "text")), target]
            # The profile's hash covers every column: it describes the records only
            # when they are made of every column.
            same = len(records) == frame.width
            codes, duplicates = duplicate_records(
                frame, records, usable, row_hash if same else None
            )
        split = make_split(frame, target, task, split_req, usable, codes)
    if task.grouped and split_req.group_column is not None:
        shared = groups_on_both_sides(frame[split_req.group_column], split)
        if shared:
            raise InvalidInputError(
                f"{req.path}: {len(shared)} {task.unit}(s) of --group-column "
                f"{split_req.group_column!r} have rows in both the train and the test file "
                f"(first: {', '.join(map(repr, shared[:5]))}); each {task.unit} must be on "
                "one side only"
            )
    split_info = describe_split(frame, split, target, task, split_req, duplicates)
    if task.check_train is not None:
        reason = task.check_train(frame[target].gather(split.train))
        if reason is not None:
            raise InvalidInputError(f"{req.path}: {reason}")
    return split, split_info


def _looks_numeric(name: str) -> bool:
    try:
        float(name)
    except ValueError:
        return False
    return True


#: below this many test rows a dataset version carries a small_test_split warning
SMALL_TEST_SPLIT = 30


def _same_request(existing: DatasetVersion, req: AddRequest) -> str | None:
    """Why ``req`` cannot reuse ``existing`` (same bytes), or None when it can."""
    s = existing.split
    if existing.target != req.target:
        return f"target {existing.target!r}"
    had_left_out = {
        c.name
        for c in existing.schema
        if c.excluded_reason is not None and "by the user" in c.excluded_reason
    }
    want_left_out = {
        c.name
        for c in existing.schema
        if c.name != existing.target
        and (c.name in req.exclude or (req.features is not None and c.name not in req.features))
    }
    if had_left_out != want_left_out:
        left_out = ", ".join(sorted(had_left_out)) or "none"
        return (
            f"other columns left out by the user ({left_out}); leave columns out of one run "
            "with modellab run --exclude"
        )
    if req.task and req.task != existing.task:
        return f"task {existing.task}"
    if dict(req.roles) != dict(existing.provenance.roles):
        chosen = ", ".join(f"{c}={r}" for c, r in sorted(existing.provenance.roles.items()))
        return f"other column roles ({chosen or 'none chosen'})"
    if s.strategy is SplitStrategy.PREDEFINED:
        return None
    wanted = (
        req.split.strategy,
        req.split.test_size,
        req.split.seed,
        req.split.time_column,
        req.split.group_column,
    )
    have = (s.strategy, s.test_size, s.seed, s.time_column, s.group_column)
    if wanted != have:
        return (
            f"split {s.strategy.value} (test size {s.test_size}, seed {s.seed}"
            + (f", time column {s.time_column!r}" if s.time_column else "")
            + (f", group column {s.group_column!r}" if s.group_column else "")
            + ")"
        )
    return None


def _install(prepared: Prepared, staging_dir: Path, final: Path) -> list[Path]:
    """Move staged files into the content-addressed folder; return what this call created."""
    created: list[Path] = []
    split_file = split_path(staging_dir, prepared.split.checksum)
    split_file.parent.mkdir(parents=True, exist_ok=True)
    save_split(prepared.split, split_file)
    if not final.exists():
        try:
            staging_dir.rename(final)
            return [final]
        except OSError:
            if not final.exists():
                raise
    # The same bytes are stored already (another dataset name, or a concurrent add):
    # only the split may be new.
    target = split_path(final, prepared.split.checksum)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        split_file.replace(target)
        created.append(target)
    return created


def _remove(paths: list[Path]) -> None:
    for p in paths:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


async def _stage_and_parse(
    path: Path,
    staging_dir: Path,
    settings: Settings,
    report: Progress,
    task_types: Mapping[str, TaskType],
) -> tuple[Staged, ParsedTable | None, tuple[TaskType, SourceFormat] | None]:
    """Stage (copy + checksum) the source; a single file is parsed at the same time, a
    folder in a source format's layout read through it.

    Both passes read the same bytes from the page cache and release the GIL, so on
    two cores the checksum costs almost nothing. A file that changes meanwhile is
    refused, since its checksum would not describe what was parsed.
    """
    if not path.is_file():
        found = await asyncio.to_thread(find_format, task_types, path)
        if found is not None:
            staged = await asyncio.to_thread(
                stage_formatted, path, found[1], staging_dir, settings.max_upload_bytes, report
            )
            return staged, None, found
        staged = await asyncio.to_thread(
            stage_source, path, staging_dir, settings.max_upload_bytes, report
        )
        return staged, None, None
    reading.check_size(path, settings.max_upload_bytes)
    before = path.stat()
    results = await asyncio.gather(
        asyncio.to_thread(stage_source, path, staging_dir, settings.max_upload_bytes, report),
        asyncio.to_thread(parse_file, path),
        return_exceptions=True,
    )
    staged_or_error, parsed = results
    if isinstance(
        staged_or_error, BaseException
    ):  # staging's error (binary content...) explains more
        raise staged_or_error
    if isinstance(parsed, BaseException):
        raise parsed
    after = path.stat()
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        raise InvalidInputError(f"{path}: the file changed while it was being read; try again")
    return staged_or_error, parsed, None


async def add_dataset(
    db: Database,
    settings: Settings,
    task_types: Mapping[str, TaskType],
    req: AddRequest,
    progress: Progress | None = None,
) -> AddResult:
    """Add a dataset version from a file or folder, or return the one with the same bytes.

    ``task_types`` are the installed ones (``Registry.task_types``): the request's task
    must be one of them, and without one the target's values choose.

    The same bytes return the same version, also to adds of them that ran at the same
    time as the one that stored them.

    :raises InvalidInputError: naming the file, line, column or field at fault.
    :raises ConflictError: the same bytes are stored under this name with another
        target or split.
    :raises DiskFullError: the artifact root filled up; nothing was kept.
    """
    with disk_full_as(f"dataset {req.name!r}"):
        return await _add_dataset(db, settings, task_types, req, progress or reading.no_progress)


def _reuse(existing: DatasetVersion, req: AddRequest) -> AddResult:
    """The stored version holding ``req``'s bytes, unless ``req`` asks for another one."""
    why = _same_request(existing, req)
    if why:
        raise ConflictError(
            f"{existing.ref} already holds these bytes with {why}; a version's "
            "target and split are fixed, so add the file under another name to "
            "split it differently"
        )
    return AddResult(existing, created=False)


async def _insert_unless_stored(
    db: Database, version: DatasetVersion, project: ProjectRow
) -> DatasetVersion | None:
    """Insert ``version``, unless its name holds its bytes by now: then return that one.

    An identical add that committed first is found either by the lookup here or, when
    it commits just after it, by the version number it took (both read the same latest
    version); another add's version number taken meanwhile stays a ConflictError.
    """
    try:
        async with db.session() as session:
            existing = await repo.find_by_checksum(
                session, project.id, version.name, version.checksum
            )
            if existing is None:
                await repo.insert_version(session, version, project.id)
                return None
            return await repo.to_domain(session, existing, project.slug)
    except ConflictError:
        async with db.session() as session:
            existing = await repo.find_by_checksum(
                session, project.id, version.name, version.checksum
            )
            if existing is None:
                raise
            return await repo.to_domain(session, existing, project.slug)


async def _add_dataset(
    db: Database,
    settings: Settings,
    task_types: Mapping[str, TaskType],
    req: AddRequest,
    report: Progress,
) -> AddResult:
    check_name(req.name)
    req.split.validate()
    async with db.session() as session:
        project = await get_project_row(session, req.project, Role.EDITOR)
    root = datasets_root(settings.artifact_root, project.slug)
    root.mkdir(parents=True, exist_ok=True)
    staging_dir = root / f".staging-{uuid7()}"
    created: list[Path] = []
    try:
        staged, parsed, found = await _stage_and_parse(
            req.path, staging_dir, settings, report, task_types
        )
        if found is not None:
            req = _formatted_request(req, found[0], found[1], staged)
        async with db.session() as session:
            existing = await repo.find_by_checksum(session, project.id, req.name, staged.checksum)
            if existing is not None:
                return _reuse(await repo.to_domain(session, existing, project.slug), req)
            previous = await repo.latest_version(session, project.id, req.name)
            prev_schema = (
                (await repo.to_domain(session, previous, project.slug)).schema if previous else None
            )
        prepared = await asyncio.to_thread(
            prepare,
            task_types,
            staged,
            req,
            staging_dir / "data.parquet",
            prev_schema,
            previous.version if previous else None,
            report,
            parsed,
        )
        final = dataset_dir(settings.artifact_root, project.slug, staged.checksum)
        created = await asyncio.to_thread(_install, prepared, staging_dir, final)
        notes = [Note(created_at=utcnow(), text=req.notes)] if req.notes else []
        version = DatasetVersion(
            id=uuid7(),
            project=project.slug,
            name=req.name,
            version=(previous.version + 1) if previous else 1,
            checksum=staged.checksum,
            target=req.target,
            schema=prepared.schema,
            split=prepared.split_info,
            provenance=Provenance(
                kind=staged.provenance.kind,
                original_name=staged.provenance.original_name,
                files=staged.provenance.files,
                format=staged.provenance.format,
                source=req.source,
                roles=dict(sorted(req.roles.items())),
            ),
            created_at=utcnow(),
            notes=notes,
            **prepared.version_fields,  # type: ignore[arg-type]
        )
        stored = await _insert_unless_stored(db, version, project)
        if stored is not None:
            # An identical add ran at the same time and stored these bytes first: their
            # content-addressed folder is that version's now. Answer as if it had come
            # first (and had been found above).
            created = [p for p in created if p != final]
            return _reuse(stored, req)
        created = []  # committed: the files now belong to the version
        return AddResult(version, created=True)
    finally:
        _remove(created)
        if staging_dir.exists():
            shutil.rmtree(staging_dir, ignore_errors=True)


async def get_dataset(db: Database, ref: str) -> DatasetVersion:
    """The dataset version named by ``project/name[@version]`` (newest when no version)."""
    slug, name, version = parse_ref(ref)
    async with db.session() as session:
        project = await get_project_row(session, slug)
        row = await repo.get_version_row(session, project, name, version)
        return await repo.to_domain(session, row, project.slug)


async def list_datasets(db: Database, project: str) -> list[DatasetVersion]:
    """Every version of every dataset in ``project``."""
    async with db.session() as session:
        prow = await get_project_row(session, project)
        rows = await repo.list_versions(session, prow)
        return [await repo.to_domain(session, r, prow.slug) for r in rows]


async def add_note(db: Database, ref: str, text: str) -> DatasetVersion:
    """Append a timestamped note to a dataset version; return the version with its notes."""
    text = text.strip()
    if not text:
        raise InvalidInputError("a note needs some text")
    slug, name, version = parse_ref(ref)
    async with db.session() as session:
        project = await get_project_row(session, slug, Role.EDITOR)
        row = await repo.get_version_row(session, project, name, version)
        await repo.append_note(session, row.id, text)
        await session.flush()
        return await repo.to_domain(session, row, project.slug)


async def diff_versions(
    db: Database, project: str, name: str, before: int, after: int
) -> SchemaDiff:
    """How the schema of dataset ``name`` changed from version ``before`` to ``after``."""
    older = await get_dataset(db, f"{project}/{name}@{before}")
    newer = await get_dataset(db, f"{project}/{name}@{after}")
    return diff_schemas(older.schema, newer.schema, older.version)
