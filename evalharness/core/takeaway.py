"""takeaway.txt: five sentences, each built from the report's numbers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from evalharness.core.baseline import significantly_worse
from evalharness.core.separators import suspect_clause
from evalharness.core.slice_report import weakest_slice
from evalharness.failures.selection import Failure
from evalharness.schemas import files as S
from evalharness.stress.runner import METRIC_SENSITIVITY, MODEL_ROBUSTNESS, StressResult


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def slice_sentence(
    slices: Sequence[S.SliceRecord],
    ranking: Sequence[str],
    primary: str,
    higher_is_better: bool,
    units: str = "rows",
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
            f"The weakest slice is {worst.definition} ({worst.n} {units}), where {primary} differs "
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
    units: str | None = None,
) -> str:
    """Exactly five sentences, one per line, each built from the numbers; ``units`` names
    what the test set counts when it is not rows ("queries").

    Sentence 2 (the baseline) names the leak suspects: a score one column reaches alone is
    never called an improvement without that warning beside it.
    """
    s1 = (
        f"The headline {primary} is {_num(headline.value)} with a 95% bootstrap CI of "
        f"{_num(headline.ci_low)} to {_num(headline.ci_high)} over {n} {units or 'examples'}."
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
    s3 = slice_sentence(slices, ranking, primary, higher_is_better, units or "rows")
    s4 = stress_sentence(stress, primary, higher_is_better)
    counts = Counter(f.category for f in failures)
    if counts:
        cat, k = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        s5 = f"The most common failure mode is {cat} with {k} of {len(failures)} examples."
    else:
        s5 = "No failure examples were found."
    sentences = [s.replace("\n", " ") for s in (s1, s2, s3, s4, s5)]
    return "\n".join(sentences) + "\n"
