"""Slice families: named groups of slices with a description, as slices.json lists them.

An evaluation takes its slices as families. The built-in ones (confidence deciles,
missingness, key feature, class, target quintiles) are built here from the fixed rules of
:mod:`evalharness.slicing.fixed`; a caller may pass families of its own instead (ModelLab
passes what its plugins' slicers produce, the built-in ones among them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evalharness.core.config import EvalConfig
from evalharness.slicing import fixed as F


@dataclass(frozen=True)
class SliceFamily:
    """Slices that share one rule (``name``, e.g. ``missingness``), described in words."""

    name: str
    description: str
    slices: tuple[F.SliceDef, ...]
    #: metrics each of its slices reports besides the primary one it is ranked by (the
    #: confident error of out-of-scope queries, say); one the task lacks is left out
    metrics: tuple[str, ...] = ()


def confidence_deciles(scores: NDArray[np.float64] | None) -> list[SliceFamily]:
    """Deciles of the predicted class's probability (none without scores)."""
    if scores is None:
        return []
    confidence = np.asarray(scores, dtype=np.float64)
    if confidence.ndim == 2:
        confidence = confidence.max(axis=1)
    defs = F.quantile_slices(confidence, 10, "confidence_decile", "confidence")
    return [
        SliceFamily(
            "confidence_decile", "deciles of the predicted class's probability", tuple(defs)
        )
    ]


def missingness(frame: pd.DataFrame) -> list[SliceFamily]:
    """Rows by their share of missing features: low, medium, high."""
    return [
        SliceFamily(
            "missingness",
            f"share of missing features per row: low <= {F.MISSING_LOW}, medium <= "
            f"{F.MISSING_MEDIUM}, high above",
            tuple(F.missingness_slices(frame)),
        )
    ]


def key_feature_of(frame: pd.DataFrame, y: NDArray[Any], cfg: EvalConfig) -> tuple[str | None, str]:
    """The key feature (``cfg.key_feature``, else :func:`fixed.choose_key_feature`) and why."""
    if cfg.key_feature:
        return cfg.key_feature, "given by the caller"
    return F.choose_key_feature(frame, y, cfg.max_categories)


def key_feature(frame: pd.DataFrame, y: NDArray[Any], cfg: EvalConfig) -> list[SliceFamily]:
    """Top categories (or quintiles) of the key feature; ``y`` is numeric (class codes or
    target values), for the correlation rule."""
    key, rule = key_feature_of(frame, y, cfg)
    if key is None:
        return []
    return [
        SliceFamily(
            f"key_feature:{key}",
            f"top {cfg.max_categories} categories (or quintiles) of {key}; chosen as {rule}",
            tuple(F.key_feature_slices(frame, key, cfg.max_categories)),
        )
    ]


def classes(y: NDArray[np.intp], labels: Sequence[Any]) -> list[SliceFamily]:
    """Each true class (the 3 most frequent when there are more than 5); ``y`` holds
    positions in ``labels``."""
    return [
        SliceFamily(
            "class",
            "each true class (the 3 most frequent when there are more than 5)",
            tuple(F.class_slices(y, list(labels))),
        )
    ]


def target_quintiles(y: NDArray[np.float64]) -> list[SliceFamily]:
    """Quintiles of the true target."""
    return [
        SliceFamily(
            "target_quintile",
            "quintiles of the true target",
            tuple(
                F.quantile_slices(np.asarray(y, dtype=np.float64), 5, "target_quintile", "target")
            ),
        )
    ]


def classification_families(
    frame: pd.DataFrame,
    y: NDArray[np.intp],
    labels: Sequence[Any],
    scores: NDArray[np.float64] | None,
    cfg: EvalConfig,
) -> list[SliceFamily]:
    """The built-in families of a classification report, in report order."""
    return [
        *confidence_deciles(scores),
        *missingness(frame),
        *key_feature(frame, y, cfg),
        *classes(y, labels),
    ]


def regression_families(
    frame: pd.DataFrame, y: NDArray[np.float64], cfg: EvalConfig
) -> list[SliceFamily]:
    """The built-in families of a regression report, in report order."""
    return [*target_quintiles(y), *key_feature(frame, y, cfg), *missingness(frame)]


def flatten(families: Sequence[SliceFamily]) -> tuple[list[F.SliceDef], dict[str, str]]:
    """Every slice in family order, and each family's description by name.

    :raises ValueError: two slices share an id (their records would collide).
    """
    defs = [d for family in families for d in family.slices]
    seen: set[str] = set()
    for d in defs:
        if d.id in seen:
            raise ValueError(f"two slices are called {d.id!r}; slice ids must be unique")
        seen.add(d.id)
    return defs, {family.name: family.description for family in families}
