"""Real-valued weighted sums round the same whatever surrounds them.

BLAS picks its kernel by CPU and by the shape of the product, so a column's sums change
in the last bits with the columns beside it, the number of replicates in a chunk, and
the machine. The bootstrap's sums must not: the eval folder is byte-identical wherever a
run is repeated, and a slice holding every weighted row has a delta of exactly 0.
"""

from __future__ import annotations

import numpy as np

from evalharness.bootstrap.engine import Group, run_bootstrap
from evalharness.metrics import regression as MR
from evalharness.metrics.sums import weighted_sums


def _weights_and_columns() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    w = rng.integers(0, 4, size=(64, 5000), dtype=np.uint8)
    return w, rng.random((7, 5000)) * 10


def test_sums_equal_the_matrix_product() -> None:
    w, columns = _weights_and_columns()
    np.testing.assert_allclose(weighted_sums(w, columns), w @ columns.T, rtol=1e-13)


def test_a_columns_sums_ignore_the_columns_beside_it() -> None:
    w, columns = _weights_and_columns()
    alone = weighted_sums(w, columns[:1])[:, 0]
    assert np.array_equal(alone, weighted_sums(w, columns)[:, 0])


def test_a_replicates_sums_ignore_the_replicates_beside_it() -> None:
    w, columns = _weights_and_columns()
    assert np.array_equal(weighted_sums(w[:3], columns), weighted_sums(w, columns)[:3])


def test_columns_equal_where_weighted_sum_equally() -> None:
    w, columns = _weights_and_columns()
    w[:, 17] = 0
    changed = columns[:1].copy()
    changed[0, 17] = 0.0
    assert np.array_equal(weighted_sums(w, changed), weighted_sums(w, columns[:1]))


def test_a_slice_of_all_rows_but_one_has_a_delta_of_exactly_zero_without_it() -> None:
    """Replicates that leave the one outside row out score the slice as the overall MAE."""
    rng = np.random.default_rng(5)
    n = 80
    truth = rng.normal(size=n)
    arrays = MR.prepare(truth, truth + rng.normal(size=n))
    keep = np.arange(1, n, dtype=np.intp)
    other = np.arange(0, n, 2, dtype=np.intp)  # a second slice: the sums are shared
    groups = {
        "overall": Group(arrays, None),
        "most": Group(arrays.subset(keep), keep, ("mae",)),
        "even": Group(arrays.subset(other), other, ("mae",)),
    }
    res = run_bootstrap(n, groups, ["mae"], 200, seed=2, method="multinomial")
    delta = res.replicates["most"]["mae"] - res.replicates["overall"]["mae"]
    assert np.count_nonzero(delta == 0.0) > 40  # about (1 - 1/n)^n of the replicates
