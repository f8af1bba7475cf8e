"""A tracked run's files as MLflow's artifact calls see them: the ``files/`` folder of
the run, where ``log_artifact`` puts them and the run page lists them."""

from __future__ import annotations

from pathlib import Path

import msgspec

from modellab.errors import NotFoundError
from modellab.mlflow.runs import project_run
from modellab.runs.artifacts import is_plain_relative, run_dir
from modellab.settings import Settings
from modellab.store.database import Database

FILES = "files"


class FileInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """One entry of an artifact folder, as MLflow lists it (the name within the folder)."""

    path: str
    is_dir: bool
    file_size: int | None = None


def split_artifact_path(path: str) -> tuple[str, str]:
    """``RUN_ID/REST`` (the path under an ``mlflow-artifacts:/RUN_ID`` URI) as its two parts."""
    run_id, _, rest = path.strip("/").partition("/")
    if not run_id:
        raise NotFoundError("an artifact path starts with the run id")
    return run_id, rest.strip("/")


async def files_folder(db: Database, settings: Settings, project: str, run_id: str) -> Path:
    """The folder of run ``run_id``'s logged files (it may not exist yet)."""
    async with db.session() as session:
        row, proj = await project_run(session, project, run_id)
    return run_dir(settings.artifact_root, proj.slug, row.id) / FILES


async def list_artifacts(
    db: Database, settings: Settings, project: str, run_id: str, path: str
) -> list[FileInfo]:
    """The entries of folder ``path`` of a run's files, by name (none: no such folder)."""
    root = await files_folder(db, settings, project, run_id)
    if path and not is_plain_relative(path):
        return []
    folder = root / path if path else root
    if not folder.is_dir() or folder.is_symlink():
        return []
    entries = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith(".") or child.is_symlink():
            continue
        if child.is_dir():
            entries.append(FileInfo(child.name, True))
        else:
            entries.append(FileInfo(child.name, False, child.stat().st_size))
    return entries
