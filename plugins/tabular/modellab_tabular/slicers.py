"""Slicers every tabular task shares: missingness and the key feature.

Light at import (numpy and EvalHarness load on the first call): plugin discovery imports
this module. Both tabular plugins register these same objects (the registry takes a slicer that two
plugins share once). The rules are EvalHarness' built-in families, so a report sliced
by ModelLab and one sliced by EvalHarness alone agree.
"""

from __future__ import annotations

from typing import Any

from modellab.runs.options import EvalSettings
from modellab.tasks import SliceDefinition, Slicer, deferred


def as_definitions(families: Any) -> list[SliceDefinition]:
    """EvalHarness ``SliceFamily`` items as ModelLab slice definitions."""
    return [
        SliceDefinition(d.id, d.definition, d.mask, family.name, family.description)
        for family in families
        for d in family.slices
    ]


def numeric_target(y_true: Any, score_labels: Any = None) -> Any:
    """The target as numbers: values of a numeric target, else each label's position
    among the sorted labels (the codes EvalHarness' classification report uses)."""
    import numpy as np

    y = np.asarray(y_true)
    if np.issubdtype(y.dtype, np.number):
        return y.astype(np.float64)
    labels = sorted({*(str(v) for v in score_labels or ()), *(str(v) for v in y.tolist())})
    lookup = {label: i for i, label in enumerate(labels)}
    return np.fromiter((lookup[str(v)] for v in y.tolist()), dtype=np.intp, count=y.size)


def eval_config(settings: EvalSettings | None) -> Any:
    """The run's evaluation settings as EvalHarness' config."""
    from evalharness import EvalConfig

    return EvalConfig(**(settings.given() if settings is not None else {}))


def by_missingness(frame: Any, **_: Any) -> list[SliceDefinition]:
    """Rows by their share of missing features: low, medium, high."""
    from evalharness.slicing.families import missingness

    return as_definitions(missingness(frame))


def by_key_feature(
    frame: Any,
    y_true: Any,
    score_labels: Any = None,
    settings: EvalSettings | None = None,
    **_: Any,
) -> list[SliceDefinition]:
    """Top categories (or quintiles) of the key feature (``--eval key_feature=COL``, else
    EvalHarness' rule)."""
    from evalharness.slicing.families import key_feature

    y = numeric_target(y_true, score_labels)
    return as_definitions(key_feature(frame, y, eval_config(settings)))


MISSINGNESS = Slicer(
    "missingness",
    deferred("modellab_tabular.slicers:by_missingness"),
    (),
    "Rows by their share of missing features: low (<= 10%), medium (<= 30%), high.",
)
KEY_FEATURE = Slicer(
    "key_feature",
    deferred("modellab_tabular.slicers:by_key_feature"),
    (),
    "Top categories, or quintiles, of the key feature.",
)
