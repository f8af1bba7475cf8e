"""NaN and infinities as JSON carries them: JSON has neither, so they travel as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (MLflow's convention). The tracking API and
``modellab.client`` both use these, so a value sent is the value read back."""

from __future__ import annotations

import math
from typing import Literal

#: the strings that stand for a non-finite float
NonFinite = Literal["NaN", "Infinity", "-Infinity"]


def as_logged(value: float) -> float | NonFinite:
    """A float as JSON can carry it: itself, or ``"NaN"``, ``"Infinity"``, ``"-Infinity"``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
