"""Failure selection is stable: ties are broken by example id."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalharness.core.report import failures_file
from evalharness.failures.categories import CATEGORIES
from evalharness.failures.selection import classification_failures, regression_failures
from evalharness.schemas.validate import validate_folder


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
    # x and v are already listed as the largest errors: the later lists skip them.
    assert by["under_prediction"] == []
    assert by["over_prediction"] == ["y"]
    assert len({f.example_id for f in got}) == len(got)


def test_overlapping_lists_list_each_example_once() -> None:
    """A constant, fully confident predictor (most_frequent-like): every error is both a
    confident error and an error of the worst slice; it used to be listed in both."""
    ids = [f"r{i}" for i in range(8)]
    frame = pd.DataFrame({"x": np.arange(8.0)}, index=ids)
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    p = np.ones(8, dtype=int)
    conf = np.ones(8)
    worst = ("class:0", y == 0)
    got = classification_failures(frame, y, p, [0, 1], conf, worst, n=3)
    listed = [f.example_id for f in got]
    assert len(listed) == len(set(listed))
    by = {f.example_id: f for f in got}
    wrong = [f.example_id for f in got if f.list == "confident_wrong"]
    in_slice = [f.example_id for f in got if f.list.startswith("worst_slice_errors")]
    assert wrong == ["r0", "r1", "r2"]
    assert in_slice == ["r3", "r4", "r5"]  # the next errors, not the same three again
    # A constant model ignores the features: its confident errors are not label errors.
    assert all(by[i].category == "model_representation" for i in wrong)
    assert not any("label error" in by[i].reason for i in listed)
    file = failures_file(got, 3)
    assert sum(file.category_counts.values()) == len(set(listed))
    assert "first list" in file.selection["dedup"]


def test_repeated_index_labels_are_listed_once() -> None:
    frame = pd.DataFrame({"x": np.arange(4.0)}, index=["a", "a", "b", "c"])
    y = np.zeros(4)
    pred = np.array([5.0, 4.0, 3.0, -1.0])
    got = regression_failures(frame, y, pred, n=2)
    assert [(f.example_id, f.list) for f in got] == [
        ("a", "largest_abs_error"),
        ("b", "largest_abs_error"),
        ("c", "under_prediction"),
    ]


def test_most_frequent_report_counts_unique_examples(harness: Any, tmp_path: Path) -> None:
    """End to end: the same rows with category "data" were listed twice and counted twice."""
    from sklearn.datasets import load_breast_cancer

    import evalharness as eh

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    x, y = x.iloc[:200], y.iloc[:200].to_numpy()
    top = int(np.bincount(y).argmax())
    scores = np.zeros((len(y), 2))
    scores[:, top] = 1.0
    out = tmp_path / "eval"
    cfg = replace(harness.fast, run_stress=False, run_search=False)
    eh.evaluate_classification(
        out, x, y, np.full(len(y), top), scores=scores, classes=[0, 1], run=harness.run, config=cfg
    )
    data = json.loads((out / "failure_examples.json").read_text())
    ids = [e["example_id"] for e in data["examples"]]
    assert len(ids) == len(set(ids))
    assert data["category_counts"] == dict(Counter(e["category"] for e in data["examples"]))
    assert validate_folder(out) == []
    md = (out / "failure_modes.md").read_text()
    assert f"{len(ids)} failure examples were selected" in md


def test_confident_correct_rows_are_never_called_unsure() -> None:
    """A correct prediction at or above the CONFIDENT threshold is no failure example."""
    frame = pd.DataFrame({"x": np.arange(4.0)}, index=list("abcd"))
    y = np.array([0, 1, 0, 1])
    p = np.array([0, 1, 0, 1])
    conf = np.array([1.0, 0.95, 0.8, 0.55])
    got = classification_failures(frame, y, p, [0, 1], conf, None, n=3)
    assert [(f.example_id, f.list) for f in got] == [("d", "low_confidence_correct")]
    assert "55% confident" in got[0].reason
