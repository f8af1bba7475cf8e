"""Configs of the classification model variants: msgspec Structs with defaults and bounds.

They import nothing heavy, so listing plugins stays fast; the models import
scikit-learn and XGBoost only when a run fits one.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from modellab_tabular.configs import BoostingConfig

Positive = Annotated[float, Meta(gt=0)]
Fraction = Annotated[float, Meta(gt=0, le=1)]


class MostFrequentConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The majority-class baseline has nothing to tune."""


class LogisticRegressionConfig(msgspec.Struct, forbid_unknown_fields=True):
    """L2-regularized logistic regression on imputed, scaled, one-hot features."""

    C: Annotated[Positive, Meta(description="inverse regularization; smaller is simpler")] = 1.0
    max_iter: Annotated[
        int, Meta(ge=10, le=100_000, description="most solver iterations before giving up")
    ] = 1000
    class_weight: Annotated[
        Literal["balanced"] | None,
        Meta(description="'balanced' weighs rare classes up; none treats rows equally"),
    ] = None


class XGBoostClassifierConfig(BoostingConfig, forbid_unknown_fields=True):
    """XGBoost classification settings (see :class:`~modellab_tabular.configs.BoostingConfig`)."""
