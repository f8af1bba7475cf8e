"""Category encoding: training categories only, the same codes whatever the value type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from modellab_tabular import boosting
from modellab_tabular.boosting import class_codes
from modellab_tabular.features import CategoryEncoder, prepare_features


def test_unseen_and_missing_values_become_missing() -> None:
    train = pd.DataFrame({"c": ["b", "a", None, "b"]}, dtype=object)
    test = pd.DataFrame({"c": ["a", "z", None, "b"]}, dtype=object)
    enc = CategoryEncoder().fit(train)
    out = enc.transform(test)["c"]
    assert list(out.cat.categories) == ["a", "b"]
    assert list(out.cat.codes) == [0, -1, -1, 1]


def test_non_string_objects_are_matched_by_their_string_form() -> None:
    """Numbers in an object column map to the categories fit saw as strings."""
    train = pd.DataFrame({"c": [1, 2, 2, None]}, dtype=object)
    enc = CategoryEncoder().fit(train)
    out = enc.transform(pd.DataFrame({"c": [2, 1, 3, None]}, dtype=object))["c"]
    assert list(out.cat.categories) == ["1", "2"]
    assert list(out.cat.codes) == [1, 0, -1, -1]


def test_transform_leaves_the_callers_frame_alone() -> None:
    frame = pd.DataFrame({"c": ["a", "b"], "x": [1.0, 2.0]})
    prepared = prepare_features(frame)
    enc = CategoryEncoder().fit(prepared)
    enc.transform(prepared)
    assert prepared["c"].dtype == object
    assert frame["x"].dtype == np.float64


def raw_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Features as a run loads them: polars to pandas, text as Arrow-backed strings."""
    rng = np.random.default_rng(seed)
    text = pl.Series(rng.choice(["red", "green", "blue", "été"], size=n))
    return pl.DataFrame(
        {
            "num": rng.normal(size=n),
            "cnt": rng.integers(0, 9, size=n),
            "flag": rng.random(n) < 0.5,
            "when": pl.Series(rng.integers(0, 900, size=n)).cast(pl.Date),
            "color": text.set(pl.Series(rng.random(n) < 0.1), None),
            "shape": pl.Series(rng.choice(["sq", "ci"], size=n)),
        }
    ).to_pandas()


def assert_same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for col in a.columns:
        assert a[col].dtype == b[col].dtype
        if isinstance(a[col].dtype, pd.CategoricalDtype):
            assert a[col].cat.categories.dtype == b[col].cat.categories.dtype == object
            assert np.array_equal(a[col].cat.codes, b[col].cat.codes)


def test_text_columns_prepare_to_objects_with_none_for_missing() -> None:
    raw = raw_frame()
    assert isinstance(raw["color"].dtype, pd.StringDtype)
    prepared = prepare_features(raw)
    assert prepared["color"].dtype == object
    assert all(v is None or type(v) is str for v in prepared["color"])
    assert prepared["color"].isna().sum() == raw["color"].isna().sum()


def test_encode_is_transform_of_the_prepared_frame() -> None:
    """The one-pass path gives XGBoost the same frame, whatever the test rows hold."""
    train = raw_frame()
    enc = CategoryEncoder().fit(train)
    assert enc.columns_ == ["color", "shape"]
    again = CategoryEncoder().fit(prepare_features(train))
    assert enc.columns_ == again.columns_
    assert all(list(a) == list(b) for a, b in zip(enc.categories_, again.categories_, strict=True))
    test = raw_frame(seed=1)
    unseen = test.copy()
    unseen.loc[unseen.index[:20], "color"] = "violet"
    injected = test.copy()
    injected.loc[injected.index[::3], "shape"] = np.nan
    as_objects = test.astype({"color": object})
    as_category = test.astype({"shape": "category"})
    stacked = pd.concat([test, unseen])  # Arrow columns of several chunks, as stress tests make
    frames = (
        test,
        unseen,
        injected,
        as_objects,
        as_category,
        stacked,
        test.iloc[:3],
        test.iloc[:0],
    )
    for frame in frames:
        want = enc.transform(prepare_features(frame))
        assert_same_frame(enc.encode(frame), want)
    assert enc.encode(unseen)["color"].iloc[:20].isna().all()


def test_class_codes_are_the_same_without_arrow(monkeypatch: pytest.MonkeyPatch) -> None:
    labels = pl.Series("y", ["yes", "no", "été", "no", "10", "9"]).to_pandas()
    assert isinstance(labels.dtype, pd.StringDtype)
    arrow = class_codes(labels)
    monkeypatch.setattr(boosting, "arrow_strings", lambda col: None)
    plain = class_codes(labels)
    assert arrow[0] == plain[0] == ["10", "9", "no", "yes", "été"]
    assert np.array_equal(arrow[1], plain[1]) and arrow[1].dtype == plain[1].dtype
    assert list(arrow[1]) == [3, 2, 4, 2, 0, 1]


@pytest.mark.parametrize("unit", ["ns", "us", "ms", "s"])
def test_datetimes_become_days_since_1970_whatever_their_unit(unit: str) -> None:
    stamps = np.array(["2020-01-01", "NaT", "1969-12-31"], dtype=f"datetime64[{unit}]")
    days = pd.Series(stamps)
    assert str(days.dtype) == f"datetime64[{unit}]"
    out = prepare_features(pd.DataFrame({"d": days}))["d"]
    assert out.iloc[0] == 18262.0 and np.isnan(out.iloc[1]) and out.iloc[2] == -1.0


def test_a_boolean_column_with_blanked_cells_stays_numeric() -> None:
    """The missing-values stress case blanks cells of a boolean feature: the column the
    model sees stays the 0/1 number it was at fit, with NaN for the gaps."""
    fit = prepare_features(pd.DataFrame({"flag": [True, False, True]}))
    blanked = pd.DataFrame({"flag": [True, False, True]}).mask(
        pd.DataFrame({"flag": [False, True, False]})
    )
    assert blanked["flag"].dtype == object
    out = prepare_features(blanked)
    assert out["flag"].dtype == fit["flag"].dtype == np.float64
    assert out["flag"].iloc[0] == 1.0 and np.isnan(out["flag"].iloc[1])
