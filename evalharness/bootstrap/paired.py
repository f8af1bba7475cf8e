"""Paired deltas: two models scored on the same rows, (B - A) replicate by replicate.

The report's baseline deltas and :func:`evalharness.paired_classification_deltas` /
:func:`evalharness.paired_regression_deltas` are both built here, from the same groups, the
same names and the same replicates, so they agree number for number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalharness.bootstrap.engine import BootstrapResult, Group, WeightedMetrics, run_bootstrap
from evalharness.bootstrap.intervals import Interval
from evalharness.bootstrap.resample import Resampling

#: Bootstrap group names: B (the candidate) is the report's "overall" group, A its baseline.
CANDIDATE = "overall"
REFERENCE = "baseline"


@dataclass(frozen=True)
class PairedDeltas:
    """The paired bootstrap of model B against model A on the same rows.

    ``deltas[m]`` is the percentile interval of ``B - A`` for every metric defined for both
    (its ``estimate`` is the point difference); ``a`` and ``b`` are both models' point
    metrics (None where undefined). ``n_bootstrap``, ``seed`` and ``method`` name the
    replicates: replicate ``r`` resamples row ``i`` of the rows passed in
    ``replicate_counts(n, seed, r, method)[i]`` times, for both models at once.
    """

    deltas: dict[str, Interval]
    a: dict[str, float | None]
    b: dict[str, float | None]
    higher_is_better: dict[str, bool]
    n: int
    n_bootstrap: int
    seed: int
    method: Resampling


def point_metrics(metrics: WeightedMetrics, names: Sequence[str]) -> dict[str, float | None]:
    """Point estimates of ``names`` (every row weighted 1), None where undefined."""
    values = metrics.compute(np.ones((1, metrics.n)), names)
    return {m: (None if math.isnan(float(v[0])) else float(v[0])) for m, v in values.items()}


def paired_names(
    metrics: Sequence[str],
    candidate: Mapping[str, float | None],
    reference: Mapping[str, float | None] | None,
) -> tuple[str, ...]:
    """The metrics defined for both models, in ``metrics`` order: those with paired deltas."""
    if reference is None:
        return ()
    return tuple(
        m for m in metrics if candidate.get(m) is not None and reference.get(m) is not None
    )


def paired_groups(
    candidate: WeightedMetrics,
    reference: WeightedMetrics,
    names: Sequence[str],
    also: Sequence[str] = (),
) -> dict[str, Group]:
    """The two bootstrap groups of a paired comparison over all rows.

    The candidate's group also carries ``also`` (a report's headline metrics, which its
    confidence intervals need); a metric's replicates never depend on the other names
    computed beside it.
    """
    own = tuple(also) + tuple(m for m in names if m not in also)
    return {
        CANDIDATE: Group(candidate, None, own),
        REFERENCE: Group(reference, None, tuple(names)),
    }


def paired_intervals(boot: BootstrapResult, names: Sequence[str]) -> dict[str, Interval]:
    """The paired interval of ``candidate - reference`` for each of ``names``."""
    return {m: boot.delta(CANDIDATE, REFERENCE, m) for m in names}


def paired_bootstrap(
    candidate: WeightedMetrics,
    reference: WeightedMetrics,
    metrics: Sequence[str],
    higher_is_better: Mapping[str, bool],
    n_bootstrap: int,
    seed: int,
    method: Resampling,
    order: NDArray[np.integer[Any]] | None = None,
) -> PairedDeltas:
    """Paired intervals of ``candidate - reference`` for every metric defined for both.

    Both metric sets hold the same rows in the layout ``order`` (see
    :func:`~evalharness.bootstrap.engine.run_bootstrap`).
    """
    b_point = point_metrics(candidate, metrics)
    a_point = point_metrics(reference, metrics)
    names = paired_names(metrics, b_point, a_point)
    deltas: dict[str, Interval] = {}
    if names:
        groups = paired_groups(candidate, reference, names)
        boot = run_bootstrap(candidate.n, groups, names, n_bootstrap, seed, method, order=order)
        deltas = paired_intervals(boot, names)
    return PairedDeltas(
        deltas=deltas,
        a=a_point,
        b=b_point,
        higher_is_better={m: higher_is_better[m] for m in metrics},
        n=candidate.n,
        n_bootstrap=n_bootstrap,
        seed=seed,
        method=method,
    )
