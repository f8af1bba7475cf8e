"""An API client bound to a fresh ModelLab home, on SQLite and on PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import TestClient

from modellab.runs.executors import Executor, LocalExecutor
from modellab.runs.job import JobTiming
from modellab.server.app import create_app
from modellab.settings import Settings
from modellab.store.database import Database
from tests.conftest import owner_env

REPO = Path(__file__).resolve().parents[2]
PENGUINS = REPO / "core" / "demo_data" / "penguins.csv"
FINAL = {"succeeded", "failed", "cancelled", "timed_out"}
FAST = JobTiming(poll_seconds=0.1, heartbeat_seconds=0.3, grace_seconds=2.0)


class QueueOnly:
    """An executor that takes runs and never executes them: runs stay queued."""

    name = "queue-only"

    def __init__(self, db: Database, settings: Settings) -> None:
        self.submitted: list[str] = []

    async def start(self) -> None:
        return None

    async def submit(self, run_id: str) -> None:
        self.submitted.append(run_id)

    async def stop(self) -> None:
        return None


def seed_project(url: str, slug: str = "p") -> None:
    """Create project ``slug`` with the penguins dataset, over plain HTTP."""
    httpx.post(f"{url}/api/projects", json={"name": slug}).raise_for_status()
    with PENGUINS.open("rb") as f:
        httpx.post(
            f"{url}/api/projects/{slug}/datasets",
            files={"file": ("penguins.csv", f, "text/csv")},
            data={"name": "penguins", "target": "sex"},
        ).raise_for_status()


@dataclass
class Api:
    """A test client and the settings of the server behind it."""

    client: TestClient[Any]
    settings: Settings

    def ok(self, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
        """Send a request, assert its status, return the decoded JSON body."""
        response = self.client.request(method, url, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    def upload(self, project: str, name: str, path: Path, **form: str) -> Any:
        """Upload ``path`` as dataset ``name``."""
        with path.open("rb") as f:
            return self.ok(
                "POST",
                f"/api/projects/{project}/datasets",
                201,
                files={"file": (path.name, f, "text/csv")},
                data={"name": name, **form},
            )

    def wait(self, run_id: str, timeout: float = 180.0) -> dict[str, Any]:
        """Poll a run until it ends; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run: dict[str, Any] = self.ok("GET", f"/api/runs/{run_id}")
            if run["status"] in FINAL:
                return run
            time.sleep(0.2)
        raise AssertionError(f"run {run_id} did not end within {timeout} s")


ExecutorFactory = Callable[[Database, Settings], Executor]


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    """Settings of an isolated home under ``tmp_path``."""
    base = Settings.from_env(
        {
            "MODELLAB_HOME": str(tmp_path / "home"),
            "MODELLAB_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
            "MODELLAB_DATABASE_URL": database_url,
            **owner_env(database_url),
        }
    )
    return Settings(**{**base.__dict__, **overrides})


def embedded(spares: int = 0) -> ExecutorFactory:
    """The embedded executor with fast timings and ``spares`` training processes started
    ahead: none by default, so that the many tests that train nothing start none."""
    return lambda db, s: LocalExecutor(db, s, parallel=2, timing=FAST, spares=spares)


@pytest.fixture
def api_factory(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Api]]:
    """Start an app with the given executor (default: embedded, fast timings)."""
    clients: list[TestClient[Any]] = []

    def start(executor: ExecutorFactory | None = None, **overrides: Any) -> Api:
        settings = make_settings(tmp_path, database_url, **overrides)
        factory = executor or embedded()
        # The host the server answers to: the public URL's, or loopback in local mode.
        base = settings.public_url or "http://127.0.0.1"
        client = TestClient(app=create_app(settings, executor=factory), base_url=base)
        client.__enter__()
        clients.append(client)
        return Api(client, settings)

    yield start
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(api_factory: Callable[..., Api]) -> Api:
    """The API with the embedded executor and a project ``p``."""
    a = api_factory()
    a.ok("POST", "/api/projects", 201, json={"name": "p"})
    return a


@pytest.fixture
def queued_api(api_factory: Callable[..., Api]) -> Api:
    """The API with an executor that never runs anything, and a project ``p``."""
    a = api_factory(QueueOnly)
    a.ok("POST", "/api/projects", 201, json={"name": "p"})
    return a


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Litestar, port: int | None = None, log_level: str = "error") -> Iterator[str]:
    """Serve ``app`` with uvicorn on a loopback port in this process; yield its URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port or free_port(), log_level=log_level)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[tuple[str, Settings]]:
    """The API (runs stay queued) served on a loopback port: (url, settings)."""
    settings = make_settings(tmp_path, database_url)
    with serve(create_app(settings, executor=QueueOnly)) as url:
        yield url, settings
