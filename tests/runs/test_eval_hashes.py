"""Eval folders of the demo datasets stay byte-identical across refactors.

Every model of the tabular, learning-to-rank and retrieval templates (and the text
template's prior baseline and linear candidate) is trained on its demo
dataset (the demo's target and split) and each file of its ``eval/`` is hashed; the
hashes must match ``eval_hashes.json``. A change that moves code between core, plugins
and EvalHarness must not change a number, a sentence or a pixel of a report. A change
that means to change reports regenerates the file with ``MODELLAB_UPDATE_EVAL_HASHES=1``
and says why in its commit.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from modellab.demo import DEMO_DATASETS, DemoDataset
from tests.conftest import Env

HASHES = Path(__file__).with_name("eval_hashes.json")
MODELS = {
    "tabular-classification": ("most_frequent", "logistic_regression", "xgboost"),
    "tabular-regression": ("mean", "linear_regression", "xgboost"),
    "learning-to-rank": ("single_feature", "linear", "xgb_ranker"),
    "retrieval": ("bm25", "bm25_xgb_rerank", "dense_tfidf_svd_hnsw"),
    # For time, the prior baseline and the linear candidate (stressed beside it) only: they
    # cover the text evaluation; tfidf_logistic's numbers are scikit-learn's
    # (tests/runs/test_text_runs.py).
    "text-classification": ("most_frequent", "char_word_tfidf_calibrated_svm"),
}


def eval_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` by its relative path, sorted."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("demo", DEMO_DATASETS, ids=lambda d: d.name)
def test_demo_eval_folders_match_stored_hashes(
    ml: Env, demo: DemoDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outside any git checkout: the report's commit is then "unknown" on every clone.
    monkeypatch.chdir(ml.home.parent)
    ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        demo.name,
        "-t",
        demo.target,
        "--task",
        demo.task,
        "--split",
        demo.split.value,
        "--test-size",
        str(demo.test_size),
        *(["--group-column", demo.group_column] if demo.group_column else []),
        *(arg for column, role in demo.roles.items() for arg in ("--role", f"{column}={role}")),
        str(demo.path),
    )
    got: dict[str, dict[str, str]] = {}
    for model in MODELS[demo.template]:
        run = ml.train(demo.name, model, template=demo.template, n_bootstrap=200)
        assert run["status"] == "succeeded", run
        folder = ml.artifacts / "p" / run["id"] / "eval"
        got[f"{demo.template}/{model}"] = eval_hashes(folder)
    stored = json.loads(HASHES.read_text()) if HASHES.exists() else {}
    if os.environ.get("MODELLAB_UPDATE_EVAL_HASHES") == "1":
        stored.update(got)
        HASHES.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
    for key, files in got.items():
        assert key in stored, f"no stored hashes for {key}; see this module's docstring"
        changed = sorted(
            name
            for name in files.keys() | stored[key].keys()
            if files.get(name) != stored[key].get(name)
        )
        assert not changed, f"{key}: eval files differ from the stored hashes: {changed}"
