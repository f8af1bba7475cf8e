"""Pieces shared by the task evaluators: slices with CIs, CI file, takeaway, repro.md,
the summary, and writing the folder."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
from numpy.typing import NDArray

from evalharness.bench.latency import LatencyResult
from evalharness.bootstrap.engine import BootstrapResult, Group, WeightedMetrics
from evalharness.bootstrap.intervals import Interval
from evalharness.bootstrap.paired import paired_intervals
from evalharness.core.config import RECOMMENDED_N_BOOTSTRAP, BaselineResult, EvalConfig, RunInfo
from evalharness.core.errors import BaselineMismatchError, ContractError
from evalharness.core.jsonio import clean_float, encode_json, write_folder_atomically
from evalharness.core.separators import suspect_clause
from evalharness.failures.categories import failure_modes_markdown
from evalharness.failures.selection import DEDUP_RULE, Failure
from evalharness.schemas import files as S
from evalharness.slicing.families import SliceFamily, flatten
from evalharness.slicing.fixed import SliceDef
from evalharness.slicing.search import TEST_NAME as SEARCH_TEST
from evalharness.slicing.search import SearchResult, loss_description
from evalharness.stress.runner import METRIC_SENSITIVITY, MODEL_ROBUSTNESS, StressResult


def estimate(iv: Interval) -> S.Estimate:
    """Interval -> schema Estimate."""
    return S.Estimate(
        value=clean_float(iv.estimate),
        ci_low=clean_float(iv.ci_low),
        ci_high=clean_float(iv.ci_high),
    )


def check_baseline(baseline: BaselineResult | None, run: RunInfo) -> None:
    """A baseline must come from the same dataset version and split as the candidate."""
    if baseline is None:
        return
    if baseline.dataset_version is not None and baseline.dataset_version != run.dataset_version:
        raise BaselineMismatchError(
            f"baseline {baseline.name!r} ran on dataset version {baseline.dataset_version!r}, "
            f"the candidate on {run.dataset_version!r}: improvement claims need the same version"
        )
    if (
        baseline.split_checksum is not None
        and run.split_checksum is not None
        and baseline.split_checksum != run.split_checksum
    ):
        raise BaselineMismatchError(
            f"baseline {baseline.name!r} used split {baseline.split_checksum!r}, the candidate "
            f"{run.split_checksum!r}: improvement claims need the same split"
        )


@dataclass(frozen=True)
class SlicePlan:
    """Fixed slices mapped to the bootstrap's row order."""

    defs: list[SliceDef]
    positions: dict[str, NDArray[np.intp]]
    sizes: dict[str, int]
    n_rows: int

    def covers_all(self, sid: str) -> bool:
        """True for a slice holding every evaluated row: it is the overall set again."""
        return self.sizes[sid] == self.n_rows


def slice_families(
    families: Sequence[SliceFamily], n: int
) -> tuple[list[SliceDef], dict[str, str]]:
    """Every slice of ``families`` in order and each family's description, checked
    against the ``n`` evaluation rows.

    :raises ContractError: a mask that does not have one entry per row, or two slices
        with one id.
    """
    for family in families:
        for d in family.slices:
            if np.shape(d.mask) != (n,):
                raise ContractError(
                    f"slice {d.id!r} of family {family.name!r} has a mask of shape "
                    f"{np.shape(d.mask)}; it needs one entry per evaluation row ({n})"
                )
    try:
        return flatten(families)
    except ValueError as exc:
        raise ContractError(str(exc)) from None


def plan_slices(defs: Sequence[SliceDef], order: NDArray[np.intp], min_size: int) -> SlicePlan:
    """Map slice masks (caller's row order) to positions in the bootstrap order."""
    positions: dict[str, NDArray[np.intp]] = {}
    sizes: dict[str, int] = {}
    kept = []
    for d in defs:
        size = int(d.mask.sum())
        if size == 0:
            continue  # empty buckets carry no information
        kept.append(d)
        sizes[d.id] = size
        if size >= min_size:
            positions[d.id] = np.flatnonzero(d.mask[order]).astype(np.intp)
    return SlicePlan(kept, positions, sizes, int(order.size))


#: The derived minimum slice size asks for n // SLICE_SIZE_DIVISOR rows (between the floor
#: and the cap): with 8, a quintile of the test set (n / 5 rows, fewer where ties make the
#: buckets uneven) is still measured.
SLICE_SIZE_DIVISOR = 8


def min_slice_size_for(cfg: EvalConfig, n: int) -> tuple[int, str]:
    """The minimum slice size for ``n`` test rows and the rule that gave it.

    ``EvalConfig.min_slice_size`` fixes it; by default it follows the test size:
    min(cap, max(floor, n // 8)). A fixed 30 on an 80-row test set leaves every target
    quintile unmeasured and hides exactly the weak slices; under 10 rows a percentile
    bootstrap interval says little; from 240 rows on it is the classic 30.
    """
    if cfg.min_slice_size is not None:
        return cfg.min_slice_size, "given by the caller (EvalConfig.min_slice_size)"
    size = min(cfg.min_slice_cap, max(cfg.min_slice_floor, n // SLICE_SIZE_DIVISOR))
    return size, (
        f"derived from the {n} test rows: min({cfg.min_slice_cap}, max({cfg.min_slice_floor}, "
        f"{n} // {SLICE_SIZE_DIVISOR})) = {size} (EvalConfig.min_slice_floor, min_slice_cap; "
        "set min_slice_size to fix it)"
    )


def slice_groups(
    plan: SlicePlan, metrics: WeightedMetrics, names: Sequence[str]
) -> dict[str, Group]:
    """Bootstrap groups of the slices large enough to evaluate, on ``names`` only."""
    out = {}
    for sid, pos in plan.positions.items():
        sub = metrics.subset(pos, names)
        out[f"slice:{sid}"] = Group(sub, pos, tuple(names))
    return out


def slice_records(
    plan: SlicePlan,
    boot: BootstrapResult,
    names: Sequence[str],
    primary: str,
    higher_is_better: bool,
) -> tuple[list[S.SliceRecord], list[str]]:
    """Slice records and the ranking (worst first) of the slices that are large enough.

    A slice holding every row (e.g. "missing share <= 0.1" on a set without gaps) is the
    overall set again, its delta is 0 by construction: it gets status ``all_rows`` and no
    rank, so it can never be named the weakest slice.
    """
    ranked: list[tuple[float, str]] = []
    for d in plan.defs:
        if d.id in plan.positions and not plan.covers_all(d.id):
            delta = boot.estimates[f"slice:{d.id}"][primary] - boot.estimates["overall"][primary]
            if np.isfinite(delta):
                ranked.append((delta if higher_is_better else -delta, d.id))
    ranking = [sid for _, sid in sorted(ranked)]
    rank_of = {sid: i + 1 for i, sid in enumerate(ranking)}
    records = []
    for d in plan.defs:
        key = f"slice:{d.id}"
        ok = d.id in plan.positions
        status: S.SliceStatus = (
            "too_small" if not ok else "all_rows" if plan.covers_all(d.id) else "ok"
        )
        records.append(
            S.SliceRecord(
                id=d.id,
                family=d.family,
                definition=d.definition,
                n=plan.sizes[d.id],
                status=status,
                metrics={m: estimate(boot.interval(key, m)) for m in names} if ok else {},
                delta={m: estimate(boot.delta(key, "overall", m)) for m in names} if ok else {},
                rank=rank_of.get(d.id),
            )
        )
    records.sort(key=lambda r: (r.family, r.id))
    return records, ranking


def weakest_slice(
    records: Sequence[S.SliceRecord], ranking: Sequence[str], primary: str, higher_is_better: bool
) -> S.SliceRecord | None:
    """The top-ranked slice, only when its ``primary`` is strictly worse than overall.

    A delta of 0 (or one in the better direction) means no slice is weaker than the whole
    test set, and calling one "weakest" would mislead.
    """
    if not ranking:
        return None
    worst = next(r for r in records if r.id == ranking[0])
    d = worst.delta.get(primary)
    if d is None or d.value is None:
        return None
    worse = d.value < 0 if higher_is_better else d.value > 0
    return worst if worse else None


def search_record(
    result: SearchResult | None, task: str, cfg: EvalConfig, note: str
) -> S.SliceSearch | None:
    """The search section of slices.json."""
    if result is None:
        return None
    return S.SliceSearch(
        loss=loss_description(task),
        n_candidates=result.n_candidates,
        n_discovery_rows=result.n_discovery_rows,
        n_confirmation_rows=result.n_confirmation_rows,
        fdr=cfg.fdr,
        test=SEARCH_TEST,
        seed=cfg.seed,
        slices=[
            S.SearchedSlice(
                id=f.id,
                definition=f.definition,
                features=list(f.features),
                discovery_n=f.discovery_n,
                discovery_effect=clean_float(f.discovery_effect) or 0.0,
                discovery_p=clean_float(f.discovery_p) or 0.0,
                confirmation_n=f.confirmation_n,
                confirmation_effect=clean_float(f.confirmation_effect),
                confirmation_p=clean_float(f.confirmation_p),
                confirmation_q=clean_float(f.confirmation_q),
                confirmed=f.confirmed,
            )
            for f in result.slices
        ],
        note=note,
    )


def ci_file(boot: BootstrapResult, names: Sequence[str]) -> S.ConfidenceIntervalsFile:
    """confidence_intervals.json content."""
    reduced = boot.n_bootstrap < RECOMMENDED_N_BOOTSTRAP
    resampling = (
        "Poisson(1) counts per row (Hanley & MacGibbon 2006)"
        if boot.method == "poisson"
        else "n draws with replacement (multinomial counts)"
    )
    note = f"Percentile bootstrap; resampling: {resampling}; replicate r uses seed spawn key r."
    if reduced:
        note += (
            f" Reduced replicates: the caller asked for {boot.n_bootstrap}, fewer than the "
            f"recommended {RECOMMENDED_N_BOOTSTRAP}, so the interval endpoints are less stable."
        )
    intervals = {}
    for m in names:
        iv = boot.interval("overall", m)
        intervals[m] = S.Interval(
            estimate=clean_float(iv.estimate),
            mean=clean_float(iv.mean),
            ci_low=clean_float(iv.ci_low),
            ci_high=clean_float(iv.ci_high),
            n_valid=iv.n_valid,
        )
    return S.ConfidenceIntervalsFile(
        schema_version=S.SCHEMA_VERSION,
        method="percentile",
        resampling=boot.method,
        confidence_level=0.95,
        n_bootstrap=boot.n_bootstrap,
        n_bootstrap_recommended=RECOMMENDED_N_BOOTSTRAP,
        reduced_replicates=reduced,
        note=note,
        seed=boot.seed,
        intervals=intervals,
    )


def baseline_section(
    baseline: BaselineResult | None,
    boot: BootstrapResult,
    names: Sequence[str],
    all_metrics: Mapping[str, float | None],
    baseline_metrics: Mapping[str, float | None] | None,
    primary: str,
    higher_is_better: Mapping[str, bool],
) -> tuple[S.BaselineMetrics | None, dict[str, S.Estimate] | None, bool, str]:
    """(baseline metrics, deltas, improvement_is_meaningful, reason).

    ``names`` are the metrics both models define (see ``bootstrap.paired.paired_names``):
    each gets its paired interval from the ``overall`` and ``baseline`` groups, the same
    numbers ``paired_classification_deltas``/``paired_regression_deltas`` return.
    """
    if baseline is None:
        return None, None, False, "no baseline was evaluated, so no improvement can be claimed"
    if baseline_metrics is not None and "baseline" in boot.estimates:
        deltas = {m: estimate(iv) for m, iv in paired_intervals(boot, names).items()}
        d = deltas.get(primary)
        good = higher_is_better[primary]
        meaningful = (
            d is not None
            and d.ci_low is not None
            and d.ci_high is not None
            and (d.ci_low > 0 if good else d.ci_high < 0)
        )
        if d is None:
            reason = (
                f"the baseline has no {primary} (it gave no scores for it), so no improvement "
                f"in {primary} can be claimed"
            )
        else:
            reason = f"the 95% CI of the paired {primary} delta is [{d.ci_low}, {d.ci_high}]" + (
                ", which excludes 0 in the better direction"
                if meaningful
                else ", which excludes 0 in the worse direction: the run is significantly "
                "worse than its baseline"
                if significantly_worse(d, good)
                else ", which does not exclude 0 in the better direction"
            )
        return (
            S.BaselineMetrics(
                name=baseline.name,
                run_id=baseline.run_id,
                source="predictions",
                metrics={k: clean_float(v) for k, v in baseline_metrics.items()},
            ),
            deltas,
            bool(meaningful),
            reason,
        )
    reported = {k: clean_float(float(v)) for k, v in (baseline.metrics or {}).items()}
    deltas = {}
    for m in all_metrics:
        ours, theirs = all_metrics.get(m), reported.get(m)
        if ours is not None and theirs is not None:
            deltas[m] = S.Estimate(value=clean_float(ours - theirs), ci_low=None, ci_high=None)
    return (
        S.BaselineMetrics(
            name=baseline.name, run_id=baseline.run_id, source="reported", metrics=reported
        ),
        deltas,
        False,
        "the baseline gave only reported metrics, without paired predictions there is no "
        "uncertainty on the delta",
    )


def significantly_worse(delta: S.Estimate | None, higher_is_better: bool) -> bool:
    """True when a paired delta's CI excludes 0 on the worse side: not merely "no
    improvement", but a measured loss against the baseline."""
    if delta is None or delta.ci_low is None or delta.ci_high is None:
        return False
    return delta.ci_high < 0 if higher_is_better else delta.ci_low > 0


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def slice_sentence(
    slices: Sequence[S.SliceRecord], ranking: Sequence[str], primary: str, higher_is_better: bool
) -> str:
    """Takeaway sentence 3: the weakest slice, and how many slices went unmeasured.

    "No slice is worse" is only claimed of the slices that were measured: a slice under
    the minimum size has no metric, so it may well be worse, and the sentence says how
    many there are.
    """
    listed = [r for r in slices if r.status != "all_rows"]
    small = sum(r.status == "too_small" for r in listed)
    unmeasured = f"{small} of {len(listed)} slices had too few rows to measure"
    worst = weakest_slice(slices, ranking, primary, higher_is_better)
    if worst is not None:
        text = (
            f"The weakest slice is {worst.definition} ({worst.n} rows), where {primary} differs "
            f"from overall by {_num(worst.delta[primary].value)}"
        )
        return f"{text}; {unmeasured}." if small else f"{text}."
    if ranking:
        if small:
            return f"No measured slice scores worse than overall on {primary}; {unmeasured}."
        return f"No slice scores worse than overall on {primary}."
    text = "No slice smaller than the whole test set was large enough to rank"
    return f"{text}; {unmeasured}." if small else f"{text}."


def worst_stress(rows: Sequence[StressResult], higher_is_better: bool) -> StressResult | None:
    """The candidate's worst model-robustness degradation, None when none was measured.

    Metric-sensitivity rows (label noise corrupts the ground truth, so a perfect model
    loses about as much) and skipped rows (e.g. a shift refit on too few rows) never count.
    """
    measured = [
        r
        for r in rows
        if r.model == "candidate" and r.kind == MODEL_ROBUSTNESS and r.degradation is not None
    ]
    if not measured:
        return None
    return sorted(
        measured,
        key=lambda r: (
            (r.degradation or 0.0) if higher_is_better else -(r.degradation or 0.0),
            r.scenario,
            r.severity,
        ),
    )[0]


def stress_sentence(rows: Sequence[StressResult], primary: str, higher_is_better: bool) -> str:
    """Takeaway sentence 4: the worst model-robustness degradation, and what did not run."""
    robust = [r for r in rows if r.model == "candidate" and r.kind == MODEL_ROBUSTNESS]
    skipped = [r for r in robust if r.degradation is None]
    missed = ""
    if skipped:
        names = ", ".join(sorted({r.scenario for r in skipped}))
        missed = f"; {len(skipped)} of {len(robust)} robustness cases did not run ({names})"
    worst = worst_stress(rows, higher_is_better)
    if worst is not None:
        return (
            f"The worst stress degradation is {_num(worst.degradation)} in {primary} under "
            f"{worst.scenario} at severity {worst.severity:g}{missed}."
        )
    if any(r.kind == METRIC_SENSITIVITY and r.degradation is not None for r in rows):
        return (
            "No model-robustness stress test ran, so robustness is unmeasured (label noise "
            f"ran only as a metric-sensitivity reference){missed}."
        )
    return f"No stress test ran, so robustness is unmeasured{missed}."


def takeaway_text(
    primary: str,
    headline: S.Estimate,
    n: int,
    baseline: S.BaselineMetrics | None,
    deltas: dict[str, S.Estimate] | None,
    meaningful: bool,
    slices: Sequence[S.SliceRecord],
    ranking: Sequence[str],
    stress: Sequence[StressResult],
    higher_is_better: bool,
    failures: Sequence[Failure],
    *,
    leak_suspects: Sequence[S.LeakSuspect] = (),
) -> str:
    """Exactly five sentences, one per line, each built from the numbers.

    Sentence 2 (the baseline) names the leak suspects: a score one column reaches alone is
    never called an improvement without that warning beside it.
    """
    s1 = (
        f"The headline {primary} is {_num(headline.value)} with a 95% bootstrap CI of "
        f"{_num(headline.ci_low)} to {_num(headline.ci_high)} over {n} examples."
    )
    leak = suspect_clause(leak_suspects)
    if baseline is None:
        s2 = "No baseline was evaluated, so this run makes no improvement claim"
        s2 += f", and {leak}." if leak else "."
    else:
        d = (deltas or {}).get(primary)
        dv = None if d is None else d.value
        verdict = (
            "a meaningful improvement"
            if meaningful
            else "significantly worse than the baseline"
            if significantly_worse(d, higher_is_better)
            else "not a meaningful improvement"
        )
        s2 = f"Against baseline {baseline.name} the {primary} delta is {_num(dv)}, {verdict}"
        s2 += (f", but {leak}." if meaningful else f", and {leak}.") if leak else "."
    s3 = slice_sentence(slices, ranking, primary, higher_is_better)
    s4 = stress_sentence(stress, primary, higher_is_better)
    counts = Counter(f.category for f in failures)
    if counts:
        cat, k = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        s5 = f"The most common failure mode is {cat} with {k} of {len(failures)} examples."
    else:
        s5 = "No failure examples were found."
    sentences = [s.replace("\n", " ") for s in (s1, s2, s3, s4, s5)]
    return "\n".join(sentences) + "\n"


def repro_markdown(run: RunInfo, cfg: EvalConfig) -> str:
    """Install, dataset retrieval, run and eval commands."""
    dataset_cmd = run.dataset_command or (
        f"# fetch dataset {run.dataset_name} version {run.dataset_version} and verify its "
        f"sha256 is {run.dataset_checksum}"
    )
    train_cmd = run.train_command or f"# re-run training of run {run.run_id}"
    eval_cmd = run.eval_command or f"# re-run this evaluation of run {run.run_id}"
    return "\n".join(
        [
            f"# Reproduce run {run.run_id}",
            "",
            f"- dataset: {run.dataset_name} version {run.dataset_version} "
            f"(checksum {run.dataset_checksum})",
            f"- code: commit {run.commit}",
            f"- split checksum: {run.split_checksum or 'n/a'}",
            f"- seed: {run.seed if run.seed is not None else 'n/a'}; evaluation seed {cfg.seed}, "
            f"{cfg.n_bootstrap} bootstrap replicates",
            "",
            "## Install",
            "",
            "```sh",
            run.install_command,
            "```",
            "",
            "## Dataset",
            "",
            "```sh",
            dataset_cmd,
            "```",
            "",
            "## Run",
            "",
            "```sh",
            train_cmd,
            "```",
            "",
            "## Evaluate",
            "",
            "```sh",
            eval_cmd,
            "```",
            "",
        ]
    )


def failures_file(failures: Sequence[Failure], n: int) -> S.FailureExamplesFile:
    """failure_examples.json content."""
    counts = Counter(f.category for f in failures)
    return S.FailureExamplesFile(
        schema_version=S.SCHEMA_VERSION,
        selection={
            "n_per_list": str(n),
            "tie_break": "example id (string order)",
            "lists": "see each example's 'list' field",
            "dedup": DEDUP_RULE,
        },
        examples=[
            S.FailureExample(
                example_id=f.example_id,
                list=f.list,
                input_summary=f.input_summary,
                prediction=f.prediction,
                truth=f.truth,
                confidence=f.confidence,
                reason=f.reason,
                category=cast(S.FailureCategory, f.category),
            )
            for f in failures
        ],
        category_counts=dict(sorted(counts.items())),
    )


def stress_file(
    rows: Sequence[StressResult],
    metric: str,
    higher: bool,
    cfg: EvalConfig,
    scenarios: dict[str, str],
    plot: str | None,
) -> S.StressFile:
    """stress.json content."""
    return S.StressFile(
        schema_version=S.SCHEMA_VERSION,
        metric=metric,
        higher_is_better=higher,
        n_bootstrap=cfg.stress_n_bootstrap,
        seed=cfg.seed,
        scenarios=scenarios,
        kinds={k: v for k, v in STRESS_KINDS.items() if any(r.kind == k for r in rows)},
        rows=[
            S.StressRow(
                scenario=r.scenario,
                kind=cast(S.StressKind, r.kind),
                model=r.model,  # type: ignore[arg-type]
                severity=r.severity,
                metric=r.metric,
                value=clean_float(r.value),
                ci_low=clean_float(r.ci_low),
                ci_high=clean_float(r.ci_high),
                degradation=clean_float(r.degradation),
                status=r.status,
            )
            for r in rows
        ],
        plot=plot,
    )


#: What each kind of stress scenario measures (stress.json ``kinds``, the run page).
STRESS_KINDS = {
    MODEL_ROBUSTNESS: "corrupts or shifts the inputs: how much the model degrades",
    METRIC_SENSITIVITY: (
        "corrupts the ground truth, not the inputs: how much the metric moves when labels "
        "are wrong (a perfect model loses about as much), a reference for reading the "
        "metric, never the model's degradation"
    ),
}


def stress_label(
    scenario: str, model: str, baseline_name: str | None, kind: str = MODEL_ROBUSTNESS
) -> str:
    """Legend text of one stress line.

    Without a baseline the evaluated run is the report's only model: calling it
    "candidate" mislabels a run that is itself a baseline, so its lines carry the
    scenario alone. With a baseline both models are named. A metric-sensitivity line
    says so, so that it is not read as the model's degradation.
    """
    if kind == METRIC_SENSITIVITY:
        scenario = f"{scenario} [metric sensitivity]"
    if model == "baseline":
        return (
            f"{scenario} (baseline {baseline_name})" if baseline_name else f"{scenario} (baseline)"
        )
    if baseline_name is None:
        return scenario
    return f"{scenario} ({model})"


def stress_series(
    rows: Sequence[StressResult],
    clean: Mapping[str, float | None],
    baseline_name: str | None,
) -> list[tuple[str, list[float], list[float], list[float], list[float]]]:
    """Plot lines per (scenario, model), starting at severity 0 with the clean value.

    ``baseline_name`` is the report's baseline, None when the run was evaluated alone.
    """
    out = []
    keys = sorted({(r.scenario, r.model) for r in rows if r.value is not None})
    kind_of = {r.scenario: r.kind for r in rows}
    for scen, model in keys:
        pts = sorted(
            (r for r in rows if (r.scenario, r.model) == (scen, model) and r.value is not None),
            key=lambda r: r.severity,
        )
        x, v, lo, hi = [], [], [], []
        base = clean.get(model)
        if base is not None and not scen.startswith("distribution_shift"):
            x, v, lo, hi = [0.0], [base], [base], [base]
        for r in pts:
            x.append(r.severity)
            v.append(float(r.value or 0.0))
            lo.append(float(r.ci_low if r.ci_low is not None else r.value or 0.0))
            hi.append(float(r.ci_high if r.ci_high is not None else r.value or 0.0))
        out.append((stress_label(scen, model, baseline_name, kind_of[scen]), x, v, lo, hi))
    return out


def summary_file(
    task: str,
    run: RunInfo,
    n: int,
    headline: dict[str, S.Estimate],
    primary: str,
    baseline: S.BaselineMetrics | None,
    deltas: dict[str, S.Estimate] | None,
    meaningful: bool,
    plots: dict[str, str],
    latency: LatencyResult | str | None,
    warnings: list[str],
    *,
    leak_suspects: Sequence[S.LeakSuspect] = (),
) -> S.EvalSummaryFile:
    """eval_summary.json content."""
    return S.EvalSummaryFile(
        schema_version=S.SCHEMA_VERSION,
        task=task,
        run=S.RunRef(
            run_id=run.run_id,
            dataset_name=run.dataset_name,
            dataset_version=run.dataset_version,
            dataset_checksum=run.dataset_checksum,
            commit=run.commit,
            split_checksum=run.split_checksum,
        ),
        n_examples=n,
        headline=headline,
        primary_metric=primary,
        baseline=None
        if baseline is None
        else S.BaselineHeadline(
            name=baseline.name,
            run_id=baseline.run_id,
            deltas={k: v for k, v in (deltas or {}).items() if k in headline},
        ),
        improvement_is_meaningful=meaningful,
        plots=dict(sorted(plots.items())),
        files={
            "metrics": "metrics.json",
            "confidence_intervals": "confidence_intervals.json",
            "slices": "slices.json",
            "failure_examples": "failure_examples.json",
            "takeaway": "takeaway.txt",
            "repro": "repro.md",
            "stress": "stress.json",
            "failure_modes": "failure_modes.md",
        },
        # A string points at timings kept outside the folder: it stays byte-identical.
        latency=latency
        if latency is None or isinstance(latency, str)
        else S.Latency(
            p50_ms=latency.p50_ms,
            p95_ms=latency.p95_ms,
            p99_ms=latency.p99_ms,
            batch_size=latency.batch_size,
            device=latency.device,
            per_sample_ms=latency.per_sample_ms,
            warmup=latency.warmup,
            repeats=latency.repeats,
        ),
        warnings=sorted(warnings),
        leak_suspects=list(leak_suspects),
    )


def write_report(
    out_dir: Path,
    *,
    summary: S.EvalSummaryFile,
    metrics: S.MetricsFile,
    cis: S.ConfidenceIntervalsFile,
    slices: S.SlicesFile,
    failures: S.FailureExamplesFile,
    stress: S.StressFile,
    takeaway: str,
    repro: str,
    plots: dict[str, bytes],
) -> None:
    """Serialize everything and swap the folder in atomically."""
    counts = failures.category_counts
    files: dict[str, bytes] = {
        "eval_summary.json": encode_json(summary),
        "metrics.json": encode_json(metrics),
        "confidence_intervals.json": encode_json(cis),
        "slices.json": encode_json(slices),
        "failure_examples.json": encode_json(failures),
        "stress.json": encode_json(stress),
        "takeaway.txt": takeaway.encode(),
        "repro.md": repro.encode(),
        "failure_modes.md": failure_modes_markdown(counts, len(failures.examples)).encode(),
    }
    files.update(plots)
    write_folder_atomically(out_dir, files)


@dataclass(frozen=True)
class ReportParts:
    """Everything a task's evaluation computed, ready to become the contract folder."""

    task: str
    out_dir: Path
    run: RunInfo
    cfg: EvalConfig
    n: int
    boot: BootstrapResult
    headline: Sequence[str]
    primary: str
    higher_is_better: bool
    metrics: S.MetricsFile
    families: dict[str, str]
    records: list[S.SliceRecord]
    ranking: list[str]
    search: SearchResult | None
    stress_rows: list[StressResult]
    scenarios: dict[str, str]
    stress_plot_path: str | None
    baseline: S.BaselineMetrics | None
    deltas: dict[str, S.Estimate] | None
    meaningful: bool
    failures: Sequence[Failure]
    plot_paths: dict[str, str]
    plots: dict[str, bytes]
    latency: LatencyResult | str | None
    warnings: list[str]
    #: columns that may leak the target (evalharness.core.separators.collect_leak_suspects)
    leak_suspects: Sequence[S.LeakSuspect] = ()


def finish_report(p: ReportParts) -> S.EvalSummaryFile:
    """Build the remaining contract files from ``p``, write the folder, return the summary.

    Shared by every task so that slices.json, stress.json, takeaway.txt and
    eval_summary.json are assembled the same way whatever the task.
    """
    min_size, min_rule = min_slice_size_for(p.cfg, p.n)
    slices = S.SlicesFile(
        schema_version=S.SCHEMA_VERSION,
        metric=p.primary,
        min_slice_size=min_size,
        min_slice_rule=min_rule,
        n_bootstrap=p.cfg.n_bootstrap,
        families=p.families,
        slices=p.records,
        ranking=p.ranking,
        search=search_record(
            p.search, p.task, p.cfg, "confirmed only when the held-out half agrees under BH"
        ),
    )
    headline_est = {m: estimate(p.boot.interval("overall", m)) for m in p.headline}
    takeaway = takeaway_text(
        p.primary,
        headline_est[p.primary],
        p.n,
        p.baseline,
        p.deltas,
        p.meaningful,
        p.records,
        p.ranking,
        p.stress_rows,
        p.higher_is_better,
        p.failures,
        leak_suspects=p.leak_suspects,
    )
    summary = summary_file(
        p.task,
        p.run,
        p.n,
        headline_est,
        p.primary,
        p.baseline,
        p.deltas,
        p.meaningful,
        p.plot_paths,
        p.latency,
        p.warnings,
        leak_suspects=p.leak_suspects,
    )
    write_report(
        p.out_dir,
        summary=summary,
        metrics=p.metrics,
        cis=ci_file(p.boot, p.headline),
        slices=slices,
        failures=failures_file(p.failures, p.cfg.n_failures),
        stress=stress_file(
            p.stress_rows, p.primary, p.higher_is_better, p.cfg, p.scenarios, p.stress_plot_path
        ),
        takeaway=takeaway,
        repro=repro_markdown(p.run, p.cfg),
        plots=p.plots,
    )
    return summary
