"""Deterministic serialization and the atomic write of the eval/ folder."""

from __future__ import annotations

import math
import shutil
import uuid
from pathlib import Path
from typing import Any

import msgspec

SIGNIFICANT_DIGITS = 12


def clean_float(x: float | None) -> float | None:
    """Round to 12 significant digits so platform noise never reaches the files; NaN -> None."""
    if x is None:
        return None
    xf = float(x)
    if math.isnan(xf) or math.isinf(xf):
        return None
    return float(f"{xf:.{SIGNIFICANT_DIGITS}g}")


def _round_floats(obj: Any) -> Any:
    if isinstance(obj, float):
        return clean_float(obj)
    if isinstance(obj, dict):
        return {k: _round_floats(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_round_floats(v) for v in obj]
    return obj


def encode_json(obj: Any) -> bytes:
    """Sorted keys, 12-significant-digit floats, two-space indent, trailing newline."""
    plain = _round_floats(msgspec.to_builtins(obj))
    encoded = msgspec.json.encode(plain, order="sorted")
    return msgspec.json.format(encoded, indent=2) + b"\n"


def write_folder_atomically(out_dir: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (relative path -> bytes) into a temp folder beside ``out_dir``, then
    swap it in, so readers see the old folder or the new one, never a mix."""
    out_dir = Path(out_dir)
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    tmp = parent / f".{out_dir.name}.tmp-{token}"
    old = parent / f".{out_dir.name}.old-{token}"
    tmp.mkdir()
    try:
        for rel, data in sorted(files.items()):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if out_dir.exists():
            out_dir.rename(old)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out_dir.exists():
            old.rename(out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
