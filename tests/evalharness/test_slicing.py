"""Slices: too-small slices are not ranked; the weak-slice search confirms only real ones."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

import evalharness as eh
from evalharness.slicing.fixed import choose_key_feature, is_categorical, quantile_slices
from evalharness.slicing.multiple_testing import benjamini_hochberg
from evalharness.slicing.search import search_weak_slices


def _data(seed: int, n: int, plant: bool) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.lognormal(10, 1, n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "plan": rng.choice(["a", "b", "c"], n),
        }
    )
    err = rng.random(n) < 0.1
    if plant:
        weak = (frame["region"] == "east").to_numpy() & (frame["age"] > 60).to_numpy()
        err = np.where(weak, rng.random(n) < 0.6, err)
    return frame, err.astype(float)


def test_search_finds_and_confirms_planted_slice() -> None:
    frame, loss = _data(0, 4000, plant=True)
    res = search_weak_slices(frame, loss, min_size=30, seed=0)
    confirmed = [s for s in res.slices if s.confirmed]
    assert confirmed
    top = confirmed[0]
    assert set(top.features) <= {"region", "age"} and "east" in top.definition
    assert top.confirmation_effect is not None and top.confirmation_effect > 0.2
    assert res.n_discovery_rows + res.n_confirmation_rows == 4000


def test_search_confirms_nothing_on_noise() -> None:
    for seed in range(3):
        frame, loss = _data(seed, 3000, plant=False)
        res = search_weak_slices(frame, loss, min_size=30, seed=seed)
        assert not any(s.confirmed for s in res.slices)


def test_benjamini_hochberg_reference() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.2])
    rejected, q = benjamini_hochberg(p, 0.05)
    assert rejected.tolist() == [True, False, False, False]
    assert np.allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    rng = np.random.default_rng(0)
    many = rng.random(50) ** 3
    assert np.allclose(benjamini_hochberg(many, 0.1)[1], stats.false_discovery_control(many))
    assert benjamini_hochberg([], 0.05)[0].size == 0


def test_small_slices_reported_not_ranked(cancer: Any, tmp_path: Path, harness: Any) -> None:
    cfg = replace(harness.fast, min_slice_size=60, run_stress=False)
    harness.classify(cancer, tmp_path / "eval", config=cfg)
    sl = json.loads((tmp_path / "eval" / "slices.json").read_text())
    small = [s for s in sl["slices"] if s["status"] == "too_small"]
    assert small
    for s in small:
        assert s["n"] < 60 and s["rank"] is None and s["metrics"] == {}
        assert s["id"] not in sl["ranking"]
    ok = [s for s in sl["slices"] if s["status"] == "ok"]
    assert all(s["n"] >= 60 and s["rank"] is not None for s in ok)
    assert len(sl["ranking"]) == len(ok)


def test_slice_records_have_cis(binary_dir: Path) -> None:
    sl = json.loads((binary_dir / "slices.json").read_text())
    fams = {s["family"] for s in sl["slices"]}
    assert {"confidence_decile", "missingness", "class"} <= fams
    assert any(f.startswith("key_feature:") for f in fams)
    for s in sl["slices"]:
        if s["status"] == "ok":
            acc = s["metrics"]["accuracy"]
            assert acc["ci_low"] <= acc["value"] <= acc["ci_high"]
            assert "accuracy" in s["delta"]
    ranked = [next(s for s in sl["slices"] if s["id"] == i) for i in sl["ranking"]]
    deltas = [s["delta"]["accuracy"]["value"] for s in ranked]
    assert deltas == sorted(deltas)
    assert sl["search"] is not None and "Welch" in sl["search"]["test"]


def test_planted_slice_through_evaluator(tmp_path: Path, harness: Any) -> None:
    frame, loss = _data(1, 1500, plant=True)
    y = np.zeros(len(frame), dtype=int)
    pred = np.where(loss > 0, 1, 0)
    cfg = replace(harness.fast, run_stress=False)
    eh.evaluate_classification(
        tmp_path / "eval", frame, y, pred, classes=[0, 1], run=harness.run, config=cfg
    )
    sl = json.loads((tmp_path / "eval" / "slices.json").read_text())
    assert any(s["confirmed"] for s in sl["search"]["slices"])
    assert sl["families"]["key_feature:region"].endswith("cover the most rows")


def test_key_feature_rule() -> None:
    frame, _ = _data(0, 200, plant=False)
    col, rule = choose_key_feature(frame)
    assert col in {"region", "plan"} and "categorical" in rule
    numeric = frame[["age", "income"]]
    y = numeric["income"].to_numpy() * 2
    assert choose_key_feature(numeric, y)[0] == "income"


def test_is_categorical_counts_distinct_values_over_the_whole_column() -> None:
    """At most 10 distinct values over all rows, whatever the first thousand hold: the
    shortcut on a column's head only ever answers "not categorical" early."""
    rng = np.random.default_rng(0)
    few_then_many = np.r_[rng.integers(0, 3, 2000), rng.normal(size=50)]
    assert not is_categorical(pd.Series(few_then_many))
    assert is_categorical(pd.Series(rng.integers(0, 10, 5000).astype(float)))
    assert not is_categorical(pd.Series(rng.normal(size=5000)))
    assert not is_categorical(pd.Series(np.arange(11.0)))
    assert is_categorical(pd.Series(np.r_[np.arange(10.0), [np.nan] * 3000]))


def test_quantile_slices_keep_ties_together() -> None:
    x = np.array([1.0] * 50 + [2.0] * 50)
    slices = quantile_slices(x, 10, "q", "x")
    masks = [s.mask for s in slices if s.mask.any()]
    assert len(masks) == 2


def test_welch_matches_scipy() -> None:
    from evalharness.slicing.search import _welch

    rng = np.random.default_rng(5)
    loss = rng.random(300)
    mask = rng.random(300) < 0.3
    loss[mask] += 0.05
    effect, p = _welch(loss, mask)
    ref = stats.ttest_ind(loss[mask], loss[~mask], equal_var=False, alternative="greater")
    assert abs(p - float(ref.pvalue)) < 1e-9
    assert effect > 0


def test_slice_holding_every_row_is_not_ranked(binary_dir: Path) -> None:
    """The cancer data has no gaps: "missing share <= 0.1" is the whole test set again."""
    sl = json.loads((binary_dir / "slices.json").read_text())
    n = json.loads((binary_dir / "metrics.json").read_text())["n_examples"]
    full = [s for s in sl["slices"] if s["n"] == n]
    assert "missing:low" in {s["id"] for s in full}
    for s in full:
        assert s["status"] == "all_rows" and s["rank"] is None
        assert s["id"] not in sl["ranking"]
    assert all(s["n"] < n for s in sl["slices"] if s["status"] == "ok")
    assert "missing share" not in (binary_dir / "takeaway.txt").read_text()


def test_zero_delta_slice_is_never_weakest(cancer: Any, tmp_path: Path, harness: Any) -> None:
    """A constant scorer has ROC-AUC 0.5 in every slice: no slice is weaker than overall."""
    n = len(cancer.y_test)
    cfg = replace(harness.fast, headline=("roc_auc", "accuracy"), run_stress=False)
    eh.evaluate_classification(
        tmp_path / "eval",
        cancer.x_test,
        cancer.y_test.to_numpy(),
        np.ones(n, dtype=int),
        scores=np.tile([0.4, 0.6], (n, 1)),
        classes=[0, 1],
        run=harness.run,
        config=cfg,
    )
    sl = json.loads((tmp_path / "eval" / "slices.json").read_text())
    assert sl["ranking"]  # the key-feature quintiles are ranked, all with delta 0
    assert all(
        s["delta"]["roc_auc"]["value"] == 0 for s in sl["slices"] if s["id"] in sl["ranking"]
    )
    takeaway = (tmp_path / "eval" / "takeaway.txt").read_text()
    assert "weakest slice" not in takeaway
    assert "No slice scores worse than overall on roc_auc." in takeaway
    failures = json.loads((tmp_path / "eval" / "failure_examples.json").read_text())
    assert not any(e["list"].startswith("worst_slice_errors") for e in failures["examples"])


def test_takeaway_names_only_a_slice_worse_than_overall() -> None:
    from evalharness.core.slice_report import weakest_slice
    from evalharness.core.takeaway import takeaway_text
    from evalharness.schemas import files as S

    def record(sid: str, delta: float) -> S.SliceRecord:
        est = S.Estimate(value=delta, ci_low=delta, ci_high=delta)
        return S.SliceRecord(
            id=sid,
            family="f",
            definition=f"slice {sid}",
            n=40,
            status="ok",
            metrics={"mae": est},
            delta={"mae": est},
            rank=None,
        )

    headline = S.Estimate(value=1.0, ci_low=0.9, ci_high=1.1)

    def sentence3(records: list[S.SliceRecord], ranking: list[str], higher: bool) -> str:
        text = takeaway_text(
            "mae", headline, 100, None, None, False, records, ranking, [], higher, []
        )
        return text.splitlines()[2]

    flat = [record("a", 0.0), record("b", -0.5)]
    # Lower is better: a delta of 0 then -0.5 (better) is no weak slice at all.
    assert weakest_slice(flat, ["a", "b"], "mae", False) is None
    assert sentence3(flat, ["a", "b"], False) == "No slice scores worse than overall on mae."
    worse = [record("c", 0.25), *flat]
    assert sentence3(worse, ["c", "a", "b"], False).startswith("The weakest slice is slice c")
    assert sentence3([], [], False) == (
        "No slice smaller than the whole test set was large enough to rank."
    )
