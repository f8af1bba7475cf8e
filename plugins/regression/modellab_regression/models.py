"""Model variants of the tabular regression template and their configs."""

from __future__ import annotations

import logging

import msgspec
import pandas as pd
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

from modellab_regression.configs import LinearRegressionConfig, MeanConfig, XGBoostRegressorConfig
from modellab_tabular.boosting import fit_booster
from modellab_tabular.features import column_kinds, linear_preprocessor, prepare_features
from modellab_tabular.fitted import FittedBooster, FittedPipeline, signature_of, split_xy

log = logging.getLogger("modellab.train")
OUTPUT = {"kind": "value", "dtype": "float64"}


def fit_mean(train: pd.DataFrame, spec: MeanConfig, seed: int) -> FittedPipeline:
    """The training rows' mean target, whatever the features."""
    x, y = split_xy(train)
    pipe = Pipeline([("model", DummyRegressor(strategy="mean"))])
    pipe.fit(prepare_features(x), y.astype(float))
    log.info("mean: predicts %.6g", float(pipe.named_steps["model"].constant_[0][0]))
    return FittedPipeline(pipe, list(x.columns), signature_of(train, OUTPUT))


def fit_linear_regression(
    train: pd.DataFrame, spec: LinearRegressionConfig, seed: int
) -> FittedPipeline:
    """Imputation, scaling and one-hot encoding fit on train rows only, then least squares."""
    x, y = split_xy(train)
    prepared = prepare_features(x)
    pipe = Pipeline(
        [
            ("preprocess", linear_preprocessor(column_kinds(prepared))),
            ("model", Ridge(alpha=spec.alpha)),
        ]
    )
    pipe.fit(prepared, y.astype(float))
    return FittedPipeline(pipe, list(x.columns), signature_of(train, OUTPUT))


def fit_xgboost(train: pd.DataFrame, spec: XGBoostRegressorConfig, seed: int) -> FittedBooster:
    """XGBoost with native categoricals; early stopping on rows carved from train."""
    params = msgspec.structs.asdict(spec)
    validation = params.pop("validation_fraction")
    rounds = params.pop("early_stopping_rounds")
    return fit_booster(train, "regression", params, seed, validation, rounds)
