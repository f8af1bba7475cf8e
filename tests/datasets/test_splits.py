"""Split strategies: determinism, class ratios, time order, group separation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from modellab.datasets.splits import SplitRequest, describe_split, make_split
from modellab.domain import SplitStrategy
from modellab.errors import InvalidInputError


def frame(n: int = 1000) -> pl.DataFrame:
    rng = np.random.default_rng(42)
    return pl.DataFrame(
        {
            "y": rng.choice(["a", "b", "c"], size=n, p=[0.7, 0.2, 0.1]),
            "t": rng.permutation(n) // 3,  # ties: three rows per timestamp
            "g": rng.integers(0, 40, size=n),
        }
    )


def split(strategy: SplitStrategy, **kw: object) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    df = frame()
    req = SplitRequest(strategy, **kw)  # type: ignore[arg-type]
    s = make_split(df, "y", "classification", req, np.arange(df.height))
    return df, s.train, s.test


@pytest.mark.parametrize("strategy", [SplitStrategy.RANDOM, SplitStrategy.STRATIFIED])
def test_disjoint_complete_sorted_and_seeded(strategy: SplitStrategy) -> None:
    _, train, test = split(strategy, seed=1)
    assert not set(train) & set(test)
    assert sorted([*train, *test]) == list(range(1000))
    assert (np.diff(train) > 0).all() and (np.diff(test) > 0).all()
    assert len(test) == 200
    _, train2, test2 = split(strategy, seed=1)
    assert (train == train2).all() and (test == test2).all()
    _, _, test3 = split(strategy, seed=2)
    assert not np.array_equal(test, test3)


def test_stratified_keeps_class_ratios() -> None:
    df, train, test = split(SplitStrategy.STRATIFIED)
    y = df["y"].to_numpy()
    for cls in "abc":
        overall = (y == cls).mean()
        assert abs((y[test] == cls).mean() - overall) < 0.01
        assert abs((y[train] == cls).mean() - overall) < 0.01


def test_time_keeps_order_and_never_splits_a_timestamp() -> None:
    df, train, test = split(SplitStrategy.TIME, time_column="t")
    t = df["t"].to_numpy()
    assert t[test].min() > t[train].max()
    assert 190 <= len(test) <= 210


def test_group_keeps_each_group_on_one_side() -> None:
    df, train, test = split(SplitStrategy.GROUP, group_column="g")
    g = df["g"].to_numpy()
    assert not set(g[train]) & set(g[test])
    assert 0.15 < len(test) / 1000 < 0.3


def test_only_usable_rows_are_split() -> None:
    df = frame()
    usable = np.arange(0, 1000, 2)
    s = make_split(df, "y", "classification", SplitRequest(), usable)
    assert set(s.train) | set(s.test) == set(usable)


def test_checksum_depends_on_the_indices() -> None:
    df = frame()
    a = make_split(df, "y", "classification", SplitRequest(seed=0), np.arange(1000))
    b = make_split(df, "y", "classification", SplitRequest(seed=0), np.arange(1000))
    c = make_split(df, "y", "classification", SplitRequest(seed=1), np.arange(1000))
    assert a.checksum == b.checksum != c.checksum
    info = describe_split(df, a, "y", "classification", SplitRequest())
    assert info.checksum == a.checksum and info.train.rows == 800
    assert info.test.class_fractions is not None and set(info.test.class_fractions) == {
        "a",
        "b",
        "c",
    }


def test_time_split_with_missing_times_is_refused() -> None:
    df = pl.DataFrame({"y": ["a", "b"] * 5, "t": [1, None] * 5})
    with pytest.raises(InvalidInputError, match="missing in 5 rows"):
        make_split(
            df,
            "y",
            "classification",
            SplitRequest(SplitStrategy.TIME, time_column="t"),
            np.arange(10),
        )
