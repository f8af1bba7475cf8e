"""Weighted sums of real-valued columns that round the same on every CPU.

A BLAS matrix product (``w @ values``) picks its kernel by CPU: an AVX-512 machine adds
the terms in another order than an AVX2 one, so the last bit of a sum, and with it a
bootstrap bound printed in a report, differs between machines. Reports must be
byte-identical wherever they are re-run, so real-valued sums go through NumPy's own
sum-of-products loop instead, which is built once for all x86-64 CPUs and adds in a
fixed order. Sums of integer-valued columns (counts, indicators) are exact in any order
and may keep using BLAS.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def weighted_sums(w: NDArray[Any], columns: Array) -> Array:
    """``w @ columns.T`` with a fixed order of addition: ``(b, n)`` weights against
    ``(c, n)`` columns gives ``(b, c)``.

    Each output is one contiguous dot product of a weight row and a column, so a column's
    sums depend only on that column and the weights, never on the other columns beside
    it; two columns that agree wherever the weight is non-zero get equal sums.
    """
    out = np.empty((w.shape[0], columns.shape[0]), dtype=np.float64)
    for j in range(columns.shape[0]):
        out[:, j] = np.einsum("bi,i->b", w, columns[j], dtype=np.float64, casting="unsafe")
    return out
