"""Ranking runs through the CLI: a learned ranker against BM25's single feature on the
Vaswani candidates, compared query by query, and a repro pack that reproduces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modellab.demo import DEMO_DATASETS
from tests.conftest import Env

VASWANI = next(d for d in DEMO_DATASETS if d.task == "ranking")


@pytest.fixture
def ranked(ml: Env) -> tuple[Env, Any, Any]:
    ml.run(
        "dataset", "add", "-p", "p", "-n", "ltr", "-t", "relevance", "--task", "ranking",
        "--split", "group", "--group-column", "query_id", "--test-size", "0.5",
        "--role", "doc_id=item", str(VASWANI.path),
    )  # fmt: skip
    settings = ("--eval", "ranking_cutoffs=1,5,10", "--eval", "randomization_n=2000")
    cand = ml.train("ltr", "xgb_ranker", "--with-baseline", *settings, template="learning-to-rank")
    assert [r["status"] for r in cand] == ["succeeded", "succeeded"], cand
    base, cand = cand
    assert (base["model"], cand["model"]) == ("single_feature", "xgb_ranker")
    return ml, base, cand


def test_compare_pairs_the_runs_query_by_query(ranked: tuple[Env, Any, Any]) -> None:
    ml, base, cand = ranked
    doc = ml.json("compare", base["id"], cand["id"])
    assert doc["paired_bootstrap"]["rows"] == 47  # queries, not documents
    metrics = {m["metric"]: m for m in doc["metrics"]}
    assert set(metrics) >= {"ndcg@10", "recall@5", "mrr@1", "map"}
    assert "ndcg@20" not in metrics  # the run's own cutoffs
    # compare's paired CI is B's report's delta against A, to the printed digit
    report = json.loads((ml.artifacts / "p" / cand["id"] / "eval" / "metrics.json").read_text())
    for name, est in report["deltas"].items():
        assert metrics[name]["paired"]["ci_low"] == est["ci_low"], name
    test = doc["paired_test"]
    assert (test["metric"], test["units"], test["n"]) == ("ndcg@10", "queries", 47)
    assert (test["n_permutations"], test["seed"]) == (2000, 0)
    ranking = json.loads((ml.artifacts / "p" / cand["id"] / "eval" / "ranking.json").read_text())
    assert ranking["randomization"]["p_value"] == test["p_value"]
    assert (
        "paired randomization test on ndcg@10" in ml.run("compare", base["id"], cand["id"]).stdout
    )


def test_a_ranking_pack_reproduces(ranked: tuple[Env, Any, Any], tmp_path: Path) -> None:
    ml, _, cand = ranked
    pack = tmp_path / "ranking.tar.gz"
    ml.run("repro", "export", cand["id"], "-o", str(pack))
    result = ml.run("reproduce", str(pack))
    assert result.stdout.startswith("REPRODUCED"), result.stdout
