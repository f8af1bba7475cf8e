"""Benjamini-Hochberg false discovery rate control."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def benjamini_hochberg(
    p_values: ArrayLike, fdr: float
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Return (rejected, adjusted q-values) for the step-up BH procedure at level ``fdr``."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    q = np.empty(m)
    q[order] = q_sorted
    return q <= fdr, q
