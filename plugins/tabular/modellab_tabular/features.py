"""Turning a dataset's feature columns into what scikit-learn and XGBoost accept.

Conversions here are stateless (they learn nothing), so they cannot leak test data:
datetimes become days since 1970, booleans become 0/1. Everything that learns from
data (imputers, scalers, encoders) is a fitted object returned with the model, so that
EvalHarness can check it saw train rows only.

XGBoost's input is built in one pass (:meth:`CategoryEncoder.encode`): text columns
are read through Arrow, never as one Python object per value, since a run prepares its
features again for every prediction EvalHarness asks for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class ColumnKinds:
    """Feature columns split into numeric and categorical."""

    numeric: list[str]
    categorical: list[str]


def arrow_strings(col: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The Arrow array behind a pandas string column, or None for any other column.

    A dataset version's text columns arrive as pandas' Arrow-backed ``str`` columns;
    reading them through Arrow avoids a Python object per value.
    """
    dtype = col.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return pa.array(col.array)
    return None


def _booleans_with_gaps(col: pd.Series) -> bool:
    """An object column of True/False with missing cells: a boolean column in which
    some values were blanked (EvalHarness' missing-values stress case does so)."""
    return col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) == "boolean"


def _is_category_source(col: pd.Series) -> bool:
    """True when :func:`prepare_features` turns ``col`` into an object column."""
    return not (
        pd.api.types.is_datetime64_any_dtype(col)
        or col.dtype == np.float64
        or pd.api.types.is_bool_dtype(col)
        or pd.api.types.is_numeric_dtype(col)
        or _booleans_with_gaps(col)
    )


def _prepare_column(col: pd.Series) -> pd.Series:
    """One column of :func:`prepare_features`."""
    if pd.api.types.is_datetime64_any_dtype(col):
        # Whatever the column's unit (ns, us, ms, s): days since 1970, missing as NaN.
        epoch = pd.Timestamp(0, tz=getattr(col.dtype, "tz", None))
        return ((col - epoch) / DAY).astype(float)
    if col.dtype == np.float64:
        return col
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return col.astype(float)
    if _booleans_with_gaps(col):
        # 0/1 as at fit, where the same column had no gaps and was boolean.
        return col.astype("boolean").astype(float)
    strings = arrow_strings(col)
    if strings is not None:
        # The same str objects, with None for missing, in one Arrow call.
        values = strings.to_numpy(zero_copy_only=False)
        return pd.Series(values, index=col.index, name=col.name, dtype=object)
    return col.astype(object).where(col.notna(), None)


def prepare_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Stateless conversions: datetimes to days since 1970, booleans to 0/1.

    Numbers become float64 columns; every other column becomes an object column of its
    values, with None for missing.
    """
    return pd.DataFrame(
        {name: _prepare_column(frame[name]) for name in frame.columns}, index=frame.index
    )


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
        """Learn the sorted categories of each categorical column.

        ``frame`` holds the features as they are or prepared by :func:`prepare_features`:
        the categorical columns and their categories are the same either way.
        """
        if self.columns is not None:
            cols = list(self.columns)
        else:
            cols = [c for c in frame.columns if _is_category_source(frame[c])]
        self.columns_ = cols
        self.categories_ = [_categories(frame[c]) for c in cols]
        return self

    def learned(self) -> dict[str, list[str]]:
        """The learned categories of each column, as text: what a saved model keeps."""
        return {
            c: [str(v) for v in cats]
            for c, cats in zip(self.columns_, self.categories_, strict=True)
        }

    @classmethod
    def from_learned(
        cls, features: Sequence[str], learned: Mapping[str, Sequence[str]]
    ) -> CategoryEncoder:
        """The fitted encoder that :meth:`learned` described, its columns in the order of
        ``features`` (as fit found them; a saved file may sort its keys)."""
        encoder = cls()
        encoder.columns_ = [c for c in features if c in learned]
        encoder.categories_ = [np.array(learned[c], dtype=object) for c in encoder.columns_]
        return encoder

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Cast the categorical columns to the learned categories."""
        # Shallow: the columns below are replaced, never written into, and pandas'
        # copy-on-write keeps the caller's frame unchanged.
        out = frame.copy(deep=False)
        for col, cats in zip(self.columns_, self.categories_, strict=True):
            out[col] = _encode(out[col], cats)
        return out

    def encode(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``transform(prepare_features(frame))``, column by column in one pass.

        Text columns are coded straight from their Arrow strings, never turned into
        Python objects first; the frame that comes out is the same.
        """
        learned = dict(zip(self.columns_, self.categories_, strict=True))
        absent = [c for c in learned if c not in frame.columns]
        if absent:
            raise KeyError(f"columns the encoder was fit on are missing: {absent}")
        out: dict[str, pd.Series | pd.Categorical] = {}
        for name in frame.columns:
            col = frame[name]
            if name not in learned:
                out[name] = _prepare_column(col)
            elif arrow_strings(col) is not None:
                out[name] = _encode(col, learned[name])
            else:
                out[name] = _encode(_prepare_column(col), learned[name])
        return pd.DataFrame(out, index=frame.index)


def _categories(col: pd.Series) -> np.ndarray:
    """The sorted string forms of a column's present values: what the encoder learns."""
    strings = arrow_strings(col)
    if strings is not None:
        present = pc.unique(strings).drop_null().to_pylist()
    else:
        values = col if col.dtype == object else _prepare_column(col)
        present = pd.unique(values.dropna())
    return np.array(sorted({str(v) for v in present}), dtype=object)


def _encode(values: pd.Series, cats: np.ndarray) -> pd.Categorical:
    """``values`` as a categorical of the learned ``cats``; other values become missing."""
    categories = pd.Index(cats, dtype=object)
    strings = arrow_strings(values)
    if strings is not None:
        # Exact matches of the strings, as get_indexer below finds them; missing and
        # unseen values are null, that is code -1.
        found = pc.index_in(strings, value_set=pa.array(cats.tolist(), type=strings.type))
        codes = found.fill_null(-1).to_numpy()
    else:
        missing = values.isna().to_numpy()
        # Unseen values become missing. Matching the values as they are is right
        # when they are strings already; when that misses more than the missing
        # values (numbers in an object column, say), match their string form as fit did.
        codes = categories.get_indexer(values)
        if ((codes == -1) & ~missing).any():
            codes = categories.get_indexer(values.astype("string").astype(object))
        codes[missing] = -1
    return pd.Categorical.from_codes(codes, categories=categories)
