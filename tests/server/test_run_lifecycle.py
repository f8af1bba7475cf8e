"""Runs train in child processes that can be stopped: cancel, timeout, a killed child,
a lost watcher (the reaper), and a job delivered twice."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from modellab.domain import RunStatus
from modellab.runs.job import reap_lost_runs, run_job
from modellab.runs.lifecycle import claim_run, load_run, remove_partial_outputs
from modellab.store import runs as repo
from modellab.store.database import open_database
from modellab.store.models import utcnow
from tests.server.conftest import FAST, PENGUINS, Api, embedded

BODY = {"project": "p", "dataset": "penguins", "template": "tabular-classification"}


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _holds_log_of(pid: int, run_id: str) -> bool:
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if str(fd.readlink()).endswith(f"/{run_id}/logs.txt"):
                return True
        except OSError:
            continue
    return False


def _child_pids(run_id: str) -> list[int]:
    """Live training processes of ``run_id``: started for it (the id on their command
    line) or handed it as a spare (they hold its logs.txt open while it trains)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"modellab.runs.training_process" not in cmd or not alive(int(entry.name)):
            continue
        if run_id.encode() in cmd or _holds_log_of(int(entry.name), run_id):
            pids.append(int(entry.name))
    return pids


def _wait_for(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def api(api_factory: Callable[..., Api]) -> Api:
    """The API with warm training processes, as ``modellab serve`` runs, and a project."""
    a = api_factory(embedded(spares=2))
    a.ok("POST", "/api/projects", 201, json={"name": "p"})
    return a


def _start(api: Api, **extra: Any) -> dict[str, Any]:
    api.upload("p", "penguins", PENGUINS, target="sex", split="stratified")
    run: dict[str, Any] = api.ok("POST", "/api/runs", 202, json=BODY | extra)
    return run


def _no_partial_outputs(api: Api, run: dict[str, Any]) -> None:
    folder = api.settings.artifact_root / "p" / run["id"]
    left = sorted(p.name for p in folder.iterdir())
    assert set(left) <= {"run.json", "config.json", "logs.txt", "code.diff"}, left


def test_a_writer_stopped_mid_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    # A training process killed by its timeout between writing and renaming run.json
    # leaves ".run.json.tmp-<its pid>"; the process that ends the run removes it.
    for name in ("run.json", "config.json", "logs.txt", ".run.json.tmp-1", "predictions.parquet"):
        (tmp_path / name).write_text("x")
    (tmp_path / "eval").mkdir()
    own = tmp_path / f".run.json.tmp-{os.getpid()}"  # this process's: never in flight here
    own.write_text("x")
    remove_partial_outputs(tmp_path)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [own.name, "config.json", "logs.txt", "run.json"]


def test_cancel_stops_a_training_run(api: Api) -> None:
    run = _start(api, model="xgboost", config={"n_estimators": 5000, "early_stopping_rounds": 5000})
    _wait_for(lambda: _child_pids(run["id"]))
    assert api.ok("GET", f"/api/runs/{run['id']}")["status"] == "running"
    assert api.ok("POST", f"/api/runs/{run['id']}/cancel", 202)["status"] == "running"
    ended = api.wait(run["id"])
    assert ended["status"] == "cancelled" and ended["status_reason"] == "cancelled while running"
    assert _child_pids(run["id"]) == []
    _no_partial_outputs(api, run)


def test_a_run_over_its_timeout_ends_timed_out(api: Api) -> None:
    run = _start(api, model="logistic_regression", timeout_seconds=0.3)
    ended = api.wait(run["id"])
    assert ended["status"] == "timed_out"
    assert "timed out after 0.3 s" in ended["status_reason"]
    assert _child_pids(run["id"]) == []
    _no_partial_outputs(api, run)


def test_a_killed_training_process_fails_the_run_with_the_reason(api: Api) -> None:
    run = _start(api, model="xgboost", config={"n_estimators": 5000, "early_stopping_rounds": 5000})
    pid = _wait_for(lambda: _child_pids(run["id"]))[0]
    os.kill(pid, signal.SIGKILL)
    ended = api.wait(run["id"])
    assert ended["status"] == "failed"
    assert "killed by signal 9" in ended["status_reason"]
    _no_partial_outputs(api, run)


def test_a_job_delivered_twice_executes_once(queued_api: Api) -> None:
    api = queued_api
    run = _start(api, model="most_frequent")

    async def twice() -> tuple[Any, ...]:
        async with open_database(api.settings.database_url) as db:
            return await asyncio.gather(
                run_job(db, api.settings, run["id"], FAST),
                run_job(db, api.settings, run["id"], FAST),
            )

    first, second = asyncio.run(twice())
    # One delivery claimed and executed the run; the other found it claimed and left.
    assert sorted([first.status.value, second.status.value]).count("succeeded") == 1
    ended = api.ok("GET", f"/api/runs/{run['id']}")
    assert ended["status"] == "succeeded"
    logs = (api.settings.artifact_root / "p" / run["id"] / "logs.txt").read_text()
    assert logs.count(" started (process ") == 1


def test_the_reaper_fails_lost_runs_and_requeues_unstarted_ones(queued_api: Api) -> None:
    api = queued_api
    lost = _start(api, model="most_frequent")
    unstarted = api.ok("POST", "/api/runs", 202, json=BODY | {"model": "logistic_regression"})

    async def scenario() -> list[Any]:
        async with open_database(api.settings.database_url) as db:
            for run_id in (lost["id"], unstarted["id"]):
                assert await claim_run(db, run_id)
                async with db.session() as session:
                    await repo.heartbeat(session, run_id, utcnow() - timedelta(minutes=5))
            # The lost run had started training: it has a log.
            (api.settings.artifact_root / "p" / lost["id"] / "logs.txt").write_text("fit\n")
            reaped = await reap_lost_runs(db, api.settings, stale_after=30)
            again = await reap_lost_runs(db, api.settings, stale_after=30)
            assert again == []
            return [
                reaped,
                (await load_run(db, lost["id"]))[0],
                (await load_run(db, unstarted["id"]))[0],
            ]

    reaped, lost_run, unstarted_run = asyncio.run(scenario())
    assert {(r.run_id, r.action) for r in reaped} == {
        (lost["id"], "failed"),
        (unstarted["id"], "requeued"),
    }
    assert lost_run.status == RunStatus.FAILED
    assert "stopped responding" in (lost_run.status_reason or "")
    assert unstarted_run.status == RunStatus.QUEUED


@pytest.mark.parametrize(
    "path",
    [
        "../run.json",
        "eval/../../x",
        "%2e%2e/run.json",
        "..%2frun.json",
        "eval%2f..%2f..%2fx",
        "..\\run.json",
        "/etc/passwd",
        "run.json%23x",
        "run.json;x",
        "run.json%00",
        ".model.tmp/x",
        "outside",
        "nope.json",
    ],
)
def test_artifact_paths_outside_the_run_are_not_found(
    queued_api: Api, path: str, tmp_path: Path
) -> None:
    api = queued_api
    run = _start(api, model="most_frequent")
    folder = api.settings.artifact_root / "p" / run["id"]
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    (folder / "outside").symlink_to(secret)
    response = api.client.get(f"/api/runs/{run['id']}/artifacts/{path}")
    # A NUL is refused (400) before routing, for every endpoint; the rest are not found.
    expected = 400 if "%00" in path else 404
    assert response.status_code == expected, (path, response.status_code)
    assert "top secret" not in response.text
    assert api.client.get(f"/api/runs/{run['id']}/artifacts/run.json").status_code == 200
