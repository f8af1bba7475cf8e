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
def _poisson_tables() -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    # CDF of Poisson(1) up to a tail far below float64 resolution.
    cdf = np.cumsum([math.exp(-1.0) / math.factorial(k) for k in range(25)])
    cells = 1 << _LUT_BITS
    lo = np.arange(cells, dtype=np.float64) / cells
    hi = (np.arange(cells, dtype=np.float64) + 1) / cells
    k_lo = np.searchsorted(cdf, lo, side="right")
    k_hi = np.searchsorted(cdf, np.nextafter(hi, 0.0), side="right")
    # A cell that straddles a CDF step is marked 255 and resolved with a second draw.
    lut = np.where(k_lo == k_hi, k_lo, 255).astype(np.uint8)
    return lut, cdf


def replicate_counts(n: int, seed: int, replicate: int, method: Resampling) -> NDArray[np.int64]:
    """Resampling counts of one replicate: how often each of the ``n`` rows is drawn.

    ``multinomial``: ``n`` draws with replacement (the classic bootstrap).
    ``poisson``: independent Poisson(1) counts per row (Hanley & MacGibbon 2006), drawn
    exactly by inverse CDF: 16 random bits pick a table cell, a float refines the rare cells
    that straddle a CDF step.
    """
    rng = replicate_generator(seed, replicate)
    if method == "multinomial":
        return np.bincount(rng.integers(0, n, size=n), minlength=n).astype(np.int64)
    lut, cdf = _poisson_tables()
    bits = rng.integers(0, 1 << _LUT_BITS, size=n, dtype=np.uint16)
    counts = lut[bits].astype(np.int64)
    ambiguous = np.flatnonzero(counts == 255)
    if ambiguous.size:
        u = (bits[ambiguous].astype(np.float64) + rng.random(ambiguous.size)) / (1 << _LUT_BITS)
        counts[ambiguous] = np.searchsorted(cdf, u, side="right")
    return counts


def weight_chunks(
    n: int, n_bootstrap: int, seed: int, method: Resampling
) -> Iterator[NDArray[np.float64]]:
    """Yield ``(b, n)`` float64 weight matrices covering replicates ``0 .. n_bootstrap-1``."""
    b = max(1, min(n_bootstrap, _CHUNK_ELEMENTS // max(n, 1)))
    for start in range(0, n_bootstrap, b):
        stop = min(start + b, n_bootstrap)
        out = np.empty((stop - start, n), dtype=np.float64)
        for row, r in enumerate(range(start, stop)):
            out[row] = replicate_counts(n, seed, r, method)
        yield out
