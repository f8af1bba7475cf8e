"""Slicers of the classification task: by true class and by confidence decile."""

from __future__ import annotations

from typing import Any

import numpy as np

from modellab.tasks import SliceDefinition


def by_class(y_true: Any, max_classes: int = 3, **_: Any) -> list[SliceDefinition]:
    """One slice per true class; the ``max_classes`` most frequent when there are many."""
    y = np.asarray(y_true).astype(str)
    values, counts = np.unique(y, return_counts=True)
    # Most frequent first; ties by class label so the order is stable.
    order = sorted(range(len(values)), key=lambda i: (-counts[i], values[i]))[:max_classes]
    return [
        SliceDefinition(f"class={values[i]}", f"true class is {values[i]!r}", y == values[i])
        for i in order
    ]


def by_confidence_decile(scores: Any, **_: Any) -> list[SliceDefinition]:
    """Ten slices by the decile of the predicted class's probability."""
    if scores is None:
        return []
    conf = np.asarray(scores, dtype=float)
    conf = conf.max(axis=1) if conf.ndim == 2 else conf
    edges = np.quantile(conf, np.linspace(0, 1, 11))
    bucket = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, 9)
    return [
        SliceDefinition(
            f"confidence_decile={d + 1}",
            f"confidence in [{edges[d]:.3f}, {edges[d + 1]:.3f}]",
            bucket == d,
        )
        for d in range(10)
    ]
