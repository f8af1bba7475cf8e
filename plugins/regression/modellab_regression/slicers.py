"""Slicers of the regression task: by quintile of the true target (EvalHarness' rule)."""

from __future__ import annotations

from typing import Any

import numpy as np

from modellab.tasks import SliceDefinition
from modellab_tabular.slicers import as_definitions


def by_target_quintile(y_true: Any, **_: Any) -> list[SliceDefinition]:
    """Five slices by the quintile of the true target."""
    from evalharness.slicing.families import target_quintiles

    return as_definitions(target_quintiles(np.asarray(y_true, dtype=float)))
