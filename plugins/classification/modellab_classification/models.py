"""Model variants of the tabular classification template and their configs."""

from __future__ import annotations

import logging

import msgspec
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from modellab_classification.configs import (
    LogisticRegressionConfig,
    MostFrequentConfig,
    XGBoostClassifierConfig,
)
from modellab_tabular.boosting import fit_booster
from modellab_tabular.features import column_kinds, linear_preprocessor, prepare_features
from modellab_tabular.fitted import FittedBooster, FittedPipeline, signature_of, split_xy

log = logging.getLogger("modellab.train")


def _classes(y: pd.Series) -> list[str]:
    return sorted(set(y.astype(str)))


def fit_most_frequent(train: pd.DataFrame, spec: MostFrequentConfig, seed: int) -> FittedPipeline:
    """The majority class of the training rows, whatever the features.

    Its probabilities are the training class shares (scikit-learn's ``prior`` strategy),
    not 0/1: an honest baseline for log loss, Brier score and calibration.
    """
    x, y = split_xy(train)
    pipe = Pipeline([("model", DummyClassifier(strategy="prior"))])
    pipe.fit(prepare_features(x), y.astype(str))
    dummy = pipe.named_steps["model"]
    priors = ", ".join(
        f"{c!r} {p:.3f}" for c, p in zip(dummy.classes_, dummy.class_prior_, strict=True)
    )
    log.info(
        "most_frequent: predicts %r for every row, with the class shares as probabilities (%s)",
        dummy.classes_[int(dummy.class_prior_.argmax())],
        priors,
    )
    return FittedPipeline(
        pipe,
        list(x.columns),
        signature_of(train, {"kind": "class", "classes": _classes(y), "scores": "predict_proba"}),
        _classes(y),
    )


def fit_logistic_regression(
    train: pd.DataFrame, spec: LogisticRegressionConfig, seed: int
) -> FittedPipeline:
    """Imputation, scaling and one-hot encoding fit on train rows only, then logistic regression."""
    x, y = split_xy(train)
    prepared = prepare_features(x)
    pipe = Pipeline(
        [
            ("preprocess", linear_preprocessor(column_kinds(prepared))),
            (
                "model",
                LogisticRegression(
                    C=spec.C,
                    max_iter=spec.max_iter,
                    class_weight=spec.class_weight,
                    random_state=seed,
                ),
            ),
        ]
    )
    pipe.fit(prepared, y.astype(str))
    log.info("logistic_regression: %d iterations", int(max(pipe.named_steps["model"].n_iter_)))
    return FittedPipeline(
        pipe,
        list(x.columns),
        signature_of(train, {"kind": "class", "classes": _classes(y), "scores": "predict_proba"}),
        _classes(y),
    )


def fit_xgboost(train: pd.DataFrame, spec: XGBoostClassifierConfig, seed: int) -> FittedBooster:
    """XGBoost with native categoricals; early stopping on rows carved from train."""
    params = msgspec.structs.asdict(spec)
    validation = params.pop("validation_fraction")
    rounds = params.pop("early_stopping_rounds")
    return fit_booster(train, "classification", params, seed, validation, rounds)
