"""docs/api.md's example runs against a live server; `modellab serve` and `worker` start."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import time

import httpx

from modellab.settings import Settings
from tests.conftest import REPO
from tests.server.conftest import free_port, seed_project


def test_the_client_example_runs(live: tuple[str, Settings]) -> None:
    url, _ = live
    seed_project(url, "demo")
    text = (REPO / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "docs/api.md lost its example"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, "docs/api.md", "exec"), {"URL": url})
    assert out.getvalue().startswith("succeeded 0.0033")


def test_modellab_serve_answers(tmp_path: object) -> None:
    port = free_port()
    env = dict(os.environ) | {
        "MODELLAB_HOME": str(tmp_path),
        "MODELLAB_ARTIFACT_ROOT": f"{tmp_path}/artifacts",
        "MODELLAB_DATABASE_URL": "",
    }
    env.pop("MODELLAB_REDIS_URL", None)
    code = "from modellab.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health")
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert health.json()["executor"] == "embedded"
        assert httpx.get(f"http://127.0.0.1:{port}/schema/openapi.json").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_modellab_worker_without_redis_says_what_it_needs() -> None:
    env = dict(os.environ)
    env.pop("MODELLAB_REDIS_URL", None)
    code = "from modellab.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "worker"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "MODELLAB_REDIS_URL" in done.stderr and "Traceback" not in done.stderr
