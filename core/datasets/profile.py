"""Profiling a dataset with polars and numpy: one pass of expressions, no pandas.

Quantiles of columns longer than 200,000 values are computed on an evenly spaced
sample of them; everything else uses every value.

Leak detection ("a column that leaks the target") is the task type's check; the built-in
tasks use EvalHarness' single-feature check (evalharness.core.separators), measured out of
sample so that a high-cardinality column cannot look predictive by memorizing: one
trivial rule per feature (by its value, by its missingness, by its zero/non-zero pattern)
is learned on even rows and scored on odd rows (of at most 50,000 rows with a target). A
column is flagged when a rule scores accuracy and balanced accuracy >= 0.98 (class
labels) or R^2 >= 0.98 (numbers). The target's own profile is the task type's too.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from evalharness import EvalConfig
from modellab.datasets.schema import ColumnFacts
from modellab.datasets.splits import row_hashes
from modellab.domain import (
    CategoryCount,
    ColumnProfile,
    ColumnRole,
    ColumnSchema,
    ColumnType,
    DatasetProfile,
    DataWarning,
    Histogram,
    NumericSummary,
    TextSample,
    TextSummary,
)
from modellab.tasks import TaskType

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 20
QUANTILE_SAMPLE = 200_000
TOP_CATEGORIES = 10
HIGH_MISSING = 0.5
HIGH_CARDINALITY = 100
LEAK_SAMPLE_ROWS = 50_000
LEAK_SCORE = 0.98
LEAK_CHECKED_TYPES = (
    ColumnType.NUMERIC,
    ColumnType.INTEGER,
    ColumnType.CATEGORICAL,
    ColumnType.BOOLEAN,
)
#: EvalHarness' single-feature rule with the ingest thresholds; all sampled rows are used.
LEAK_CONFIG = EvalConfig(
    leak_min_accuracy=LEAK_SCORE,
    leak_min_balanced_accuracy=LEAK_SCORE,
    leak_min_r2=LEAK_SCORE,
    leak_min_test_rows=10,
    leak_max_rows=LEAK_SAMPLE_ROWS,
)


def _r(x: float) -> float:
    """Round for storage: profiles are read by people, and float noise is not signal."""
    return float(f"{x:.10g}")


def _finite(name: str) -> pl.Expr:
    x = pl.col(name).cast(pl.Float64)
    return pl.when(x.is_finite()).then(x)  # NaN, inf and missing become null


def finite_columns(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """``columns`` as Float64 with NaN and infinities read as missing.

    A float column holding only finite values is passed through as it is (no copy):
    masking it would give the same values at the cost of a copy per column.
    """
    floats = [c for c in columns if frame.schema[c].is_float()]
    # is_finite() of a missing value is missing, which all() skips.
    finite = frame.select(pl.col(c).is_finite().all() for c in floats).row(0) if floats else ()
    clean = {c for c, ok in zip(floats, finite, strict=True) if ok}
    return frame.select(
        pl.col(c).cast(pl.Float64) if c in clean else _finite(c).alias(c) for c in columns
    )


def numeric_summaries(frame: pl.DataFrame, columns: list[str]) -> dict[str, NumericSummary | None]:
    """Min, max, mean, std, quantiles and a 20-bin histogram of each column's finite
    values, for many columns at once in parallel polars passes.

    Statistics and histograms use every finite value; quantiles use an evenly spaced
    sample of at most 200,000 rows (every k-th), which keeps their rank error near
    1/sqrt(200,000).
    """
    if not columns:
        return {}
    # Masked once, not once per statistic: an eager select does not share the mask
    # between the five aggregations of a column, and recomputing it was most of the cost.
    finite = finite_columns(frame, columns)
    stats = finite.select(
        e
        for c in columns
        for e in (
            pl.col(c).min().alias(f"{c}\x00min"),
            pl.col(c).max().alias(f"{c}\x00max"),
            pl.col(c).mean().alias(f"{c}\x00mean"),
            pl.col(c).std().alias(f"{c}\x00std"),
            pl.col(c).count().alias(f"{c}\x00n"),
        )
    ).row(0, named=True)
    varied = [
        c for c in columns if stats[f"{c}\x00n"] and stats[f"{c}\x00min"] < stats[f"{c}\x00max"]
    ]
    hists = finite.select(
        pl.col(c).hist(bin_count=HISTOGRAM_BINS, include_breakpoint=True) for c in varied
    )
    step = frame.height // QUANTILE_SAMPLE + 1
    sample = finite.gather_every(step)
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


def leaking_columns(
    frame: pl.DataFrame, schema: list[ColumnSchema], target: str, task: TaskType
) -> list[tuple[str, str]]:
    """Columns whose association with the target is near-perfect, with the evidence.

    The rule is the task type's ``find_leaks``; the built-in tasks use EvalHarness'
    single-feature check (``find_single_feature_leaks``), so ingest and evaluation flag a
    column for the same reasons: by its value, by its missingness, or by its zero/non-zero
    pattern. Even rows learn, odd rows score. A task without the check finds nothing.
    """
    names = [c.name for c in schema if c.role == "feature" and c.logical_type in LEAK_CHECKED_TYPES]
    if not names or task.find_leaks is None:
        return []
    # The positions of the sampled rows first, then only those rows of only these
    # columns: filtering the whole frame by the target copied every row of every column.
    positions = frame[target].is_not_null().arg_true()
    if positions.len() > LEAK_SAMPLE_ROWS:
        positions = positions.gather_every(positions.len() // LEAK_SAMPLE_ROWS + 1)
    if positions.len() < 20:
        return []
    rows = frame.select(*names, target)[positions].to_pandas()
    learn, score = rows.iloc[0::2], rows.iloc[1::2]
    return task.find_leaks(
        learn[names],
        learn[target].to_numpy(),
        score[names],
        score[target].to_numpy(),
        LEAK_CONFIG,
    )


#: classes a text column shows sample rows of, and rows per class
TEXT_SAMPLE_CLASSES = 10
TEXT_SAMPLE_ROWS = 2
TEXT_SAMPLE_CHARS = 200


def text_summary(frame: pl.DataFrame, column: str, schema: list[ColumnSchema]) -> TextSummary:
    """Words per row (runs of letters and digits), distinct lower-cased words, and the
    first rows of each of the most frequent target values (a categorical target's)."""
    words = frame[column].str.to_lowercase().str.extract_all(r"\w+")
    counts = pl.DataFrame({"words": words.list.len().cast(pl.Float64)})
    vocabulary = int(words.explode().drop_nulls().n_unique())
    target = next((c for c in schema if c.role == ColumnRole.TARGET), None)
    samples: list[TextSample] = []
    if target is not None and target.logical_type in (ColumnType.CATEGORICAL, ColumnType.BOOLEAN):
        labelled = frame.select(pl.col(target.name).cast(pl.String).alias("label"), column)
        labelled = labelled.drop_nulls()
        top = top_categories(labelled["label"], TEXT_SAMPLE_CLASSES)
        for c in top:
            rows = labelled.filter(pl.col("label") == c.value).head(TEXT_SAMPLE_ROWS)
            samples += [
                TextSample(c.value, str(t)[:TEXT_SAMPLE_CHARS]) for t in rows[column].to_list()
            ]
    return TextSummary(numeric_summaries(counts, ["words"])["words"], vocabulary, samples)


def _column_profiles(
    frame: pl.DataFrame,
    schema: list[ColumnSchema],
    facts: dict[str, ColumnFacts],
    summaries: dict[str, NumericSummary | None],
    warnings: list[DataWarning],
    counted: dict[str, list[CategoryCount]],
) -> tuple[list[ColumnProfile], list[str]]:
    """Each column's profile and the constant columns; appends the columns' warnings.

    ``counted`` holds columns' category counts computed already, most frequent first.
    """
    rows = frame.height
    profiles: list[ColumnProfile] = []
    constant: list[str] = []
    for col in schema:
        f = facts[col.name]
        series = frame[col.name]
        numeric = summaries.get(col.name)
        cats = None
        if col.logical_type in (ColumnType.CATEGORICAL, ColumnType.BOOLEAN, ColumnType.TEXT):
            # Counts are sorted by count, then value: the first ten of a longer list
            # are the top ten.
            known = counted.get(col.name)
            cats = known[:TOP_CATEGORIES] if known is not None else top_categories(series)
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
                text=text_summary(frame, col.name, schema) if col.role == ColumnRole.TEXT else None,
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
        # An item or group column names many things by design: only a feature's many
        # categories are news.
        many_by_design = col.role in (ColumnRole.ITEM, ColumnRole.GROUP)
        if (
            col.logical_type is ColumnType.CATEGORICAL
            and f.n_unique > HIGH_CARDINALITY
            and not many_by_design
        ):
            warnings.append(
                DataWarning(
                    "high_cardinality",
                    f"categorical column {col.name!r} has {f.n_unique} distinct values",
                    col.name,
                )
            )
    return profiles, constant


def profile_frame(
    frame: pl.DataFrame,
    schema: list[ColumnSchema],
    facts: dict[str, ColumnFacts],
    target: str,
    task: TaskType,
    dropped_missing_target: int,
    extra_warnings: list[DataWarning],
    row_hash: pl.Series | None = None,
) -> DatasetProfile:
    """Profile every column, the target, duplicates and constants, and collect warnings.

    ``row_hash`` is :func:`row_hashes` of ``frame`` when the caller has it already.
    """
    rows = frame.height
    warnings: list[DataWarning] = list(extra_warnings)
    numeric_columns = [
        c.name for c in schema if c.logical_type in (ColumnType.NUMERIC, ColumnType.INTEGER)
    ]
    # The leak check is mostly Python (EvalHarness on a sample) and the statistics are
    # polars, which releases the GIL while it works: the two run side by side.
    with ThreadPoolExecutor(max_workers=1) as pool:
        leaks = pool.submit(leaking_columns, frame, schema, target, task)
        summaries = numeric_summaries(frame, numeric_columns)
        target_profile, target_warnings = task.profile_target(frame[target], summaries.get(target))
        classes = target_profile.classes
        profiles, constant = _column_profiles(
            frame, schema, facts, summaries, warnings, {target: classes} if classes else {}
        )
        leaked = leaks.result()
    for name, evidence in leaked:
        warnings.append(
            DataWarning(
                "target_leak",
                f"column {name!r} may leak the target: it {evidence}; check that it is "
                "known at prediction time",
                name,
            )
        )
    if row_hash is None:
        row_hash = row_hashes(frame)
    # Every distinct row but the first of each is a duplicate.
    duplicates = rows - row_hash.n_unique()
    if duplicates:
        warnings.append(
            DataWarning("duplicate_rows", f"{duplicates} rows duplicate an earlier row exactly")
        )
    warnings.extend(target_warnings)
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
