"""Every command the README shows is run here, in order, against a fresh home."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import REPO, Env

# The test command is this very suite; running it from inside itself would recurse. The
# demo is run, twice, by tests/test_demo.py (test_the_demo_is_run_by_its_own_test checks).
NOT_RUN_HERE = {"uv run pytest", "uv run modellab demo"}


def readme_commands() -> list[list[str]]:
    """The README's commands, in groups that each start at ``project create``: a group
    builds on its own earlier commands only, so each runs in a home of its own."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    commands = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    groups: list[list[str]] = []
    for c in commands:
        if c in NOT_RUN_HERE:
            continue
        if not groups or c.startswith("uv run modellab project create"):
            groups.append([])
        groups[-1].append(c)
    return groups


def _group_id(group: list[str]) -> str:
    return (
        group[0].split()[-1] if group[0].startswith("uv run modellab project create") else "first"
    )


def test_readme_starts_with_the_two_commands() -> None:
    text = (REPO / "README.md").read_text()
    first = re.search(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    assert first is not None
    assert first.group(1).split() == ["uv", "run", "modellab", "demo", "uv", "run", "pytest"]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    lines = [ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()]
    assert "uv run pytest" in lines


def test_the_demo_is_run_by_its_own_test() -> None:
    assert 'ml.run("demo")' in (REPO / "tests" / "test_demo.py").read_text()


def test_the_readme_has_its_command_groups() -> None:
    groups = readme_commands()
    assert [_group_id(g) for g in groups] == ["churn", "search", "support"]
    assert sum(len(g) for g in groups) >= 14


@pytest.mark.parametrize("group", readme_commands(), ids=_group_id)
def test_every_readme_command_runs(
    group: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    for command in group:
        argv = shlex.split(command)
        assert argv[:3] == ["uv", "run", "modellab"], f"README shows an untested command: {command}"
        result = runner.run(*argv[3:])
        assert result.stdout.strip(), f"{command} printed nothing"
        if argv[3] == "reproduce":
            assert result.stdout.startswith("REPRODUCED"), result.stdout
    if _group_id(group) == "churn":
        assert "churn/penguins@1" in runner.run("dataset", "list", "churn").stdout
        assert (tmp_path / "churn-xgboost.tar.gz").exists()
