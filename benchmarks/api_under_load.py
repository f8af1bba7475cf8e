"""Benchmark: API latency while two runs train, against the same with none training.

Starts `modellab serve` (embedded executor, two runs at once), uploads a 100,000-row
classification dataset, and times run listing and run detail: first idle, then while
two XGBoost runs train in their child processes. Target: p95 under load within 3x of
the idle p95.

    uv run python benchmarks/api_under_load.py [--requests 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from _server import modellab_server, percentile, upload_dataset


def make_dataset(path: Path, rows: int = 100_000) -> None:
    rng = np.random.default_rng(0)
    cols = {f"x{i}": rng.normal(size=rows) for i in range(12)}
    logit = sum(cols[f"x{i}"] * (0.4 - i / 30) for i in range(12))
    cols["y"] = np.where(logit + rng.normal(size=rows) > 0, "yes", "no")
    pl.DataFrame(cols).write_csv(path)


def sample(http: httpx.Client, run_id: str, n: int) -> tuple[list[float], list[float]]:
    listing, detail = [], []
    for _ in range(n):
        t = time.perf_counter()
        http.get("/api/projects/bench/runs", params={"limit": 50}).raise_for_status()
        listing.append(time.perf_counter() - t)
        t = time.perf_counter()
        http.get(f"/api/runs/{run_id}").raise_for_status()
        detail.append(time.perf_counter() - t)
        time.sleep(0.01)
    return listing, detail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "big.csv"
        make_dataset(csv)
        with (
            modellab_server(Path(tmp) / "home") as url,
            httpx.Client(base_url=url, timeout=60) as http,
        ):
            upload_dataset(http, "bench", csv, "big", "y")
            body = {"project": "bench", "dataset": "big", "template": "tabular-classification"}
            first = http.post("/api/runs", json=body | {"model": "most_frequent"}).json()
            while http.get(f"/api/runs/{first['id']}").json()["status"] not in (
                "succeeded",
                "failed",
            ):
                time.sleep(0.5)
            idle_list, idle_detail = sample(http, first["id"], args.requests)
            heavy = {"n_estimators": 3000, "early_stopping_rounds": 3000, "n_jobs": 1}
            busy = [
                http.post(
                    "/api/runs", json=body | {"model": "xgboost", "seed": s, "config": heavy}
                ).json()
                for s in (1, 2)
            ]
            while any(http.get(f"/api/runs/{b['id']}").json()["status"] == "queued" for b in busy):
                time.sleep(0.2)
            time.sleep(4.0)  # past the children's start-up, into training
            load_list, load_detail = sample(http, first["id"], args.requests)
            still = [http.get(f"/api/runs/{b['id']}").json()["status"] for b in busy]
            for b in busy:
                http.post(f"/api/runs/{b['id']}/cancel")
    print(f"{args.requests} requests each; two xgboost runs training during the load sample")
    print(f"runs still training when sampling ended: {still.count('running')} of 2")
    worst = 0.0
    for label, idle, load in (
        ("list runs", idle_list, load_list),
        ("run detail", idle_detail, load_detail),
    ):
        ratio = percentile(load, 95) / percentile(idle, 95)
        worst = max(worst, ratio)

        def ms(values: list[float]) -> str:
            p50, p95 = percentile(values, 50) * 1000, percentile(values, 95) * 1000
            return f"p50 {p50:6.1f} p95 {p95:6.1f} ms"

        print(f"{label:11} idle {ms(idle)} | load {ms(load)} | p95 ratio {ratio:.2f}x")
    print(f"worst p95 ratio {worst:.2f}x   target <= 3x   {'OK' if worst <= 3 else 'MISSED'}")


if __name__ == "__main__":
    main()
