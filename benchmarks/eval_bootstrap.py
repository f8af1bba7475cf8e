"""Bootstrap speed: EvalHarness's vectorized bootstrap vs a plain loop of scikit-learn calls.

1,000,000 binary predictions, 1,000 replicates of accuracy, ROC-AUC and F1. The loop is
timed on 20 replicates and scaled to 1,000, in the same process. Target: >= 100x faster.

Run: uv run python benchmarks/eval_bootstrap.py [--rows N] [--replicates B]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from evalharness.bootstrap.engine import Group, run_bootstrap
from evalharness.bootstrap.resample import resolve_method
from evalharness.core.config import AUTO_MULTINOMIAL_MAX_ROWS
from evalharness.metrics import classification as MC

METRICS = ["accuracy", "roc_auc", "f1"]


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary labels, scores with signal, thresholded predictions."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.3 * y + 0.7 * rng.random(n), 0.0, 1.0)
    return y, (score > 0.5).astype(int), score


def ours(
    y: np.ndarray, pred: np.ndarray, score: np.ndarray, b: int, method: str, n_jobs: int
) -> float:
    """Seconds for the full vectorized bootstrap, including data preparation."""
    start = time.perf_counter()
    order = np.lexsort((score, y))
    scores = np.column_stack([1.0 - score[order], score[order]])
    arrays = MC.build_arrays(y[order], pred[order], scores, 2, "macro")
    # As the evaluator does: counts drawn in the caller's row order, permuted to the layout.
    res = run_bootstrap(
        len(y),
        {"overall": Group(arrays, None)},
        METRICS,
        b,
        0,
        method,  # type: ignore[arg-type]
        n_jobs,
        order=order,
    )
    elapsed = time.perf_counter() - start
    for m in METRICS:
        iv = res.interval("overall", m)
        print(f"  {m:9s} {iv.estimate:.5f}  95% CI [{iv.ci_low:.5f}, {iv.ci_high:.5f}]")
    return elapsed


def loop(y: np.ndarray, pred: np.ndarray, score: np.ndarray, b: int) -> float:
    """Seconds for ``b`` replicates of resampled indices + three scikit-learn calls."""
    rng = np.random.default_rng(0)
    n = len(y)
    start = time.perf_counter()
    for _ in range(b):
        idx = rng.integers(0, n, n)
        accuracy_score(y[idx], pred[idx])
        roc_auc_score(y[idx], score[idx])
        f1_score(y[idx], pred[idx], average="macro")
    return time.perf_counter() - start


def main() -> None:
    """Time both and print the ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--loop-replicates", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=1, help="bootstrap threads (default 1)")
    args = ap.parse_args()
    y, pred, score = make_data(args.rows)
    method = resolve_method("auto", args.rows, AUTO_MULTINOMIAL_MAX_ROWS)
    print(f"{args.rows:,} rows, {args.replicates} replicates, resampling={method}")
    t_ours = ours(y, pred, score, args.replicates, method, args.jobs)
    print(f"evalharness: {t_ours:.2f} s for {args.replicates} replicates ({args.jobs} thread(s))")
    t_loop = loop(y, pred, score, args.loop_replicates)
    scaled = t_loop * args.replicates / args.loop_replicates
    print(
        f"sklearn loop: {t_loop:.2f} s for {args.loop_replicates} replicates "
        f"-> {scaled:.1f} s scaled to {args.replicates}"
    )
    ratio = scaled / t_ours
    print(f"ratio: {ratio:.1f}x faster (target >= 100x): {'PASS' if ratio >= 100 else 'FAIL'}")


if __name__ == "__main__":
    main()
