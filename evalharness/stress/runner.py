"""Stress-test runner: each case builds a degraded metric set; the runner bootstraps it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evalharness.bootstrap.engine import Group, WeightedMetrics, run_bootstrap
from evalharness.bootstrap.resample import Resampling


@dataclass(frozen=True)
class StressCase:
    """One (scenario, model, severity) cell; ``build`` returns None when it cannot run."""

    scenario: str
    model: str
    severity: float
    build: Callable[[], WeightedMetrics | None]
    skip_reason: str = ""


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
    built = [case.build() for case in cases]
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
                )
            )
            continue
        ref = clean.get(case.model)
        degr = None if iv.estimate is None or ref is None else iv.estimate - ref
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
            )
        )
    return rows


def severity_rng(seed: int, scenario_index: int, severity_index: int) -> np.random.Generator:
    """Independent seeded stream per (scenario, severity); candidate and baseline share it so
    both see exactly the same corruption."""
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(31, scenario_index, severity_index))
    )
