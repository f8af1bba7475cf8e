"""Start `modellab serve` in a child process on a free port, for the API benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(home: Path, database_url: str | None = None) -> dict[str, str]:
    """This environment, with a ModelLab home of its own and no Redis."""
    env = dict(os.environ) | {
        "MODELLAB_HOME": str(home),
        "MODELLAB_ARTIFACT_ROOT": str(home / "artifacts"),
        "MODELLAB_DATABASE_URL": database_url or "",
    }
    env.pop("MODELLAB_REDIS_URL", None)
    return env


@contextmanager
def modellab_server(
    home: Path, database_url: str | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """`modellab serve` with its own home (SQLite unless ``database_url``); yields its URL.

    ``extra_env`` adds settings (``MODELLAB_REDIS_URL`` for the arq executor).
    """
    port = free_port()
    env = server_env(home, database_url)
    env.update(extra_env or {})
    code = "from modellab.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("modellab serve did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def upload_dataset(http: httpx.Client, project: str, csv: Path, name: str, target: str) -> None:
    """Create ``project`` and upload ``csv`` into it as dataset ``name``."""
    http.post("/api/projects", json={"name": project}).raise_for_status()
    with csv.open("rb") as f:
        http.post(
            f"/api/projects/{project}/datasets",
            files={"file": (csv.name, f, "text/csv")},
            data={"name": name, "target": target},
        ).raise_for_status()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]
