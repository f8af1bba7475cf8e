"""Configs of the classification model variants: msgspec Structs with defaults and bounds.

They import nothing heavy, so listing plugins stays fast; the models import
scikit-learn and XGBoost only when a run fits one.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Positive = Annotated[float, Meta(gt=0)]
Fraction = Annotated[float, Meta(gt=0, le=1)]


class MostFrequentConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The majority-class baseline has nothing to tune."""


class LogisticRegressionConfig(msgspec.Struct, forbid_unknown_fields=True):
    """L2-regularized logistic regression on imputed, scaled, one-hot features."""

    C: Positive = 1.0
    max_iter: Annotated[int, Meta(ge=10, le=100_000)] = 1000
    class_weight: Literal["balanced"] | None = None


class XGBoostClassifierConfig(msgspec.Struct, forbid_unknown_fields=True):
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
