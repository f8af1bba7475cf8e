"""Vectorized bootstrap: one pass over seeded weight chunks serves the overall metrics, every
slice and the baseline, so slice and baseline deltas are paired replicate by replicate.

Replicates are drawn in the caller's row order; an evaluator whose kernels want another
layout passes ``order`` and the engine permutes each weight chunk once, so replicate ``r``
is always ``replicate_counts(n, seed, r, method)`` applied to the caller's rows."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from evalharness.bootstrap.intervals import Interval, percentile_interval
from evalharness.bootstrap.resample import ChunkFiller, Resampling, check_order, chunk_size
from evalharness.metrics.sums import weighted_sums

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

    def subset(
        self, positions: NDArray[np.intp], names: Sequence[str] | None = None
    ) -> WeightedMetrics:
        """The same metrics restricted to ``positions`` (row order kept).

        ``names``: the only metrics the subset will be asked for (None: any), so that it
        can skip what those metrics do not need.
        """
        ...

    def row_values(self, names: Sequence[str]) -> NDArray[np.float64] | None:
        """Per-row values ``v`` when the one metric in ``names`` is ``sum(w*v) / sum(w)``.

        None when it is not (or more than one metric is asked for). The engine then
        scores every such slice with one matrix product over all rows, instead of
        gathering each slice's weight columns.
        """
        ...


@dataclass(frozen=True)
class Group:
    """A set of metrics evaluated on ``positions`` of the shared row order (None = all rows).

    With ``run_bootstrap(..., order=...)`` the shared order is the kernels' layout: the
    metrics hold their rows permuted by ``order`` and ``positions`` index that layout.
    """

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
    order: NDArray[np.integer[Any]] | None = None,
) -> BootstrapResult:
    """Bootstrap every group's metrics over the same resampled rows.

    ``order`` is the layout the groups' metrics were built in: position ``j`` holds the
    caller's row ``order[j]`` (None: the caller's order). Replicate ``r`` resamples the
    caller's rows with ``replicate_counts(n, seed, r, method)``, whatever the layout.

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
    layout = check_order(n, order)

    means = _weighted_means(n, groups, names)

    def work(bounds: tuple[int, int]) -> dict[str, dict[str, Array]]:
        filler = getattr(local, "filler", None)
        if filler is None:
            filler = local.filler = ChunkFiller(n, b, seed, method, layout)
        w = filler.fill(*bounds)
        out: dict[str, dict[str, Array]] = {}
        if means is not None:
            out.update(means.compute(w))
        for key, g in groups.items():
            if key in out:
                continue
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


#: Integer values with at most this many distinct levels (accuracy's hits: 2) let
#: :class:`_AtomMeans` score the slices.
_MAX_VALUE_LEVELS = 16


@dataclass(frozen=True)
class _AtomMeans:
    """Slices whose metric is a weighted mean of integer per-row values, scored together.

    Rows that fall in the same slices and hold the same value form an atom. A slice's
    numerator and denominator are sums of its atoms' weight sums, so a replicate needs one
    ``bincount`` of its weights over the atoms, read once in row order, and two small
    products with the (atoms x slices) matrices. That is linear in the rows. The dense
    sums of :class:`_DenseMeans` read their (slices x rows) matrices once per weight
    chunk, and a chunk holds fewer replicates the more rows there are (about 8M weights),
    so their memory traffic grows with the square of the rows: at 1M rows it was most of
    the evaluation. Weights and values are small integers, so every sum is exact and
    equals the dense sums'.
    """

    keys: tuple[tuple[str, str], ...]
    #: the atom of each row (in the shared row order)
    atoms: NDArray[np.intp]
    #: (atoms, slices): 1 where the atom's rows are in the slice
    member: Array
    #: (atoms, slices): the atom's value where its rows are in the slice, else 0
    valued: Array

    def compute(self, w: NDArray[Any]) -> dict[str, dict[str, Array]]:
        """Every slice's metric for each weight row of ``w`` (shape ``(b, n)``)."""
        k = self.member.shape[0]
        counts = np.empty((w.shape[0], k))
        for r in range(w.shape[0]):
            counts[r] = np.bincount(self.atoms, weights=w[r], minlength=k)
        return _ratios(self.keys, counts @ self.valued, counts @ self.member)


@dataclass(frozen=True)
class _DenseMeans:
    """Slices whose metric is a weighted mean of real-valued per-row values.

    Row ``j`` of ``values`` holds slice ``j``'s values on its rows (zero elsewhere), column
    ``j`` of ``members`` its row indicator. The numerators are summed the way the overall
    metric sums the same values (:func:`~evalharness.metrics.sums.weighted_sums`), so a
    slice holding every row with weight has a delta of exactly 0; the denominators are
    integer sums, exact in any order. Kept for regression's absolute errors, which atoms
    summed in another order would round differently.
    """

    keys: tuple[tuple[str, str], ...]
    #: (slices, n): each slice's values on its rows, zero elsewhere
    values: Array
    #: (n, slices): 1 where the row is in the slice
    members: Array

    def compute(self, w: NDArray[Any]) -> dict[str, dict[str, Array]]:
        """Every slice's metric for each weight row of ``w`` (shape ``(b, n)``)."""
        return _ratios(self.keys, weighted_sums(w, self.values), w @ self.members)


def _ratios(keys: Sequence[tuple[str, str]], num: Array, den: Array) -> dict[str, dict[str, Array]]:
    out: dict[str, dict[str, Array]] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for j, (key, name) in enumerate(keys):
            out[key] = {name: num[:, j] / den[:, j]}
    return out


def _weighted_means(
    n: int, groups: Mapping[str, Group], names: Sequence[str]
) -> _AtomMeans | _DenseMeans | None:
    columns: list[tuple[str, str, NDArray[np.intp], Array]] = []
    for key, g in groups.items():
        own = list(g.names or names)
        if g.positions is None or len(own) != 1:
            continue
        values = g.metrics.row_values(own)
        if values is not None:
            columns.append((key, own[0], g.positions, values))
    # One slice gains nothing over gathering its columns.
    if len(columns) < 2:
        return None
    keys = tuple((key, name) for key, name, _, _ in columns)
    atoms = _atom_means(n, columns, keys)
    if atoms is not None:
        return atoms
    valued = np.zeros((len(columns), n), dtype=np.float64)
    members = np.zeros((n, len(columns)), dtype=np.float64)
    for j, (_, _, positions, values) in enumerate(columns):
        valued[j, positions] = values
        members[positions, j] = 1.0
    return _DenseMeans(keys, valued, members)


def _atom_means(
    n: int,
    columns: Sequence[tuple[str, str, NDArray[np.intp], Array]],
    keys: tuple[tuple[str, str], ...],
) -> _AtomMeans | None:
    """The atoms of ``columns``, or None unless every row has one small integer value
    (the same in every slice that holds it)."""
    if n == 0:
        return None
    values = np.full(n, np.nan)
    for _, _, positions, v in columns:
        seen = values[positions]
        if not np.all(np.isnan(seen) | (seen == v)):
            return None
        values[positions] = v
    values[np.isnan(values)] = 0.0  # rows in no slice
    levels = np.unique(values)
    if levels.size > _MAX_VALUE_LEVELS or not np.array_equal(levels, np.round(levels)):
        return None
    # A row's atom key: its value's level in the low bits, then one bit per slice, packed
    # into as few 64-bit words as needed.
    low = int(levels.size - 1).bit_length()
    words = np.zeros((n, (low + len(columns) + 63) // 64), dtype=np.uint64)
    words[:, 0] = np.searchsorted(levels, values).astype(np.uint64)
    for j, (_, _, positions, _) in enumerate(columns):
        bit = low + j
        words[positions, bit // 64] |= np.uint64(1) << np.uint64(bit % 64)
    if words.shape[1] == 1:
        _, first, inverse = np.unique(words[:, 0], return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(words, axis=0, return_index=True, return_inverse=True)
    atoms = inverse.reshape(-1).astype(np.intp)
    rep = words[first]  # one row of each atom: all its rows share the key
    member = np.empty((first.size, len(columns)), dtype=np.float64)
    for j in range(len(columns)):
        bit = low + j
        member[:, j] = (rep[:, bit // 64] >> np.uint64(bit % 64)) & np.uint64(1)
    return _AtomMeans(keys, atoms, member, member * values[first][:, None])
