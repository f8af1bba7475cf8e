"""``evalharness`` command line: validate an eval/ folder, export the JSON Schemas."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from evalharness.schemas.export import SCHEMA_DIR, export_schemas
from evalharness.schemas.validate import validate_folder


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="evalharness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check an eval/ folder against the contract")
    v.add_argument("folder", type=Path)
    e = sub.add_parser("export-schemas", help="write the JSON Schema files")
    e.add_argument("target", type=Path, nargs="?", default=SCHEMA_DIR)
    args = parser.parse_args(argv)
    if args.command == "validate":
        problems = validate_folder(args.folder)
        if problems:
            for p in problems:
                print(f"violation: {p}", file=sys.stderr)
            print(f"{len(problems)} violation(s) in {args.folder}", file=sys.stderr)
            return 1
        print(f"ok: {args.folder} satisfies the EvalHarness contract")
        return 0
    for path in export_schemas(args.target):
        print(path.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
