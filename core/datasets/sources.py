"""Source formats: datasets that arrive in their own layout, not as one table.

A retrieval collection is a corpus, queries and judgments in TREC or BEIR files. The
task type that knows such a layout (``TaskType.source_formats``) reads it into the one
table every dataset version is made of (here: one row per judgment) plus the tables
stored beside it (the documents), and profiles what the table does not show. Ingest
stages, checksums, splits and versions the result like any table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from modellab.domain import ColumnRole, SourceProfile
from modellab.errors import InvalidInputError

if TYPE_CHECKING:
    import polars as pl

    from modellab.tasks import TaskType


@dataclass(frozen=True)
class SourceTables:
    """What a source format read from a folder."""

    #: the version's rows (a collection: one per judgment, with the query's text)
    table: pl.DataFrame
    #: tables stored beside the rows, by name (``documents``); models of the task read them
    attachments: Mapping[str, pl.DataFrame]
    profile: SourceProfile
    #: the first ``train_rows`` rows are the source's own train split (None: no split)
    train_rows: int | None = None
    #: facts worth a warning (judged documents the corpus lacks), in words
    warnings: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class SourceFormat:
    """A folder layout a task type reads (``trec``: documents, topics and qrels files)."""

    name: str
    description: str
    #: the table's target column, and the column grouping its rows into units
    target: str
    group_column: str
    #: ``matches(relpaths) -> bool``: whether a folder holding these files (paths relative
    #: to it, ``/``-separated, sorted) is in this layout
    matches: Callable[[Sequence[str]], bool]
    #: ``read(root, files) -> SourceTables``: ``files`` maps each relative path to the
    #: file to read; errors are InvalidInputError naming ``root / relpath`` and the line
    read: Callable[[Path, Mapping[str, Path]], SourceTables]
    #: the roles of the table's columns (the query text is a feature, the document id
    #: the item); the user's ``--role`` choices win
    roles: Mapping[str, ColumnRole] = field(default_factory=dict)


def read_source(fmt: SourceFormat, root: Path, files: Mapping[str, Path]) -> SourceTables:
    """Read ``files`` (relative path -> staged file) through ``fmt``; the profile names
    the format and the attachments it stored."""
    tables = fmt.read(root, files)
    profile = msgspec.structs.replace(
        tables.profile,
        format=fmt.name,
        description=fmt.description,
        attachments=sorted(tables.attachments),
    )
    return replace(tables, profile=profile)


def folder_files(path: Path) -> list[str]:
    """The relative paths of a folder's files, hidden ones left out, sorted."""
    return sorted(
        p.relative_to(path).as_posix()
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )


def find_format(
    task_types: Mapping[str, TaskType], path: Path
) -> tuple[TaskType, SourceFormat] | None:
    """The task type and source format whose layout the folder ``path`` is in, or None
    (a file, or a folder of CSV and Parquet tables).

    :raises InvalidInputError: two installed formats claim the folder.
    """
    if not path.is_dir():
        return None
    relpaths = folder_files(path)
    found = [
        (task, fmt)
        for task in sorted(task_types.values(), key=lambda t: t.name)
        for fmt in task.source_formats
        if fmt.matches(relpaths)
    ]
    if len(found) > 1:
        names = ", ".join(f"{f.name} ({t.name})" for t, f in found)
        raise InvalidInputError(
            f"{path}: the folder's layout fits more than one source format: {names}"
        )
    return found[0] if found else None
