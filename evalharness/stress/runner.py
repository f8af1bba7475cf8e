"""Stress-test runner: each case builds a degraded metric set; the runner bootstraps it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evalharness.bootstrap.engine import Group, WeightedMetrics, run_bootstrap
from evalharness.bootstrap.resample import Resampling

log = logging.getLogger("evalharness.stress")

#: A scenario that corrupts or shifts the inputs: it measures the model.
MODEL_ROBUSTNESS = "model_robustness"
#: A scenario that corrupts the ground truth (label noise): it measures how the metric
#: responds to wrong labels, and a perfect model loses about as much as any other.
METRIC_SENSITIVITY = "metric_sensitivity"

_LABEL: ContextVar[str | None] = ContextVar("evalharness_stress_label", default=None)


def case_label(scenario: str, severity: float, model: str = "candidate") -> str:
    """How a stress case is named in log lines: ``stress SCENARIO severity S``."""
    text = f"stress {scenario} severity {severity:g}"
    return text if model == "candidate" else f"{text} ({model})"


def current_stress_label() -> str | None:
    """The label of the stress case being built in this thread, None outside one.

    A caller whose ``predict`` or ``refit`` logs (a refit trains a model) can prefix its
    log lines with it, so every line says which scenario and severity it belongs to.
    """
    return _LABEL.get()


@dataclass(frozen=True)
class StressCase:
    """One (scenario, model, severity) cell; ``build`` returns None when it cannot run.

    ``reference`` is the clean value the degradation is taken against when it is not the
    model's overall clean value (a shift scenario scores a segment of the rows only).
    """

    scenario: str
    model: str
    severity: float
    build: Callable[[], WeightedMetrics | None]
    skip_reason: str = ""
    kind: str = MODEL_ROBUSTNESS
    reference: float | None = None


def not_run() -> None:
    """The ``build`` of a case that cannot run: its row is recorded as skipped."""
    return None


@dataclass(frozen=True)
class StressResult:
    """One row of the degradation table."""

    scenario: str
    model: str
    severity: float
    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    degradation: float | None
    status: str
    kind: str = MODEL_ROBUSTNESS


def stress_sample(n: int, max_rows: int, seed: int) -> NDArray[np.intp] | None:
    """Sorted row positions of a seeded sample of ``max_rows`` rows, or None when n fits."""
    if n <= max_rows:
        return None
    rng = np.random.default_rng([seed, 0x57E55])
    return np.sort(rng.choice(n, size=max_rows, replace=False))


def run_stress(
    cases: Sequence[StressCase],
    clean: dict[str, float | None],
    metric: str,
    n_bootstrap: int,
    seed: int,
    method: Resampling,
) -> list[StressResult]:
    """Evaluate every case; ``clean`` maps model -> its uncorrupted metric value.

    Cases scored on the same rows share one bootstrap (one set of resampling weights):
    cheaper, and the curves across severities are paired rather than each carrying its
    own resampling noise.
    """
    built = []
    for case in cases:
        token = _LABEL.set(case_label(case.scenario, case.severity, case.model))
        try:
            built.append(case.build())
        finally:
            _LABEL.reset(token)
    _log_skipped(cases, built)
    by_size: dict[int, dict[str, Group]] = {}
    for i, b in enumerate(built):
        if b is not None:
            by_size.setdefault(b.n, {})[str(i)] = Group(b, None)
    intervals = {}
    for n, groups in sorted(by_size.items()):
        res = run_bootstrap(n, groups, [metric], n_bootstrap, seed + 1000, method)
        intervals.update({key: res.interval(key, metric) for key in groups})
    rows = []
    for i, case in enumerate(cases):
        iv = intervals.get(str(i))
        if iv is None:
            rows.append(
                StressResult(
                    case.scenario,
                    case.model,
                    case.severity,
                    metric,
                    None,
                    None,
                    None,
                    None,
                    f"skipped: {case.skip_reason}",
                    case.kind,
                )
            )
            continue
        ref = case.reference if case.reference is not None else clean.get(case.model)
        degr = None if iv.estimate is None or ref is None else _degradation(iv.estimate, ref)
        rows.append(
            StressResult(
                case.scenario,
                case.model,
                case.severity,
                metric,
                iv.estimate,
                iv.ci_low,
                iv.ci_high,
                degr,
                "ok",
                case.kind,
            )
        )
    return rows


#: Relative size below which a degradation is rounding, not a change (see _degradation).
_ROUNDING = 1e-12


def _degradation(value: float, reference: float) -> float:
    """``value - reference``, with 0 for a difference within rounding.

    A stressed metric is summed over the rows in another order than the clean one, so a
    model that the stress leaves unchanged (a constant baseline under feature noise) can
    differ from its clean value in the last bits; reporting that as a degradation of
    -2.7e-15 would be noise dressed as a finding.
    """
    delta = value - reference
    return 0.0 if abs(delta) <= _ROUNDING * max(abs(value), abs(reference)) else delta


def _log_skipped(cases: Sequence[StressCase], built: Sequence[WeightedMetrics | None]) -> None:
    """One line per (scenario, model, reason) that did not run, naming its severities."""
    skipped: dict[tuple[str, str, str], list[float]] = {}
    for case, b in zip(cases, built, strict=True):
        if b is None:
            skipped.setdefault((case.scenario, case.model, case.skip_reason), []).append(
                case.severity
            )
    for (scenario, model, reason), severities in skipped.items():
        at = ", ".join(f"{s:g}" for s in severities)
        name = f"stress {scenario}" + ("" if model == "candidate" else f" ({model})")
        log.info("%s severity %s: skipped: %s", name, at, reason)


def severity_rng(seed: int, scenario_index: int, severity_index: int) -> np.random.Generator:
    """Independent seeded stream per (scenario, severity); candidate and baseline share it so
    both see exactly the same corruption."""
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(31, scenario_index, severity_index))
    )
