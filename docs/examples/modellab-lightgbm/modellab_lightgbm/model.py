"""Fitting LightGBM on a run's train rows, and the fitted model a run saves and loads.

The train frame holds the feature columns and the target as ``modellab.tasks.TARGET``,
already class labels (str) by the classification task type. Categorical columns become
pandas categoricals of the categories seen in training only
(``modellab_tabular.features.CategoryEncoder``, which EvalHarness' leakage checks
inspect), and LightGBM splits on them natively.

A saved model is LightGBM's own text format (``model.txt``) and a JSON of what predicting
needs beside it: the encoder's categories, the classes, the feature columns and the
signature. Nothing is pickled; loading runs no code from the folder.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import msgspec
import numpy as np
import pandas as pd
from modellab_tabular.features import CategoryEncoder
from modellab_tabular.fitted import signature_of, split_xy
from modellab_tabular.labels import labels_of

from modellab_lightgbm.config import LightGBMConfig

log = logging.getLogger("modellab.train")

#: the format name a run records in model/signature.json
FORMAT = "lightgbm-text"
MODEL_FILE = "model.txt"
META_FILE = "lightgbm.json"


@dataclass
class FittedLightGBM:
    """A LightGBM booster with its training-only category encoder.

    ``predict_proba`` has one column per class, in the order of ``classes`` (the sorted
    training labels); ``predict`` is the likeliest class of each row.
    """

    booster: lgb.Booster
    encoder: CategoryEncoder
    feature_columns: list[str]
    classes: list[str]
    signature: dict[str, Any]
    preprocessors: list[Any] = field(default_factory=list)

    def _x(self, frame: pd.DataFrame) -> pd.DataFrame:
        x = self.encoder.encode(frame[self.feature_columns])
        # LightGBM refuses some characters in feature names: it sees positions only.
        x.columns = _positional(len(self.feature_columns))
        return x

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes``."""
        raw = np.asarray(self.booster.predict(self._x(frame)), dtype=float)
        if raw.ndim == 1:  # binary: the probability of the second class
            return np.column_stack([1.0 - raw, raw])
        return raw

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The likeliest class of every row of ``frame``."""
        return labels_of(self.classes, self.predict_proba(frame))

    def save(self, folder: Path) -> str:
        """Write ``model.txt`` (LightGBM's text format) and ``lightgbm.json``."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MODEL_FILE).write_text(self.booster.model_to_string(), encoding="utf-8")
        meta = {
            "categories": self.encoder.learned(),
            "classes": self.classes,
            "feature_columns": self.feature_columns,
            "signature": self.signature,
        }
        # Sorted and indented: the same fit writes the same bytes.
        text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
        (folder / META_FILE).write_text(text, encoding="utf-8")
        return FORMAT


def _positional(n: int) -> list[str]:
    return [f"f{i}" for i in range(n)]


def fit_lightgbm(train: pd.DataFrame, spec: LightGBMConfig, seed: int) -> FittedLightGBM:
    """Fit a LightGBM classifier with the run's seed; the same seed gives the same model."""
    x_raw, y = split_xy(train)
    features = list(x_raw.columns)
    encoder = CategoryEncoder().fit(x_raw)
    x = encoder.encode(x_raw)
    x.columns = _positional(len(features))
    labels = y.astype(str).to_numpy()
    classes = sorted(set(labels.tolist()))
    codes = np.searchsorted(np.asarray(classes, dtype=object), labels)
    params = msgspec.structs.asdict(spec)
    model = lgb.LGBMClassifier(
        objective="binary" if len(classes) == 2 else "multiclass",
        random_state=seed,
        # one histogram layout whatever the data's shape, as `deterministic` asks for
        force_row_wise=True,
        verbose=-1,
        **params,
    )
    model.fit(x, codes)
    log.info(
        "lightgbm: %d trees on %d rows, %d features (%d categorical), %d classes",
        model.booster_.num_trees(),
        len(x),
        len(features),
        len(encoder.columns_),
        len(classes),
    )
    output = {"kind": "class", "classes": classes, "scores": "predict_proba"}
    return FittedLightGBM(
        # Read back from its text, as load() does: the fitted and the loaded model are
        # one and the same booster, so they predict the same to the last bit.
        booster=lgb.Booster(model_str=model.booster_.model_to_string()),
        encoder=encoder,
        feature_columns=features,
        classes=classes,
        signature=signature_of(train, output),
        preprocessors=[encoder],
    )


def load_lightgbm(folder: Path) -> FittedLightGBM:
    """Read back a :class:`FittedLightGBM` that :meth:`FittedLightGBM.save` wrote."""
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    booster = lgb.Booster(model_str=(folder / MODEL_FILE).read_text(encoding="utf-8"))
    features = list(meta["feature_columns"])
    encoder = CategoryEncoder.from_learned(features, meta["categories"])
    return FittedLightGBM(
        booster=booster,
        encoder=encoder,
        feature_columns=features,
        classes=list(meta["classes"]),
        signature=meta["signature"],
        preprocessors=[encoder],
    )
