"""Category encoding: training categories only, the same codes whatever the value type."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modellab.modeling.features import CategoryEncoder, prepare_features


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
