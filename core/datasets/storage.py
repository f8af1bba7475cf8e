"""Where a dataset version's files live, and loading them back.

``<artifact_root>/<project_slug>/datasets/<sha256>/`` holds ``source/`` (the original
bytes), ``data.parquet`` (the parsed table), ``attachments/<name>.parquet`` (the tables a
source format stores beside it: a collection's documents) and
``splits/<split_sha256>.npz``. The folder is content-addressed: only validated slugs and
hex digests build its path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from modellab.datasets.splits import Split, load_split
from modellab.domain import DatasetVersion
from modellab.errors import InvalidInputError, NotFoundError
from modellab.projects import check_slug

HEX64 = re.compile(r"^[0-9a-f]{64}\Z")


def _hex(value: str) -> str:
    if not HEX64.match(value):
        raise InvalidInputError(f"not a sha256 hex digest: {value!r}")
    return value


def datasets_root(artifact_root: Path, project_slug: str) -> Path:
    """The folder holding every dataset of a project."""
    return artifact_root / check_slug(project_slug) / "datasets"


def dataset_dir(artifact_root: Path, project_slug: str, checksum: str) -> Path:
    """The content-addressed folder of one dataset's bytes."""
    return datasets_root(artifact_root, project_slug) / _hex(checksum)


def source_name(sha256: str, relpath: str) -> str:
    """The name of an original file inside ``source/``: its digest and kind."""
    return f"{_hex(sha256)}{'.parquet' if relpath.lower().endswith('.parquet') else '.csv'}"


#: a stored attachment's name: what a source format may call the tables it adds
ATTACHMENT = re.compile(r"^[a-z][a-z0-9_]{0,39}\Z")


def attachment_path(folder: Path, name: str) -> Path:
    """The Parquet file of the attachment ``name`` inside a dataset folder."""
    if not ATTACHMENT.match(name):
        raise InvalidInputError(f"not an attachment name: {name!r}")
    return folder / "attachments" / f"{name}.parquet"


@dataclass(frozen=True)
class Attachments:
    """The attachments of one dataset version (a collection's ``documents``), read on
    demand: a run's train and test frames carry them as ``frame.attrs[ATTACHMENTS]``
    (:data:`modellab.tasks.ATTACHMENTS`), cheap to copy with the frames."""

    ref: str
    folder: Path
    names: tuple[str, ...]

    def load(self, name: str) -> pl.DataFrame:
        """The attachment ``name``."""
        if name not in self.names:
            held = ", ".join(self.names) or "none"
            raise NotFoundError(f"dataset {self.ref} has no attachment {name!r} (it has: {held})")
        path = attachment_path(self.folder, name)
        if not path.exists():
            raise NotFoundError(f"dataset {self.ref}: {path} is missing from the artifact root")
        return pl.read_parquet(path)


def attachments_of(artifact_root: Path, version: DatasetVersion) -> Attachments:
    """What ``version`` stores beside its rows (no names for a plain table)."""
    source = version.profile.source
    return Attachments(
        version.ref,
        dataset_dir(artifact_root, version.project, version.checksum),
        tuple(source.attachments) if source is not None else (),
    )


def split_path(folder: Path, split_checksum: str) -> Path:
    """The ``.npz`` file of one split inside a dataset folder."""
    return folder / "splits" / f"{_hex(split_checksum)}.npz"


def load_frame(artifact_root: Path, version: DatasetVersion) -> pl.DataFrame:
    """The parsed table of ``version`` (every row, including those without a target)."""
    path = dataset_dir(artifact_root, version.project, version.checksum) / "data.parquet"
    if not path.exists():
        raise NotFoundError(f"dataset {version.ref}: {path} is missing from the artifact root")
    return pl.read_parquet(path)


def load_version_split(artifact_root: Path, version: DatasetVersion) -> Split:
    """The materialized train/test positions of ``version``."""
    folder = dataset_dir(artifact_root, version.project, version.checksum)
    path = split_path(folder, version.split.checksum)
    if not path.exists():
        raise NotFoundError(f"dataset {version.ref}: split file {path} is missing")
    return load_split(path)
