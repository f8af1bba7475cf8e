"""Fitted models as ModelLab runs see them: predict, preprocessors, signature, save, and
the ``load`` functions that read a saved model back (``ModelVariant.load``)."""

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
from modellab_tabular.persistence import load_sklearn, save_sklearn

#: what a saved pipeline needs beside its skops file to predict as it did
PIPELINE_META = "meta.json"
#: the booster's training-only categories, classes and inference interface
BOOSTER_META = "encoding.json"


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

    def meta(self) -> dict[str, Any]:
        """What ``meta.json`` holds beside the skops file."""
        return {
            "classes": self.classes,
            "feature_columns": self.feature_columns,
            "signature": self.signature,
        }

    def save(self, folder: Path) -> str:
        """Write ``model.skops`` and ``meta.json``; return the format's name."""
        folder.mkdir(parents=True, exist_ok=True)
        save_sklearn(self.pipeline, folder / "model.skops")
        _write_json(folder / PIPELINE_META, self.meta())
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
            "categories": self.encoder.learned(),
            "classes": self.classes,
            "best_iteration": self.best_iteration,
            "feature_columns": self.feature_columns,
            "signature": self.signature,
        }
        _write_json(folder / BOOSTER_META, meta)
        return "xgboost-ubj"


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    # Sorted and indented: a model folder is byte-identical for the same fit, which a
    # repro pack's archive relies on.
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _read_json(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def pipeline_fields(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """What :meth:`FittedPipeline.save` wrote into ``folder``: the fields of a
    :class:`FittedPipeline` and the whole ``meta.json`` (a subclass's own keys too).

    The skops file loads with the trusted-types list of :func:`load_sklearn`, never
    with pickle.
    """
    meta = _read_json(folder / PIPELINE_META)
    fields = {
        "pipeline": load_sklearn(folder / "model.skops"),
        "feature_columns": list(meta["feature_columns"]),
        "signature": meta["signature"],
        "classes": meta["classes"],
    }
    return fields, meta


def load_pipeline(folder: Path) -> FittedPipeline:
    """Read back a :class:`FittedPipeline` that :meth:`FittedPipeline.save` wrote."""
    fields, _ = pipeline_fields(folder)
    return FittedPipeline(**fields)


def load_booster(folder: Path, estimator: Any = None) -> FittedBooster:
    """Read back a :class:`FittedBooster` that :meth:`FittedBooster.save` wrote.

    ``estimator`` is the empty XGBoost model to load into (default: a classifier when the
    model has classes, else a regressor; a ranker passes an ``XGBRanker``).
    """
    import xgboost as xgb  # here: loading a pipeline must not import XGBoost

    meta = _read_json(folder / BOOSTER_META)
    classes = meta["classes"]
    model: Any = estimator
    if model is None:
        model = xgb.XGBClassifier() if classes is not None else xgb.XGBRegressor()
    model.load_model(folder / "model.ubj")
    features = list(meta["feature_columns"])
    encoder = CategoryEncoder.from_learned(features, meta["categories"])
    return FittedBooster(
        model=model,
        encoder=encoder,
        feature_columns=features,
        signature=meta["signature"],
        classes=classes,
        best_iteration=meta["best_iteration"],
        preprocessors=[encoder],
    )
