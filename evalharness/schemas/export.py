"""Export the committed JSON Schema files from the msgspec Structs."""

from __future__ import annotations

from pathlib import Path

import msgspec

from evalharness.schemas.files import FILE_TYPES, TASK_FILE_TYPES

#: every contract file with a schema: the shared ones and the tasks' own
ALL_FILE_TYPES = {**FILE_TYPES, **TASK_FILE_TYPES}

SCHEMA_DIR = Path(__file__).resolve().parent


def schema_file_name(json_name: str) -> str:
    """``metrics.json`` -> ``metrics.schema.json``."""
    return json_name.removesuffix(".json") + ".schema.json"


def schema_bytes(json_name: str) -> bytes:
    """The JSON Schema of one contract file, formatted deterministically."""
    schema = msgspec.json.schema(ALL_FILE_TYPES[json_name])
    encoded = msgspec.json.encode(schema, order="sorted")
    return msgspec.json.format(encoded, indent=2) + b"\n"


def export_schemas(target: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file into ``target``; returns the written paths."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(ALL_FILE_TYPES):
        path = target / schema_file_name(name)
        path.write_bytes(schema_bytes(name))
        written.append(path)
    return written
