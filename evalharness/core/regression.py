"""The regression evaluator: one call checks leakage, evaluates and writes eval/."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from evalharness.bench.latency import LatencyResult
from evalharness.bootstrap.engine import Group, run_bootstrap
from evalharness.bootstrap.paired import (
    PairedDeltas,
    paired_bootstrap,
    paired_groups,
    paired_names,
    point_metrics,
)
from evalharness.bootstrap.resample import resolve_method
from evalharness.core import report as R
from evalharness.core import separators as LS
from evalharness.core.background import in_background
from evalharness.core.config import (
    AUTO_MULTINOMIAL_MAX_ROWS,
    BaselineResult,
    EvalConfig,
    LeakageInputs,
    Refit,
    RegressorPredict,
    RunInfo,
)
from evalharness.core.errors import ContractError
from evalharness.core.leakage import check_leakage
from evalharness.failures.selection import regression_failures
from evalharness.metrics import regression as MR
from evalharness.plots import regression as PR
from evalharness.plots.collect import PlotSet
from evalharness.plots.stress import stress_plot
from evalharness.schemas import files as S
from evalharness.slicing import fixed as F
from evalharness.slicing.families import (
    SliceFamily,
    key_feature_of,
    regression_families,
    target_quintiles,
)
from evalharness.slicing.search import search_weak_slices
from evalharness.stress.corruptions import add_noise, inject_missing
from evalharness.stress.runner import StressCase, current_stress_label, run_stress, severity_rng

DEFAULT_HEADLINE = ("mae", "rmse")
# Distribution shift: the held-out segment is the top 20% of the shift feature; at severity s
# the model is refit on rows below the (0.8 - s) quantile, so a larger s means a wider gap.
SHIFT_TEST_QUANTILE = 0.8
log = logging.getLogger("evalharness.stress")


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
    cfg = config or EvalConfig()
    R.check_baseline(baseline, run)
    base = MR.prepare(y_true, y_pred)
    if len(frame) != base.n:
        raise ContractError(f"frame has {len(frame)} rows but y_true has {base.n}")
    y, pred = base.y, base.pred
    order = bootstrap_layout(base.abs_err)
    arrays = MR.build_arrays(y[order], pred[order])
    n = arrays.n
    vals = arrays.compute(np.ones((1, n)), MR.REGRESSION_METRICS)
    point = {m: (None if np.isnan(v[0]) else float(v[0])) for m, v in vals.items()}
    headline = [m for m in (cfg.headline or DEFAULT_HEADLINE) if point.get(m) is not None]
    primary = headline[0]
    hib = MR.HIGHER_IS_BETTER[primary]

    defs, families = R.slice_families(
        regression_families(frame, y, cfg) if slices is None else slices, n
    )
    # The stress tests shuffle the key feature, whichever slices the report has.
    key, _ = key_feature_of(frame, y, cfg)
    min_size, _ = R.min_slice_size_for(cfg, n)
    plan = R.plan_slices(defs, order, min_size)
    method = resolve_method(cfg.bootstrap_method, n, AUTO_MULTINOMIAL_MAX_ROWS)
    groups: dict[str, Group] = {"overall": Group(arrays, None)}
    # Slices carry the primary metric (the one they are ranked by) with its CI and delta.
    groups.update(R.slice_groups(plan, arrays, [primary]))
    base_point: dict[str, float | None] | None = None
    b_pred: NDArray[np.float64] | None = None
    paired: tuple[str, ...] = ()
    if baseline is not None and baseline.y_pred is not None:
        b_pred = np.asarray(baseline.y_pred, dtype=np.float64)
        b_arrays = MR.prepare(y[order], b_pred[order])
        base_point = point_metrics(b_arrays, MR.REGRESSION_METRICS)
        # Paired deltas for every metric both models define, exactly as
        # paired_regression_deltas computes them (same groups, same replicates).
        paired = paired_names(MR.REGRESSION_METRICS, point, base_point)
        if paired:
            groups.update(paired_groups(arrays, b_arrays, paired, also=headline))
    # Stress tests first and alone: refits and predictions may use every core, and
    # OpenMP threads that share cores with the bootstrap thread slow down badly.
    stress_rows, scenarios = _stress(
        frame,
        y,
        pred,
        predict,
        refit,
        baseline,
        b_pred,
        key,
        cfg,
        primary,
        method,
        point,
        base_point,
        min_size,
    )
    plots = PlotSet(cfg.plot_formats)
    stress_plot_path = None
    series = R.stress_series(
        stress_rows,
        {"candidate": point[primary], "baseline": (base_point or {}).get(primary)},
        None if baseline is None else baseline.name,
    )
    if series:
        stress_plot_path = plots.add("stress", stress_plot, series, primary)
    rows = PR.sample_rows(n, cfg.plot_max_points, cfg.seed)
    plots.add("residuals", PR.residuals_plot, y[rows], pred[rows])
    plots.add("predicted_vs_actual", PR.predicted_vs_actual_plot, y[rows], pred[rows])
    plots.add("error_histogram", PR.error_histogram, pred - y)
    (quintiles,) = target_quintiles(y)
    q_defs = [d for d in quintiles.slices if d.mask.any()]
    q_names = [d.definition for d in q_defs]
    q_mae = [float(np.abs(pred - y)[d.mask].mean()) for d in q_defs]
    plots.add("error_by_target_quantile", PR.error_by_quantile_plot, q_names, q_mae)
    search = None
    if cfg.run_search and frame.shape[1] > 0:
        search = search_weak_slices(
            frame.reset_index(drop=True),
            np.abs(pred - y),
            min_size=min_size,
            seed=cfg.seed,
            fdr=cfg.fdr,
            bins=cfg.search_bins,
            max_confirm=cfg.search_max_confirm,
        )
    failures = regression_failures(frame, y, pred, cfg.n_failures)
    # The bootstrap runs on a thread beside the leakage checks: both spend their time in
    # NumPy kernels that release the GIL, and no result depends on which ends first.
    # (Beside the plots or the search, which hold the GIL, both would crawl.)
    pending_boot = in_background(
        run_bootstrap, n, groups, headline, cfg.n_bootstrap, cfg.seed, method, order=order
    )
    warnings = check_leakage(leakage, cfg) if leakage is not None else []
    # Leak suspects: upstream ones and columns a one-feature rule predicts the
    # target from almost perfectly, found while the bootstrap runs.
    suspects = LS.collect_leak_suspects(frame, y_true, leakage, cfg, "regression")
    warnings += LS.suspect_warnings(suspects)
    boot = pending_boot.result()
    records, ranking = R.slice_records(plan, boot, [primary], primary, hib)
    b_section, deltas, meaningful, reason = R.baseline_section(
        baseline, boot, paired, point, base_point, primary, MR.HIGHER_IS_BETTER
    )
    reason = LS.reason_with_suspects(reason, meaningful, suspects)

    metrics_file = S.MetricsFile(
        schema_version=S.SCHEMA_VERSION,
        task="regression",
        n_examples=n,
        classes=None,
        metrics=point,
        higher_is_better={m: MR.HIGHER_IS_BETTER[m] for m in point},
        notes={"r2": "1 - SSE/SST; 1.0 for a perfect fit of a constant target, else 0.0"},
        confusion_matrix=None,
        baseline=b_section,
        deltas=deltas,
        improvement_is_meaningful=meaningful,
        improvement_reason=reason,
    )
    return R.finish_report(
        R.ReportParts(
            task="regression",
            out_dir=Path(out_dir),
            run=run,
            cfg=cfg,
            n=n,
            boot=boot,
            headline=headline,
            primary=primary,
            higher_is_better=hib,
            metrics=metrics_file,
            families=families,
            records=records,
            ranking=ranking,
            search=search,
            stress_rows=stress_rows,
            scenarios=scenarios,
            stress_plot_path=stress_plot_path,
            baseline=b_section,
            deltas=deltas,
            meaningful=meaningful,
            failures=failures,
            plot_paths=plots.paths,
            plots=plots.rendered(),
            latency=latency,
            warnings=warnings,
            leak_suspects=suspects,
        )
    )


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    return sorted(str(c) for c in frame.columns if not F.is_categorical(frame[c]))


@dataclass(frozen=True)
class _ShiftSegment:
    """The rows one distribution-shift severity refits on, and why it may not run."""

    train: NDArray[np.bool_]
    skip: str | None


@dataclass(frozen=True)
class _ShiftPlan:
    column: str
    test: NDArray[np.bool_]
    reference: float | None
    segments: list[_ShiftSegment]
    description: str


def _shift_plan(
    frame: pd.DataFrame,
    y: NDArray[np.float64],
    pred: NDArray[np.float64],
    column: str,
    cfg: EvalConfig,
    metric: str,
    min_rows: int,
) -> _ShiftPlan:
    """Segments of the shift test, each held to an honest size.

    A refit on a few dozen rows measures the small sample, not the shift: a severity
    runs only when its refit segment has max(shift_min_refit_rows,
    shift_refit_rows_per_feature x feature columns) rows and the evaluated segment has
    the minimum slice size; otherwise it is skipped with the sizes in its status.
    """
    x = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(x)
    hi = np.quantile(x[finite], SHIFT_TEST_QUANTILE) if finite.any() else np.nan
    test = finite & (x >= hi)
    n_eval = int(test.sum())
    need = max(2, cfg.shift_min_refit_rows, cfg.shift_refit_rows_per_feature * frame.shape[1])
    why_need = (
        f"{cfg.shift_refit_rows_per_feature} per feature column x {frame.shape[1]}, "
        f"at least {cfg.shift_min_refit_rows}"
    )
    segments = []
    for sev in cfg.stress_severities:
        q = max(SHIFT_TEST_QUANTILE - sev, 0.05)
        lo = np.quantile(x[finite], q) if finite.any() else np.nan
        train = finite & (x < lo)
        n_train = int(train.sum())
        skip = None
        if n_eval < min_rows:
            skip = (
                f"the evaluated segment ({column} >= its {SHIFT_TEST_QUANTILE:g} quantile) has "
                f"{n_eval} rows, under the minimum slice size of {min_rows}"
            )
        elif n_train < need:
            skip = (
                f"the refit segment ({column} below its {q:.2g} quantile) has {n_train} rows, "
                f"fewer than the {need} a refit needs ({why_need})"
            )
        segments.append(_ShiftSegment(train, skip))
    reference = MR.regression_metrics(y[test], pred[test]).get(metric) if n_eval else None
    description = (
        f"refit on rows with {column} below its (0.8 - severity) quantile, evaluated on the "
        f"{n_eval} rows at or above its 0.8 quantile; degradation is against the model's clean "
        f"{metric} on those same rows ({_fmt(reference)}); a severity runs only with at least "
        f"{need} refit rows ({why_need}) and {min_rows} evaluated rows (the minimum slice "
        f"size), else it is skipped"
    )
    return _ShiftPlan(column, test, reference, segments, description)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def _stress(
    frame: pd.DataFrame,
    y: NDArray[np.float64],
    pred: NDArray[np.float64],
    predict: RegressorPredict | None,
    refit: Refit | None,
    baseline: BaselineResult | None,
    b_pred: NDArray[np.float64] | None,
    key: str | None,
    cfg: EvalConfig,
    metric: str,
    method: Any,
    point: dict[str, float | None],
    base_point: dict[str, float | None] | None,
    min_rows: int,
) -> tuple[list[Any], dict[str, str]]:
    if not cfg.run_stress:
        return [], {}
    numeric = _numeric_columns(frame)
    selected = [cfg.stress_column] if cfg.stress_column else numeric
    shift_col = key if key in numeric else (numeric[0] if numeric else None)
    scenarios = {
        "feature_noise": (
            f"severity = Gaussian noise in column standard deviations on {', '.join(selected)}"
        ),
        "missing_values": "severity = share of feature cells blanked at random",
    }
    shift = None
    if shift_col is not None:
        shift = _shift_plan(frame, y, pred, shift_col, cfg, metric, min_rows)
        scenarios[f"distribution_shift:{shift_col}"] = shift.description
    models: list[tuple[str, Any]] = [("candidate", predict)]
    if baseline is not None:
        models.append(("baseline", baseline.predict))
    cases: list[StressCase] = []
    for si, sev in enumerate(cfg.stress_severities):
        for model, fn in models:

            def noisy(fn: Any = fn, si: int = si, sev: float = sev) -> Any:
                corrupted = add_noise(frame, selected, sev, severity_rng(cfg.seed, 0, si))
                return MR.prepare(y, np.asarray(fn(corrupted), dtype=np.float64))

            def missing(fn: Any = fn, si: int = si, sev: float = sev) -> Any:
                corrupted = inject_missing(frame, sev, severity_rng(cfg.seed, 1, si))
                return MR.prepare(y, np.asarray(fn(corrupted), dtype=np.float64))

            skip = "no predict callable was given"
            cases.append(
                StressCase(
                    "feature_noise",
                    model,
                    sev,
                    noisy if fn is not None and selected else (lambda: None),
                    skip,
                )
            )
            cases.append(
                StressCase(
                    "missing_values",
                    model,
                    sev,
                    missing if fn is not None else (lambda: None),
                    skip,
                )
            )
        if shift is not None:
            segment = shift.segments[si]

            def shifted(train: NDArray[np.bool_] = segment.train, plan: Any = shift) -> Any:
                assert refit is not None
                test = plan.test
                log.info(
                    "%s: refit on %d rows, evaluated on %d rows",
                    current_stress_label(),
                    int(train.sum()),
                    int(test.sum()),
                )
                fn = refit(frame[train], y[train])
                return MR.prepare(y[test], np.asarray(fn(frame[test]), dtype=np.float64))

            runs = refit is not None and segment.skip is None
            cases.append(
                StressCase(
                    f"distribution_shift:{shift.column}",
                    "candidate",
                    sev,
                    shifted if runs else (lambda: None),
                    "no refit callable was given" if refit is None else segment.skip or "",
                    reference=shift.reference,
                )
            )
    clean = {"candidate": point.get(metric), "baseline": (base_point or {}).get(metric)}
    rows = run_stress(cases, clean, metric, cfg.stress_n_bootstrap, cfg.seed, method)
    rows.sort(key=lambda r: (r.scenario, r.model, r.severity))
    return rows, scenarios
