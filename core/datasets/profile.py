"""Profiling a dataset with polars and numpy: one pass of expressions, no pandas.

Quantiles of columns longer than 200,000 values are computed on an evenly spaced
sample of them; everything else uses every value.

Leak detection ("a column that leaks the target") looks for near-perfect association,
measured out of sample so that a high-cardinality column cannot look predictive by
memorizing: the feature is bucketed (up to 256 quantile buckets for numbers, about 20
rows each; its values for categories), the bucket -> target mapping is learned on even
rows and scored on odd rows. A column is flagged when that scores accuracy >= 0.98
with a majority rate below 0.95 (classification), or R^2 >= 0.98 (regression; also
|Pearson r| >= 0.99).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from modellab.datasets.schema import ColumnFacts
from modellab.domain import (
    CategoryCount,
    ColumnProfile,
    ColumnSchema,
    ColumnType,
    DatasetProfile,
    DataWarning,
    Histogram,
    NumericSummary,
    TargetProfile,
)

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 20
QUANTILE_SAMPLE = 200_000
TOP_CATEGORIES = 10
HIGH_MISSING = 0.5
HIGH_CARDINALITY = 100
LEAK_SAMPLE_ROWS = 50_000
LEAK_SCORE = 0.98
LEAK_CORRELATION = 0.99
MAX_LEAK_BUCKETS = 256


def _r(x: float) -> float:
    """Round for storage: profiles are read by people, and float noise is not signal."""
    return float(f"{x:.10g}")


def _finite(name: str) -> pl.Expr:
    x = pl.col(name).cast(pl.Float64)
    return pl.when(x.is_finite()).then(x)  # NaN, inf and missing become null


def numeric_summaries(frame: pl.DataFrame, columns: list[str]) -> dict[str, NumericSummary | None]:
    """Min, max, mean, std, quantiles and a 20-bin histogram of each column's finite
    values, for many columns at once in parallel polars passes.

    Statistics and histograms use every finite value; quantiles use an evenly spaced
    sample of at most 200,000 rows (every k-th), which keeps their rank error near
    1/sqrt(200,000).
    """
    if not columns:
        return {}
    stats = frame.select(
        e
        for c in columns
        for e in (
            _finite(c).min().alias(f"{c}\x00min"),
            _finite(c).max().alias(f"{c}\x00max"),
            _finite(c).mean().alias(f"{c}\x00mean"),
            _finite(c).std().alias(f"{c}\x00std"),
            _finite(c).count().alias(f"{c}\x00n"),
        )
    ).row(0, named=True)
    varied = [
        c for c in columns if stats[f"{c}\x00n"] and stats[f"{c}\x00min"] < stats[f"{c}\x00max"]
    ]
    hists = frame.select(
        _finite(c).hist(bin_count=HISTOGRAM_BINS, include_breakpoint=True).alias(c) for c in varied
    )
    step = frame.height // QUANTILE_SAMPLE + 1
    sample = frame.select(_finite(c).alias(c) for c in columns).gather_every(step)
    out: dict[str, NumericSummary | None] = {}
    for c in columns:
        n = stats[f"{c}\x00n"]
        if not n:
            out[c] = None
            continue
        lo, hi = float(stats[f"{c}\x00min"]), float(stats[f"{c}\x00max"])
        if c in hists.columns:
            bins = hists[c].struct.unnest()
            edges = [lo, *bins["breakpoint"].to_list()]
            counts = [int(v) for v in bins["count"].to_list()]
        else:
            edges, counts = [lo, hi], [int(n)]
        qs = np.quantile(sample[c].drop_nulls().to_numpy(), QUANTILES)
        std = stats[f"{c}\x00std"]
        out[c] = NumericSummary(
            min=_r(lo),
            max=_r(hi),
            mean=_r(float(stats[f"{c}\x00mean"])),
            std=_r(float(std) if std is not None else 0.0),
            quantiles={
                f"p{round(q * 100)}": _r(float(v)) for q, v in zip(QUANTILES, qs, strict=True)
            },
            histogram=Histogram(edges=[_r(float(e)) for e in edges], counts=counts),
        )
    return out


def top_categories(series: pl.Series, k: int = TOP_CATEGORIES) -> list[CategoryCount]:
    """The ``k`` most frequent present values, ties broken by value."""
    present = series.drop_nulls()
    n = present.len()
    if n == 0:
        return []
    counts = present.cast(pl.String).value_counts(name="count")
    counts = counts.sort(["count", counts.columns[0]], descending=[True, False]).head(k)
    return [
        CategoryCount(value=str(v), count=int(c), fraction=_r(int(c) / n))
        for v, c in counts.iter_rows()
    ]


def _bucket_codes(series: pl.Series, ltype: ColumnType) -> pl.Series | None:
    """Small integer codes for the leak check, or None when a column cannot leak this way."""
    if ltype in (ColumnType.NUMERIC, ColumnType.INTEGER):
        buckets = max(2, min(MAX_LEAK_BUCKETS, series.len() // 20))
        ranks = series.rank(method="dense")
        top = ranks.cast(pl.Float64).max()
        if not isinstance(top, float):
            return None
        codes: pl.Series = ((ranks.cast(pl.Float64) - 1) * buckets / top).floor().cast(pl.Int64)
        return codes
    if ltype in (ColumnType.CATEGORICAL, ColumnType.BOOLEAN):
        return series.cast(pl.String)
    return None


def leaking_columns(
    frame: pl.DataFrame, schema: list[ColumnSchema], target: str, task: str
) -> list[tuple[str, str]]:
    """Columns whose association with the target is near-perfect, with the evidence."""
    data = frame.filter(pl.col(target).is_not_null())
    if data.height > LEAK_SAMPLE_ROWS:
        data = data.gather_every(data.height // LEAK_SAMPLE_ROWS + 1)
    if data.height < 20:
        return []
    half = pl.Series("half", np.arange(data.height) % 2)
    y = data[target]
    found: list[tuple[str, str]] = []
    majority = 0.0
    if task == "classification":
        top_count = y.cast(pl.String).value_counts(name="n")["n"].max()
        majority = float(top_count) / data.height if isinstance(top_count, int) else 0.0
        if majority >= 0.95:
            return []
    for col in schema:
        if col.role != "feature":
            continue
        codes = _bucket_codes(data[col.name], col.logical_type)
        if codes is None:
            continue
        df = pl.DataFrame({"b": codes, "y": y, "half": half}).drop_nulls()
        learn, score = df.filter(pl.col("half") == 0), df.filter(pl.col("half") == 1)
        if score.height < 10:
            continue
        if task == "classification":
            learned = (
                learn.with_columns(pl.col("y").cast(pl.String))
                .group_by("b", "y")
                .len()
                .sort(["b", "len", "y"], descending=[False, True, False])
                .group_by("b", maintain_order=True)
                .first()
                .select("b", pl.col("y").alias("pred"))
            )
            joined = score.with_columns(pl.col("y").cast(pl.String)).join(
                learned, on="b", how="left"
            )
            acc = float((joined["pred"] == joined["y"]).fill_null(False).mean() or 0.0)  # type: ignore[arg-type]
            if acc >= LEAK_SCORE:
                found.append(
                    (
                        col.name,
                        f"predicts the target with {acc:.1%} held-out accuracy "
                        f"(majority class alone: {majority:.1%})",
                    )
                )
        else:
            yf = score["y"].cast(pl.Float64)
            var = float(yf.var() or 0.0)  # type: ignore[arg-type]
            if var == 0:
                continue
            means = learn.group_by("b").agg(pl.col("y").cast(pl.Float64).mean().alias("pred"))
            joined = score.join(means, on="b", how="left").with_columns(
                pl.col("pred").fill_null(float(learn["y"].cast(pl.Float64).mean() or 0.0))  # type: ignore[arg-type]
            )
            mse = float(((joined["pred"] - joined["y"].cast(pl.Float64)) ** 2).mean() or 0.0)  # type: ignore[arg-type]
            r2 = 1 - mse / var
            corr = 0.0
            if col.logical_type in (ColumnType.NUMERIC, ColumnType.INTEGER):
                pair = data.select(
                    pl.col(col.name).cast(pl.Float64), pl.col(target).cast(pl.Float64)
                ).drop_nulls()
                if pair.height > 2:
                    c = pair.select(pl.corr(col.name, target)).item()
                    corr = float(c) if c is not None and np.isfinite(c) else 0.0
            if r2 >= LEAK_SCORE or abs(corr) >= LEAK_CORRELATION:
                found.append(
                    (
                        col.name,
                        f"explains the target almost perfectly (held-out R^2 {r2:.3f}, "
                        f"Pearson r {corr:.3f})",
                    )
                )
    return found


def profile_frame(
    frame: pl.DataFrame,
    schema: list[ColumnSchema],
    facts: dict[str, ColumnFacts],
    target: str,
    task: str,
    dropped_missing_target: int,
    extra_warnings: list[DataWarning],
) -> DatasetProfile:
    """Profile every column, the target, duplicates and constants, and collect warnings."""
    rows = frame.height
    warnings: list[DataWarning] = list(extra_warnings)
    profiles: list[ColumnProfile] = []
    constant: list[str] = []
    numeric_columns = [
        c.name for c in schema if c.logical_type in (ColumnType.NUMERIC, ColumnType.INTEGER)
    ]
    summaries = numeric_summaries(frame, numeric_columns)
    for col in schema:
        f = facts[col.name]
        series = frame[col.name]
        numeric = summaries.get(col.name)
        cats = None
        if col.logical_type in (ColumnType.CATEGORICAL, ColumnType.BOOLEAN, ColumnType.TEXT):
            cats = top_categories(series)
        is_constant = f.n_unique <= 1
        if is_constant:
            constant.append(col.name)
        profiles.append(
            ColumnProfile(
                name=col.name,
                logical_type=col.logical_type,
                missing=f.nulls,
                missing_fraction=_r(f.nulls / rows),
                n_unique=f.n_unique,
                constant=is_constant,
                numeric=numeric,
                top_categories=cats,
            )
        )
        if col.role == "target":
            continue
        if col.logical_type is ColumnType.IDENTIFIER:
            warnings.append(
                DataWarning(
                    "identifier_like",
                    f"column {col.name!r} looks like an identifier (every value distinct); "
                    "left out of the default feature set",
                    col.name,
                )
            )
        if is_constant:
            warnings.append(
                DataWarning(
                    "constant_column", f"column {col.name!r} holds a single value", col.name
                )
            )
        if rows and f.nulls / rows > HIGH_MISSING:
            warnings.append(
                DataWarning(
                    "high_missingness",
                    f"column {col.name!r} is missing in {f.nulls / rows:.0%} of rows",
                    col.name,
                )
            )
        if col.logical_type is ColumnType.CATEGORICAL and f.n_unique > HIGH_CARDINALITY:
            warnings.append(
                DataWarning(
                    "high_cardinality",
                    f"categorical column {col.name!r} has {f.n_unique} distinct values",
                    col.name,
                )
            )
    for name, evidence in leaking_columns(frame, schema, target, task):
        warnings.append(
            DataWarning(
                "target_leak",
                f"column {name!r} may leak the target: it {evidence}; check that it is "
                "known at prediction time",
                name,
            )
        )
    # Rows are compared by a 64-bit hash of all their values: a false match among a
    # million rows has a chance of about 1 in 30 million, and hashing is 6x faster.
    row_hash = frame.select(pl.struct(pl.all()).hash(seed=0)).to_series()
    duplicates = rows - int(row_hash.is_first_distinct().sum())
    if duplicates:
        warnings.append(
            DataWarning("duplicate_rows", f"{duplicates} rows duplicate an earlier row exactly")
        )
    if task == "classification":
        classes = top_categories(frame[target], k=10_000)
        target_profile = TargetProfile(column=target, task=task, classes=classes)
        if classes and classes[-1].fraction < 0.05:
            warnings.append(
                DataWarning(
                    "class_imbalance",
                    f"class {classes[-1].value!r} is only {classes[-1].fraction:.1%} of rows; "
                    "prefer balanced accuracy or PR-AUC over accuracy",
                    target,
                )
            )
    else:
        target_profile = TargetProfile(
            column=target, task=task, distribution=numeric_summaries(frame, [target])[target]
        )
    return DatasetProfile(
        rows=rows,
        columns=frame.width,
        column_profiles=profiles,
        target=target_profile,
        duplicate_rows=duplicates,
        constant_columns=constant,
        dropped_missing_target=dropped_missing_target,
        warnings=warnings,
    )
