"""`modellab demo` delivers every promised artifact, offline, and is idempotent."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from evalharness import validate_folder
from tests.conftest import Env

CONTRACT = (
    "eval_summary.json",
    "metrics.json",
    "confidence_intervals.json",
    "slices.json",
    "failure_examples.json",
    "takeaway.txt",
    "repro.md",
    "stress.json",
    "failure_modes.md",
)


def test_demo_delivers_the_promise_and_is_idempotent(
    ml: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outside the repository the code version cannot change between the two demos
    # (an edit to the work tree would give new run keys, rightly, and new runs).
    monkeypatch.chdir(tmp_path)
    out = ml.run("demo").stdout
    for section in (
        "1. Dataset demo/penguins@1",
        "2. Runs on demo/penguins@1: baseline first",
        "3. Report of xgboost",
        "4. Compare logistic_regression -> xgboost",
        "Done: open these",
        "demo/cars@1",
        "1. Dataset demo/vaswani-ltr@1",
        "4. Compare single_feature -> xgb_ranker",
        "paired randomization test on ndcg@10",
        "1. Dataset demo/vaswani@1",
        "TREC collection (documents, topics, qrels)",
        "4. Compare bm25 -> dense_tfidf_svd_hnsw",
        "1. Dataset demo/banking77@1",
        "4. Compare tfidf_logistic -> char_word_tfidf_calibrated_svm",
    ):
        assert section in out, section
    runs = ml.json("runs", "--project", "demo")
    assert sorted((r["dataset"], r["model"], r["status"]) for r in runs) == [
        ("demo/banking77@1", "char_word_tfidf_calibrated_svm", "succeeded"),
        ("demo/banking77@1", "tfidf_logistic", "succeeded"),
        ("demo/cars@1", "linear_regression", "succeeded"),
        ("demo/cars@1", "xgboost", "succeeded"),
        ("demo/penguins@1", "logistic_regression", "succeeded"),
        ("demo/penguins@1", "xgboost", "succeeded"),
        ("demo/vaswani-ltr@1", "single_feature", "succeeded"),
        ("demo/vaswani-ltr@1", "xgb_ranker", "succeeded"),
        ("demo/vaswani@1", "bm25", "succeeded"),
        ("demo/vaswani@1", "dense_tfidf_svd_hnsw", "succeeded"),
    ]
    for r in runs:
        folder = Path(r["artifact_dir"])
        assert all((folder / "eval" / name).exists() for name in CONTRACT)
        assert list((folder / "eval" / "plots").glob("*.png"))
        assert validate_folder(folder / "eval") == []
        if r["role"] == "candidate":
            assert r["metrics"]["baseline"] is not None
            (compare,) = (folder / "compare").iterdir()
            assert (compare / "summary.txt").exists() and list((compare / "plots").glob("*.png"))
            (pack,) = (folder / "repro").glob("*.tar.gz")
            with tarfile.open(pack) as tar:
                assert "manifest.json" in tar.getnames()
    again = ml.run("demo").stdout
    assert again.count("reusing runs") == 5
    assert len(ml.json("runs", "--project", "demo")) == 10
