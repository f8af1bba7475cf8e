"""The vectorized bootstrap equals a slow loop of scikit-learn calls on the same resamples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn import metrics as skm

from evalharness.bootstrap.engine import (
    Group,
    _AtomMeans,
    _DenseMeans,
    _weighted_means,
    run_bootstrap,
)
from evalharness.bootstrap.resample import (
    Resampling,
    replicate_counts,
    resolve_method,
    weight_chunks,
)
from evalharness.metrics import classification as MC
from evalharness.metrics import regression as MR


@pytest.mark.parametrize("method", ["multinomial", "poisson"])
def test_classification_bootstrap_matches_reference_loop(method: Resampling) -> None:
    rng = np.random.default_rng(0)
    n, b = 80, 25
    y = rng.integers(0, 2, n)
    s = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1).round(2)  # with ties
    p = (s > 0.5).astype(int)
    arrays, _, _ = MC.prepare(y, p, s, [0, 1], f1_average="macro")
    res = run_bootstrap(
        n, {"overall": Group(arrays, None)}, ["accuracy", "roc_auc", "f1"], b, seed=5, method=method
    )
    for r in range(b):
        rows = np.repeat(np.arange(n), replicate_counts(n, 5, r, method))
        yr, pr, sr = y[rows], p[rows], s[rows]
        ref_acc = skm.accuracy_score(yr, pr)
        ref_f1 = skm.f1_score(yr, pr, average="macro", labels=sorted(set(yr) | set(pr)))
        assert abs(res.replicates["overall"]["accuracy"][r] - ref_acc) < 1e-9
        assert abs(res.replicates["overall"]["f1"][r] - ref_f1) < 1e-9
        if len(set(yr)) == 2:
            ref_auc = skm.roc_auc_score(yr, sr)
            assert abs(res.replicates["overall"]["roc_auc"][r] - ref_auc) < 1e-9
    iv = res.interval("overall", "accuracy")
    reps = res.replicates["overall"]["accuracy"]
    assert iv.ci_low == pytest.approx(np.percentile(reps, 2.5))
    assert iv.ci_high == pytest.approx(np.percentile(reps, 97.5))


def test_regression_bootstrap_matches_reference_loop() -> None:
    rng = np.random.default_rng(1)
    n, b = 60, 20
    y = rng.normal(size=n)
    pred = y + rng.normal(size=n)
    arrays = MR.prepare(y, pred)
    res = run_bootstrap(
        n,
        {"overall": Group(arrays, None)},
        list(MR.REGRESSION_METRICS),
        b,
        seed=2,
        method="multinomial",
    )
    for r in range(b):
        rows = np.repeat(np.arange(n), replicate_counts(n, 2, r, "multinomial"))
        got = res.replicates["overall"]
        assert abs(got["mae"][r] - skm.mean_absolute_error(y[rows], pred[rows])) < 1e-9
        assert abs(got["rmse"][r] - skm.root_mean_squared_error(y[rows], pred[rows])) < 1e-9
        assert abs(got["r2"][r] - skm.r2_score(y[rows], pred[rows])) < 1e-9
        assert abs(got["median_ae"][r] - skm.median_absolute_error(y[rows], pred[rows])) < 1e-9


def test_slices_are_paired_with_overall() -> None:
    rng = np.random.default_rng(2)
    n = 100
    y = rng.integers(0, 2, n)
    p = np.where(rng.random(n) < 0.8, y, 1 - y)
    arrays, _, _ = MC.prepare(y, p, None, [0, 1])
    pos = np.arange(0, n, 2).astype(np.intp)
    groups = {"overall": Group(arrays, None), "half": Group(arrays.subset(pos), pos)}
    res = run_bootstrap(n, groups, ["accuracy"], 30, seed=0, method="multinomial")
    for r in range(30):
        c = replicate_counts(n, 0, r, "multinomial")
        correct = (y == p).astype(float)
        ref = (c[pos] * correct[pos]).sum() / c[pos].sum()
        assert abs(res.replicates["half"]["accuracy"][r] - ref) < 1e-12
    d = res.delta("half", "overall", "accuracy")
    assert d.ci_low is not None and d.ci_high is not None and d.ci_low <= d.ci_high


def test_chunks_do_not_change_replicates() -> None:
    chunks = np.vstack([c.copy() for c in weight_chunks(50, 7, 3, "poisson")])
    single = np.vstack([replicate_counts(50, 3, r, "poisson") for r in range(7)])
    assert np.array_equal(chunks, single)


def test_poisson_counts_have_poisson_moments() -> None:
    c = replicate_counts(200_000, 0, 0, "poisson")
    assert abs(c.mean() - 1.0) < 0.01
    assert abs(c.var() - 1.0) < 0.02
    assert abs((c == 0).mean() - np.exp(-1)) < 0.005


def test_auto_method() -> None:
    assert resolve_method("auto", 100, 10_000) == "multinomial"
    assert resolve_method("auto", 100_000, 10_000) == "poisson"
    with pytest.raises(ValueError):
        resolve_method("jackknife", 10, 10)


def test_fast_binary_layout_matches_reference_loop() -> None:
    rng = np.random.default_rng(4)
    n, b = 120, 20
    y = rng.integers(0, 2, n)
    s = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1).round(2)
    order = np.lexsort((s, y))  # the evaluator's layout: negatives, positives, by score
    y, s = y[order], s[order]
    p = (s > 0.5).astype(int)
    arrays, _, _ = MC.prepare(y, p, s, [0, 1], f1_average="weighted")
    assert arrays.monotone is not None  # the fast path is the one under test
    names = ["accuracy", "balanced_accuracy", "roc_auc", "f1"]
    res = run_bootstrap(n, {"overall": Group(arrays, None)}, names, b, seed=9, method="poisson")
    for r in range(b):
        rows = np.repeat(np.arange(n), replicate_counts(n, 9, r, "poisson"))
        got = res.replicates["overall"]
        assert abs(got["accuracy"][r] - skm.accuracy_score(y[rows], p[rows])) < 1e-9
        ba = skm.balanced_accuracy_score(y[rows], p[rows])
        assert abs(got["balanced_accuracy"][r] - ba) < 1e-9
        f1 = skm.f1_score(y[rows], p[rows], average="weighted")
        assert abs(got["f1"][r] - f1) < 1e-9
        assert abs(got["roc_auc"][r] - skm.roc_auc_score(y[rows], s[rows])) < 1e-9


def test_threads_do_not_change_numbers() -> None:
    rng = np.random.default_rng(6)
    n = 2_000_000 // 100  # small rows, many chunks: 400 replicates over 20k rows
    y = rng.integers(0, 2, n)
    s = rng.random(n)
    arrays, _, _ = MC.prepare(y, (s > 0.5).astype(int), s, [0, 1])
    groups = {"overall": Group(arrays, None)}
    one = run_bootstrap(n, groups, ["accuracy", "roc_auc"], 450, 1, "poisson", n_jobs=1)
    two = run_bootstrap(n, groups, ["accuracy", "roc_auc"], 450, 1, "poisson", n_jobs=2)
    for m in ("accuracy", "roc_auc"):
        assert np.array_equal(one.replicates["overall"][m], two.replicates["overall"][m])


class _NoRowValues:
    """The same metrics with the weighted-mean shortcut switched off: every slice gathers."""

    def __init__(self, inner: MC.ClassificationArrays | MR.RegressionArrays) -> None:
        self.inner = inner

    @property
    def n(self) -> int:
        return self.inner.n

    def compute(self, w: NDArray[Any], names: Sequence[str]) -> dict[str, NDArray[np.float64]]:
        return self.inner.compute(w, names)

    def subset(
        self, positions: NDArray[np.intp], names: Sequence[str] | None = None
    ) -> _NoRowValues:
        return _NoRowValues(self.inner.subset(positions, names))

    def row_values(self, names: Sequence[str]) -> NDArray[np.float64] | None:
        return None


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_weighted_mean_slices_equal_the_gathered_ones(task: str) -> None:
    """Accuracy and MAE slices scored by one matrix product equal the per-slice gathers."""
    rng = np.random.default_rng(4)
    n = 3000
    if task == "classification":
        y = rng.integers(0, 3, n)
        p = np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))
        arrays: MC.ClassificationArrays | MR.RegressionArrays = MC.prepare(y, p, None, [0, 1, 2])[0]
        metric = "accuracy"
    else:
        truth = rng.normal(size=n)
        arrays = MR.prepare(truth, truth + rng.normal(size=n))
        metric = "mae"
    slices = {
        "even": np.arange(0, n, 2).astype(np.intp),
        "head": np.arange(0, 500).astype(np.intp),
        "sparse": np.sort(rng.choice(n, 40, replace=False)).astype(np.intp),
    }
    fast = {"overall": Group(arrays, None)} | {
        k: Group(arrays.subset(pos), pos, (metric,)) for k, pos in slices.items()
    }
    slow_arrays = _NoRowValues(arrays)
    slow = {"overall": Group(slow_arrays, None)} | {
        k: Group(slow_arrays.subset(pos), pos, (metric,)) for k, pos in slices.items()
    }
    a = run_bootstrap(n, fast, [metric], 300, seed=9, method="poisson")
    b = run_bootstrap(n, slow, [metric], 300, seed=9, method="poisson")
    assert arrays.row_values([metric]) is not None
    for key in slices:
        if task == "classification":  # integer hits: the sums are exact
            assert np.array_equal(a.replicates[key][metric], b.replicates[key][metric])
        else:
            np.testing.assert_allclose(a.replicates[key][metric], b.replicates[key][metric], 1e-12)


def test_weighted_means_use_atoms_for_hits_and_a_product_for_real_values() -> None:
    """Accuracy's integer hits go through the atoms (linear in the rows), MAE's real
    absolute errors keep the matrix product, whose sums round as the overall MAE's do."""
    rng = np.random.default_rng(1)
    n = 500
    y = rng.integers(0, 2, n)
    cls = MC.prepare(y, np.where(rng.random(n) < 0.8, y, 1 - y), None, [0, 1])[0]
    reg = MR.prepare(rng.normal(size=n), rng.normal(size=n))
    halves = [np.arange(0, n // 2, dtype=np.intp), np.arange(n // 2, n, dtype=np.intp)]
    for arrays, metric, kind in ((cls, "accuracy", _AtomMeans), (reg, "mae", _DenseMeans)):
        groups = {"overall": Group(arrays, None)} | {
            f"s{i}": Group(arrays.subset(pos), pos, (metric,)) for i, pos in enumerate(halves)
        }
        assert isinstance(_weighted_means(n, groups, [metric]), kind)


def test_many_overlapping_accuracy_slices_equal_the_gathered_ones() -> None:
    """More slices than one 64-bit atom key holds, overlapping at random: still exact."""
    rng = np.random.default_rng(8)
    n = 1500
    y = rng.integers(0, 3, n)
    arrays = MC.prepare(
        y, np.where(rng.random(n) < 0.6, y, rng.integers(0, 3, n)), None, [0, 1, 2]
    )[0]
    slices = {
        f"s{i:02d}": np.sort(rng.choice(n, int(rng.integers(20, 400)), replace=False)).astype(
            np.intp
        )
        for i in range(70)
    }
    fast = {"overall": Group(arrays, None)} | {
        k: Group(arrays.subset(pos), pos, ("accuracy",)) for k, pos in slices.items()
    }
    slow_arrays = _NoRowValues(arrays)
    slow = {"overall": Group(slow_arrays, None)} | {
        k: Group(slow_arrays.subset(pos), pos, ("accuracy",)) for k, pos in slices.items()
    }
    assert isinstance(_weighted_means(n, fast, ["accuracy"]), _AtomMeans)
    a = run_bootstrap(n, fast, ["accuracy"], 120, seed=2, method="multinomial")
    b = run_bootstrap(n, slow, ["accuracy"], 120, seed=2, method="multinomial")
    for key in slices:
        assert np.array_equal(a.replicates[key]["accuracy"], b.replicates[key]["accuracy"])
        assert a.estimates[key] == b.estimates[key]


class _Values:
    """A weighted mean of given per-row integer values (``row_values`` returns them)."""

    def __init__(self, values: NDArray[np.float64]) -> None:
        self.values = values

    @property
    def n(self) -> int:
        return int(self.values.size)

    def compute(self, w: NDArray[Any], names: Sequence[str]) -> dict[str, NDArray[np.float64]]:
        wf = w.astype(np.float64)
        return {names[0]: (wf @ self.values) / wf.sum(axis=1)}

    def subset(self, positions: NDArray[np.intp], names: Sequence[str] | None = None) -> _Values:
        return _Values(self.values[positions])

    def row_values(self, names: Sequence[str]) -> NDArray[np.float64] | None:
        return self.values


def test_slices_that_disagree_on_a_row_value_keep_their_own_values() -> None:
    """Atoms need one value per row; two slices giving a shared row different values are
    scored by the matrix product instead, each with its own values."""
    n = 300
    rows = np.arange(n, dtype=np.intp)
    first, second = rows[:200], rows[100:]
    groups = {
        "a": Group(_Values(np.ones(first.size)), first, ("m",)),
        "b": Group(_Values(np.zeros(second.size)), second, ("m",)),
    }
    assert isinstance(_weighted_means(n, groups, ["m"]), _DenseMeans)
    res = run_bootstrap(n, groups, ["m"], 50, seed=0, method="poisson")
    assert np.all(res.replicates["a"]["m"] == 1.0)
    assert np.all(res.replicates["b"]["m"] == 0.0)


def test_accuracy_only_subset_scores_like_the_full_one() -> None:
    """A slice ranked by accuracy skips the scores (no ranking data), with the same numbers."""
    rng = np.random.default_rng(6)
    n = 400
    y = rng.integers(0, 2, n)
    s = rng.random(n)
    arrays = MC.prepare(y, (s > 0.5).astype(int), s, [0, 1])[0]
    pos = np.sort(rng.choice(n, 150, replace=False)).astype(np.intp)
    lean, full = arrays.subset(pos, ["accuracy"]), arrays.subset(pos)
    assert lean.scores is None and not lean.ranks and full.scores is not None
    w = rng.poisson(1.0, (30, pos.size))
    assert np.array_equal(
        lean.compute(w, ["accuracy"])["accuracy"], full.compute(w, ["accuracy"])["accuracy"]
    )
    hits, all_hits = lean.row_values(["accuracy"]), full.row_values(["accuracy"])
    assert hits is not None and all_hits is not None and np.array_equal(hits, all_hits)
