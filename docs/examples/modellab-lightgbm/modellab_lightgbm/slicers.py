"""The ``any_missing`` slicer: rows with at least one missing feature, and complete rows.

A model can do well overall and badly exactly where a feature is missing (imputed or
sent down a default branch); the report measures both sides with confidence intervals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from modellab.tasks import SliceDefinition


def by_any_missing(frame: Any, **_: Any) -> list[SliceDefinition]:
    """Two slices of the test rows: some feature missing, no feature missing."""
    missing = np.asarray(frame.isna().any(axis=1), dtype=bool)
    return [
        SliceDefinition("any_missing:yes", "at least one feature is missing", missing),
        SliceDefinition("any_missing:no", "every feature is present", ~missing),
    ]
