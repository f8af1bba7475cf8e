"""Distributed execution with real processes: PostgreSQL, Redis, `modellab worker`.

Each test starts its own redis-server (so it can restart it) and worker processes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modellab.server.worker import ArqExecutor
from modellab.settings import Settings
from modellab.store.database import open_database
from tests.server.conftest import PENGUINS, Api, free_port, make_settings
from tests.server.test_run_lifecycle import BODY, _child_pids, _wait_for, alive

# Workers on other machines share one database: these tests run on PostgreSQL only.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@dataclass
class Redis:
    """A private redis-server that a test can stop and start again on the same port."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    """A redis-server of this test's own."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but redis-server is missing: .ci/run installs it")
        pytest.skip("redis-server not installed (apt-get install redis-server; see .ci/run)")
    # A folder of its own: its dump files stay out of the test's store and artifacts.
    folder = tmp_path / "redis"
    folder.mkdir()
    server = Redis(free_port(), folder)
    server.start()
    yield server
    server.stop()


@dataclass
class Cluster:
    """An API on PostgreSQL + Redis, and a way to start `modellab worker` processes."""

    api: Api
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]]

    def worker(self, jobs: int = 2, *extra: str) -> subprocess.Popen[bytes]:
        code = "from modellab.cli import main; main()"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "worker", "--jobs", str(jobs), *extra],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.workers.append(proc)
        return proc


def worker_env(settings: Settings, redis_url: str, stale: float) -> dict[str, str]:
    """The environment of a ``modellab worker`` process on the store of ``settings``.

    With the tables' owner's URL, as in production (docs/access.md): on PostgreSQL a
    worker reads the key that signs its database context with it.
    """
    env = dict(os.environ) | {
        "MODELLAB_HOME": str(settings.home),
        "MODELLAB_ARTIFACT_ROOT": str(settings.artifact_root),
        "MODELLAB_DATABASE_URL": settings.database_url,
        "MODELLAB_REDIS_URL": redis_url,
        "MODELLAB_HEARTBEAT_SECONDS": "0.5",
        "MODELLAB_STALE_AFTER_SECONDS": str(stale),
    }
    if settings.migration_database_url:
        env["MODELLAB_MIGRATION_DATABASE_URL"] = settings.migration_database_url
    return env


@pytest.fixture
def cluster(
    api_factory: Callable[..., Api], redis: Redis, tmp_path: Path, database_url: str
) -> Iterator[Cluster]:
    api = api_factory(lambda db, s: ArqExecutor(db, s, resubmit_every=2.0), redis_url=redis.url)
    api.ok("POST", "/api/projects", 201, json={"name": "p"})
    env = worker_env(make_settings(tmp_path, database_url), redis.url, stale=3.0)
    c = Cluster(api, env, [])
    yield c
    for proc in c.workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _queue(api: Api, **extra: Any) -> dict[str, Any]:
    if not api.ok("GET", "/api/projects/p/datasets"):
        api.upload("p", "penguins", PENGUINS, target="sex", split="stratified")
    run: dict[str, Any] = api.ok("POST", "/api/runs", 202, json=BODY | extra)
    return run


def test_a_worker_executes_runs_queued_through_the_api(cluster: Cluster) -> None:
    api = cluster.api
    assert api.ok("GET", "/api/health")["executor"] == "arq"
    first = _queue(api, model="most_frequent")
    second = _queue(api, model="logistic_regression")
    time.sleep(0.5)
    assert api.ok("GET", f"/api/runs/{first['id']}")["status"] == "queued"
    cluster.worker()
    for run in (first, second):
        ended = api.wait(run["id"])
        assert ended["status"] == "succeeded", ended["status_reason"]


def test_a_worker_trains_a_candidate_after_its_baseline(cluster: Cluster) -> None:
    api = cluster.api
    cand = _queue(api, model="xgboost", with_baseline=True)
    assert cand["waits_on"] is not None
    cluster.worker()
    ended = api.wait(cand["id"])
    base = api.ok("GET", f"/api/runs/{cand['waits_on']}")
    assert (base["model"], base["status"]) == ("logistic_regression", "succeeded")
    assert ended["status"] == "succeeded", ended["status_reason"]
    # The worker enqueued the candidate once its baseline succeeded, not before.
    assert ended["started_at"] >= base["finished_at"]
    assert ended["metrics"]["baseline"]["name"] == "logistic_regression"


def test_worker_timeout_ends_long_runs_as_timed_out(cluster: Cluster) -> None:
    api = cluster.api
    long = {"n_estimators": 100000, "early_stopping_rounds": 100000}
    run = _queue(api, model="xgboost", config=long)
    # A cold worker (no spares) stops a run over its limit like a warm one.
    cluster.worker(2, "--timeout", "6", "--spares", "0")
    ended = api.wait(run["id"], timeout=90)
    assert ended["status"] == "timed_out" and "timed out after 6 s" in ended["status_reason"]
    assert _child_pids(run["id"]) == []


def test_a_job_delivered_twice_executes_once(cluster: Cluster) -> None:
    api = cluster.api
    run = _queue(api, model="logistic_regression")

    async def enqueue_again() -> None:
        async with open_database(api.settings.database_url) as db:
            executor = ArqExecutor(db, api.settings)
            await executor.start()
            await executor.submit(run["id"])
            await executor.stop()

    asyncio.run(enqueue_again())
    cluster.worker()
    ended = api.wait(run["id"])
    assert ended["status"] == "succeeded"
    time.sleep(1.0)  # the second delivery has been taken by now
    logs = (api.settings.artifact_root / "p" / run["id"] / "logs.txt").read_text()
    assert logs.count(" started (process ") == 1


def test_a_killed_worker_never_leaves_its_run_running(cluster: Cluster) -> None:
    api = cluster.api
    # Long enough that only the kill can end it: 100,000 rounds, no early stopping.
    run = _queue(
        api, model="xgboost", config={"n_estimators": 100000, "early_stopping_rounds": 100000}
    )
    doomed = cluster.worker()
    child = _wait_for(lambda: _child_pids(run["id"]), timeout=90)[0]
    log = api.settings.artifact_root / "p" / run["id"] / "logs.txt"
    _wait_for(lambda: log.exists() and "fitting" in log.read_text(), timeout=60)
    assert api.ok("GET", f"/api/runs/{run['id']}")["status"] == "running"
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    # The training process notices its watcher is gone and stops on its own.
    _wait_for(lambda: not alive(child), timeout=5)
    cluster.worker()  # another worker's reaper finds the stale heartbeat
    ended = api.wait(run["id"], timeout=60)
    assert ended["status"] == "failed"
    assert "stopped responding" in ended["status_reason"]


def test_a_worker_rides_out_a_redis_restart(cluster: Cluster, redis: Redis) -> None:
    """Redis restarts (losing its queue) while a run trains and another waits."""
    api = cluster.api
    long = {"n_estimators": 100000, "early_stopping_rounds": 100000}
    busy = _queue(api, model="xgboost", config=long)
    worker = cluster.worker(jobs=1)
    _wait_for(lambda: _child_pids(busy["id"]), timeout=90)
    waiting = _queue(api, model="most_frequent")  # queued behind the busy run
    redis.stop()
    time.sleep(2.0)
    redis.start()
    # The training run went on without Redis; stop it so the worker is free again.
    assert api.ok("GET", f"/api/runs/{busy['id']}")["status"] == "running"
    api.ok("POST", f"/api/runs/{busy['id']}/cancel", 202)
    assert api.wait(busy["id"])["status"] == "cancelled"
    after = _queue(api, model="logistic_regression")
    try:
        for run in (waiting, after):
            ended = api.wait(run["id"], timeout=90)
            assert ended["status"] == "succeeded", ended["status_reason"]
    except AssertionError:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
        raise AssertionError(err.decode()[-3000:]) from None
    assert worker.poll() is None, "the worker exited during the Redis restart"
