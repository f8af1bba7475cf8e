"""Issue 12, point 4: the bar is the strongest baseline, and the trivial baseline is honest
(on real data: Palmer penguins, classifying sex)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import log_loss

from tests.conftest import Env


def _folder(run: Any) -> Path:
    return Path(run["artifact_dir"])


def test_a_weak_baseline_trained_last_does_not_become_the_bar(penguins_sex: Env) -> None:
    ml = penguins_sex
    strong = ml.train("sex", "logistic_regression")
    weak = ml.train("sex", "most_frequent")  # newer, much weaker
    candidate = ml.train("sex", "xgboost")
    summary = json.loads((_folder(candidate) / "eval" / "eval_summary.json").read_text())
    assert summary["baseline"]["name"] == "logistic_regression"
    logs = (_folder(candidate) / "logs.txt").read_text()
    assert f"baseline: run {strong['id']} (logistic_regression), the strongest of 2" in logs
    assert weak["id"] not in logs


def test_most_frequent_predicts_the_class_priors(penguins_sex: Env) -> None:
    ml = penguins_sex
    run = ml.train("sex", "most_frequent")
    folder = _folder(run)
    preds = pl.read_parquet(folder / "predictions.parquet")
    scores = preds.select(sorted(c for c in preds.columns if c.startswith("score_"))).to_numpy()
    # The training class shares, not 0/1: an honest log loss near ln 2 for a balanced target.
    assert np.allclose(scores, scores[0]) and 0.4 < scores[0].min() < 0.6
    metrics = json.loads((folder / "eval" / "metrics.json").read_text())["metrics"]
    truth = preds["truth"].to_numpy()
    classes = sorted(c.removeprefix("score_") for c in preds.columns if c.startswith("score_"))
    assert abs(metrics["log_loss"] - log_loss(truth, scores, labels=classes)) < 1e-9
    assert metrics["log_loss"] < 0.75
    # Its log line names the class it predicts.
    majority = preds["prediction"][0]
    assert (preds["prediction"] == majority).all()
    assert (
        f"most_frequent: predicts '{majority}' for every row" in (folder / "logs.txt").read_text()
    )
    # A constant model's errors are never "possible label errors".
    failures = json.loads((folder / "eval" / "failure_examples.json").read_text())["examples"]
    assert failures and not any("label error" in f["reason"] for f in failures)
    assert all(
        f["category"] == "model_representation" for f in failures if f["list"] == "confident_wrong"
    )


def test_a_candidate_that_loses_is_called_worse_not_merely_not_better(
    ml: Env, tmp_path: Path
) -> None:
    """scikit-learn's diabetes data (442 patients): default XGBoost loses to linear
    regression by a margin the paired CI excludes from 0."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame.rename(
        columns={"target": "progression"}
    )
    frame.to_csv(tmp_path / "diabetes.csv", index=False)
    ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "diabetes",
        "-t",
        "progression",
        str(tmp_path / "diabetes.csv"),
    )
    template = "tabular-regression"
    ml.train("diabetes", "linear_regression", template=template)
    args = ["-p", "p", "-d", "diabetes", "-t", template, "-m", "xgboost", "--n-bootstrap", "200"]
    text = ml.run("run", *args).output
    assert "improvement over baseline: NO: significantly WORSE in mae" in text
    candidate = ml.json("runs", "--project", "p")[0]
    folder = ml.artifacts / "p" / candidate["id"] / "eval"
    delta = json.loads((folder / "metrics.json").read_text())["deltas"]["mae"]
    assert delta["ci_low"] > 0  # more error than the baseline, beyond noise
    takeaway = (folder / "takeaway.txt").read_text().splitlines()
    assert "significantly worse than the baseline" in takeaway[1]
    reason = json.loads((folder / "metrics.json").read_text())["improvement_reason"]
    assert "excludes 0 in the worse direction" in reason
