"""Regression: the task's part of an evaluation (its :class:`TaskSpec`), the public
evaluator and the paired deltas of two regressors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from evalharness.bench.latency import LatencyResult
from evalharness.bootstrap.paired import PairedDeltas, paired_bootstrap, point_metrics
from evalharness.bootstrap.resample import resolve_method
from evalharness.core.config import (
    AUTO_MULTINOMIAL_MAX_ROWS,
    BaselineResult,
    EvalConfig,
    LeakageInputs,
    Refit,
    RegressorPredict,
    RunInfo,
)
from evalharness.core.pipeline import evaluate
from evalharness.core.task import TaskMetrics, TaskSpec, check_rows
from evalharness.failures.selection import regression_failures
from evalharness.metrics import regression as MR
from evalharness.plots import regression as PR
from evalharness.plots.collect import PlotSet
from evalharness.schemas import files as S
from evalharness.slicing.families import SliceFamily, regression_families, target_quintiles
from evalharness.stress.regression import RegressionStress, StressedRegressor

DEFAULT_HEADLINE = ("mae", "rmse")
#: what the weak-slice search treats as loss (slices.json ``search.loss``)
SEARCH_LOSS = "absolute error"
NOTES = {"r2": "1 - SSE/SST; 1.0 for a perfect fit of a constant target, else 0.0"}


def bootstrap_layout(abs_err: NDArray[np.float64]) -> NDArray[np.intp]:
    """The row layout of the bootstrap kernels (position ``j`` holds caller row ``order[j]``).

    Rows sorted by absolute error once, so every weighted median skips its sort.
    Replicates are drawn in the caller's order and permuted into this layout, so the
    layout never changes which rows a replicate draws.
    """
    return np.argsort(abs_err, kind="stable").astype(np.intp)


def paired_regression_deltas(
    y_true: ArrayLike,
    a_pred: ArrayLike,
    b_pred: ArrayLike,
    *,
    config: EvalConfig | None = None,
) -> PairedDeltas:
    """Paired bootstrap intervals of (B - A) for every metric defined for both regressors.

    A and B predicted the same rows (``y_true``). ``config``'s ``n_bootstrap``, ``seed``
    and ``bootstrap_method`` pick the replicates, so the result equals the deltas of B's
    report against baseline A (``metrics.json`` ``deltas``) number for number.
    """
    cfg = config or EvalConfig()
    b = MR.prepare(y_true, b_pred)
    a = np.asarray(a_pred, dtype=np.float64)
    order = bootstrap_layout(b.abs_err)
    method = resolve_method(cfg.bootstrap_method, b.n, AUTO_MULTINOMIAL_MAX_ROWS)
    return paired_bootstrap(
        MR.build_arrays(b.y[order], b.pred[order]),
        MR.prepare(b.y[order], a[order]),
        MR.REGRESSION_METRICS,
        MR.HIGHER_IS_BETTER,
        cfg.n_bootstrap,
        cfg.seed,
        method,
        order,
    )


def regression_task(
    frame: pd.DataFrame,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    cfg: EvalConfig,
    *,
    predict: RegressorPredict | None = None,
    refit: Refit | None = None,
    baseline: BaselineResult | None = None,
    slices: Sequence[SliceFamily] | None = None,
) -> TaskSpec:
    """The regression task's part of an evaluation (arguments as
    :func:`evaluate_regression` takes them)."""
    base = MR.prepare(y_true, y_pred)
    check_rows(frame, base.n)
    y, pred = base.y, base.pred
    order = bootstrap_layout(base.abs_err)
    arrays = MR.build_arrays(y[order], pred[order])
    b_arrays = None
    models = [StressedRegressor("candidate", predict, pred)]
    if baseline is not None:
        b_pred = None
        if baseline.y_pred is not None:
            b_pred = np.asarray(baseline.y_pred, dtype=np.float64)
            b_arrays = MR.prepare(y[order], b_pred[order])
        models.append(StressedRegressor("baseline", baseline.predict, b_pred))

    def plots(out: PlotSet) -> None:
        rows = PR.sample_rows(y.size, cfg.plot_max_points, cfg.seed)
        out.add("residuals", PR.residuals_plot, y[rows], pred[rows])
        out.add("predicted_vs_actual", PR.predicted_vs_actual_plot, y[rows], pred[rows])
        out.add("error_histogram", PR.error_histogram, pred - y)
        (quintiles,) = target_quintiles(y)
        q_defs = [d for d in quintiles.slices if d.mask.any()]
        q_mae = [float(np.abs(pred - y)[d.mask].mean()) for d in q_defs]
        out.add(
            "error_by_target_quantile",
            PR.error_by_quantile_plot,
            [d.definition for d in q_defs],
            q_mae,
        )

    return TaskSpec(
        name="regression",
        y_true=y_true,
        y=y,
        metrics=TaskMetrics(
            names=MR.REGRESSION_METRICS,
            higher_is_better=MR.HIGHER_IS_BETTER,
            default_headline=DEFAULT_HEADLINE,
            arrays=arrays,
            order=order,
            point=point_metrics(arrays, MR.REGRESSION_METRICS),
            notes=dict(NOTES),
            baseline=b_arrays,
        ),
        slices=regression_families(frame, y, cfg) if slices is None else slices,
        search_loss=np.abs(pred - y),
        search_loss_description=SEARCH_LOSS,
        failures=lambda worst: regression_failures(frame, y, pred, cfg.n_failures),
        plots=plots,
        stress=RegressionStress(y, tuple(models), refit),
    )


def evaluate_regression(
    out_dir: Path,
    frame: pd.DataFrame,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    run: RunInfo,
    predict: RegressorPredict | None = None,
    refit: Refit | None = None,
    baseline: BaselineResult | None = None,
    leakage: LeakageInputs | None = None,
    config: EvalConfig | None = None,
    latency: LatencyResult | str | None = None,
    slices: Sequence[SliceFamily] | None = None,
) -> S.EvalSummaryFile:
    """Evaluate a regressor on the test rows in ``frame`` and (re)write ``out_dir``.

    ``predict(frame) -> y_pred`` enables the noise and missing-value stress tests;
    ``refit(train_frame, train_target) -> predict`` enables the distribution-shift test.
    ``slices`` are the report's slice families, masks in ``frame``'s row order (default:
    :func:`~evalharness.slicing.families.regression_families`).
    ``latency`` is a measure_latency result written into eval_summary.json (the folder is
    then no longer byte-identical between machines), or a path relative to ``out_dir`` of a
    file outside it that holds the timings.
    Leakage checks finish before anything is written; on LeakageError nothing is.
    """
    return evaluate(
        out_dir,
        frame,
        lambda cfg: regression_task(
            frame,
            y_true,
            y_pred,
            cfg,
            predict=predict,
            refit=refit,
            baseline=baseline,
            slices=slices,
        ),
        run=run,
        baseline=baseline,
        leakage=leakage,
        config=config,
        latency=latency,
    )
