"""Split strategies: determinism, class ratios, time order, group separation."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from modellab.datasets.splits import (
    SplitRequest,
    describe_split,
    duplicate_records,
    make_split,
    row_hashes,
)
from modellab.domain import SplitStrategy
from modellab.errors import InvalidInputError
from modellab.plugins import load_registry

#: the installed task types, as ingest gets them
TASKS = load_registry().task_types


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
    s = make_split(df, "y", TASKS["classification"], req, np.arange(df.height))
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
    s = make_split(df, "y", TASKS["classification"], SplitRequest(), usable)
    assert set(s.train) | set(s.test) == set(usable)


def test_checksum_depends_on_the_indices() -> None:
    df = frame()
    a = make_split(df, "y", TASKS["classification"], SplitRequest(seed=0), np.arange(1000))
    b = make_split(df, "y", TASKS["classification"], SplitRequest(seed=0), np.arange(1000))
    c = make_split(df, "y", TASKS["classification"], SplitRequest(seed=1), np.arange(1000))
    assert a.checksum == b.checksum != c.checksum
    info = describe_split(df, a, "y", TASKS["classification"], SplitRequest())
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
            TASKS["classification"],
            SplitRequest(SplitStrategy.TIME, time_column="t"),
            np.arange(10),
        )


def test_rows_equal_as_group_by_sees_them_hash_alike() -> None:
    """Distinct row hashes prove distinct records only if equal records hash alike."""
    df = pl.DataFrame(
        {
            "f": [0.0, -0.0, float("nan"), float("nan"), None, None],
            "s": ["x", "x", "é", "é", None, None],
            "d": [date(2020, 1, 1)] * 2 + [None] * 2 + [date(2021, 5, 6)] * 2,
            "c": pl.Series(["a", "a", "b", "b", None, None], dtype=pl.Categorical),
        }
    )
    groups = df.with_row_index("r").group_by(df.columns, maintain_order=True).agg("r")
    assert groups.height == 3
    h = row_hashes(df).to_list()
    assert h[0] == h[1] and h[2] == h[3] and h[4] == h[5]


@pytest.mark.parametrize("twins", [0, 3])
def test_duplicate_records_with_and_without_a_precomputed_hash(twins: int) -> None:
    rng = np.random.default_rng(5)
    df = pl.DataFrame({"x": rng.normal(size=500), "y": rng.choice(["a", "b"], size=500)})
    df = pl.concat([df, df.head(twins)])
    every = np.arange(df.height)
    some = np.arange(0, df.height, 2)
    cols = df.columns
    for usable in (every, some):
        plain_codes, plain_info = duplicate_records(df, cols, usable)
        codes, info = duplicate_records(df, cols, usable, row_hashes(df))
        assert info == plain_info
        assert (codes is None and plain_codes is None) or np.array_equal(codes, plain_codes)  # type: ignore[arg-type]
    codes, info = duplicate_records(df, cols, every)
    if twins:
        assert info is not None and (info.rows, info.groups) == (2 * twins, twins)
    else:
        assert (codes, info) == (None, None)


def reference_stratified(labels: np.ndarray, req: SplitRequest) -> tuple[np.ndarray, np.ndarray]:
    """The stratified split as it was written first: np.unique over Python strings."""
    rows = np.arange(labels.size)
    rng = np.random.default_rng(req.seed)
    train, test = [], []
    for cls in np.unique(labels):
        members = rows[labels == cls]
        k = min(members.size - 1, max(1, round(members.size * req.test_size)))
        perm = rng.permutation(members)
        train.append(perm[k:])
        test.append(perm[:k])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def test_stratified_and_group_splits_order_classes_as_python_sorts_strings() -> None:
    """Classes and groups are drawn in Python's sorted order, non-ASCII names included."""
    rng = np.random.default_rng(7)
    names = ["zeta", "Zeta", "été", "ete", "日本", "a b", "10", "9"]
    df = pl.DataFrame({"y": rng.choice(names, size=3000), "g": rng.choice(names, size=3000)})
    req = SplitRequest(SplitStrategy.STRATIFIED, seed=3)
    s = make_split(df, "y", TASKS["classification"], req, np.arange(df.height))
    train, test = reference_stratified(df["y"].to_numpy().astype(object), req)
    assert np.array_equal(s.train, train) and np.array_equal(s.test, test)
    g = make_split(
        df,
        "y",
        TASKS["classification"],
        SplitRequest(SplitStrategy.GROUP, group_column="g", seed=3),
        np.arange(df.height),
    )
    labels = df["g"].to_numpy().astype(object)
    # whole groups on each side, and the same groups as np.unique's order draws
    assert not set(labels[g.train]) & set(labels[g.test])
    uniq, counts = np.unique(labels, return_counts=True)
    order = np.random.default_rng(3).permutation(uniq.size)
    taken, chosen = 0, set()
    for k in order:
        if taken >= df.height * 0.2:
            break
        if taken + counts[k] <= df.height - 1:
            chosen.add(uniq[k])
            taken += int(counts[k])
    assert set(labels[g.test]) == chosen
