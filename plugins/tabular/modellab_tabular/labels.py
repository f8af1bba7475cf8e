"""Class labels from class probabilities (numpy only: plugin discovery imports it)."""

from __future__ import annotations

import numpy as np


def labels_of(classes: list[str], proba: np.ndarray) -> np.ndarray:
    """The likeliest class of each row; one definition, so that predictions.parquet, the
    report and every stress test agree even where two classes tie (the first wins)."""
    labels: np.ndarray = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
    return labels
