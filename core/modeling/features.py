"""Turning a dataset's feature columns into what scikit-learn and XGBoost accept.

Conversions here are stateless (they learn nothing), so they cannot leak test data:
datetimes become days since 1970, booleans become 0/1. Everything that learns from
data (imputers, scalers, encoders) is a fitted object returned with the model, so that
EvalHarness can check it saw train rows only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

TARGET = "__target__"
DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class ColumnKinds:
    """Feature columns split into numeric and categorical."""

    numeric: list[str]
    categorical: list[str]


def prepare_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Stateless conversions: datetimes to days since 1970, booleans to 0/1."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            days = col.astype("int64").astype(float) / DAY_NS
            out[name] = days.where(col.notna(), np.nan)
        elif col.dtype == np.float64:
            out[name] = col
        elif pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            out[name] = col.astype(float)
        else:
            out[name] = col.astype(object).where(col.notna(), None)
    return pd.DataFrame(out, index=frame.index)


def column_kinds(frame: pd.DataFrame) -> ColumnKinds:
    """Numeric and categorical columns of a prepared frame, in frame order."""
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in frame.columns if c not in numeric]
    return ColumnKinds(numeric, categorical)


def linear_preprocessor(kinds: ColumnKinds) -> ColumnTransformer:
    """Median-impute and scale numbers; impute and one-hot encode categories."""
    transformers: list[tuple[str, Any, list[str]]] = []
    if kinds.numeric:
        transformers.append(
            (
                "numeric",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                kinds.numeric,
            )
        )
    if kinds.categorical:
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                kinds.categorical,
            )
        )
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


class CategoryEncoder(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Pandas categoricals with the categories seen in training only.

    XGBoost's native categorical support reads pandas ``category`` columns; fixing the
    categories to the training values means a category that appears only in test is
    read as missing, never learned.
    """

    def __init__(self, columns: list[str] | None = None) -> None:
        self.columns = columns

    def fit(self, frame: pd.DataFrame, y: Any = None) -> CategoryEncoder:
        """Learn the sorted categories of each categorical column."""
        cols = self.columns if self.columns is not None else column_kinds(frame).categorical
        self.columns_ = list(cols)
        self.categories_ = [
            np.array(sorted({str(v) for v in pd.unique(frame[c].dropna())}), dtype=object)
            for c in self.columns_
        ]
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Cast the categorical columns to the learned categories."""
        # Shallow: the columns below are replaced, never written into, and pandas'
        # copy-on-write keeps the caller's frame unchanged.
        out = frame.copy(deep=False)
        for col, cats in zip(self.columns_, self.categories_, strict=True):
            values = out[col]
            categories = pd.Index(cats, dtype=object)
            missing = values.isna().to_numpy()
            # Unseen values become missing. Matching the values as they are is right
            # when they are strings already; when that misses more than the missing
            # values (numbers in an object column, say), match their string form as fit did.
            codes = categories.get_indexer(values)
            if ((codes == -1) & ~missing).any():
                codes = categories.get_indexer(values.astype("string").astype(object))
            codes[missing] = -1
            out[col] = pd.Categorical.from_codes(codes, categories=categories)
        return out
