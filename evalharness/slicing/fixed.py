"""Fixed slice families: confidence deciles, missingness buckets, key-feature categories or
buckets, classes and target quantiles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

# Share of missing features per row: low <= 10%, medium <= 30%, high above.
MISSING_LOW = 0.10
MISSING_MEDIUM = 0.30
CATEGORICAL_MAX_DISTINCT = 10
# Rows is_categorical looks at before it counts every distinct value of a column.
_DISTINCT_HEAD = 1000


@dataclass(frozen=True)
class SliceDef:
    """A named subset of the evaluation rows (mask in the caller's row order)."""

    id: str
    family: str
    definition: str
    mask: NDArray[np.bool_]


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def is_categorical(series: pd.Series[Any]) -> bool:
    """Non-numeric columns, booleans and numeric columns with at most 10 distinct values."""
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return True
    # A head with more distinct values already settles it: a continuous column of a
    # million rows is then told apart by 1,000 of them, not by hashing all of them.
    head = series.iloc[:_DISTINCT_HEAD]
    if len(head) < len(series) and int(head.nunique(dropna=True)) > CATEGORICAL_MAX_DISTINCT:
        return False
    return int(series.nunique(dropna=True)) <= CATEGORICAL_MAX_DISTINCT


#: a categorical column with more distinct values than this share of its rows is free
#: text or a key, not a feature to slice by
MOSTLY_DISTINCT = 0.5


def choose_key_feature(
    frame: pd.DataFrame, y: NDArray[Any] | None = None, top: int = 5
) -> tuple[str | None, str]:
    """Pick the key feature by a documented rule; returns (column or None, rule text).

    Rule: the categorical column whose top categories cover the most rows (ties: more
    categories, then name);
    without one, the numeric column with the largest absolute correlation with the target
    (ties: name); without a numeric target, the first column by name. A categorical
    column whose values are mostly distinct (free text, keys) is never the key feature:
    its "top categories" are a handful of rows.
    """
    if frame.shape[1] == 0:
        return None, "no feature columns"
    repeats = {
        str(c)
        for c in frame.columns
        if not is_categorical(frame[c]) or frame[c].nunique() <= MOSTLY_DISTINCT * len(frame)
    }
    if not repeats:
        return None, "no feature column repeats its values (free text or keys only)"
    cats = [str(c) for c in frame.columns if str(c) in repeats and is_categorical(frame[c])]
    if cats:
        coverage = {c: int(frame[c].value_counts().head(top).sum()) for c in cats}
        distinct = {c: min(int(frame[c].nunique()), top) for c in cats}
        best = sorted(cats, key=lambda c: (-coverage[c], -distinct[c], c))[0]
        return best, f"categorical column whose top {top} categories cover the most rows"
    if y is not None and np.issubdtype(np.asarray(y).dtype, np.number):
        yv = np.asarray(y, dtype=np.float64)
        corr: dict[str, float] = {}
        for c in frame.columns:
            x = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
            ok = np.isfinite(x)
            if ok.sum() > 2 and np.std(x[ok]) > 0 and np.std(yv[ok]) > 0:
                corr[str(c)] = abs(float(np.corrcoef(x[ok], yv[ok])[0, 1]))
        if corr:
            best = sorted(corr, key=lambda c: (-corr[c], c))[0]
            return best, "numeric column with the largest absolute correlation with the target"
    return sorted(repeats)[0], "first column by name"


def missingness_share(frame: pd.DataFrame) -> NDArray[np.float64]:
    """Share of missing feature values per row."""
    if frame.shape[1] == 0:
        return np.zeros(len(frame))
    return np.asarray(frame.isna().to_numpy().mean(axis=1), dtype=np.float64)


def missingness_slices(frame: pd.DataFrame) -> list[SliceDef]:
    """low / medium / high share of missing features per row."""
    share = missingness_share(frame)
    return [
        SliceDef(
            "missing:low", "missingness", f"missing share <= {MISSING_LOW}", share <= MISSING_LOW
        ),
        SliceDef(
            "missing:medium",
            "missingness",
            f"{MISSING_LOW} < missing share <= {MISSING_MEDIUM}",
            (share > MISSING_LOW) & (share <= MISSING_MEDIUM),
        ),
        SliceDef(
            "missing:high",
            "missingness",
            f"missing share > {MISSING_MEDIUM}",
            share > MISSING_MEDIUM,
        ),
    ]


def quantile_slices(values: NDArray[np.float64], q: int, family: str, label: str) -> list[SliceDef]:
    """Buckets at the q-quantiles of ``values``; tied values always share a bucket."""
    finite = np.isfinite(values)
    if not finite.any():
        return []
    edges = np.unique(np.quantile(values[finite], np.linspace(0, 1, q + 1)[1:-1]))
    bucket = np.searchsorted(edges, values, side="right")
    bounds = np.r_[-np.inf, edges, np.inf]
    out = []
    for b in range(len(edges) + 1):
        lo, hi = bounds[b], bounds[b + 1]
        if np.isinf(lo):
            text = f"{label} < {_fmt(hi)}"
        elif np.isinf(hi):
            text = f"{label} >= {_fmt(lo)}"
        else:
            text = f"{_fmt(lo)} <= {label} < {_fmt(hi)}"
        out.append(SliceDef(f"{family}:{b + 1:02d}", family, text, finite & (bucket == b)))
    return out


def category_slices(series: pd.Series[Any], top: int, family: str) -> list[SliceDef]:
    """The ``top`` most frequent categories (ties by value text)."""
    counts = series.astype("object").value_counts(dropna=True)
    ranked = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))[:top]
    values = series.astype("object").to_numpy()
    return [
        SliceDef(
            f"{family}:{_label(value)}",
            family,
            f"{series.name} == {_label(value)}",
            values == value,
        )
        for value, _ in ranked
    ]


def _label(value: Any) -> str:
    # Short, stable text for a category value (floats at 6 significant digits).
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    return repr(value) if isinstance(value, str) else str(value)


def key_feature_slices(frame: pd.DataFrame, column: str, top: int) -> list[SliceDef]:
    """Top categories of a categorical key feature, or quintiles of a numeric one."""
    s = frame[column]
    family = f"key_feature:{column}"
    if is_categorical(s):
        return category_slices(s, top, family)
    return quantile_slices(s.to_numpy(dtype=np.float64, na_value=np.nan), 5, family, column)


def class_slices(y: NDArray[Any], labels: list[Any]) -> list[SliceDef]:
    """Each true class; only the 3 most frequent when there are more than 5 classes."""
    counts = [(int(np.sum(y == i)), str(lab), i) for i, lab in enumerate(labels)]
    chosen = counts if len(labels) <= 5 else sorted(counts, key=lambda t: (-t[0], t[1]))[:3]
    return [
        SliceDef(f"class:{lab}", "class", f"true class == {lab!r}", y == i)
        for _, lab, i in sorted(chosen, key=lambda t: t[2])
    ]
