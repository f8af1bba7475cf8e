"""Slicers of the classification task: by predicted-confidence decile and by true class.

EvalHarness' built-in rules, so ModelLab's reports and EvalHarness' agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modellab.tasks import SliceDefinition
from modellab_tabular.slicers import as_definitions, numeric_target


def by_confidence_decile(scores: Any = None, **_: Any) -> list[SliceDefinition]:
    """Ten slices by the decile of the predicted class's probability (none without scores)."""
    from evalharness.slicing.families import confidence_deciles

    return as_definitions(confidence_deciles(None if scores is None else np.asarray(scores)))


def by_class(y_true: Any, score_labels: Any = None, **_: Any) -> list[SliceDefinition]:
    """One slice per true class; the 3 most frequent when there are more than 5."""
    from evalharness.slicing.families import classes

    labels = sorted({*(str(v) for v in score_labels or ()), *(str(v) for v in y_true)})
    return as_definitions(classes(numeric_target(y_true, score_labels), labels))
