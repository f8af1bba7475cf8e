"""A run's artifact folder: ``<artifact_root>/<project_slug>/<run_id>/``.

Files are written to a temporary name and renamed, so a killed run never leaves a
half-written file that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import msgspec

from modellab.errors import InvalidInputError
from modellab.projects import check_slug

RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")


def run_dir(artifact_root: Path, project_slug: str, run_id: str) -> Path:
    """The folder of one run; only a validated slug and a UUIDv7 build the path."""
    if not RUN_ID.match(run_id):
        raise InvalidInputError(f"not a run id: {run_id!r}")
    return artifact_root / check_slug(project_slug) / run_id


#: Longest part and whole relative path accepted (ext4 and most others stop at 255 bytes a
#: name; a temporary sibling adds about 40).
MAX_NAME_BYTES = 200
MAX_PATH_BYTES = 1024


def is_plain_relative(path: str) -> bool:
    """Whether ``path`` is ``name/name/...`` of plain names inside a run's folder.

    Refused: absolute paths, empty, ``.`` and ``..`` parts, hidden (temporary) names,
    backslashes, NUL, ``#``, ``;``, ``%`` and ``:``, and names longer than a file system
    keeps (MAX_NAME_BYTES a part, MAX_PATH_BYTES in all, leaving room for the temp
    name). Uploads and downloads both check this, so a path one accepts the other serves.
    """
    if not path or path.startswith("/") or any(c in path for c in "\\\x00#;%:"):
        return False
    if len(path.encode()) > MAX_PATH_BYTES:
        return False
    return all(
        p not in ("", ".", "..") and not p.startswith(".") and len(p.encode()) <= MAX_NAME_BYTES
        for p in path.split("/")
    )


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    On failure (a full disk) ``path`` keeps its old content and no temporary file stays.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON with sorted keys and a trailing newline."""
    # to_builtins turns Structs, datetimes and enums into JSON values; json sorts keys.
    text = json.dumps(msgspec.to_builtins(obj), indent=2, sort_keys=True, ensure_ascii=False)
    write_bytes_atomic(path, text.encode() + b"\n")


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a fully written folder into place, replacing an older one."""
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)


def visible_files(folder: Path) -> list[tuple[str, Path]]:
    """``(relative posix path, path)`` of every file under ``folder``, sorted; files whose
    name starts with a dot (temporary names while writing) are left out."""
    return [
        (p.relative_to(folder).as_posix(), p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    ]


def sha256_of(path: Path) -> str:
    """The sha256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every visible file under ``folder``, by relative path."""
    return {rel: sha256_of(p) for rel, p in visible_files(folder)}
