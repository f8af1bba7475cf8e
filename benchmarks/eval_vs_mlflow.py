"""Full classification evaluation vs ``mlflow.models.evaluate`` on the same predictions.

EvalHarness: metrics, 1,000-replicate CIs, slices with CIs, weak-slice search, failure
examples and plots (stress tests excluded) on 100,000 rows. MLflow's default evaluator
computes metrics and plots only. Targets: no slower than MLflow; the same evaluation at
1,000,000 rows under 10x the 100,000-row time with peak memory under 3 GiB.

Run: uv run --with mlflow python benchmarks/eval_vs_mlflow.py
(without mlflow the comparison is skipped and the rest still runs; MLflow's tracking
database and artifacts go to a temporary folder, never to the working tree's mlruns/)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evalharness import EvalConfig, RunInfo, evaluate_classification

RUN = RunInfo("bench", "synthetic", "1", "0" * 64, "bench")


def make_data(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Features with a categorical column and missing values, labels, probabilities."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
    frame["segment"] = rng.choice(["a", "b", "c", "d", "e", "f"], n)
    frame.loc[rng.random(n) < 0.05, "x0"] = np.nan
    logit = frame["x1"].to_numpy() - 0.5 * frame["x2"].to_numpy() + rng.normal(size=n)
    y = (logit > 0).astype(int)
    p1 = 1.0 / (1.0 + np.exp(-(logit + rng.normal(scale=1.5, size=n))))
    scores = np.column_stack([1 - p1, p1])
    frame.index = pd.RangeIndex(n).astype(str)
    return frame, y, (p1 > 0.5).astype(int), scores


def run_ours(n: int, out: Path) -> float:
    """Seconds for the full EvalHarness evaluation of n rows (stress tests excluded)."""
    frame, y, pred, scores = make_data(n)
    start = time.perf_counter()
    evaluate_classification(
        out,
        frame,
        y,
        pred,
        scores=scores,
        classes=[0, 1],
        run=RUN,
        config=EvalConfig(n_bootstrap=1000, run_stress=False),
    )
    return time.perf_counter() - start


def run_mlflow(n: int) -> float | None:
    """Seconds for mlflow.models.evaluate with the default evaluator, or None."""
    if importlib.util.find_spec("mlflow") is None:
        return None
    import mlflow

    frame, y, pred, _ = make_data(n)
    data = frame.assign(label=y, prediction=pred)
    with tempfile.TemporaryDirectory() as tmp:
        # MLflow's file store is in maintenance mode; its SQLite backend is the default now.
        mlflow.set_tracking_uri(f"sqlite:///{Path(tmp) / 'mlflow.db'}")
        # The run's artifacts (the evaluator's plots) go beside the database: the default
        # experiment keeps them in ./mlruns of the working directory, the repository here.
        # Creating the experiment also creates and migrates the tracking database before
        # the clock starts: only the evaluation is timed, as on our side.
        experiment = mlflow.create_experiment(
            "eval_vs_mlflow", artifact_location=(Path(tmp) / "artifacts").as_uri()
        )
        start = time.perf_counter()
        with mlflow.start_run(experiment_id=experiment):
            mlflow.models.evaluate(
                data=data,
                targets="label",
                predictions="prediction",
                model_type="classifier",
                # Metrics and plots only (SHAP explanations are not what is compared,
                # and break on pandas 3 string columns).
                evaluator_config={"log_model_explainability": False},
            )
        return time.perf_counter() - start


def child(n: int) -> None:
    """Run one evaluation and print its time and this process's peak RSS as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        seconds = run_ours(n, Path(tmp) / "eval")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_gib": peak_kib / 2**20}))


def in_child(n: int) -> dict[str, float]:
    """Run ``child(n)`` in a fresh process so its peak memory is its own."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Time both sides and the 1M-row scaling, print ratios."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    small = in_child(args.rows)
    print(
        f"evalharness, {args.rows:,} rows: {small['seconds']:.2f} s "
        f"(peak {small['peak_gib']:.2f} GiB)"
    )
    t_mlflow = run_mlflow(args.rows)
    if t_mlflow is None:
        print(
            "mlflow is not importable: comparison skipped "
            "(run with `uv run --with mlflow python benchmarks/eval_vs_mlflow.py`)"
        )
    else:
        ratio = t_mlflow / small["seconds"]
        print(f"mlflow.models.evaluate, {args.rows:,} rows: {t_mlflow:.2f} s")
        print(
            f"ratio mlflow/evalharness: {ratio:.2f}x "
            f"(target >= 1): {'PASS' if ratio >= 1 else 'FAIL'}"
        )
    big = in_child(args.big)
    scale = big["seconds"] / small["seconds"]
    print(
        f"evalharness, {args.big:,} rows: {big['seconds']:.2f} s = {scale:.1f}x the "
        f"{args.rows:,}-row time (target < 10x): {'PASS' if scale < 10 else 'FAIL'}"
    )
    print(
        f"peak memory at {args.big:,} rows: {big['peak_gib']:.2f} GiB "
        f"(target < 3 GiB): {'PASS' if big['peak_gib'] < 3 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
