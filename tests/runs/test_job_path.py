"""One job path: a CLI run trains like a service run (its own process, its time limit,
cancel from anywhere), and warm training processes give the bytes a cold one gives."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from modellab.domain import RunStatus
from modellab.plugins import load_registry
from modellab.runs.executors import LocalExecutor, command_executor, run_and_wait
from modellab.runs.job import JobTiming
from modellab.runs.service import RunRequest, queue_run
from modellab.settings import Settings
from modellab.store.database import open_database
from tests.conftest import Env
from tests.server.test_run_lifecycle import _child_pids, alive

FAST = JobTiming(poll_seconds=0.1, heartbeat_seconds=0.3, grace_seconds=2.0)
#: an XGBoost run that trains for minutes: it is stopped long before it ends
SLOW = ("--set", "n_estimators=100000", "--set", "early_stopping_rounds=100000")
RUN = ["run", "-p", "p", "-d", "sex", "-t", "tabular-classification", "--n-bootstrap", "20"]


def _cli(ml: Env, *args: str) -> subprocess.Popen[str]:
    """``modellab ARGS`` as a process of its own, which can be interrupted."""
    env = {**os.environ, **ml.env}
    return subprocess.Popen(
        [sys.executable, "-c", "from modellab.cli import main; main()", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _training(ml: Env, model: str = "xgboost", timeout: float = 90.0) -> tuple[str, int]:
    """The id of the ``model`` run that is training now, and its training process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in ml.json("runs", "--project", "p"):
            if r["status"] == "running" and r["model"] == model:
                pids = _child_pids(r["id"])
                if pids:
                    return r["id"], pids[0]
        time.sleep(0.1)
    raise AssertionError("no run started training")


def test_a_cli_run_is_cancelled_from_another_shell(penguins_sex: Env) -> None:
    ml = penguins_sex
    proc = _cli(ml, *RUN, "-m", "xgboost", *SLOW, "--json")
    run_id, pid = _training(ml)
    assert "asked to stop" in ml.run("cancel", run_id).stdout
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert json.loads(out)["status"] == "cancelled"
    run = ml.json("runs", "--project", "p")[0]
    assert (run["id"], run["status"]) == (run_id, "cancelled")
    assert run["status_reason"] == "cancelled while running"
    assert not alive(pid)
    assert ml.run("cancel", run_id, ok=False).exit_code != 0


def test_ctrl_c_cancels_a_cli_run_and_waits_for_it_to_end(penguins_sex: Env) -> None:
    ml = penguins_sex
    proc = _cli(ml, *RUN, "-m", "xgboost", "--with-baseline", *SLOW)
    run_id, pid = _training(ml)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    runs = {r["model"]: r for r in ml.json("runs", "--project", "p")}
    # The baseline trained first (the candidate waited on it); the candidate is stopped
    # and recorded as cancelled before the command exits, not left running.
    assert runs["logistic_regression"]["status"] == "succeeded"
    assert (runs["xgboost"]["id"], runs["xgboost"]["status"]) == (run_id, "cancelled")
    assert not alive(pid)


def test_a_cli_run_over_its_time_limit_ends_timed_out(penguins_sex: Env) -> None:
    ml = penguins_sex
    run = ml.train("sex", "xgboost", *SLOW, "--timeout", "1.5")
    assert run["status"] == "timed_out"
    assert run["status_reason"] == "timed out after 1.5 s"
    assert _child_pids(run["id"]) == []
    folder = Path(run["artifact_dir"])
    assert not (folder / "eval").exists() and not (folder / "model").exists()


def _eval_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_warm_xgboost_runs_back_to_back_match_a_cold_run(penguins_sex: Env) -> None:
    """Spares are new interpreters, never forks: no half-started OpenMP pool, no hang."""
    settings = Settings.from_env(penguins_sex.env)
    req = RunRequest("p", "sex", "tabular-classification", "xgboost", 3, n_bootstrap=50)

    async def scenario() -> tuple[list[Any], list[int], Any]:
        async with open_database(settings.database_url) as db:
            registry = load_registry()
            warm = LocalExecutor(db, settings, parallel=1, timing=FAST, spares=1)
            await warm.start()
            spare_pids = []
            ended = []
            try:
                for _ in range(3):
                    # The spare that will train the next run exists before it is queued.
                    spare_pids.append(warm.processes._ready[0].pid)
                    queued = await queue_run(db, settings, registry, req)
                    ended += await asyncio.wait_for(run_and_wait(warm, queued.ids), 120)
            finally:
                await warm.stop()
            cold = LocalExecutor(db, settings, parallel=1, timing=FAST, spares=0)
            await cold.start()
            try:
                queued = await queue_run(db, settings, registry, req)
                (cold_run,) = await run_and_wait(cold, [queued.run.id])
            finally:
                await cold.stop()
            return ended, spare_pids, cold_run

    warm_runs, spare_pids, cold_run = asyncio.run(scenario())
    root = settings.artifact_root / "p"
    cold_eval = _eval_hashes(root / cold_run.id / "eval")
    assert cold_run.status is RunStatus.SUCCEEDED
    for run, pid in zip(warm_runs, spare_pids, strict=True):
        assert run.status is RunStatus.SUCCEEDED, run.status_reason
        assert f"started (process {pid})" in (root / run.id / "logs.txt").read_text()
        # The training process ended with its run: its memory went back to the system.
        assert not alive(pid)
        assert _eval_hashes(root / run.id / "eval") == cold_eval
    assert len(set(spare_pids)) == 3


def test_a_cli_command_starts_no_process_it_does_not_use(penguins_sex: Env) -> None:
    settings = Settings.from_env(penguins_sex.env)
    req = RunRequest("p", "sex", "tabular-classification", "most_frequent", n_bootstrap=20)

    async def scenario() -> tuple[int, int]:
        async with (
            open_database(settings.database_url) as db,
            command_executor(db, settings, 1) as executor,
        ):
            queued = await queue_run(db, settings, load_registry(), req)
            (run,) = await run_and_wait(executor, queued.ids)
            assert run.status is RunStatus.SUCCEEDED
            return executor.processes.started, len(executor.processes._ready)

    assert asyncio.run(scenario()) == (1, 0)
