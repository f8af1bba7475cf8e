"""XGBoost with native categorical support and early stopping on a validation split.

The validation rows are carved from the training rows, never from test.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xgboost as xgb
from sklearn.model_selection import train_test_split

from modellab_tabular.features import CategoryEncoder, arrow_strings
from modellab_tabular.fitted import FittedBooster, signature_of, split_xy

log = logging.getLogger("modellab.train")


class LogEvery(xgb.callback.TrainingCallback):
    """Log the validation metric every ``period`` rounds, into the run's logs.txt."""

    def __init__(self, period: int = 25) -> None:
        self.period = period

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
        if epoch % self.period == 0:
            for data, metrics in evals_log.items():
                for name, values in metrics.items():
                    log.info("round %d: %s %s %.6f", epoch, data, name, values[-1])
        return False


def class_codes(y: pd.Series) -> tuple[list[str], np.ndarray]:
    """The sorted classes of ``y`` as strings, and each row's position among them."""
    labels = y.astype(str)
    strings = arrow_strings(labels)
    if strings is not None:
        # The same classes and positions, without a Python string per row.
        classes = sorted(pc.unique(strings).to_pylist())
        found = pc.index_in(strings, value_set=pa.array(classes, type=strings.type))
        return classes, found.to_numpy().astype(np.int64)
    values = labels.to_numpy()
    classes = sorted(set(values))
    return classes, np.searchsorted(np.asarray(classes, dtype=object), values)


def fit_booster(
    train: pd.DataFrame,
    task: str,
    params: dict[str, Any],
    seed: int,
    validation_fraction: float,
    early_stopping_rounds: int,
) -> FittedBooster:
    """Fit an XGBoost classifier or regressor with early stopping on a train-only split."""
    x_raw, y = split_xy(train)
    features = list(x_raw.columns)
    encoder = CategoryEncoder().fit(x_raw)
    x = encoder.encode(x_raw)
    classes: list[str] | None = None
    if task == "classification":
        classes, codes = class_codes(y)
        counts = np.bincount(codes)
        stratify = codes if counts.min() >= 2 else None
        target: np.ndarray = codes
    else:
        target = y.astype(float).to_numpy()
        stratify = None
    x_fit, x_val, y_fit, y_val = train_test_split(
        x, target, test_size=validation_fraction, random_state=seed, stratify=stratify
    )
    log.info(
        "xgboost: %d rows to fit, %d validation rows carved from train (never test)",
        len(x_fit),
        len(x_val),
    )
    common = {
        "enable_categorical": True,
        "tree_method": "hist",
        "random_state": seed,
        "early_stopping_rounds": early_stopping_rounds,
        "callbacks": [LogEvery()],
        **params,
    }
    model: Any
    if task == "classification":
        assert classes is not None
        objective = "binary:logistic" if len(classes) == 2 else "multi:softprob"
        model = xgb.XGBClassifier(objective=objective, **common)
    else:
        model = xgb.XGBRegressor(objective="reg:squarederror", **common)
    model.fit(x_fit, y_fit, eval_set=[(x_val, y_val)], verbose=False)
    best = int(model.best_iteration) if model.best_iteration is not None else None
    log.info("xgboost: best iteration %s", best)
    output: dict[str, Any] = (
        {"kind": "class", "classes": classes, "scores": "predict_proba"}
        if classes is not None
        else {"kind": "value", "dtype": "float64"}
    )
    return FittedBooster(
        model=model,
        encoder=encoder,
        feature_columns=features,
        signature=signature_of(train, output),
        classes=classes,
        best_iteration=best,
        preprocessors=[encoder],
    )
