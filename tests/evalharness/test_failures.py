"""Failure selection is stable: ties are broken by example id."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalharness.failures.categories import CATEGORIES
from evalharness.failures.selection import classification_failures, regression_failures


def test_ties_broken_by_example_id() -> None:
    ids = ["e", "b", "d", "a", "c", "f"]
    frame = pd.DataFrame({"x": np.arange(6.0)}, index=ids)
    y = np.array([0, 0, 0, 0, 0, 1])
    p = np.array([1, 1, 1, 1, 1, 1])
    conf = np.array([0.9, 0.9, 0.9, 0.9, 0.95, 0.6])
    got = classification_failures(frame, y, p, [0, 1], conf, None, n=3)
    wrong = [f.example_id for f in got if f.list == "confident_wrong"]
    assert wrong == ["c", "a", "b"]  # 0.95 first, then the 0.9 ties by id
    again = classification_failures(
        frame.iloc[::-1], y[::-1], p[::-1], [0, 1], conf[::-1], None, n=3
    )
    assert [f.example_id for f in again if f.list == "confident_wrong"] == wrong
    for f in got:
        assert f.category in CATEGORIES and f.reason


def test_regression_lists() -> None:
    frame = pd.DataFrame({"x": np.arange(5.0)}, index=list("vwxyz"))
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    pred = np.array([2.0, 2.0, 1.0, 4.5, 5.0])
    got = regression_failures(frame, y, pred, n=2)
    by = {
        lst: [f.example_id for f in got if f.list == lst]
        for lst in ("largest_abs_error", "under_prediction", "over_prediction")
    }
    assert by["largest_abs_error"] == ["x", "v"]
    assert by["under_prediction"] == ["x"]
    assert by["over_prediction"] == ["v", "y"]
