"""Fitted models as ModelLab runs see them: predict, preprocessors, signature, save."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from modellab.tasks import TARGET
from modellab_tabular.features import CategoryEncoder, prepare_features
from modellab_tabular.labels import labels_of
from modellab_tabular.persistence import save_sklearn


def signature_of(train: pd.DataFrame, output: dict[str, Any]) -> dict[str, Any]:
    """The inference signature: input columns with dtypes, and the output."""
    inputs = [{"name": c, "dtype": str(train[c].dtype)} for c in train.columns if c != TARGET]
    return {"inputs": inputs, "output": output}


def split_xy(train: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Features and target of a training frame."""
    return train.drop(columns=[TARGET]), train[TARGET]


@dataclass
class FittedPipeline:
    """A fitted scikit-learn pipeline (optional ``preprocess`` step, then ``model``)."""

    pipeline: Pipeline
    feature_columns: list[str]
    signature: dict[str, Any]
    classes: list[str] | None = None

    @property
    def preprocessors(self) -> list[Any]:
        """The fitted preprocessing step, for EvalHarness' fit-on-train check."""
        step = self.pipeline.named_steps.get("preprocess")
        return [step] if step is not None else []

    def _x(self, frame: pd.DataFrame) -> pd.DataFrame:
        return prepare_features(frame[self.feature_columns])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions for every row of ``frame`` (for a classifier: its likeliest class)."""
        if self.classes is not None:
            return labels_of(self.classes, self.predict_proba(frame))
        return np.asarray(self.pipeline.predict(self._x(frame)))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes``."""
        return np.asarray(self.pipeline.predict_proba(self._x(frame)), dtype=float)

    def save(self, folder: Path) -> str:
        """Write ``model.skops``; return the format's name."""
        folder.mkdir(parents=True, exist_ok=True)
        save_sklearn(self.pipeline, folder / "model.skops")
        return "skops"


@dataclass
class FittedBooster:
    """A fitted XGBoost model with its training-only category encoder."""

    model: Any
    encoder: CategoryEncoder
    feature_columns: list[str]
    signature: dict[str, Any]
    classes: list[str] | None = None
    best_iteration: int | None = None
    preprocessors: list[Any] = field(default_factory=list)

    def _x(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.encoder.encode(frame[self.feature_columns])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions for every row of ``frame`` (for a classifier: its likeliest class)."""
        if self.classes is not None:
            return labels_of(self.classes, self.predict_proba(frame))
        raw: np.ndarray = np.asarray(self.model.predict(self._x(frame)))
        return raw.astype(float)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes``."""
        return np.asarray(self.model.predict_proba(self._x(frame)), dtype=float)

    def save(self, folder: Path) -> str:
        """Write XGBoost's UBJSON model and the encoder's categories as JSON."""
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_model(folder / "model.ubj")
        meta = {
            "categories": {
                c: [str(v) for v in cats]
                for c, cats in zip(self.encoder.columns_, self.encoder.categories_, strict=True)
            },
            "classes": self.classes,
            "best_iteration": self.best_iteration,
            "feature_columns": self.feature_columns,
        }
        (folder / "encoding.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return "xgboost-ubj"
