"""Percentile intervals from bootstrap replicates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap mean and 2.5th/97.5th percentiles."""

    estimate: float | None
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n_valid: int


def _clean(x: float) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else float(x)


def percentile_interval(
    estimate: float, replicates: NDArray[np.float64], level: float = 0.95
) -> Interval:
    """Percentile interval over the finite replicates (undefined replicates are dropped and
    counted, e.g. a resample with no positives has no ROC-AUC)."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return Interval(_clean(estimate), None, None, None, 0)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.percentile(finite, [100 * alpha, 100 * (1 - alpha)])
    return Interval(_clean(estimate), float(finite.mean()), float(lo), float(hi), int(finite.size))
