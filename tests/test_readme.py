"""Every command the README shows is run here, in order, against a fresh home."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import REPO, Env

# The test command is this very suite; running it from inside itself would recurse.
NOT_RUN_HERE = {"uv run pytest"}


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    commands = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    return [c for c in commands if c not in NOT_RUN_HERE]


def test_readme_starts_with_the_two_commands() -> None:
    text = (REPO / "README.md").read_text()
    first = re.search(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    assert first is not None
    assert first.group(1).split() == ["uv", "run", "modellab", "demo", "uv", "run", "pytest"]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    lines = [ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()]
    assert "uv run pytest" in lines


def test_every_readme_command_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Run where the README says (the repository root, for core/demo_data/... and
    # plugins/...), but let files the commands write land in the temporary folder.
    (tmp_path / "core").symlink_to(REPO / "core")
    (tmp_path / "plugins").symlink_to(REPO / "plugins")
    monkeypatch.chdir(tmp_path)
    env = {
        "MODELLAB_HOME": str(tmp_path / "home"),
        "MODELLAB_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = Env(tmp_path / "home", tmp_path / "artifacts", env)
    commands = readme_commands()
    assert len(commands) >= 14
    for command in commands:
        argv = shlex.split(command)
        assert argv[:3] == ["uv", "run", "modellab"], f"README shows an untested command: {command}"
        result = runner.run(*argv[3:])
        assert result.stdout.strip(), f"{command} printed nothing"
        if argv[3] == "reproduce":
            assert result.stdout.startswith("REPRODUCED"), result.stdout
    assert "churn/penguins@1" in runner.run("dataset", "list", "churn").stdout
    assert (tmp_path / "churn-xgboost.tar.gz").exists()
