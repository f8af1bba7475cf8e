"""Schema inference, task inference and the profile's warnings."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from modellab.datasets.profile import (
    HISTOGRAM_BINS,
    QUANTILE_SAMPLE,
    QUANTILES,
    _finite,
    finite_columns,
    leaking_columns,
    numeric_summaries,
    profile_frame,
)
from modellab.datasets.schema import build_schema, column_facts, infer_task
from modellab.domain import ColumnType, Histogram, NumericSummary
from modellab.plugins import load_registry

RNG = np.random.default_rng(0)
N = 400

#: the installed task types, as ingest gets them
TASKS = load_registry().task_types


def schema_of(df: pl.DataFrame, target: str = "y"):  # type: ignore[no-untyped-def]
    facts = column_facts(df)
    return {c.name: c for c in build_schema(df, facts, target, set())}, facts


def test_logical_types() -> None:
    df = pl.DataFrame(
        {
            "row": np.arange(N),
            "customer_id": RNG.permutation(N) + 1000,
            "amount": RNG.normal(size=N),
            "count": RNG.integers(0, 10, size=N),
            "flag": RNG.random(N) > 0.5,
            "city": RNG.choice(["Paris", "Lyon", "Nice"], size=N),
            "uid": [f"u{i:05d}" for i in RNG.permutation(N)],
            "comment": [f"this is note number {i % 300}" for i in range(N)],
            "when": pl.date_range(pl.date(2020, 1, 1), pl.date(2021, 2, 3), eager=True)[:N],
            "const": ["same"] * N,
            "y": RNG.choice(["a", "b"], size=N),
        }
    )
    schema, _ = schema_of(df)
    expected = {
        "row": ColumnType.IDENTIFIER,
        "customer_id": ColumnType.IDENTIFIER,
        "amount": ColumnType.NUMERIC,
        "count": ColumnType.INTEGER,
        "flag": ColumnType.BOOLEAN,
        "city": ColumnType.CATEGORICAL,
        "uid": ColumnType.IDENTIFIER,
        "comment": ColumnType.TEXT,
        "when": ColumnType.DATETIME,
        "const": ColumnType.CATEGORICAL,
    }
    assert {k: schema[k].logical_type for k in expected} == expected
    roles = {k: v.role for k, v in schema.items()}
    assert roles["y"] == "target"
    assert [k for k, r in roles.items() if r == "feature"] == [
        "amount",
        "count",
        "flag",
        "city",
        "when",
    ]
    assert schema["const"].excluded_reason is not None and schema[
        "const"
    ].excluded_reason.startswith("constant")


def test_unique_unsorted_integers_without_an_id_name_stay_integers() -> None:
    values = RNG.choice(10_000_000, size=N, replace=False)
    schema, _ = schema_of(pl.DataFrame({"income": values, "y": RNG.choice(["a", "b"], size=N)}))
    assert schema["income"].logical_type is ColumnType.INTEGER


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (RNG.normal(size=N), "regression"),
        (RNG.integers(0, 3, size=N), "classification"),
        (RNG.integers(0, 1000, size=N), "regression"),
        (RNG.choice(["x", "y"], size=N), "classification"),
        (RNG.random(N) > 0.5, "classification"),
    ],
)
def test_task_inference(values: np.ndarray, task: str) -> None:
    df = pl.DataFrame({"y": values})
    assert infer_task("y", column_facts(df)["y"], TASKS) == task


def test_leak_detection_classification() -> None:
    y = RNG.choice(["a", "b", "c"], size=2000)
    df = pl.DataFrame(
        {
            "noise": RNG.normal(size=2000),
            "leak_cat": np.char.add("code-", y),
            "leak_num": (y == "b") * 10.0 + (y == "c") * 20.0 + RNG.normal(scale=0.1, size=2000),
            "weak": (y == "a") + RNG.normal(size=2000),
            "y": y,
        }
    )
    schema, _ = schema_of(df)
    leaks = [
        name for name, _ in leaking_columns(df, list(schema.values()), "y", TASKS["classification"])
    ]
    assert leaks == ["leak_cat", "leak_num"]


def test_leak_detection_regression() -> None:
    y = RNG.normal(size=2000)
    df = pl.DataFrame({"copy": y * 2 + 1, "noise": RNG.normal(size=2000), "y": y})
    schema, _ = schema_of(df)
    leaks = [
        name for name, _ in leaking_columns(df, list(schema.values()), "y", TASKS["regression"])
    ]
    assert leaks == ["copy"]


def test_profile_counts_and_warnings() -> None:
    x = RNG.normal(size=N)
    mostly_missing = [None if i % 4 else 1.0 for i in range(N)]
    df = pl.DataFrame(
        {"x": x, "m": mostly_missing, "y": RNG.choice(["a", "b"], size=N, p=[0.97, 0.03])}
    )
    df = pl.concat([df, df.head(5)])
    schema, facts = schema_of(df)
    profile = profile_frame(df, list(schema.values()), facts, "y", TASKS["classification"], 0, [])
    assert profile.rows == N + 5 and profile.duplicate_rows == 5
    by = {c.name: c for c in profile.column_profiles}
    assert by["m"].missing == df["m"].null_count()
    assert by["x"].numeric is not None and sum(by["x"].numeric.histogram.counts) == N + 5
    assert by["x"].numeric.quantiles["p50"] == pytest.approx(float(np.median(df["x"].to_numpy())))
    codes = {w.code for w in profile.warnings}
    assert {"high_missingness", "duplicate_rows", "class_imbalance"} <= codes
    assert profile.target.classes is not None
    assert [c.value for c in profile.target.classes] == ["a", "b"]


def numpy_summary(values: np.ndarray) -> NumericSummary | None:
    """The same summary computed the plain numpy way, as the reference."""
    arr = values[np.isfinite(values)]
    if arr.size == 0:
        return None
    step = arr.size // QUANTILE_SAMPLE + 1
    qs = np.quantile(arr[::step] if step > 1 else arr, QUANTILES)
    lo, hi = float(arr.min()), float(arr.max())
    counts, edges = np.histogram(arr, bins=HISTOGRAM_BINS, range=(lo, hi) if hi > lo else None)
    return NumericSummary(
        min=float(f"{lo:.10g}"),  # stored profiles keep 10 significant digits
        max=float(f"{hi:.10g}"),
        mean=float(arr.mean()),
        std=float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        quantiles={f"p{round(q * 100)}": float(v) for q, v in zip(QUANTILES, qs, strict=True)},
        histogram=Histogram(edges=[float(e) for e in edges], counts=[int(c) for c in counts]),
    )


def test_column_summaries_agree_with_numpy() -> None:
    values = RNG.normal(size=5000)
    values[:3] = [np.inf, -np.inf, np.nan]
    df = pl.DataFrame({"x": values, "n": RNG.integers(0, 50, size=5000), "k": [7] * 5000})
    fast = numeric_summaries(df, ["x", "n", "k"])
    for name in ("x", "n"):
        arr = df[name].cast(pl.Float64).to_numpy()
        slow = numpy_summary(arr)
        got = fast[name]
        assert got is not None and slow is not None
        assert got.histogram.counts == slow.histogram.counts
        assert got.histogram.edges == pytest.approx(slow.histogram.edges)
        assert (got.min, got.max) == (slow.min, slow.max)
        assert got.mean == pytest.approx(slow.mean) and got.std == pytest.approx(slow.std)
        assert got.quantiles == pytest.approx(slow.quantiles)
    constant = fast["k"]
    assert constant is not None and constant.histogram.counts == [5000] and constant.std == 0


def test_finite_columns_match_the_mask_they_skip() -> None:
    """Columns without NaN or infinities are passed through, not masked: same values."""
    clean = RNG.normal(size=3000)
    dirty = clean.copy()
    dirty[[5, 9, 11]] = [np.nan, np.inf, -np.inf]
    df = pl.DataFrame(
        {
            "clean": clean,
            "with_nulls": pl.Series(clean).set(pl.Series(RNG.random(3000) < 0.1), None),
            "dirty": dirty,
            "f32": clean.astype(np.float32),
            "ints": RNG.integers(-5, 5, size=3000),
            "empty": pl.Series([None] * 3000, dtype=pl.Float64),
        }
    )
    got = finite_columns(df, df.columns)
    masked = df.select(_finite(c).alias(c) for c in df.columns)
    assert got.schema == masked.schema and got.equals(masked)
    assert got["dirty"].null_count() == 3
