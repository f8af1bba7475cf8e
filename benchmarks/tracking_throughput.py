"""Benchmark: the tracking API against an MLflow tracking server (SQLite backends).

Through HTTP on loopback, one client: create 2,000 runs with 20 params and 20 metrics
each (one call per run), log 10,000 steps of one metric in batches of 1,000, list runs
(a page of 100) and filter by a metric. Prints runs/second and p50/p95 latencies; the
same workload through the real MLflow client against ModelLab's MLflow endpoint; and,
when the full MLflow is installed (`uv run --with mlflow python
benchmarks/tracking_throughput.py`), that client against `mlflow server`, with the ratios.
Targets: at least 5x MLflow's run-creation throughput; at most a tenth of its list and
filter p95 latency.

    uv run python benchmarks/tracking_throughput.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _server import free_port, modellab_server, percentile, upload_dataset

REPO = Path(__file__).resolve().parents[1]
CODE = {"modellab_version": "bench", "git_commit": "0" * 40, "git_dirty": False}


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def summary(
    create_rate: float,
    create: list[float],
    steps: list[float],
    listing: list[float],
    filtering: list[float],
) -> dict[str, float]:
    """The numbers printed for one tracking server."""
    return {
        "create_rate": create_rate,
        "create_p50": percentile(create, 50),
        "create_p95": percentile(create, 95),
        "steps_p95": percentile(steps, 95),
        "list_p50": percentile(listing, 50),
        "list_p95": percentile(listing, 95),
        "filter_p50": percentile(filtering, 50),
        "filter_p95": percentile(filtering, 95),
    }


def bench_modellab(runs: int, home: Path) -> dict[str, float]:
    with modellab_server(home) as url, httpx.Client(base_url=url) as http:
        upload_dataset(
            http, "bench", REPO / "core" / "demo_data" / "penguins.csv", "penguins", "sex"
        )
        ids: list[str] = []

        def create() -> None:
            i = len(ids)
            body = {
                "project": "bench",
                "dataset": "penguins",
                "name": f"run-{i}",
                "seed": i,
                "code_version": CODE,
                "params": {f"p{k}": k * i for k in range(20)},
                "metrics": [{"key": f"m{k}", "value": (i * 7 + k) % 100 / 100} for k in range(20)],
            }
            r = http.post("/api/tracked-runs", json=body)
            r.raise_for_status()
            ids.append(r.json()["id"])

        start = time.perf_counter()
        create_lat = timed(create, runs)
        create_rate = runs / (time.perf_counter() - start)
        target = ids[0]

        def steps(batch: list[int] = [0]) -> None:  # noqa: B006 - a counter across calls
            base = batch[0]
            points = [
                {"key": "loss", "value": 1 / (base + s + 1), "step": base + s} for s in range(1000)
            ]
            http.post(f"/api/runs/{target}/log", json={"metrics": points}).raise_for_status()
            batch[0] += 1000

        step_lat = timed(steps, 10)
        list_lat = timed(
            lambda: http.get("/api/projects/bench/runs", params={"limit": 100}).raise_for_status(),
            50,
        )
        filter_lat = timed(
            lambda: http.get(
                "/api/projects/bench/runs", params={"limit": 100, "metric": "m3", "metric_min": 0.5}
            ).raise_for_status(),
            50,
        )
    return summary(create_rate, create_lat, step_lat, list_lat, filter_lat)


def mlflow_client_workload(url: str, runs: int, tags: dict[str, str]) -> dict[str, float]:
    """The workload through the real MLflow client against the tracking server at ``url``.

    ``tags`` go on every run (ModelLab's endpoint needs the provenance ones).
    """
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    exp = client.create_experiment("bench")
    ids: list[str] = []

    def create() -> None:
        i = len(ids)
        run = client.create_run(exp, run_name=f"run-{i}", tags=tags | {"modellab.seed": str(i)})
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            params=[Param(f"p{k}", str(k * i)) for k in range(20)],
            metrics=[Metric(f"m{k}", (i * 7 + k) % 100 / 100, now, 0) for k in range(20)],
        )
        ids.append(run.info.run_id)

    start = time.perf_counter()
    create_lat = timed(create, runs)
    create_rate = runs / (time.perf_counter() - start)

    def steps(batch: list[int] = [0]) -> None:  # noqa: B006 - a counter across calls
        base = batch[0]
        now = int(time.time() * 1000)
        client.log_batch(
            ids[0],
            metrics=[Metric("loss", 1 / (base + s + 1), now, base + s) for s in range(1000)],
        )
        batch[0] += 1000

    step_lat = timed(steps, 10)
    list_lat = timed(lambda: client.search_runs([exp], max_results=100), 50)
    filter_lat = timed(
        lambda: client.search_runs([exp], filter_string="metrics.m3 >= 0.5", max_results=100),
        50,
    )
    return summary(create_rate, create_lat, step_lat, list_lat, filter_lat)


def bench_modellab_mlflow(runs: int, home: Path) -> dict[str, float]:
    """The MLflow client's workload against ModelLab's MLflow endpoint."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with modellab_server(home) as url, httpx.Client(base_url=url) as http:
        upload_dataset(
            http, "bench", REPO / "core" / "demo_data" / "penguins.csv", "penguins", "sex"
        )
        provenance = {"modellab.dataset": "penguins@1", "modellab.git_commit": "0" * 40}
        return mlflow_client_workload(f"{url}/mlflow/bench", runs, provenance)


def bench_mlflow(runs: int, home: Path) -> dict[str, float] | None:
    """The same workload against `mlflow server` (None: the full mlflow is not installed)."""
    if importlib.util.find_spec("flask") is None or importlib.util.find_spec("mlflow") is None:
        return None
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{home / 'mlflow.db'}",
            "--default-artifact-root",
            str(home / "mlartifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not start")
            time.sleep(0.2)
        return mlflow_client_workload(url, runs, {})
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ours = bench_modellab(args.runs, Path(tmp) / "modellab")
        via_client = bench_modellab_mlflow(args.runs, Path(tmp) / "modellab-mlflow")
        theirs = bench_mlflow(args.runs, Path(tmp))
    print(f"{args.runs:,} runs x (20 params + 20 metrics), 10 x 1,000 steps, list and filter")
    print("modellab: its tracking API; modellab/mlflow: the MLflow client against ModelLab's")
    print("MLflow endpoint; mlflow: the same client against `mlflow server` (SQLite)")
    print(f"{'':24}{'modellab':>12}{'modellab/mlflow':>17}{'mlflow':>12}")
    for key, label, unit in (
        ("create_rate", "runs created / s", ""),
        ("create_p50", "create p50", "ms"),
        ("create_p95", "create p95", "ms"),
        ("steps_p95", "1,000 steps p95", "ms"),
        ("list_p50", "list 100 p50", "ms"),
        ("list_p95", "list 100 p95", "ms"),
        ("filter_p50", "filter p50", "ms"),
        ("filter_p95", "filter p95", "ms"),
    ):
        scale = 1000.0 if unit == "ms" else 1.0
        theirs_text = f"{theirs[key] * scale:12.1f}" if theirs else f"{'-':>12}"
        print(
            f"{label + (' (ms)' if unit else ''):24}{ours[key] * scale:12.1f}"
            f"{via_client[key] * scale:17.1f}{theirs_text}"
        )
    if theirs is None:
        print("`mlflow server` is not installed: run with `uv run --with mlflow` for the ratios")
        return
    create_ratio = ours["create_rate"] / theirs["create_rate"]
    list_ratio = ours["list_p95"] / theirs["list_p95"]
    filter_ratio = ours["filter_p95"] / theirs["filter_p95"]
    print(
        f"run creation: {create_ratio:.1f}x MLflow (target >= 5x) "
        f"{'OK' if create_ratio >= 5 else 'MISSED'}"
    )
    print(
        f"list p95: {list_ratio:.3f}x MLflow (target <= 0.1x) "
        f"{'OK' if list_ratio <= 0.1 else 'MISSED'}"
    )
    print(
        f"filter p95: {filter_ratio:.3f}x MLflow (target <= 0.1x) "
        f"{'OK' if filter_ratio <= 0.1 else 'MISSED'}"
    )
    # The same client on both sides, so its own per-call work is in both numbers: the
    # endpoint's aim is to be no slower than the server the script was written for.
    print("the MLflow client against ModelLab, as a multiple of it against mlflow server:")
    for key, label in (
        ("create_rate", "runs created / s"),
        ("steps_p95", "1,000 steps p95"),
        ("list_p95", "list 100 p95"),
        ("filter_p95", "filter p95"),
    ):
        print(f"  {label}: {via_client[key] / theirs[key]:.2f}x")


if __name__ == "__main__":
    main()
