"""Configs of the regression model variants: msgspec Structs with defaults and bounds.

They import nothing heavy, so listing plugins stays fast; the models import
scikit-learn and XGBoost only when a run fits one.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

Fraction = Annotated[float, Meta(gt=0, le=1)]


class MeanConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The mean baseline has nothing to tune."""


class LinearRegressionConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Least squares on imputed, scaled, one-hot features, with a tiny ridge for stability."""

    alpha: Annotated[float, Meta(ge=0)] = 1e-6


class XGBoostRegressorConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Gradient-boosted trees with native categorical support and early stopping."""

    n_estimators: Annotated[int, Meta(ge=1, le=100_000)] = 400
    learning_rate: Annotated[float, Meta(gt=0, le=1)] = 0.1
    max_depth: Annotated[int, Meta(ge=1, le=32)] = 6
    min_child_weight: Annotated[float, Meta(ge=0)] = 1.0
    subsample: Fraction = 1.0
    colsample_bytree: Fraction = 1.0
    reg_lambda: Annotated[float, Meta(ge=0)] = 1.0
    early_stopping_rounds: Annotated[int, Meta(ge=1)] = 30
    validation_fraction: Annotated[float, Meta(gt=0, lt=0.5)] = 0.1
    n_jobs: Annotated[int, Meta(ge=1, le=256)] = 1
