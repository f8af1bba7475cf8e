"""Model variants of the tabular regression template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor


class MeanConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The mean baseline has nothing to tune."""


@dataclass
class FittedRegressor:
    """A fitted regressor with the preprocessing objects it learned on train rows."""

    estimator: Any
    feature_columns: list[str]
    preprocessors: Sequence[Any] = field(default_factory=list)
    signature: Mapping[str, Any] = field(default_factory=dict)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predict the target for every row of ``frame``."""
        return np.asarray(self.estimator.predict(frame[self.feature_columns]), dtype=float)


def fit_mean(train: pd.DataFrame, spec: Any, seed: int) -> FittedRegressor:
    """Fit the training-mean baseline on ``train`` (features and a ``__target__`` column)."""
    features = [c for c in train.columns if c != "__target__"]
    est = DummyRegressor(strategy="mean")
    est.fit(train[features], train["__target__"])
    signature = {
        "inputs": [{"name": c, "dtype": str(train[c].dtype)} for c in features],
        "output": {"kind": "value", "dtype": "float64"},
    }
    return FittedRegressor(est, features, [], signature)
