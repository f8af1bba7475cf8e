"""The paired randomization test: exact against full enumeration and scipy, seeded,
independent of its chunking, and right on cases whose verdict is known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from evalharness.bootstrap import randomization as R


def exact_p(d: np.ndarray) -> float:
    """Every sign flip of ``d``: the share whose |mean| reaches the observed one."""
    observed = abs(d.mean())
    flips = np.array(list(itertools.product((-1.0, 1.0), repeat=d.size)))
    return float(np.mean(np.abs(flips @ d / d.size) >= observed - 1e-12))


@pytest.mark.parametrize("n", [8, 10])
def test_the_p_value_estimates_the_exact_one(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.random(n)
    b = a + rng.normal(0.15, 0.3, size=n)
    exact = exact_p(b - a)
    scipy_p = stats.permutation_test(
        (b, a),
        lambda x, y: np.mean(x - y),
        permutation_type="samples",
        alternative="two-sided",
        n_resamples=np.inf,
    ).pvalue
    assert scipy_p == pytest.approx(exact, abs=1e-12)
    got = R.paired_randomization_test(a, b, metric="m", n_permutations=200_000, seed=1)
    se = np.sqrt(exact * (1 - exact) / 200_000)
    assert abs(got.p_value - exact) < 3 * se + 1e-5
    assert got.observed == pytest.approx(float(np.mean(b - a)), abs=1e-15)
    assert (got.n, got.n_permutations, got.seed, got.metric) == (n, 200_000, 1, "m")


def test_known_verdicts() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(93)
    same = R.paired_randomization_test(a, a, metric="m", n_permutations=1000)
    assert same.p_value == 1.0 and same.observed == 0.0
    clear = R.paired_randomization_test(a[:30], a[:30] + 0.5, metric="m", n_permutations=1000)
    assert clear.p_value == 1 / 1001
    small = R.paired_randomization_test(
        a, a + 0.02 + rng.normal(0, 0.05, 93), metric="m", n_permutations=5000
    )
    assert small.p_value < 0.05
    noise = R.paired_randomization_test(
        a, a + rng.normal(0, 0.05, 93), metric="m", n_permutations=5000, seed=3
    )
    assert noise.p_value > 0.05


def test_the_result_depends_on_the_seed_only(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    a, b = rng.random(50), rng.random(50)
    first = R.paired_randomization_test(a, b, metric="m", n_permutations=3000, seed=7)
    assert R.paired_randomization_test(a, b, metric="m", n_permutations=3000, seed=7) == first
    monkeypatch.setattr(R, "_CHUNK_CELLS", 50 * 7)  # 7 flips per chunk
    assert R.paired_randomization_test(a, b, metric="m", n_permutations=3000, seed=7) == first
    other = R.paired_randomization_test(a, b, metric="m", n_permutations=3000, seed=8)
    assert other.p_value != first.p_value


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "message"),
    [
        ([1.0, 2.0], [1.0], {}, "1-D of one length"),
        ([], [], {}, "at least one paired unit"),
        ([1.0, np.nan], [1.0, 2.0], {}, "NaN or inf"),
        ([1.0], [2.0], {"n_permutations": 99}, "between 100 and 1000000"),
    ],
)
def test_bad_input_is_refused_by_name(
    a: list[float], b: list[float], kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        R.paired_randomization_test(a, b, metric="m", **kwargs)
