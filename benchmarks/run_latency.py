"""Benchmark: how soon a submitted run starts and ends, against its own compute time.

Starts `modellab serve`, once with the embedded executor and once with the arq executor
and a `modellab worker` on a real redis-server, uploads Palmer penguins (344 rows) and
submits small runs through the API one after another, idle in between. For each it
times submission -> first line in logs.txt and submission -> `succeeded`. The reference,
measured in the same run: the same run's in-process compute time (load, fit, predict,
evaluate, latency: a claim and `train_claimed_run` in this process, imports done).

Targets (issue 14): first log line under 0.5 s after submission; submission ->
`succeeded` within 1.5x the in-process compute time; for both executors.

    uv run python benchmarks/run_latency.py [--runs 5] [--model xgboost]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _server import free_port, modellab_server, server_env, upload_dataset

REPO = Path(__file__).resolve().parents[1]
PENGUINS = REPO / "core" / "demo_data" / "penguins.csv"
TEMPLATE = "tabular-classification"
#: time for the replacement training process to import before the next submission
IDLE_SECONDS = 6.0


def compute_seconds(home: Path, model: str, runs: int) -> float:
    """Median in-process compute time of the run (claim to outcome, imports done)."""
    from modellab.datasets import ingest
    from modellab.plugins import load_registry
    from modellab.projects import create_project
    from modellab.runs.lifecycle import claim_run
    from modellab.runs.service import RunRequest, queue_run
    from modellab.runs.training import train_claimed_run
    from modellab.settings import Settings
    from modellab.store.database import open_database

    settings = Settings.from_env(
        {"MODELLAB_HOME": str(home), "MODELLAB_ARTIFACT_ROOT": str(home / "artifacts")}
    )

    async def measure() -> list[float]:
        async with open_database(settings.database_url) as db:
            await create_project(db, "bench")
            await ingest.add_dataset(
                db,
                settings,
                load_registry().task_types,
                ingest.AddRequest("bench", "penguins", PENGUINS, "sex"),
            )
            registry = load_registry()
            registry.preload()
            times = []
            for seed in range(runs):
                req = RunRequest("bench", "penguins", TEMPLATE, model, seed, from_checkout=False)
                queued = await queue_run(db, settings, registry, req)
                assert await claim_run(db, queued.run.id)
                start = time.perf_counter()
                ended = await train_claimed_run(db, settings, registry, queued.run.id)
                times.append(time.perf_counter() - start)
                assert ended.status.value == "succeeded", ended.status_reason
            return times

    return statistics.median(asyncio.run(measure()))


@contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server on a free port; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while (
                subprocess.run(
                    ["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False
                ).stdout.strip()
                != b"PONG"
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.kill()
            proc.wait()


@contextmanager
def worker(home: Path, redis_url: str) -> Iterator[None]:
    """A `modellab worker` process on the home's database."""
    env = server_env(home) | {"MODELLAB_REDIS_URL": redis_url}
    code = "from modellab.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "worker", "--jobs", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def submit_and_time(http: httpx.Client, model: str, seed: int) -> tuple[float, float]:
    """Submit one run; seconds to its first log line and to `succeeded`."""
    body = {"project": "bench", "dataset": "penguins", "template": TEMPLATE}
    start = time.perf_counter()
    run = http.post("/api/runs", json=body | {"model": model, "seed": seed}).json()
    first_log = None
    while True:
        if first_log is None and http.get(f"/api/runs/{run['id']}/logs").content:
            first_log = time.perf_counter() - start
        status = http.get(f"/api/runs/{run['id']}").json()
        if status["status"] not in ("queued", "running"):
            break
        time.sleep(0.01)
    done = time.perf_counter() - start
    assert status["status"] == "succeeded", status["status_reason"]
    return first_log if first_log is not None else done, done


def service_times(home: Path, model: str, runs: int, redis_url: str | None) -> tuple[float, float]:
    """Median first-log and succeeded seconds of ``runs`` runs through the API."""
    extra = {"MODELLAB_REDIS_URL": redis_url} if redis_url else {}
    with (
        modellab_server(home, extra_env=extra) as url,
        httpx.Client(base_url=url) as http,
        worker(home, redis_url) if redis_url else contextlib.nullcontext(),
    ):
        upload_dataset(http, "bench", PENGUINS, "penguins", "sex")
        firsts, dones = [], []
        for seed in range(runs):
            time.sleep(IDLE_SECONDS)
            first, done = submit_and_time(http, model, seed)
            firsts.append(first)
            dones.append(done)
    return statistics.median(firsts), statistics.median(dones)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default="xgboost")
    args = parser.parse_args()
    os.environ.pop("MODELLAB_REDIS_URL", None)
    with tempfile.TemporaryDirectory() as tmp:
        compute = compute_seconds(Path(tmp) / "inproc", args.model, args.runs)
        embedded = service_times(Path(tmp) / "embedded", args.model, args.runs, None)
        with redis_server() as redis_url:
            arq = service_times(Path(tmp) / "arq", args.model, args.runs, redis_url)
    print(f"penguins (344 rows), {args.model}, median of {args.runs} runs, idle in between")
    print(f"in-process compute time (reference)   {compute:6.3f} s")
    ok = True
    for name, (first, done) in (("embedded", embedded), ("arq worker", arq)):
        ratio = done / compute
        first_ok, done_ok = first < 0.5, ratio <= 1.5
        ok = ok and first_ok and done_ok
        print(
            f"{name:<10} first log {first:6.3f} s (target < 0.5 s: "
            f"{'met' if first_ok else 'MISSED'})  succeeded {done:6.3f} s = {ratio:.2f}x "
            f"compute (target <= 1.5x: {'met' if done_ok else 'MISSED'})"
        )
    print("all targets met" if ok else "targets MISSED")


if __name__ == "__main__":
    main()
