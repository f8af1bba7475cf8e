"""The contract folder's files: each one's content from an evaluation's results, and the
atomic write of the folder."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import cast

from evalharness.bench.latency import LatencyResult
from evalharness.bootstrap.engine import BootstrapResult
from evalharness.bootstrap.intervals import Interval
from evalharness.core.config import RECOMMENDED_N_BOOTSTRAP, EvalConfig, RunInfo
from evalharness.core.jsonio import clean_float, encode_json, write_folder_atomically
from evalharness.failures.categories import failure_modes_markdown
from evalharness.failures.selection import DEDUP_RULE, Failure
from evalharness.schemas import files as S
from evalharness.stress.runner import METRIC_SENSITIVITY, MODEL_ROBUSTNESS, StressResult


def estimate(iv: Interval) -> S.Estimate:
    """Interval -> schema Estimate."""
    return S.Estimate(
        value=clean_float(iv.estimate),
        ci_low=clean_float(iv.ci_low),
        ci_high=clean_float(iv.ci_high),
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
                nearest_training=f.nearest_training,
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
    task_files: Mapping[str, str] | None = None,
) -> S.EvalSummaryFile:
    """eval_summary.json content; ``task_files`` are the task's own files by stem."""
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
            **(task_files or {}),
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
    task_files: Mapping[str, bytes] | None = None,
) -> None:
    """Serialize everything (and the task's own files, by name) and swap the folder in
    atomically."""
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
    files.update(task_files or {})
    write_folder_atomically(out_dir, files)
