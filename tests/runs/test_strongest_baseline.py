"""Issue 12, point 4: the bar is the strongest baseline, and the trivial baseline is honest
(on real data: Palmer penguins, classifying sex)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import log_loss

from tests.conftest import REPO, Env

PENGUINS = REPO / "core" / "demo_data" / "penguins.csv"


def _folder(run: Any) -> Path:
    return Path(run["artifact_dir"])


def test_a_weak_baseline_trained_last_does_not_become_the_bar(ml: Env) -> None:
    ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "peng",
        "-t",
        "sex",
        "--split",
        "stratified",
        str(PENGUINS),
    )
    strong = ml.train("peng", "logistic_regression")
    weak = ml.train("peng", "most_frequent")  # newer, much weaker
    candidate = ml.train("peng", "xgboost")
    summary = json.loads((_folder(candidate) / "eval" / "eval_summary.json").read_text())
    assert summary["baseline"]["name"] == "logistic_regression"
    logs = (_folder(candidate) / "logs.txt").read_text()
    assert f"baseline: run {strong['id']} (logistic_regression), the strongest of 2" in logs
    assert weak["id"] not in logs


def test_most_frequent_predicts_the_class_priors(ml: Env) -> None:
    ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "peng",
        "-t",
        "sex",
        "--split",
        "stratified",
        str(PENGUINS),
    )
    run = ml.train("peng", "most_frequent")
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
