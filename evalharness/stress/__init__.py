"""Seeded corruptions and the stress-test runner."""

from __future__ import annotations

from evalharness.stress.runner import (
    METRIC_SENSITIVITY,
    MODEL_ROBUSTNESS,
    case_label,
    current_stress_label,
)

__all__ = ["METRIC_SENSITIVITY", "MODEL_ROBUSTNESS", "case_label", "current_stress_label"]
