"""The CLI starts without importing the store, the data stack or the server.

``modellab --help`` (and every group's ``--help``) should cost Python's start-up plus
click, not SQLAlchemy, Alembic, polars or scikit-learn: commands import those when they
need them. Checked through ``sys.modules`` in a fresh interpreter, so the test does not
depend on how fast this machine is (benchmarks/cli_startup.py times it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

HEAVY = (
    "sqlalchemy",
    "alembic",
    "polars",
    "pandas",
    "numpy",
    "sklearn",
    "xgboost",
    "matplotlib",
    "litestar",
    "uvicorn",
)

# Prints, as JSON, the heavy top-level packages imported after `import modellab.cli` and
# after `modellab ARGS --help` (argv[1:] are ARGS).
PROBE = """
import json, sys
heavy = set(json.loads(sys.argv[1]))
loaded = lambda: sorted({m.split(".")[0] for m in sys.modules} & heavy)
import modellab.cli
after_import = loaded()
try:
    modellab.cli.cli.main([*sys.argv[2:], "--help"], prog_name="modellab", standalone_mode=False)
finally:
    sys.stdout.flush()
print("\\n" + json.dumps({"import": after_import, "help": loaded()}))
"""


def heavy_imports(*args: str) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize(
    "args", [(), ("runs",), ("run",), ("dataset",), ("dataset", "add"), ("serve",), ("token",)]
)
def test_help_imports_no_heavy_module(args: tuple[str, ...]) -> None:
    assert heavy_imports(*args) == {"import": [], "help": []}


def test_a_command_on_a_database_at_head_imports_no_alembic(tmp_path: Path) -> None:
    env = dict(os.environ) | {
        "MODELLAB_HOME": str(tmp_path / "home"),
        "MODELLAB_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
    }
    for name in ("MODELLAB_DATABASE_URL", "MODELLAB_MIGRATION_DATABASE_URL", "MODELLAB_TOKEN"):
        env.pop(name, None)
    code = (
        "import sys\nfrom modellab.cli import cli\n"
        "try:\n    cli.main(sys.argv[1:], prog_name='modellab')\nexcept SystemExit:\n    pass\n"
        "print('alembic' in sys.modules)\n"
    )

    def alembic_imported(*args: str) -> bool:
        result = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1] == "True"

    # The first command migrates the new database; the next find it at head.
    assert alembic_imported("project", "create", "P", "--slug", "p")
    assert not alembic_imported("runs", "--project", "p")
