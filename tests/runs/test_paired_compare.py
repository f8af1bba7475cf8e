"""Compare and the candidate's report give one paired statistic: the same deltas, the same
replicates, for every metric both runs define (issue 12, point 3), on the demo data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modellab.compare import verdict
from tests.conftest import REPO, Env

CARS = REPO / "core" / "demo_data" / "cars.csv"


def eval_json(run_: Any, name: str) -> Any:
    return json.loads((Path(run_["artifact_dir"]) / "eval" / name).read_text())


def check_compare_equals_report(ml: Env, base: Any, cand: Any, required: set[str]) -> None:
    """``compare base cand`` shows exactly the candidate report's paired deltas."""
    run_json = json.loads((Path(base["artifact_dir"]) / "run.json").read_text())
    # The report was computed against this baseline (it names the baseline's run key).
    assert cand["metrics"]["baseline"]["run_id"] == run_json["run"]["run_key"]
    deltas = eval_json(cand, "metrics.json")["deltas"]
    ci = eval_json(cand, "confidence_intervals.json")
    assert required <= set(deltas)
    assert all(d["ci_low"] is not None for d in deltas.values())

    doc = ml.json("compare", base["id"], cand["id"])
    assert doc["paired_bootstrap"] == {
        "n_bootstrap": ci["n_bootstrap"],
        "seed": ci["seed"],
        "method": ci["resampling"],
        "rows": cand["metrics"]["n_test"],
        "settings": "run B's eval/confidence_intervals.json",
    }
    rows = {m["metric"]: m for m in doc["metrics"]}
    paired = {name: m["paired"] for name, m in rows.items() if m["paired"] is not None}
    assert set(paired) == set(deltas)
    for name, d in deltas.items():
        assert paired[name] == {"delta": d["value"], "ci_low": d["ci_low"], "ci_high": d["ci_high"]}
        m = rows[name]
        # The paired CI decides; the overlap heuristic is not consulted.
        assert m["verdict"] == verdict(m["delta"], m["higher_is_better"], paired[name], None)
    text = ml.run("compare", base["id"], cand["id"]).stdout
    for name in required:
        d = deltas[name]
        assert f"(paired 95% CI {d['ci_low']:+.4f} .. {d['ci_high']:+.4f})" in text


def test_compare_shows_the_candidate_reports_deltas_classification(penguins_sex: Env) -> None:
    ml = penguins_sex
    # Different replicates on each side: compare must use B's (the candidate report's).
    base = ml.train("sex", "logistic_regression", n_bootstrap=60)
    cand = ml.train(
        "sex", "xgboost", "--set", "n_estimators=50", "--set", "max_depth=3", n_bootstrap=300
    )
    assert eval_json(cand, "confidence_intervals.json")["n_bootstrap"] == 300
    check_compare_equals_report(
        ml, base, cand, {"accuracy", "roc_auc", "pr_auc", "f1", "log_loss", "brier"}
    )


def test_compare_shows_the_candidate_reports_deltas_regression(ml: Env) -> None:
    ml.run("dataset", "add", "-p", "p", "-n", "cars", "-t", "miles_per_gallon", str(CARS))
    template = "tabular-regression"
    base = ml.train("cars", "linear_regression", template=template, n_bootstrap=60)
    cand = ml.train("cars", "xgboost", "--seed", "3", template=template, n_bootstrap=250)
    check_compare_equals_report(ml, base, cand, {"mae", "rmse", "r2", "median_ae"})
