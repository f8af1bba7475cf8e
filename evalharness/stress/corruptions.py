"""Seeded corruptions of inputs and labels used by the stress tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray


def inject_missing(frame: pd.DataFrame, fraction: float, rng: np.random.Generator) -> pd.DataFrame:
    """Blank a ``fraction`` of all feature cells, chosen uniformly."""
    mask = rng.random(frame.shape) < fraction
    return frame.mask(pd.DataFrame(mask, index=frame.index, columns=frame.columns))


def shuffle_column(
    frame: pd.DataFrame, column: str, fraction: float, rng: np.random.Generator
) -> pd.DataFrame:
    """Permute ``column``'s values among a random ``fraction`` of the rows."""
    out = frame.copy()
    n = len(frame)
    rows = np.sort(rng.choice(n, size=round(fraction * n), replace=False))
    values = out[column].to_numpy().copy()
    values[rows] = values[rng.permutation(rows)]
    out[column] = values
    return out


def flip_labels(
    y: NDArray[np.intp], fraction: float, n_classes: int, rng: np.random.Generator
) -> NDArray[np.intp]:
    """Move a ``fraction`` of labels to a different class chosen uniformly."""
    out = y.copy()
    rows = rng.random(y.size) < fraction
    shift = rng.integers(1, max(n_classes, 2), size=int(rows.sum()))
    out[rows] = (out[rows] + shift) % n_classes
    return out


def add_noise(
    frame: pd.DataFrame, columns: list[str], scale: float, rng: np.random.Generator
) -> pd.DataFrame:
    """Add Gaussian noise of ``scale`` column standard deviations to ``columns``."""
    out = frame.copy()
    for col in columns:
        x = out[col].to_numpy(dtype=np.float64, na_value=np.nan)
        sd = float(np.nanstd(x)) if x.size else 0.0
        out[col] = x + rng.normal(0.0, scale * sd if sd > 0 else scale, size=x.size)
    return out
