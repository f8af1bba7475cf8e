"""Seeded resampling weights: replicate ``r`` gets its own generator, so chunking never
changes the numbers and a slow reference loop can reproduce any replicate exactly.

Counts are always drawn in the caller's row order: ``replicate_counts(n, seed, r, method)[i]``
is how often row ``i`` of the rows the caller passed in is drawn in replicate ``r``. An
evaluator that lays rows out in another order for its kernels passes that ``order`` and
gets the same counts permuted (one gather per chunk), never different draws."""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

Resampling = Literal["poisson", "multinomial"]

# Chunks of about this many float64 weights keep memory flat at 1M rows.
_CHUNK_ELEMENTS = 8_000_000
_LUT_BITS = 16
# A table value no Poisson(1) count reaches on the grid: marks the cells a CDF step cuts.
_AMBIGUOUS = 255


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
    """(lookup table, CDF) of Poisson(1) on a 16-bit grid.

    With ``u = (j + v) / 2**16`` for a 16-bit cell ``j`` and a uniform ``v``, the count is
    ``#{k: F(k) <= u}``. For a cell that no CDF value cuts, that equals
    ``#{k: j >= ceil(F(k) * 2**16)}``, which the table holds; the few cells a CDF value
    cuts hold :data:`_AMBIGUOUS` and are resolved with ``v``.
    """
    cdf = np.cumsum([math.exp(-1.0) / math.factorial(k) for k in range(25)])
    scaled = cdf * (1 << _LUT_BITS)
    ceil = np.ceil(scaled)
    table = np.zeros(1 << _LUT_BITS, dtype=np.uint8)
    for t in ceil[ceil < (1 << _LUT_BITS)].astype(np.int64):
        table[t:] += 1
    cut = (scaled != np.floor(scaled)) & (np.floor(scaled) < (1 << _LUT_BITS))
    table[np.unique(np.floor(scaled[cut])).astype(np.int64)] = _AMBIGUOUS
    return table, cdf


def _poisson_into(out: NDArray[Any], rng: np.random.Generator) -> None:
    table, cdf = _poisson_tables()
    n = out.size
    words = rng.bit_generator.random_raw((n + 3) // 4)
    bits = np.asarray(words, dtype=np.uint64).view(np.uint16)[:n]
    # One table lookup per row (the table fits in cache); then the rare ambiguous cells.
    np.take(table, bits, out=out)
    rows = np.flatnonzero(out == _AMBIGUOUS)
    if rows.size:
        u = (bits[rows].astype(np.float64) + rng.random(rows.size)) / (1 << _LUT_BITS)
        out[rows] = np.searchsorted(cdf, u, side="right")


def replicate_counts(n: int, seed: int, replicate: int, method: Resampling) -> NDArray[np.int64]:
    """Resampling counts of one replicate: how often each of the ``n`` rows is drawn.

    Element ``i`` belongs to row ``i`` in the caller's order (the order of the rows passed
    to the evaluator or to :func:`~evalharness.bootstrap.engine.run_bootstrap`), whatever
    internal layout the metric kernels use.

    ``multinomial``: ``n`` draws with replacement (the classic bootstrap).
    ``poisson``: independent Poisson(1) counts per row (Hanley & MacGibbon 2006), drawn
    exactly by inverse CDF: 16 random bits pick a cell of the unit interval, and a uniform
    float refines the rare cells that a CDF step cuts.
    """
    rng = replicate_generator(seed, replicate)
    if method == "multinomial":
        return np.bincount(rng.integers(0, n, size=n), minlength=n).astype(np.int64)
    out = np.empty(n, dtype=np.uint8)
    _poisson_into(out, rng)
    return out.astype(np.int64)


def chunk_size(n: int, n_bootstrap: int) -> int:
    """Replicates per chunk: about 8M weights, so memory stays flat at 1M rows."""
    return max(1, min(n_bootstrap, _CHUNK_ELEMENTS // max(n, 1)))


def check_order(n: int, order: NDArray[np.integer[Any]] | None) -> NDArray[np.intp] | None:
    """``order`` as an index array when it is a permutation of ``0..n-1`` other than the
    identity (None for the identity or None); ValueError otherwise."""
    if order is None:
        return None
    out = np.asarray(order, dtype=np.intp)
    if out.shape != (n,):
        raise ValueError(f"order must hold {n} row positions, got shape {out.shape}")
    if n and (out.min() < 0 or out.max() >= n or np.bincount(out, minlength=n).max() != 1):
        raise ValueError("order must be a permutation of the row positions 0..n-1")
    return None if np.array_equal(out, np.arange(n)) else out


class ChunkFiller:
    """Fills a reusable ``(b, n)`` uint8 buffer with the counts of replicates ``start..stop-1``.

    Counts are small integers (a count above 255 has probability far below 1e-300), and one
    byte per weight quarters the memory traffic of every kernel.

    Counts are drawn in the caller's row order. With ``order`` (internal position ``j``
    holds caller row ``order[j]``), column ``j`` of the result is the count of caller row
    ``order[j]``: the same draws as :func:`replicate_counts`, laid out for the kernels.
    """

    def __init__(
        self,
        n: int,
        b: int,
        seed: int,
        method: Resampling,
        order: NDArray[np.integer[Any]] | None = None,
    ) -> None:
        self.n, self.seed, self.method = n, seed, method
        self.order = check_order(n, order)
        self.buffer = np.zeros((b, n), dtype=np.uint8)
        # Draws land here first when they must be permuted into the kernels' layout.
        self.drawn = None if self.order is None else np.zeros((b, n), dtype=np.uint8)

    def fill(self, start: int, stop: int) -> NDArray[np.uint8]:
        """The weights of replicates ``start..stop-1`` (a view of the reused buffer)."""
        out = self.buffer[: stop - start]
        drawn = out if self.drawn is None else self.drawn[: stop - start]
        for row, r in enumerate(range(start, stop)):
            if self.method == "poisson":
                _poisson_into(drawn[row], replicate_generator(self.seed, r))
            else:
                counts = replicate_counts(self.n, self.seed, r, self.method)
                if counts.size and counts.max() > 255:
                    raise OverflowError("a resampling count exceeded 255")
                drawn[row] = counts
        if self.order is not None:
            np.take(drawn, self.order, axis=1, out=out)
        return out


def weight_chunks(
    n: int,
    n_bootstrap: int,
    seed: int,
    method: Resampling,
    order: NDArray[np.integer[Any]] | None = None,
) -> Iterator[NDArray[np.uint8]]:
    """Yield ``(b, n)`` uint8 count matrices covering replicates ``0 .. n_bootstrap-1``.

    Column ``j`` holds caller row ``order[j]`` (row ``j`` without ``order``). The yielded
    array is reused for the next chunk; copy it to keep it.
    """
    b = chunk_size(n, n_bootstrap)
    filler = ChunkFiller(n, b, seed, method, order)
    for start in range(0, n_bootstrap, b):
        yield filler.fill(start, min(start + b, n_bootstrap))
