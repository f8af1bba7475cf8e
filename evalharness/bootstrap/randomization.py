"""The paired randomization test of two systems scored on the same units (queries).

Under the null hypothesis the two systems' scores of a unit are exchangeable, so each
unit's difference keeps or flips its sign with probability 1/2 (Fisher's randomization
test, as Smucker, Allan and Carterette (2007) recommend for IR and ranx implements). The
p-value counts the sign-flipped mean differences at least as far from 0 as the observed
one, plus the observed itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from evalharness.metrics.sums import weighted_sums

#: flips drawn per chunk x units, at most: bounds memory whatever the count asked
_CHUNK_CELLS = 1 << 22
MIN_PERMUTATIONS, MAX_PERMUTATIONS = 100, 1_000_000


@dataclass(frozen=True)
class RandomizationTest:
    """A two-sided paired randomization test of the mean difference ``b - a``."""

    metric: str
    #: the mean of ``b - a`` over the units
    observed: float
    p_value: float
    n: int
    n_permutations: int
    seed: int


def paired_randomization_test(
    a: ArrayLike,
    b: ArrayLike,
    *,
    metric: str,
    n_permutations: int = 10_000,
    seed: int = 0,
) -> RandomizationTest:
    """Test whether B's per-unit scores differ from A's on the same units.

    The flips come from one seeded generator in a fixed order, chunk by chunk, so the
    result depends on the seed and the count only. Sums avoid BLAS
    (:func:`~evalharness.metrics.sums.weighted_sums`), so p is the same on every CPU.

    :raises ValueError: unequal lengths, no unit, a value that is not finite, or a count
        outside 100..1,000,000.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"a and b must be 1-D of one length, got {x.shape} and {y.shape}")
    if x.size == 0:
        raise ValueError("the randomization test needs at least one paired unit")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("the randomization test needs finite scores; a or b has NaN or inf")
    if not MIN_PERMUTATIONS <= n_permutations <= MAX_PERMUTATIONS:
        raise ValueError(
            f"n_permutations must be between {MIN_PERMUTATIONS} and {MAX_PERMUTATIONS}, "
            f"got {n_permutations}"
        )
    d = y - x
    n = d.size
    observed = float(weighted_sums(np.ones((1, n)), d[None, :])[0, 0] / n)
    if not d.any():
        return RandomizationTest(metric, 0.0, 1.0, n, n_permutations, seed)
    # Rounding must not turn a tie with the observed statistic into a smaller value.
    bar = abs(observed) - 1e-12 * max(1.0, abs(observed))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(17,)))
    per_chunk = max(1, _CHUNK_CELLS // n)
    extreme = 0
    done = 0
    while done < n_permutations:
        b_count = min(per_chunk, n_permutations - done)
        # One double per flip: the stream does not depend on how it is chunked (bounded
        # small integers are drawn from shared 32-bit words, which would).
        signs = np.where(rng.random((b_count, n)) < 0.5, -1.0, 1.0)
        means = weighted_sums(signs, d[None, :])[:, 0] / n
        extreme += int((np.abs(means) >= bar).sum())
        done += b_count
    return RandomizationTest(
        metric, observed, (1 + extreme) / (1 + n_permutations), n, n_permutations, seed
    )
