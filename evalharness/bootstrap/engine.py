"""Vectorized bootstrap: one pass over seeded weight chunks serves the overall metrics, every
slice and the baseline, so slice and baseline deltas are paired replicate by replicate."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from evalharness.bootstrap.intervals import Interval, percentile_interval
from evalharness.bootstrap.resample import ChunkFiller, Resampling, chunk_size

Array = NDArray[np.float64]


class WeightedMetrics(Protocol):
    """Anything that computes named metrics from a ``(b, n)`` weight matrix."""

    @property
    def n(self) -> int:
        """Number of rows."""
        ...

    def compute(self, w: NDArray[Any], names: Sequence[str]) -> dict[str, Array]:
        """Metrics per weight row."""
        ...

    def subset(self, positions: NDArray[np.intp]) -> WeightedMetrics:
        """The same metrics restricted to ``positions`` (row order kept)."""
        ...


@dataclass(frozen=True)
class Group:
    """A set of metrics evaluated on ``positions`` of the shared row order (None = all rows)."""

    metrics: WeightedMetrics
    positions: NDArray[np.intp] | None
    names: tuple[str, ...] | None = None  # None: the run's metric names


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
    n_jobs: int = 1,
) -> BootstrapResult:
    """Bootstrap every group's metrics over the same resampled rows.

    ``n_jobs > 1`` spreads chunks over threads (numpy releases the GIL in its loops); each
    replicate has its own seed, so the numbers do not depend on ``n_jobs``.
    """
    estimates: dict[str, dict[str, float]] = {}
    for key, g in groups.items():
        ones = np.ones((1, g.metrics.n))
        own = list(g.names or names)
        estimates[key] = {m: float(v[0]) for m, v in g.metrics.compute(ones, own).items()}
    b = chunk_size(n, n_bootstrap)
    ranges = [(s, min(s + b, n_bootstrap)) for s in range(0, n_bootstrap, b)]
    local = threading.local()

    def work(bounds: tuple[int, int]) -> dict[str, dict[str, Array]]:
        filler = getattr(local, "filler", None)
        if filler is None:
            filler = local.filler = ChunkFiller(n, b, seed, method)
        w = filler.fill(*bounds)
        out: dict[str, dict[str, Array]] = {}
        for key, g in groups.items():
            sub = w if g.positions is None else np.take(w, g.positions, axis=1)
            out[key] = g.metrics.compute(sub, list(g.names or names))
        return out

    if n_jobs > 1 and len(ranges) > 1:
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            results = list(pool.map(work, ranges))
    else:
        results = [work(r) for r in ranges]
    replicates = {
        k: {m: np.concatenate([r[k][m] for r in results]) for m in (g.names or names)}
        for k, g in groups.items()
    }
    return BootstrapResult(estimates, replicates, n_bootstrap, seed, method)
