"""Slicers of the regression task."""

from __future__ import annotations

from typing import Any

import numpy as np

from modellab.tasks import SliceDefinition


def by_target_quintile(y_true: Any, **_: Any) -> list[SliceDefinition]:
    """Five slices by the quintile of the true target."""
    y = np.asarray(y_true, dtype=float)
    edges = np.quantile(y, np.linspace(0, 1, 6))
    bucket = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, 4)
    return [
        SliceDefinition(
            f"target_quintile={q + 1}",
            f"target in [{edges[q]:.6g}, {edges[q + 1]:.6g}]",
            bucket == q,
        )
        for q in range(5)
    ]
