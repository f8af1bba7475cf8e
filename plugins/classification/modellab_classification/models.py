"""Model variants of the tabular classification template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier


class MostFrequentConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The majority-class baseline has nothing to tune."""


@dataclass
class FittedClassifier:
    """A fitted classifier with the preprocessing objects it learned on train rows."""

    estimator: Any
    feature_columns: list[str]
    preprocessors: Sequence[Any] = field(default_factory=list)
    signature: Mapping[str, Any] = field(default_factory=dict)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predict a class for every row of ``frame``."""
        return np.asarray(self.estimator.predict(frame[self.feature_columns]))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities in the order of ``estimator.classes_``."""
        return np.asarray(self.estimator.predict_proba(frame[self.feature_columns]))


def fit_most_frequent(train: pd.DataFrame, spec: Any, seed: int) -> FittedClassifier:
    """Fit the majority-class baseline on ``train`` (features and a ``__target__`` column)."""
    features = [c for c in train.columns if c != "__target__"]
    est = DummyClassifier(strategy="most_frequent", random_state=seed)
    est.fit(train[features], train["__target__"])
    signature = {
        "inputs": [{"name": c, "dtype": str(train[c].dtype)} for c in features],
        "output": {"kind": "class", "classes": [str(c) for c in est.classes_]},
    }
    return FittedClassifier(est, features, [], signature)
