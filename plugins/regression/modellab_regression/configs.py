"""Configs of the regression model variants: msgspec Structs with defaults and bounds.

They import nothing heavy, so listing plugins stays fast; the models import
scikit-learn and XGBoost only when a run fits one.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from modellab_tabular.configs import BoostingConfig

Fraction = Annotated[float, Meta(gt=0, le=1)]


class MeanConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The mean baseline has nothing to tune."""


class LinearRegressionConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Least squares on imputed, scaled, one-hot features, with a tiny ridge for stability."""

    alpha: Annotated[float, Meta(ge=0, description="ridge penalty; the default only steadies")] = (
        1e-6
    )


class XGBoostRegressorConfig(BoostingConfig, forbid_unknown_fields=True):
    """XGBoost regression settings (see :class:`~modellab_tabular.configs.BoostingConfig`)."""
