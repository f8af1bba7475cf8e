"""docs/mlflow.md's switch for an existing script, run as the page says, with the real
client against a live server."""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

import httpx
import pytest

from modellab.settings import Settings
from tests.conftest import REPO, Env
from tests.mlflow.test_client import commit_all, run_script
from tests.mlflow.test_import import stored_run
from tests.server.conftest import seed_project

DOC = REPO / "docs" / "mlflow.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_two_line_switch_logs_an_unchanged_script(
    live: tuple[str, Settings], tmp_path: Path
) -> None:
    url, _ = live
    # The script in a git checkout of its own (the client reads the commit of the
    # checkout the script is in), run from the repository's root as the page says.
    (tmp_path / "train").mkdir()
    script = tmp_path / "train" / "train.py"
    script.write_text(_blocks("python")[0])
    commit = commit_all(script.parent)
    seed_project(url, "churn")
    switch = _blocks("bash")[0].splitlines()
    assert switch[-1] == "python train.py"
    env = dict(os.environ) | {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    for line in switch[:-1]:
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    env["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"].replace("http://127.0.0.1:8000", url)
    run_id = run_script(sys.executable, [script], REPO, env).strip().splitlines()[-1]
    run = httpx.get(f"{url}/api/runs/{run_id}").json()
    assert run["status"] == "succeeded" and run["model"] == "sgd" and run["seed"] == 7
    assert run["environment"]["dataset"] == "churn/penguins@1"
    assert run["code_version"]["git_commit"] == commit
    history = httpx.get(f"{url}/api/runs/{run_id}/metrics/val_loss").json()
    assert [p["step"] for p in history] == list(range(10))
    assert history[-1]["value"] < history[0]["value"]  # it learned something
    params = httpx.get(f"{url}/api/runs/{run_id}/params").json()["params"]
    assert params == {"alpha": "0.001", "epochs": "10", "seed": "7"}


def test_the_import_command_imports_what_the_script_logged(
    ml: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's script logs to an mlruns/ folder; the page's import command brings it in."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train").mkdir()
    script = tmp_path / "train" / "train.py"
    script.write_text(_blocks("python")[0].replace('"core/demo_data/', f'"{REPO}/core/demo_data/'))
    commit = commit_all(script.parent)
    env = dict(os.environ) | {
        "MLFLOW_TRACKING_URI": (tmp_path / "mlruns").as_uri(),
        "MLFLOW_ALLOW_FILE_STORE": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    source_id = run_script(sys.executable, [script], tmp_path, env).strip().splitlines()[-1]
    ml.run("project", "create", "churn")
    penguins = str(REPO / "core" / "demo_data" / "penguins.csv")
    ml.run("dataset", "add", "-p", "churn", "-n", "penguins", "--target", "sex", penguins)
    command = shlex.split(_blocks("bash")[1].strip())
    assert command[:5] == ["uv", "run", "modellab", "import", "mlflow"]
    report = ml.json(*command[3:])
    [made] = report["imported"]
    assert made["source_run_id"] == source_id and made["points"] == 10
    stored = stored_run(made["run_id"], "churn")
    assert stored["tags"]["mlflow.source.git.commit"] == commit
    assert stored["tags"]["modellab.seed"] == "7"  # the script's seed param
    assert [p.step for p in stored["history"]["val_loss"]] == list(range(10))
    assert ml.json(*command[3:])["already"][0]["run_id"] == made["run_id"]
