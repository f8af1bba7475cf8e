"""The one evaluation pipeline: a task's spec in, the eval/ contract folder out.

Every task runs the same steps in the same order; a task contributes only what differs
(:class:`~evalharness.core.task.TaskSpec`). The order matters for speed, never for a
number: the stress tests run first and alone, and the bootstrap runs on a thread beside
the leakage checks (see the comments below).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from evalharness.bench.latency import LatencyResult
from evalharness.bootstrap.engine import Group, run_bootstrap
from evalharness.bootstrap.paired import paired_groups, paired_names, point_metrics
from evalharness.bootstrap.resample import Resampling, resolve_method
from evalharness.core import separators as LS
from evalharness.core.background import in_background
from evalharness.core.baseline import baseline_section, check_baseline
from evalharness.core.config import (
    AUTO_MULTINOMIAL_MAX_ROWS,
    BaselineResult,
    EvalConfig,
    LeakageInputs,
    RunInfo,
)
from evalharness.core.leakage import check_leakage
from evalharness.core.report import (
    ci_file,
    estimate,
    failures_file,
    repro_markdown,
    stress_file,
    summary_file,
    write_report,
)
from evalharness.core.slice_report import (
    SlicePlan,
    min_slice_size_for,
    plan_slices,
    search_record,
    slice_families,
    slice_groups,
    slice_records,
    slices_file,
    weakest_slice,
)
from evalharness.core.takeaway import takeaway_text
from evalharness.core.task import StressContext, TaskMetrics, TaskSpec, WorstSlice
from evalharness.plots.collect import PlotSet
from evalharness.plots.slices import SliceBar, slices_plot
from evalharness.plots.stress import stress_plot, stress_series
from evalharness.schemas import files as S
from evalharness.slicing.families import key_feature_of
from evalharness.slicing.search import search_weak_slices
from evalharness.stress.runner import StressResult, run_stress, stress_sample

#: the note of slices.json's search section
SEARCH_NOTE = "confirmed only when the held-out half agrees under BH"


def evaluate(
    out_dir: Path,
    frame: pd.DataFrame,
    build: Callable[[EvalConfig], TaskSpec],
    *,
    run: RunInfo,
    baseline: BaselineResult | None,
    leakage: LeakageInputs | None,
    config: EvalConfig | None,
    latency: LatencyResult | str | None,
) -> S.EvalSummaryFile:
    """Evaluate the task ``build(cfg)`` reads on the test rows in ``frame``, (re)write
    ``out_dir`` and return its eval_summary.json.

    The baseline is checked against ``run`` before ``build`` reads any input. Leakage
    checks finish before anything is written; on LeakageError nothing is.
    """
    cfg = config or EvalConfig()
    check_baseline(baseline, run)
    task = build(cfg)
    m = task.metrics
    n = m.arrays.n
    headline = headline_metrics(cfg, m)
    primary = headline[0]
    hib = m.higher_is_better[primary]

    defs, families = slice_families(task.slices, n)
    min_size, _ = min_slice_size_for(cfg, n)
    plan = plan_slices(defs, m.order, min_size)
    method = resolve_method(cfg.bootstrap_method, n, AUTO_MULTINOMIAL_MAX_ROWS)
    # Slices carry the primary metric (the one they are ranked by) with its CI and delta,
    # and the metrics their family asks for besides, which the whole set then needs too.
    extra = {f.name: [x for x in f.metrics if x in m.names] for f in task.slices}
    wanted = sorted({x for xs in extra.values() for x in xs} - set(headline))
    groups: dict[str, Group] = {
        "overall": Group(m.arrays, None, (*headline, *wanted) if wanted else None)
    }
    groups.update(slice_groups(plan, m.arrays, [primary], extra))
    base_point: dict[str, float | None] | None = None
    paired: tuple[str, ...] = ()
    if m.baseline is not None:
        base_point = point_metrics(m.baseline, m.names)
        # Paired deltas for every metric both models define, exactly as the task's
        # paired_*_deltas compute them (same groups, same replicates).
        paired = paired_names(m.names, m.point, base_point)
        if paired:
            groups.update(paired_groups(m.arrays, m.baseline, paired, also=headline))
    clean = {"candidate": m.point[primary], "baseline": (base_point or {}).get(primary)}
    # Stress tests first and alone: a model's predictions and refits may use every core,
    # and OpenMP threads that share cores with the bootstrap thread slow down badly.
    stress_rows, scenarios = stress_tests(task, frame, cfg, primary, method, clean, min_size)
    plots = PlotSet(cfg.plot_formats)
    stress_plot_path = None
    series = stress_series(stress_rows, clean, None if baseline is None else baseline.name)
    if series:
        stress_plot_path = plots.add("stress", stress_plot, series, primary)
    task.plots(plots)
    search = None
    if cfg.run_search and frame.shape[1] > 0:
        found = search_weak_slices(
            frame.reset_index(drop=True),
            task.search_loss,
            min_size=min_size,
            seed=cfg.seed,
            fdr=cfg.fdr,
            bins=cfg.search_bins,
            max_confirm=cfg.search_max_confirm,
        )
        search = search_record(found, task.search_loss_description, cfg, SEARCH_NOTE)
    # The bootstrap runs on a thread beside the leakage checks: both spend their time in
    # NumPy kernels that release the GIL, and no result depends on which ends first.
    # (Beside the plots or the search, which hold the GIL, both would crawl.)
    pending_boot = in_background(
        run_bootstrap, n, groups, headline, cfg.n_bootstrap, cfg.seed, method, order=m.order
    )
    warnings = check_leakage(leakage, cfg) if leakage is not None else []
    # Leak suspects: upstream ones and columns a one-feature rule predicts the
    # target from almost perfectly, found while the bootstrap runs.
    suspects = LS.collect_leak_suspects(frame, task.y_true, leakage, cfg, task.name)
    warnings += LS.suspect_warnings(suspects)
    boot = pending_boot.result()

    records, ranking = slice_records(plan, boot, [primary], primary, hib)
    bars = slice_bars(records, ranking, primary, hib)
    if bars:
        overall = boot.interval("overall", primary).estimate
        plots.add("slices", slices_plot, bars, primary, overall)
    failures = task.failures(_worst(plan, weakest_slice(records, ranking, primary, hib)))
    b_section, deltas, meaningful, reason = baseline_section(
        baseline, boot, paired, m.point, base_point, primary, m.higher_is_better
    )
    reason = LS.reason_with_suspects(reason, meaningful, suspects)
    metrics_file = S.MetricsFile(
        schema_version=S.SCHEMA_VERSION,
        task=task.name,
        n_examples=n,
        classes=task.classes,
        metrics=m.point,
        higher_is_better={name: m.higher_is_better[name] for name in m.point},
        notes=m.notes,
        confusion_matrix=task.confusion_matrix,
        baseline=b_section,
        deltas=deltas,
        improvement_is_meaningful=meaningful,
        improvement_reason=reason,
    )
    headline_est = {name: estimate(boot.interval("overall", name)) for name in headline}
    own_files = task.files() if task.files is not None else {}
    takeaway = takeaway_text(
        primary,
        headline_est[primary],
        n,
        b_section,
        deltas,
        meaningful,
        records,
        ranking,
        stress_rows,
        hib,
        failures,
        leak_suspects=suspects,
        units=task.units,
    )
    summary = summary_file(
        task.name,
        run,
        n,
        headline_est,
        primary,
        b_section,
        deltas,
        meaningful,
        plots.paths,
        latency,
        warnings,
        leak_suspects=suspects,
        task_files={stem: name for stem, (name, _) in own_files.items()},
    )
    write_report(
        Path(out_dir),
        summary=summary,
        metrics=metrics_file,
        cis=ci_file(boot, headline),
        slices=slices_file(cfg, n, primary, families, records, ranking, search),
        failures=failures_file(failures, cfg.n_failures),
        stress=stress_file(stress_rows, primary, hib, cfg, scenarios, stress_plot_path),
        takeaway=takeaway,
        repro=repro_markdown(run, cfg),
        plots=plots.rendered(),
        task_files={name: data for name, data in own_files.values()},
    )
    return summary


def slice_bars(
    records: Sequence[S.SliceRecord], ranking: Sequence[str], primary: str, higher_is_better: bool
) -> list[SliceBar]:
    """The ranked slices with a measured ``primary`` and interval, in ranking order."""
    by_id = {r.id: r for r in records}
    bars = []
    for slice_id in ranking:
        r = by_id[slice_id]
        est, delta = r.metrics.get(primary), r.delta.get(primary)
        if est is None or est.value is None or est.ci_low is None or est.ci_high is None:
            continue
        d = 0.0 if delta is None or delta.value is None else delta.value
        worse = d < 0 if higher_is_better else d > 0
        bars.append(SliceBar(r.id, r.n, est.value, est.ci_low, est.ci_high, worse))
    return bars


def headline_metrics(cfg: EvalConfig, metrics: TaskMetrics) -> list[str]:
    """The headline: the requested metrics (``EvalConfig.headline``, else the task's
    default) that are defined on these rows, else the task's first default metric, so
    that a report always has a primary metric (the first headline metric)."""
    wanted = cfg.headline or metrics.default_headline
    return [m for m in wanted if metrics.point.get(m) is not None] or [metrics.default_headline[0]]


def stress_tests(
    task: TaskSpec,
    frame: pd.DataFrame,
    cfg: EvalConfig,
    metric: str,
    method: Resampling,
    clean: dict[str, float | None],
    min_rows: int,
) -> tuple[list[StressResult], dict[str, str]]:
    """The task's stress rows (sorted by scenario, model, severity) and scenario texts.

    Every task's tests score at most ``EvalConfig.stress_max_rows`` rows: above that, a
    seeded sample (the same for every scenario, model and severity), because each scenario
    re-predicts every row it scores and a degradation needs no more. The clean metrics the
    degradations are taken against (``clean``, each model's on every row) are then taken
    on the same sample, so corrupted and clean compare like with like, and every scenario
    text says so.
    """
    if not cfg.run_stress:
        return [], {}
    # The key feature of the whole test set, whichever slices the report has.
    key, _ = key_feature_of(frame, task.y, cfg)
    n_all = len(frame)
    source = task.stress
    sample = stress_sample(n_all, cfg.stress_max_rows, cfg.seed)
    if sample is not None:
        frame, source = frame.take(sample), source.on_rows(sample)
        clean = source.clean(metric)
    cases, scenarios = source.cases(StressContext(frame, key, metric, cfg, min_rows))
    rows = run_stress(cases, clean, metric, cfg.stress_n_bootstrap, cfg.seed, method)
    rows.sort(key=lambda r: (r.scenario, r.model, r.severity))
    if sample is not None:
        note = f" (scored on a seeded sample of {sample.size:,} of the {n_all:,} rows)"
        scenarios = {name: text + note for name, text in scenarios.items()}
    return rows, scenarios


def _worst(plan: SlicePlan, weak: S.SliceRecord | None) -> WorstSlice | None:
    """The weakest slice's id and mask, for the task's failure selection."""
    if weak is None:
        return None
    return weak.id, next(d.mask for d in plan.defs if d.id == weak.id)
