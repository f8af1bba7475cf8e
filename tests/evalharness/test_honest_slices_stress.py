"""Slices and stress tests that tell the truth (issue 12, point 5), on the demo data.

Weakest first under a lower-is-better metric, a minimum slice size that follows the test
size, takeaways that say what was not measured, distribution-shift refits held to honest
sizes, and label noise reported as a metric-sensitivity reference, never as the model's
worst degradation.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import evalharness as eh
from evalharness.core import slice_report as SR
from evalharness.core import takeaway as T
from evalharness.plots.stress import stress_series
from evalharness.schemas import files as S
from evalharness.stress.runner import StressResult

DEMO = Path(__file__).resolve().parents[2] / "core" / "demo_data"
CFG = eh.EvalConfig(n_bootstrap=60, stress_n_bootstrap=20, seed=0)
RUN = eh.RunInfo("run-1", "demo", "1", "sha", "commit")


def _cars() -> tuple[pd.DataFrame, pd.DataFrame, Any, Any]:
    """Auto MPG: numeric features, rows with a target; 80 test rows as ModelLab splits it."""
    raw = pd.read_csv(DEMO / "cars.csv").dropna(subset=["miles_per_gallon"])
    x = raw[["cylinders", "displacement", "horsepower", "weight_in_lbs", "acceleration"]]
    y = raw["miles_per_gallon"].to_numpy(dtype=float)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=80, random_state=0)
    return x_tr, x_te, y_tr, y_te


def _ridge(x: pd.DataFrame, y: Any) -> Any:
    return make_pipeline(SimpleImputer(), StandardScaler(), Ridge()).fit(x, y)


def _penguins() -> tuple[pd.DataFrame, pd.DataFrame, Any, Any]:
    raw = pd.read_csv(DEMO / "penguins.csv").dropna(subset=["sex"])
    x = raw[["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]]
    y = raw["sex"].to_numpy()
    return train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)  # type: ignore[no-any-return]


# Minimum slice size -----------------------------------------------------------------


@pytest.mark.parametrize(("n", "size"), [(40, 10), (80, 10), (133, 16), (171, 21), (240, 30)])
def test_min_slice_size_follows_the_test_size(n: int, size: int) -> None:
    got, rule = SR.min_slice_size_for(eh.EvalConfig(), n)
    assert got == size
    assert f"derived from the {n} test rows" in rule


def test_a_given_min_slice_size_is_kept() -> None:
    assert SR.min_slice_size_for(eh.EvalConfig(min_slice_size=30), 80) == (
        30,
        "given by the caller (EvalConfig.min_slice_size)",
    )
    cfg = eh.EvalConfig(min_slice_floor=20, min_slice_cap=50)
    assert SR.min_slice_size_for(cfg, 80)[0] == 20
    assert SR.min_slice_size_for(cfg, 1000)[0] == 50
    with pytest.raises(ValueError, match="min_slice_floor"):
        eh.EvalConfig(min_slice_floor=40, min_slice_cap=30)


# Weakest first under MAE --------------------------------------------------------------


def test_ranking_is_weakest_first_when_lower_is_better() -> None:
    """MAE: the slice with the largest error comes first, not the one with the smallest."""
    from evalharness.bootstrap.engine import Group, run_bootstrap
    from evalharness.metrics import regression as MR
    from evalharness.slicing.fixed import SliceDef

    rng = np.random.default_rng(0)
    n = 90
    y = rng.normal(size=n)
    err = np.r_[np.full(30, 0.1), np.full(30, 1.0), np.full(30, 3.0)] * rng.choice([-1, 1], n)
    arrays = MR.build_arrays(y, y + err)
    part = np.repeat([0, 1, 2], 30)
    defs = [SliceDef(f"s:{name}", "s", name, part == i) for i, name in enumerate("abc")]
    plan = SR.plan_slices(defs, np.arange(n), 10)
    groups = {"overall": Group(arrays, None), **SR.slice_groups(plan, arrays, ["mae"])}
    boot = run_bootstrap(n, groups, ["mae"], 20, 0, "multinomial")
    records, ranking = SR.slice_records(plan, boot, ["mae"], "mae", False)
    assert ranking == ["s:c", "s:b", "s:a"]
    worst = SR.weakest_slice(records, ranking, "mae", False)
    assert worst is not None and worst.id == "s:c"


def test_cars_top_target_quintile_is_the_weakest_slice(tmp_path: Path) -> None:
    """80 test rows: a fixed 30 left every target quintile unmeasured and the takeaway said
    no slice was worse, while the top quintile's error is about twice the overall one."""
    x_tr, x_te, y_tr, y_te = _cars()
    model = _ridge(x_tr, y_tr)
    pred = model.predict(x_te)
    eh.evaluate_regression(
        tmp_path / "eval", x_te, y_te, pred, run=RUN, predict=model.predict, config=CFG
    )
    sl = json.loads((tmp_path / "eval" / "slices.json").read_text())
    assert sl["min_slice_size"] == 10
    assert "derived from the 80 test rows" in sl["min_slice_rule"]
    by_id = {s["id"]: s for s in sl["slices"]}
    top = by_id["target_quintile:05"]
    assert top["status"] == "ok"
    overall = float(np.abs(pred - y_te).mean())
    assert top["metrics"]["mae"]["value"] > 1.5 * overall
    # Worst first for a lower-is-better metric: deltas in the ranking never increase.
    deltas = [by_id[i]["delta"]["mae"]["value"] for i in sl["ranking"]]
    assert deltas == sorted(deltas, reverse=True)
    assert sl["ranking"][0] == "target_quintile:05"
    s3 = (tmp_path / "eval" / "takeaway.txt").read_text().splitlines()[2]
    assert s3.startswith(f"The weakest slice is {top['definition']} ({top['n']} rows)")


def test_run_page_lists_slices_in_ranking_order() -> None:
    """The run page sorted by delta ascending: under MAE that is best first."""
    js = (Path(__file__).resolve().parents[2] / "server/web/js/views/run.js").read_text()
    table = js[js.index("function slicesTable") : js.index("function stressRows")]
    assert 'initial: { key: "rank", ascending: true }' in table
    assert 'key: "delta", ascending' not in table
    assert "slicesJson.ranking" in js


# Takeaway sentence 3 ------------------------------------------------------------------


def _record(sid: str, status: S.SliceStatus, delta: float | None = None) -> S.SliceRecord:
    est = None if delta is None else S.Estimate(value=delta, ci_low=delta, ci_high=delta)
    return S.SliceRecord(
        id=sid,
        family="f",
        definition=f"slice {sid}",
        n=40 if status == "ok" else 5,
        status=status,
        metrics={} if est is None else {"mae": est},
        delta={} if est is None else {"mae": est},
        rank=None,
    )


def test_slice_sentence_says_what_was_not_measured() -> None:
    measured = [_record("a", "ok", -0.2), _record("b", "ok", -0.1)]
    small = [_record(f"t{i}", "too_small") for i in range(7)]
    whole = [_record("all", "all_rows", 0.0)]
    text = T.slice_sentence([*measured, *small, *whole], ["b", "a"], "mae", False)
    assert text == (
        "No measured slice scores worse than overall on mae; 7 of 9 slices had too few rows "
        "to measure."
    )
    worse = [_record("c", "ok", 0.5), *measured, *small]
    assert T.slice_sentence(worse, ["c", "b", "a"], "mae", False) == (
        "The weakest slice is slice c (40 rows), where mae differs from overall by 0.5; 7 of "
        "10 slices had too few rows to measure."
    )
    assert T.slice_sentence(small, [], "mae", False) == (
        "No slice smaller than the whole test set was large enough to rank; 7 of 7 slices "
        "had too few rows to measure."
    )
    # Every slice measured: the plain claim stands.
    assert T.slice_sentence(measured, ["b", "a"], "mae", False) == (
        "No slice scores worse than overall on mae."
    )


# Stress kinds and the worst degradation ------------------------------------------------


def _stress(scenario: str, degradation: float | None, kind: str, model: str = "candidate") -> Any:
    status = "ok" if degradation is not None else "skipped: too few rows"
    return StressResult(
        scenario, model, 0.5, "accuracy", None, None, None, degradation, status, kind
    )


def test_worst_stress_is_picked_from_model_robustness_rows_only() -> None:
    rows = [
        _stress("label_noise", -0.45, "metric_sensitivity"),
        _stress("missing_values", -0.05, "model_robustness"),
        _stress("shuffle:x", -0.02, "model_robustness"),
        _stress("missing_values", -0.3, "model_robustness", "baseline"),
    ]
    worst = T.worst_stress(rows, True)
    assert worst is not None and worst.scenario == "missing_values"
    text = T.stress_sentence(rows, "accuracy", True)
    assert "label_noise" not in text and "under missing_values" in text
    only_labels = [_stress("label_noise", -0.45, "metric_sensitivity")]
    assert T.worst_stress(only_labels, True) is None
    assert T.stress_sentence(only_labels, "accuracy", True).startswith(
        "No model-robustness stress test ran, so robustness is unmeasured"
    )
    skipped = [*rows, _stress("distribution_shift:x", None, "model_robustness")]
    assert T.stress_sentence(skipped, "accuracy", True).endswith(
        "; 1 of 3 robustness cases did not run (distribution_shift:x)."
    )


def _classify(out: Path, y_test: Any, y_pred: Any, scores: Any, predict: Any = None) -> Any:
    _, x_te, *_ = _penguins()
    eh.evaluate_classification(
        out,
        x_te,
        y_test,
        y_pred,
        scores=scores,
        classes=["female", "male"],
        predict=predict,
        run=RUN,
        config=CFG,
    )
    return json.loads((out / "stress.json").read_text())


def test_a_perfect_model_loses_about_as_much_under_label_noise(tmp_path: Path) -> None:
    """Label noise corrupts the ground truth: a perfect model loses about as much as an
    ordinary one, so it measures the metric and is reported as metric sensitivity."""
    x_tr, x_te, y_tr, y_te = _penguins()
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()).fit(x_tr, y_tr)

    def predict(frame: pd.DataFrame) -> Any:
        f = frame.fillna(x_tr.mean())
        return model.predict(f), model.predict_proba(f)

    ordinary = _classify(
        tmp_path / "ordinary", y_te, model.predict(x_te), model.predict_proba(x_te), predict
    )
    perfect_scores = np.column_stack([y_te == "female", y_te == "male"]).astype(float)
    perfect = _classify(tmp_path / "perfect", y_te, y_te, perfect_scores)

    def noise(stress: Any) -> dict[float, Any]:
        return {
            r["severity"]: r
            for r in stress["rows"]
            if r["scenario"] == "label_noise" and r["model"] == "candidate"
        }

    ours, best = noise(ordinary), noise(perfect)
    assert sorted(ours) == sorted(best) == [0.1, 0.3, 0.5]
    for sev in ours:
        assert ours[sev]["kind"] == best[sev]["kind"] == "metric_sensitivity"
        assert best[sev]["degradation"] < -0.05  # the perfect model loses too
        assert 0.5 <= ours[sev]["degradation"] / best[sev]["degradation"] <= 1.2
    assert "metric_sensitivity" in ordinary["kinds"] and "model_robustness" in ordinary["kinds"]
    for r in ordinary["rows"]:
        expected = "metric_sensitivity" if r["scenario"] == "label_noise" else "model_robustness"
        assert r["kind"] == expected
    s4 = (tmp_path / "ordinary" / "takeaway.txt").read_text().splitlines()[3]
    assert "label_noise" not in s4
    s4_perfect = (tmp_path / "perfect" / "takeaway.txt").read_text().splitlines()[3]
    assert s4_perfect.startswith("No model-robustness stress test ran")
    assert eh.validate_folder(tmp_path / "ordinary") == []
    assert eh.validate_folder(tmp_path / "perfect") == []


def test_stress_plot_labels_metric_sensitivity_lines() -> None:
    rows = [
        _stress("label_noise", -0.3, "metric_sensitivity"),
        _stress("missing_values", -0.1, "model_robustness"),
    ]
    rows = [dataclasses.replace(r, value=0.6) for r in rows]
    labels = [s[0] for s in stress_series(rows, {"candidate": 0.9}, None)]
    assert labels == ["label_noise [metric sensitivity]", "missing_values"]


# Distribution shift ---------------------------------------------------------------------


def test_cars_shift_refits_on_too_few_rows_are_skipped(tmp_path: Path) -> None:
    """80 test rows, 5 features (a refit needs 50 rows): the refit segments hold about 55,
    40 and 24 rows; the two small ones are skipped with their sizes and never refit."""
    x_tr, x_te, y_tr, y_te = _cars()
    model = _ridge(x_tr, y_tr)
    calls: list[int] = []

    def refit(frame: pd.DataFrame, target: Any) -> Any:
        calls.append(len(frame))
        return _ridge(frame, target).predict

    eh.evaluate_regression(
        tmp_path / "eval",
        x_te,
        y_te,
        model.predict(x_te),
        run=RUN,
        predict=model.predict,
        refit=refit,
        config=CFG,
    )
    stress = json.loads((tmp_path / "eval" / "stress.json").read_text())
    shift = {r["severity"]: r for r in stress["rows"] if r["scenario"].startswith("distrib")}
    assert sorted(shift) == [0.1, 0.3, 0.5]
    assert shift[0.1]["status"] == "ok" and len(calls) == 1 and calls[0] >= 50
    for sev in (0.3, 0.5):
        r = shift[sev]
        assert r["degradation"] is None and r["kind"] == "model_robustness"
        assert re.search(
            r"skipped: the refit segment .* has \d+ rows, fewer than the 50", r["status"]
        )
    s4 = (tmp_path / "eval" / "takeaway.txt").read_text().splitlines()[3]
    assert "2 of 9 robustness cases did not run (distribution_shift:acceleration)." in s4
    assert eh.validate_folder(tmp_path / "eval") == []


def test_shift_refits_that_run_have_honest_sizes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """On more rows the refits run, each on at least the required rows, against the
    model's clean value on the same evaluated rows, and each logs a labelled line."""
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = 2 * frame["a"].to_numpy() + frame["b"].to_numpy() ** 2 + rng.normal(0, 0.3, n)
    model = make_pipeline(SimpleImputer(), StandardScaler(), Ridge()).fit(frame, y)
    calls: list[int] = []

    def refit(f: pd.DataFrame, target: Any) -> Any:
        calls.append(len(f))
        return (
            make_pipeline(StandardScaler(), Ridge()).fit(f, target).predict
        )  # refits see clean rows

    cfg = dataclasses.replace(CFG, shift_min_refit_rows=100)
    with caplog.at_level(logging.INFO, logger="evalharness.stress"):
        eh.evaluate_regression(
            tmp_path / "eval",
            frame,
            y,
            model.predict(frame),
            run=RUN,
            predict=model.predict,
            refit=refit,
            config=cfg,
        )
    stress = json.loads((tmp_path / "eval" / "stress.json").read_text())
    shift = {r["severity"]: r for r in stress["rows"] if r["scenario"].startswith("distribution")}
    # 600 rows: 0.7, 0.5 and 0.3 of them below the cut; the bar is 100 rows.
    assert [shift[s]["status"] for s in (0.1, 0.3, 0.5)] == ["ok", "ok", "ok"]
    assert len(calls) == 3 and min(calls) >= 100
    (description,) = [t for k, t in stress["scenarios"].items() if k.startswith("distribution")]
    assert "at least 100 refit rows" in description
    assert "against the model's clean mae on those same rows" in description
    lines = [r.getMessage() for r in caplog.records if r.name == "evalharness.stress"]
    for sev in ("0.1", "0.3", "0.5"):
        assert any(
            line.startswith(f"stress distribution_shift:a severity {sev}: refit on ")
            for line in lines
        ), lines
    tight = dataclasses.replace(cfg, shift_min_refit_rows=350)
    eh.evaluate_regression(
        tmp_path / "tight",
        frame,
        y,
        model.predict(frame),
        run=RUN,
        predict=model.predict,
        refit=refit,
        config=tight,
    )
    stress = json.loads((tmp_path / "tight" / "stress.json").read_text())
    status = {r["severity"]: r["status"] for r in stress["rows"] if "shift" in r["scenario"]}
    assert status[0.1] == "ok" and status[0.3].startswith("skipped: the refit segment")
    assert status[0.5].startswith("skipped:") and "fewer than the 350" in status[0.5]
