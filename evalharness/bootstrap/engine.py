"""Vectorized bootstrap: one pass over seeded weight chunks serves the overall metrics, every
slice and the baseline, so slice and baseline deltas are paired replicate by replicate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from evalharness.bootstrap.intervals import Interval, percentile_interval
from evalharness.bootstrap.resample import Resampling, weight_chunks

Array = NDArray[np.float64]


class WeightedMetrics(Protocol):
    """Anything that computes named metrics from a ``(b, n)`` weight matrix."""

    @property
    def n(self) -> int:
        """Number of rows."""
        ...

    def compute(self, w: Array, names: Sequence[str]) -> dict[str, Array]:
        """Metrics per weight row."""
        ...


@dataclass(frozen=True)
class Group:
    """A set of metrics evaluated on ``positions`` of the shared row order (None = all rows)."""

    metrics: WeightedMetrics
    positions: NDArray[np.intp] | None


@dataclass(frozen=True)
class BootstrapResult:
    """Point estimates and replicates per group and metric."""

    estimates: dict[str, dict[str, float]]
    replicates: dict[str, dict[str, Array]]
    n_bootstrap: int
    seed: int
    method: Resampling

    def interval(self, group: str, metric: str) -> Interval:
        """Percentile interval of one group's metric."""
        return percentile_interval(self.estimates[group][metric], self.replicates[group][metric])

    def delta(self, group: str, reference: str, metric: str) -> Interval:
        """Paired interval of ``group - reference`` for one metric."""
        est = self.estimates[group][metric] - self.estimates[reference][metric]
        reps = self.replicates[group][metric] - self.replicates[reference][metric]
        return percentile_interval(est, reps)


def run_bootstrap(
    n: int,
    groups: Mapping[str, Group],
    names: Sequence[str],
    n_bootstrap: int,
    seed: int,
    method: Resampling,
) -> BootstrapResult:
    """Bootstrap every group's metrics over the same resampled rows."""
    estimates: dict[str, dict[str, float]] = {}
    for key, g in groups.items():
        ones = np.ones((1, g.metrics.n))
        estimates[key] = {m: float(v[0]) for m, v in g.metrics.compute(ones, names).items()}
    parts: dict[str, dict[str, list[Array]]] = {k: {m: [] for m in names} for k in groups}
    for w in weight_chunks(n, n_bootstrap, seed, method):
        for key, g in groups.items():
            sub = w if g.positions is None else w[:, g.positions]
            for m, v in g.metrics.compute(sub, names).items():
                parts[key][m].append(v)
    replicates = {k: {m: np.concatenate(v) for m, v in d.items()} for k, d in parts.items()}
    return BootstrapResult(estimates, replicates, n_bootstrap, seed, method)
