"""The classification evaluator: one call checks leakage, evaluates and writes eval/."""

from __future__ import annotations

from collections.abc import Sequence
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
    ClassifierPredict,
    EvalConfig,
    LeakageInputs,
    RunInfo,
)
from evalharness.core.errors import ContractError
from evalharness.core.leakage import check_leakage
from evalharness.failures.selection import classification_failures
from evalharness.metrics import classification as MC
from evalharness.plots import classification as PC
from evalharness.plots.collect import PlotSet
from evalharness.plots.stress import stress_plot
from evalharness.schemas import files as S
from evalharness.slicing.families import SliceFamily, classification_families, key_feature_of
from evalharness.slicing.search import search_weak_slices
from evalharness.stress.corruptions import flip_labels, inject_missing, shuffle_column
from evalharness.stress.runner import (
    METRIC_SENSITIVITY,
    StressCase,
    run_stress,
    severity_rng,
    stress_sample,
)

DEFAULT_HEADLINE = ("accuracy", "roc_auc", "f1")


def bootstrap_layout(
    y: NDArray[np.intp], scores: NDArray[np.float64] | None, n_classes: int
) -> NDArray[np.intp]:
    """The row layout of the bootstrap kernels (position ``j`` holds caller row ``order[j]``).

    Binary rows with scores are laid out once as (negatives by score, positives by score),
    so every ROC kernel, slices included, reads contiguous slices instead of gathering;
    other tasks keep the caller's order. Replicates are drawn in the caller's order and
    permuted into this layout, so the layout never changes which rows a replicate draws.
    """
    if scores is not None and n_classes == 2:
        return np.lexsort((scores[:, 1], y)).astype(np.intp)
    return np.arange(y.size, dtype=np.intp)


def paired_classification_deltas(
    y_true: ArrayLike,
    a_pred: ArrayLike,
    b_pred: ArrayLike,
    *,
    a_scores: ArrayLike | None = None,
    b_scores: ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    config: EvalConfig | None = None,
) -> PairedDeltas:
    """Paired bootstrap intervals of (B - A) for every metric defined for both classifiers.

    A and B scored the same rows (``y_true``). Labels, scores and ``classes`` are read as
    :func:`evaluate_classification` reads them, and ``config``'s ``n_bootstrap``, ``seed``
    and ``bootstrap_method`` pick the replicates, so the result equals the deltas of B's
    report against baseline A (``metrics.json`` ``deltas``) number for number.
    """
    cfg = config or EvalConfig()
    if classes is None:
        seen = np.concatenate([np.asarray(v).ravel() for v in (y_true, a_pred, b_pred)])
        classes = sorted(set(seen.tolist()))
    y, pb, scb, labels = MC.encode(y_true, b_pred, b_scores, classes)
    _, pa, sca, _ = MC.encode(y_true, a_pred, a_scores, labels)
    k = len(labels)
    f1_avg, _ = MC.choose_f1_average(y, k)
    order = bootstrap_layout(y, scb, k)

    def laid_out(p: NDArray[np.intp], sc: NDArray[np.float64] | None) -> MC.ClassificationArrays:
        return MC.build_arrays(y[order], p[order], None if sc is None else sc[order], k, f1_avg)

    method = resolve_method(cfg.bootstrap_method, y.size, AUTO_MULTINOMIAL_MAX_ROWS)
    return paired_bootstrap(
        laid_out(pb, scb),
        laid_out(pa, sca),
        MC.CLASSIFICATION_METRICS,
        MC.HIGHER_IS_BETTER,
        cfg.n_bootstrap,
        cfg.seed,
        method,
        order,
    )


def _predict_batch(
    predict: ClassifierPredict,
    frames: dict[tuple[str, int], pd.DataFrame],
    labels: list[Any],
    f1_average: str,
) -> dict[tuple[str, int], MC.ClassificationArrays]:
    """Predict every frame in one call and split the answers back per frame."""
    keys = sorted(frames)
    if not keys:
        return {}
    y_pred, scores = predict(pd.concat([frames[key] for key in keys]))
    y_pred = np.asarray(y_pred)
    scores = None if scores is None else np.asarray(scores)
    bounds = np.cumsum([0, *(len(frames[key]) for key in keys)])
    out = {}
    for key, start, stop in zip(keys, bounds[:-1], bounds[1:], strict=True):
        part = y_pred[start:stop]
        _, p, sc, _ = MC.encode(part, part, None if scores is None else scores[start:stop], labels)
        out[key] = MC.build_arrays(p, p, sc, len(labels), f1_average)
    return out


def evaluate_classification(
    out_dir: Path,
    frame: pd.DataFrame,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    run: RunInfo,
    scores: ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    predict: ClassifierPredict | None = None,
    baseline: BaselineResult | None = None,
    leakage: LeakageInputs | None = None,
    config: EvalConfig | None = None,
    latency: LatencyResult | str | None = None,
    slices: Sequence[SliceFamily] | None = None,
) -> S.EvalSummaryFile:
    """Evaluate a classifier on the test rows in ``frame`` and (re)write ``out_dir``.

    ``slices`` are the report's slice families, masks in ``frame``'s row order (default:
    :func:`~evalharness.slicing.families.classification_families`).

    ``scores`` is ``(n, K)`` probabilities in ``classes`` order (or the positive-class column
    for binary). ``predict(frame) -> (y_pred, scores)`` enables the feature stress tests.
    ``latency`` is a measure_latency result written into eval_summary.json (the folder is
    then no longer byte-identical between machines), or a path relative to ``out_dir`` of a
    file outside it that holds the timings.
    Leakage checks finish before anything is written; on LeakageError nothing is.
    """
    cfg = config or EvalConfig()
    R.check_baseline(baseline, run)
    if len(frame) != len(np.asarray(y_true)):
        raise ContractError(f"frame has {len(frame)} rows but y_true has {len(np.asarray(y_true))}")
    y, p, sc, labels = MC.encode(y_true, y_pred, scores, classes)
    k = len(labels)
    f1_avg, f1_reason = MC.choose_f1_average(y, k)
    order = bootstrap_layout(y, sc, k)
    arrays = MC.build_arrays(y[order], p[order], None if sc is None else sc[order], k, f1_avg)
    n = arrays.n

    all_metrics = arrays.compute(np.ones((1, n)), MC.CLASSIFICATION_METRICS)
    point = {m: (None if np.isnan(v[0]) else float(v[0])) for m, v in all_metrics.items()}
    notes = {"f1": f"average={f1_avg}: {f1_reason}"}
    if sc is None:
        for m in ("roc_auc", "pr_auc", "log_loss", "brier"):
            notes[m] = "needs scores, none were given"
    else:
        if k > 2:
            notes["pr_auc"] = "average precision is reported for binary tasks only"
        if point["roc_auc"] is None:
            notes["roc_auc"] = "undefined: some class lacks positive or negative examples"
    headline = [m for m in (cfg.headline or DEFAULT_HEADLINE) if point.get(m) is not None]
    if not headline:
        headline = ["accuracy"]
    primary = headline[0]
    hib = MC.HIGHER_IS_BETTER[primary]

    confidence = None if sc is None else sc.max(axis=1)
    defs, families = R.slice_families(
        classification_families(frame, y, labels, sc, cfg) if slices is None else slices, n
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
    paired: tuple[str, ...] = ()
    if baseline is not None and baseline.y_pred is not None:
        _, bp, bsc, _ = MC.encode(y_true, baseline.y_pred, baseline.scores, labels)
        b_arrays = MC.build_arrays(
            y[order], bp[order], None if bsc is None else bsc[order], k, f1_avg
        )
        base_point = point_metrics(b_arrays, MC.CLASSIFICATION_METRICS)
        # Paired deltas for every metric both models define, exactly as
        # paired_classification_deltas computes them (same groups, same replicates).
        paired = paired_names(MC.CLASSIFICATION_METRICS, point, base_point)
        if paired:
            groups.update(paired_groups(arrays, b_arrays, paired, also=headline))
    # Stress tests first and alone: a model's predictions may use every core, and
    # OpenMP threads that share cores with the bootstrap thread slow down badly.
    stress_rows, scenarios = _stress(
        frame,
        y,
        p,
        sc,
        labels,
        f1_avg,
        predict,
        baseline,
        cfg,
        primary,
        method,
        point,
        base_point,
        key,
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
    conf_m = arrays.confusion()
    str_labels = [str(x) for x in labels]
    plots.add("confusion_matrix", PC.confusion_matrix_plot, conf_m, str_labels)
    if sc is not None:
        if k == 2:
            plots.add("roc_curve", PC.roc_plot, y, sc[:, 1], point["roc_auc"])
            plots.add("pr_curve", PC.pr_plot, y, sc[:, 1], point["pr_auc"])
        assert confidence is not None
        plots.add("calibration", PC.calibration_plot, y == p, confidence)
        plots.add("confidence_histogram", PC.confidence_histogram, y == p, confidence)
    search = None
    if cfg.run_search and frame.shape[1] > 0:
        search = search_weak_slices(
            frame.reset_index(drop=True),
            (y != p).astype(np.float64),
            min_size=min_size,
            seed=cfg.seed,
            fdr=cfg.fdr,
            bins=cfg.search_bins,
            max_confirm=cfg.search_max_confirm,
        )
    # The bootstrap runs on a thread beside the leakage checks: both spend their time in
    # NumPy kernels that release the GIL, and no result depends on which ends first.
    # (Beside the plots or the search, which hold the GIL, both would crawl.)
    pending_boot = in_background(
        run_bootstrap, n, groups, headline, cfg.n_bootstrap, cfg.seed, method, order=order
    )
    warnings = check_leakage(leakage, cfg) if leakage is not None else []
    # Leak suspects: upstream ones and columns a one-feature rule predicts the
    # target from almost perfectly, found while the bootstrap runs.
    suspects = LS.collect_leak_suspects(frame, y_true, leakage, cfg, "classification")
    warnings += LS.suspect_warnings(suspects)
    boot = pending_boot.result()
    records, ranking = R.slice_records(plan, boot, [primary], primary, hib)
    worst = None
    weak = R.weakest_slice(records, ranking, primary, hib)
    if weak is not None:
        worst = (weak.id, next(d.mask for d in plan.defs if d.id == weak.id))
    failures = classification_failures(frame, y, p, labels, confidence, worst, cfg.n_failures)

    b_section, deltas, meaningful, reason = R.baseline_section(
        baseline, boot, paired, point, base_point, primary, MC.HIGHER_IS_BETTER
    )
    reason = LS.reason_with_suspects(reason, meaningful, suspects)

    metrics_file = S.MetricsFile(
        schema_version=S.SCHEMA_VERSION,
        task="classification",
        n_examples=n,
        classes=str_labels,
        metrics=point,
        higher_is_better={m: MC.HIGHER_IS_BETTER[m] for m in point},
        notes=notes,
        confusion_matrix=S.ConfusionMatrix(labels=str_labels, matrix=conf_m.tolist()),
        baseline=b_section,
        deltas=deltas,
        improvement_is_meaningful=meaningful,
        improvement_reason=reason,
    )
    return R.finish_report(
        R.ReportParts(
            task="classification",
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


def _stress(
    frame: pd.DataFrame,
    y: NDArray[np.intp],
    p: NDArray[np.intp],
    sc: NDArray[np.float64] | None,
    labels: list[Any],
    f1_avg: str,
    predict: ClassifierPredict | None,
    baseline: BaselineResult | None,
    cfg: EvalConfig,
    metric: str,
    method: Any,
    point: dict[str, float | None],
    base_point: dict[str, float | None] | None,
    key: str | None,
) -> tuple[list[Any], dict[str, str]]:
    if not cfg.run_stress:
        return [], {}
    k = len(labels)
    n_all = y.size
    sample = stress_sample(n_all, cfg.stress_max_rows, cfg.seed)
    if sample is not None:
        # Corrupted and clean metrics are both taken on the same seeded sample, so the
        # degradation compares like with like.
        frame, y, p = frame.take(sample), y[sample], p[sample]
        sc = None if sc is None else sc[sample]

        def on_sample(pp: Any, ss: Any) -> float | None:
            value = MC.build_arrays(y, pp, ss, k, f1_avg).compute(np.ones((1, y.size)), [metric])
            v = float(value[metric][0])
            return None if np.isnan(v) else v

        point = {metric: on_sample(p, sc)}
    # The shuffled column: the caller's choice, else the key feature, else the first column.
    column = (
        cfg.stress_column or key or (sorted(map(str, frame.columns))[0] if frame.shape[1] else None)
    )
    scenarios = {
        "missing_values": "severity = share of feature cells blanked at random",
        "label_noise": (
            "severity = share of true labels moved to another class; a metric-sensitivity "
            "reference: it corrupts the ground truth, not the inputs, so a perfect model "
            f"loses about as much {metric}, and it is never the model's worst degradation"
        ),
    }
    if column is not None:
        scenarios[f"shuffle:{column}"] = f"severity = share of rows whose {column} is permuted"
    models: list[tuple[str, Any, Any, Any]] = [("candidate", predict, p, sc)]
    if baseline is not None:
        b_p = b_sc = None
        if baseline.y_pred is not None:
            _, b_p, b_sc, _ = MC.encode(
                np.asarray(baseline.y_pred), np.asarray(baseline.y_pred), baseline.scores, labels
            )
            if sample is not None:
                b_p = b_p[sample]
                b_sc = None if b_sc is None else b_sc[sample]
                base_point = {metric: on_sample(b_p, b_sc)}
        models.append(("baseline", baseline.predict, b_p, b_sc))
    # Candidate and baseline see the same corrupted frames; each model predicts all of
    # them in one call (one feature preparation, one pass of the trees): a row's
    # prediction does not depend on the rows predicted with it.
    corrupted: dict[tuple[str, int], pd.DataFrame] = {}
    for si, sev in enumerate(cfg.stress_severities):
        corrupted["missing", si] = inject_missing(frame, sev, severity_rng(cfg.seed, 0, si))
        if column is not None:
            corrupted["shuffle", si] = shuffle_column(
                frame, column, sev, severity_rng(cfg.seed, 2, si)
            )
    predicted = {
        model: _predict_batch(pred_fn, corrupted, labels, f1_avg)
        for model, pred_fn, _, _ in models
        if pred_fn is not None
    }
    cases: list[StressCase] = []
    for si, sev in enumerate(cfg.stress_severities):
        for model, pred_fn, mp, msc in models:

            def missing(model: str = model, si: int = si) -> Any:
                got = predicted[model]["missing", si]
                return MC.build_arrays(y, got.p, got.scores, k, f1_avg)

            def noise(mp: Any = mp, msc: Any = msc, si: int = si, sev: float = sev) -> Any:
                noisy = flip_labels(y, sev, k, severity_rng(cfg.seed, 1, si))
                return MC.build_arrays(noisy, mp, msc, k, f1_avg)

            def shuffled(model: str = model, si: int = si) -> Any:
                got = predicted[model]["shuffle", si]
                return MC.build_arrays(y, got.p, got.scores, k, f1_avg)

            no_predict = "no predict callable was given"
            cases.append(
                StressCase(
                    "missing_values",
                    model,
                    sev,
                    missing if pred_fn is not None else (lambda: None),
                    no_predict,
                )
            )
            cases.append(
                StressCase(
                    "label_noise",
                    model,
                    sev,
                    noise if mp is not None else (lambda: None),
                    "no predictions were given",
                    kind=METRIC_SENSITIVITY,
                )
            )
            if column is not None:
                cases.append(
                    StressCase(
                        f"shuffle:{column}",
                        model,
                        sev,
                        shuffled if pred_fn is not None else (lambda: None),
                        no_predict,
                    )
                )
    clean = {"candidate": point.get(metric), "baseline": (base_point or {}).get(metric)}
    rows = run_stress(cases, clean, metric, cfg.stress_n_bootstrap, cfg.seed, method)
    rows.sort(key=lambda r: (r.scenario, r.model, r.severity))
    if sample is not None:
        note = f" (scored on a seeded sample of {sample.size:,} of the {n_all:,} rows)"
        scenarios = {name: text + note for name, text in scenarios.items()}
    return rows, scenarios
