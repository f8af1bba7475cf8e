"""Seeded resampling weights: replicate ``r`` gets its own generator, so chunking never
changes the numbers and a slow reference loop can reproduce any replicate exactly."""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Resampling = Literal["poisson", "multinomial"]

# Chunks of about this many float64 weights keep memory flat at 1M rows.
_CHUNK_ELEMENTS = 8_000_000
_LUT_BITS = 16


def resolve_method(method: str, n: int, multinomial_max_rows: int) -> Resampling:
    """Turn ``auto`` into the concrete resampling scheme used for ``n`` rows."""
    if method == "auto":
        return "multinomial" if n <= multinomial_max_rows else "poisson"
    if method in ("poisson", "multinomial"):
        return method  # type: ignore[return-value]
    raise ValueError(f"unknown bootstrap method {method!r}")


def replicate_generator(seed: int, replicate: int) -> np.random.Generator:
    """The generator of one replicate (independent streams via SeedSequence spawn keys)."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(replicate,)))
    )


@lru_cache(maxsize=1)
def _poisson_tables() -> tuple[NDArray[np.uint16], NDArray[np.uint16], NDArray[np.float64]]:
    """(thresholds, ambiguous cells, CDF) of Poisson(1) on a 16-bit grid.

    With ``u = (j + v) / 2**16`` for a 16-bit cell ``j`` and a uniform ``v``, the count is
    ``#{k: F(k) <= u}``. For a cell that no CDF value cuts, that equals
    ``#{k: j >= ceil(F(k) * 2**16)}``; the few cells a CDF value cuts are resolved with ``v``.
    """
    cdf = np.cumsum([math.exp(-1.0) / math.factorial(k) for k in range(25)])
    scaled = cdf * (1 << _LUT_BITS)
    ceil = np.ceil(scaled)
    thresholds = ceil[ceil < (1 << _LUT_BITS)].astype(np.uint16)
    cut = (scaled != np.floor(scaled)) & (np.floor(scaled) < (1 << _LUT_BITS))
    ambiguous = np.unique(np.floor(scaled[cut])).astype(np.uint16)
    return thresholds, ambiguous, cdf


def _poisson_into(out: NDArray[np.float64], rng: np.random.Generator) -> None:
    thresholds, ambiguous, cdf = _poisson_tables()
    n = out.size
    words = rng.bit_generator.random_raw((n + 3) // 4)
    bits = np.asarray(words, dtype=np.uint64).view(np.uint16)[:n]
    counts = np.zeros(n, dtype=np.uint8)
    flag = np.empty(n, dtype=np.bool_)
    for t in thresholds:
        np.greater_equal(bits, t, out=flag)
        counts += flag.view(np.uint8)
    out[...] = counts
    # A handful of equality tests beats np.isin, which sorts.
    hit = np.zeros(n, dtype=np.bool_)
    for a in ambiguous:
        hit |= np.equal(bits, a, out=flag)
    rows = np.flatnonzero(hit)
    if rows.size:
        u = (bits[rows].astype(np.float64) + rng.random(rows.size)) / (1 << _LUT_BITS)
        out[rows] = np.searchsorted(cdf, u, side="right")


def replicate_counts(n: int, seed: int, replicate: int, method: Resampling) -> NDArray[np.int64]:
    """Resampling counts of one replicate: how often each of the ``n`` rows is drawn.

    ``multinomial``: ``n`` draws with replacement (the classic bootstrap).
    ``poisson``: independent Poisson(1) counts per row (Hanley & MacGibbon 2006), drawn
    exactly by inverse CDF: 16 random bits pick a cell of the unit interval, and a uniform
    float refines the rare cells that a CDF step cuts.
    """
    rng = replicate_generator(seed, replicate)
    if method == "multinomial":
        return np.bincount(rng.integers(0, n, size=n), minlength=n).astype(np.int64)
    out = np.empty(n, dtype=np.float64)
    _poisson_into(out, rng)
    return out.astype(np.int64)


def weight_chunks(
    n: int, n_bootstrap: int, seed: int, method: Resampling
) -> Iterator[NDArray[np.float64]]:
    """Yield ``(b, n)`` float64 weight matrices covering replicates ``0 .. n_bootstrap-1``."""
    b = max(1, min(n_bootstrap, _CHUNK_ELEMENTS // max(n, 1)))
    for start in range(0, n_bootstrap, b):
        stop = min(start + b, n_bootstrap)
        out = np.empty((stop - start, n), dtype=np.float64)
        for row, r in enumerate(range(start, stop)):
            if method == "poisson":
                _poisson_into(out[row], replicate_generator(seed, r))
            else:
                out[row] = replicate_counts(n, seed, r, method)
        yield out
