"""The baseline of a report: the same-data check, and the paired deltas that decide
whether the candidate improved on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evalharness.bootstrap.engine import BootstrapResult
from evalharness.bootstrap.paired import paired_intervals
from evalharness.core.config import BaselineResult, RunInfo
from evalharness.core.errors import BaselineMismatchError
from evalharness.core.jsonio import clean_float
from evalharness.core.report import estimate
from evalharness.schemas import files as S


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
