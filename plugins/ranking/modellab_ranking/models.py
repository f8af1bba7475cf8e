"""Model variants of the learning-to-rank template: a single feature and a linear model
as baselines, XGBoost's ``rank:ndcg`` as the candidate.

Training frames hold the features, the graded label (``TARGET``) and each row's query
(``GROUP``); a model scores rows, and the evaluator ranks each query's rows by score.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

from modellab.errors import InvalidInputError
from modellab.tasks import GROUP, TARGET
from modellab_ranking.configs import LinearRankerConfig, SingleFeatureConfig, XGBRankerConfig
from modellab_tabular.boosting import LogEvery
from modellab_tabular.features import (
    CategoryEncoder,
    column_kinds,
    linear_preprocessor,
    prepare_features,
)
from modellab_tabular.fitted import FittedBooster, FittedPipeline, load_booster

log = logging.getLogger("modellab.train")
OUTPUT = {"kind": "score", "dtype": "float64", "ranks": "rows of one query, higher first"}
#: the single-feature model's file
FEATURE_FILE = "feature.json"


def features_of(train: pd.DataFrame) -> list[str]:
    """The feature columns of a ranking frame (neither the label nor the query)."""
    return [c for c in train.columns if c not in (TARGET, GROUP)]


def signature(train: pd.DataFrame) -> dict[str, Any]:
    """The inference signature: feature columns with dtypes, and the score."""
    inputs = [{"name": c, "dtype": str(train[c].dtype)} for c in features_of(train)]
    return {"inputs": inputs, "output": OUTPUT}


def query_codes(groups: pd.Series) -> np.ndarray:
    """Each row's query as its position among the sorted query ids."""
    names = groups.astype(str).to_numpy()
    _, codes = np.unique(names, return_inverse=True)
    out: np.ndarray = codes.astype(np.int64)
    return out


def _mean_ndcg10(groups: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean NDCG@10 over queries with a relevant row (for choosing a feature on train)."""
    from evalharness.metrics.queries import rank_queries

    ranked = rank_queries(groups, np.arange(groups.size), labels, scores, cutoffs=(10,))
    judged = ranked.relevant > 0
    values = ranked.values(["ndcg@10"])[0]
    return float(values[judged].mean()) if judged.any() else 0.0


@dataclass
class FittedFeature:
    """Scores each row by one feature (times ``sign``); missing values rank last."""

    feature: str
    sign: float
    signature: dict[str, Any]
    preprocessors: list[Any] = field(default_factory=list)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's score."""
        x = prepare_features(frame[[self.feature]])[self.feature].astype(float).to_numpy()
        # The lowest finite score: a missing value ranks last, yet stays a number.
        scores: np.ndarray = np.where(np.isnan(x), np.finfo(np.float64).min, self.sign * x)
        return scores

    def save(self, folder: Path) -> str:
        """Write the feature, its direction and the signature as JSON."""
        folder.mkdir(parents=True, exist_ok=True)
        doc = {"feature": self.feature, "sign": self.sign, "signature": self.signature}
        (folder / FEATURE_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return "json-feature-score"


def load_feature(folder: Path) -> FittedFeature:
    """Read back a :class:`FittedFeature`."""
    doc = json.loads((folder / FEATURE_FILE).read_text())
    return FittedFeature(doc["feature"], float(doc["sign"]), doc["signature"])


def fit_single_feature(train: pd.DataFrame, spec: SingleFeatureConfig, seed: int) -> FittedFeature:
    """The named feature, else the numeric feature (and direction) with the best mean
    NDCG@10 on the training queries; ties go to the first in column order."""
    columns = features_of(train)
    prepared = prepare_features(train[columns])
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(prepared[c])]
    if spec.feature is not None:
        if spec.feature not in numeric:
            raise InvalidInputError(
                f"single_feature: feature {spec.feature!r} is not a numeric feature; "
                f"numeric features are {', '.join(numeric) or '(none)'}"
            )
        choices = [(spec.feature, 1.0)]
    else:
        choices = [(c, s) for c in numeric for s in (1.0, -1.0)]
    if not choices:
        raise InvalidInputError("single_feature: the dataset has no numeric feature to rank by")
    groups = train[GROUP].astype(str).to_numpy()
    labels = train[TARGET].to_numpy()
    best: tuple[float, str, float] | None = None
    for column, sign in choices:
        x = prepared[column].astype(float).to_numpy()
        score = _mean_ndcg10(groups, labels, np.nan_to_num(sign * x, nan=-np.inf))
        if best is None or score > best[0]:
            best = (score, column, sign)
    assert best is not None
    log.info(
        "single_feature: ranks by %s%s (mean NDCG@10 %.4f on the training queries)",
        "-" if best[2] < 0 else "",
        best[1],
        best[0],
    )
    return FittedFeature(best[1], best[2], signature(train))


def fit_linear(train: pd.DataFrame, spec: LinearRankerConfig, seed: int) -> FittedPipeline:
    """Ridge regression of the label on features imputed, scaled and one-hot encoded on
    the train rows only; its prediction is the score."""
    columns = features_of(train)
    prepared = prepare_features(train[columns])
    pipe = Pipeline(
        [
            ("preprocess", linear_preprocessor(column_kinds(prepared))),
            ("model", Ridge(alpha=spec.alpha)),
        ]
    )
    pipe.fit(prepared, train[TARGET].astype(float))
    return FittedPipeline(pipe, columns, signature(train))


def fit_xgb_ranker(train: pd.DataFrame, spec: XGBRankerConfig, seed: int) -> FittedBooster:
    """XGBoost ``rank:ndcg`` on the training queries; early stopping on whole queries
    held out from train (seeded), never on test rows."""
    import xgboost as xgb

    params = msgspec.structs.asdict(spec)
    validation = params.pop("validation_fraction")
    rounds = params.pop("early_stopping_rounds")
    columns = features_of(train)
    encoder = CategoryEncoder().fit(train[columns])
    codes = query_codes(train[GROUP])
    n_queries = int(codes.max()) + 1 if codes.size else 0
    rng = np.random.default_rng(seed)
    n_val = max(1, round(n_queries * validation)) if n_queries >= 4 else 0
    held = np.zeros(n_queries, dtype=bool)
    held[rng.permutation(n_queries)[:n_val]] = True
    is_val = held[codes]
    # XGBoost needs each query's rows together, queries in increasing id order.
    order = np.argsort(codes, kind="stable")
    x = encoder.encode(train[columns]).iloc[order]
    y = train[TARGET].to_numpy()[order]
    q = codes[order]
    val = is_val[order]
    log.info(
        "xgb_ranker: %d queries (%d rows) to fit, %d validation queries held out from train",
        n_queries - n_val,
        int((~val).sum()),
        n_val,
    )
    model = xgb.XGBRanker(
        objective="rank:ndcg",
        tree_method="hist",
        enable_categorical=True,
        random_state=seed,
        early_stopping_rounds=rounds if n_val else None,
        callbacks=[LogEvery()],
        **params,
    )
    fit_args: dict[str, Any] = {}
    if n_val:
        fit_args = {"eval_set": [(x[val], y[val])], "eval_qid": [q[val]]}
    model.fit(x[~val], y[~val], qid=q[~val], verbose=False, **fit_args)
    best = int(model.best_iteration) if n_val and model.best_iteration is not None else None
    log.info("xgb_ranker: best iteration %s", best)
    return FittedBooster(
        model=model,
        encoder=encoder,
        feature_columns=columns,
        signature=signature(train),
        best_iteration=best,
        preprocessors=[encoder],
    )


def load_ranker(folder: Path) -> FittedBooster:
    """Read back the ranker that :func:`fit_xgb_ranker` fitted and saved."""
    import xgboost as xgb

    return load_booster(folder, xgb.XGBRanker())
