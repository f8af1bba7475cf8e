"""Metric kernels equal to scikit-learn's definitions."""

from __future__ import annotations

from evalharness.metrics.classification import classification_metrics
from evalharness.metrics.regression import regression_metrics

__all__ = ["classification_metrics", "regression_metrics"]
