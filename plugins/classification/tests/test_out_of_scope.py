"""The out-of-scope slicer: which label names out-of-scope queries, and its two slices."""

from __future__ import annotations

import numpy as np

from modellab_classification.slicers import by_out_of_scope, out_of_scope_label


def test_the_out_of_scope_label_is_found_by_its_usual_names_only() -> None:
    assert out_of_scope_label(["balance", "oos", "transfer"]) == "oos"
    assert out_of_scope_label(["Out-Of-Scope", "pin"]) == "Out-Of-Scope"
    assert out_of_scope_label(["out_of_scope"]) == "out_of_scope"
    # "scope" alone, or a class that merely contains the word, is an intent like any other.
    assert out_of_scope_label(["scope", "oos_fee", "boost"]) is None


def test_its_slices_split_the_rows_by_their_true_class() -> None:
    y = np.array(["oos", "pin", "oos", "fee"])
    queries, in_scope = by_out_of_scope(y_true=y)
    assert (queries.name, in_scope.name) == ("out_of_scope:queries", "out_of_scope:in_scope")
    assert queries.mask.tolist() == [True, False, True, False]
    assert in_scope.mask.tolist() == [False, True, False, True]
    assert queries.family == in_scope.family == "out_of_scope"
    assert by_out_of_scope(y_true=np.array(["pin", "fee"])) == []
