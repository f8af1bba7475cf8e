"""The real `mlflow` client, unchanged, logs to ModelLab's MLflow endpoint.

The script in mlflow_script.py runs in a child process (mlflow 3.x from this project's
dev dependencies; mlflow 2.x from the venv .ci/run builds, named by
MODELLAB_TEST_MLFLOW2_PYTHON) against a server with sign-in on, its token in
MLFLOW_TRACKING_TOKEN and its provenance in MLFLOW_RUN_CONTEXT, from a git checkout.
Then everything it logged is read back through ModelLab's own API.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from modellab.server.app import create_app
from tests.server.conftest import PENGUINS, QueueOnly, free_port, make_settings, serve
from tests.server.test_access import token_for

SCRIPT = Path(__file__).with_name("mlflow_script.py")
MLFLOW2 = "MODELLAB_TEST_MLFLOW2_PYTHON"


def mlflow_python(version: str) -> str:
    """The interpreter whose mlflow is ``version`` (3: ours; 2: the one .ci/run builds)."""
    if version == "3":
        return sys.executable
    python = os.environ.get(MLFLOW2)
    if not python:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {MLFLOW2} is not set: .ci/run builds the mlflow 2 venv")
        pytest.skip(f"mlflow 2.x not installed here: set {MLFLOW2} (see .ci/run)")
    return python


@dataclass
class Server:
    url: str
    token: str

    def get(self, path: str) -> Any:
        response = httpx.get(
            self.url + path, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    """A server with sign-in on, a user's token, and project churn with penguins@1."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(tmp_path, database_url, public_url=url)
    with serve(create_app(settings, executor=QueueOnly), port=port):
        token = token_for(settings, "ana@example.com")
        auth = {"Authorization": f"Bearer {token}"}
        httpx.post(f"{url}/api/projects", json={"name": "churn"}, headers=auth).raise_for_status()
        with PENGUINS.open("rb") as f:
            httpx.post(
                f"{url}/api/projects/churn/datasets",
                files={"file": ("penguins.csv", f, "text/csv")},
                data={"name": "penguins", "target": "sex"},
                headers=auth,
            ).raise_for_status()
        yield Server(url, token)


def commit_all(folder: Path) -> str:
    """Make ``folder`` a git checkout with one commit of its files; that commit."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(folder)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "train"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    return head.stdout.strip()


def run_script(python: str, args: list[Path], cwd: Path, env: dict[str, str]) -> str:
    """Run a training script to its end; its standard output."""
    done = subprocess.run(
        [python, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def checkout(root: Path) -> tuple[Path, str]:
    """A git checkout holding the script and the files it logs; its commit."""
    root.mkdir()
    shutil.copy(SCRIPT, root / "train.py")
    (root / "files" / "plots").mkdir(parents=True)
    (root / "files" / "notes.txt").write_text("shallow trees tie the baseline\n")
    (root / "files" / "plots" / "loss.svg").write_text("<svg/>")
    return root, commit_all(root)


@pytest.mark.parametrize("version", ["3", "2"])
def test_the_real_client_logs_a_whole_run(server: Server, tmp_path: Path, version: str) -> None:
    python = mlflow_python(version)
    repo, commit = checkout(tmp_path / "repo")
    out = tmp_path / "out" / "result.json"
    out.parent.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "MLFLOW_TRACKING_URI": f"{server.url}/mlflow/churn",
        "MLFLOW_TRACKING_TOKEN": server.token,
        "MLFLOW_RUN_CONTEXT": json.dumps({"modellab.dataset": "penguins@1", "modellab.seed": "7"}),
        # Any 5xx reaches the script's record instead of being retried for minutes.
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    run_script(python, [repo / "train.py", out, repo / "files"], repo, env)
    got = json.loads(out.read_text())
    assert got["version"].startswith(version + ".")

    # Every answer came from ModelLab and none was a 5xx.
    assert got["answers"], "the client sent nothing"
    assert all(url.startswith(server.url) for _, url, _ in got["answers"])
    assert [a for a in got["answers"] if a[2] >= 500] == []

    run_id = got["run_id"]
    run = server.get(f"/api/runs/{run_id}")
    assert run["status"] == "succeeded" and got["status"] == "FINISHED"
    assert run["seed"] == 7 and run["kind"] == "tracked"
    assert run["code_version"]["git_commit"] == commit == got["source_commit"]
    assert run["environment"]["dataset"] == "churn/penguins@1"
    assert server.get(f"/api/runs/{run_id}/params")["params"] == {
        "depth": "3",
        "lr": "0.1",
        "optimizer": "sgd",
    }
    tags = server.get(f"/api/runs/{run_id}/tags")["tags"]
    assert tags["team"] == "ranking" and tags["stage"] == "try"
    assert tags["modellab.dataset"] == "penguins@1" and tags["modellab.seed"] == "7"
    assert tags["mlflow.source.git.commit"] == commit

    loss = server.get(f"/api/runs/{run_id}/metrics/loss")
    assert [(p["step"], p["value"], p["timestamp"]) for p in loss] == [
        (s, 1.0 / (s + 1), 1_700_000_000_000 + s) for s in range(5)
    ]
    assert [[s, v, t] for s, v, t in got["history"]] == [
        [p["step"], p["value"], p["timestamp"]] for p in loss
    ]
    assert [p["value"] for p in server.get(f"/api/runs/{run_id}/metrics/diverged")] == ["NaN"]
    assert [p["value"] for p in server.get(f"/api/runs/{run_id}/metrics/grad")] == ["Infinity"]
    assert [(p["step"], p["value"]) for p in server.get(f"/api/runs/{run_id}/metrics/warmup")] == [
        (-3, -0.5)
    ]
    assert got["metrics"] == {
        "acc": "0.9",
        "diverged": "nan",
        "grad": "inf",
        "loss": "0.2",
        "warmup": "-0.5",
    }
    assert got["param_changed"]["error_code"] == "INVALID_PARAMETER_VALUE"
    assert got["inputs"] == ["penguins"]

    # The files the script logged, byte for byte, where the run page lists them.
    files = {f["path"]: f["sha256"] for f in server.get(f"/api/runs/{run_id}/artifacts")}
    for rel in ("notes.txt", "plots/loss.svg"):
        digest = hashlib.sha256((repo / "files" / rel).read_bytes()).hexdigest()
        assert files[f"files/{rel}"] == digest
    assert got["listed"] == ["notes.txt", "plots"]
    assert got["listed_plots"] == ["plots/loss.svg"]
    assert got["downloaded"] == "shallow trees tie the baseline\n"

    # KILLED is cancelled; a bare start_run(experiment_id="0") lands in Default.
    assert server.get(f"/api/runs/{got['stopped_id']}")["status"] == "cancelled"
    assert got["stopped_status"] == "KILLED"
    assert got["default_experiment"] == "0" and got["experiment_id"] == "1"

    assert got["search_loss"] == ["sgd"]
    assert got["search_order"] == ["stopped", "sgd"]
    assert got["search_text"] == ["sgd"]
    assert got["search_pages"] == [["stopped"], ["sgd"], None]
    assert got["bad_filter"]["error_code"] == "INVALID_PARAMETER_VALUE"

    # Without provenance the run is refused at start_run, naming what is missing.
    refused = got["no_provenance"]
    assert refused["error_code"] == "INVALID_PARAMETER_VALUE"
    for needed in ("modellab.dataset", "modellab.seed", "MLFLOW_RUN_CONTEXT"):
        assert needed in refused["message"]
    assert "mlflow.source.git.commit" not in refused["message"].split("missing:")[1]
    names = {r["model"] for r in server.get("/api/projects/churn/runs")["items"]}
    assert names == {"sgd", "stopped", "in-default"}
