"""EvalHarness' ranking report: trec_eval's numbers per query, bootstrap over queries,
the baseline paired per query, and verdicts on cases whose answer is known."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import pytrec_eval

from evalharness import BaselineResult, EvalConfig, LeakageError, RunInfo, validate_folder
from evalharness.core.ranking import ScoredRows, evaluate_ranking, paired_ranking_deltas

LTR = Path(str(files("modellab_ranking.demo_data") / "vaswani_ltr.csv"))
RUN = RunInfo("run-1", "vaswani", "1", "abc", "deadbeef")
CFG = EvalConfig(n_bootstrap=200, stress_n_bootstrap=20, randomization_n=2000)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return pd.read_csv(LTR, dtype={"query_id": str, "doc_id": str})


def _report(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text())


def _evaluate(out: Path, t: pd.DataFrame, scores: np.ndarray, **kw: object) -> Path:
    evaluate_ranking(
        out,
        t["query_id"],
        t["doc_id"],
        t["relevance"],
        scores,
        run=RUN,
        config=kw.pop("config", CFG),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )
    return out


def test_metrics_are_pytrec_evals_on_the_candidates(table: pd.DataFrame, tmp_path: Path) -> None:
    out = _evaluate(tmp_path / "eval", table, table["bm25"].to_numpy())
    assert validate_folder(out) == []
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q, d, rel, s in table[["query_id", "doc_id", "relevance", "bm25"]].itertuples(index=False):
        qrels.setdefault(q, {})[d] = int(rel)
        run.setdefault(q, {})[d] = float(s)
    ref = pytrec_eval.RelevanceEvaluator(
        qrels, {"map", "ndcg", "ndcg_cut_10", "P_5", "recall_100", "Rprec", "recip_rank"}
    ).evaluate(run)
    metrics = _report(out, "metrics.json")["metrics"]
    ranking = _report(out, "ranking.json")
    per_query = {r["query_id"]: r["metrics"] for r in ranking["per_query"]}
    assert set(per_query) == set(qrels)
    for ours, theirs in [
        ("map", "map"),
        ("ndcg", "ndcg"),
        ("ndcg@10", "ndcg_cut_10"),
        ("precision@5", "P_5"),
        ("recall@100", "recall_100"),
        ("r_precision", "Rprec"),
        ("mrr@100", "recip_rank"),  # 100 candidates per query: no rank is cut off
    ]:
        for q in qrels:
            assert per_query[q][ours] == pytest.approx(ref[q][theirs], abs=1e-12), (ours, q)
        mean = np.mean([ref[q][theirs] for q in sorted(qrels)])
        assert metrics[ours] == pytest.approx(mean, abs=1e-12), ours
    summary = _report(out, "eval_summary.json")
    # The unit is a query: the report counts and resamples queries, not documents.
    assert summary["n_examples"] == ranking["num_q"] == table["query_id"].nunique()
    assert summary["primary_metric"] == "ndcg@10"
    assert summary["files"]["ranking"] == "ranking.json"
    no_rel = sorted(q for q, docs in qrels.items() if max(docs.values()) < 1)
    assert ranking["no_relevant_queries"] == no_rel
    assert ranking["missing_queries"] == []
    assert [p["k"] for p in ranking["curves"]["candidate"]["ndcg"]] == [1, 5, 10, 20, 100]
    assert (out / "plots" / "metric_vs_k.png").is_file()


def test_the_folder_is_byte_identical_when_run_again(table: pd.DataFrame, tmp_path: Path) -> None:
    scores = table["bm25"].to_numpy()
    a = _evaluate(
        tmp_path / "a",
        table,
        scores,
        baseline=BaselineResult("doc length", y_pred=-table["doc_length"].to_numpy()),
    )
    b = _evaluate(
        tmp_path / "b",
        table,
        scores,
        baseline=BaselineResult("doc length", y_pred=-table["doc_length"].to_numpy()),
    )
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_an_oracle_beats_a_weak_baseline_and_equal_systems_do_not(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    oracle = table["relevance"].to_numpy() + 1e-6 * table["bm25"].to_numpy()
    weak = BaselineResult("doc length", y_pred=table["doc_length"].to_numpy())
    out = _evaluate(tmp_path / "oracle", table, oracle, baseline=weak)
    metrics = _report(out, "metrics.json")
    assert metrics["improvement_is_meaningful"] is True
    test = _report(out, "ranking.json")["randomization"]
    assert test["metric"] == "ndcg@10" and test["n_permutations"] == 2000 and test["seed"] == 0
    assert test["p_value"] < 0.01
    # The report's deltas are paired_ranking_deltas' (reports print 12 digits).
    rows = [
        ScoredRows.of(table["query_id"], table["doc_id"], table["relevance"], scores)
        for scores in (np.asarray(weak.y_pred), oracle)
    ]
    deltas = paired_ranking_deltas(*rows, config=CFG)
    for name, est in metrics["deltas"].items():
        assert est["ci_low"] == pytest.approx(deltas.deltas[name].ci_low, abs=1e-11), name
        assert est["ci_high"] == pytest.approx(deltas.deltas[name].ci_high, abs=1e-11), name

    same = BaselineResult("bm25 again", y_pred=table["bm25"].to_numpy())
    out = _evaluate(tmp_path / "same", table, table["bm25"].to_numpy(), baseline=same)
    assert _report(out, "metrics.json")["improvement_is_meaningful"] is False
    assert _report(out, "ranking.json")["randomization"]["p_value"] == 1.0


def test_a_query_on_both_sides_is_a_leak_and_nothing_is_written(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(LeakageError, match=r"1 test queries also have rows in train.*'7'"):
        _evaluate(
            tmp_path / "leak",
            table,
            table["bm25"].to_numpy(),
            train_units=np.array(["7", "unseen"]),
        )
    assert not (tmp_path / "leak").exists()


def test_ties_and_exponential_gain_follow_the_stated_conventions(tmp_path: Path) -> None:
    # Query a: d2 and d1 tie at the top; ties go by document id descending, so d2 ranks
    # first. Query b has no relevant document and scores 0.
    t = pd.DataFrame(
        {
            "query_id": ["a", "a", "a", "b", "b"],
            "doc_id": ["d1", "d2", "d3", "e1", "e2"],
            "relevance": [2, 0, 1, 0, 0],
            "score": [1.0, 1.0, 0.5, 0.3, 0.2],
        }
    )
    cfg = EvalConfig(n_bootstrap=20, ranking_cutoffs=(1, 3), ranking_gain="exponential")
    out = _evaluate(tmp_path / "ties", t, t["score"].to_numpy(), config=cfg)
    ranking = _report(out, "ranking.json")
    assert ranking["gain"] == "exponential"
    assert ranking["no_relevant_queries"] == ["b"]
    assert ranking["tie_share"] == 0.5  # query a has tied scores inside the top 3
    a = next(r for r in ranking["per_query"] if r["query_id"] == "a")["metrics"]
    b = next(r for r in ranking["per_query"] if r["query_id"] == "b")["metrics"]
    # Ranking d2 (0), d1 (2), d3 (1); exponential gains 0, 3, 1; ideal 3, 1, 0.
    dcg = 3 / np.log2(3) + 1 / np.log2(4)
    idcg = 3 / np.log2(2) + 1 / np.log2(3)
    assert a["ndcg@3"] == pytest.approx(dcg / idcg, abs=1e-12)
    assert a["ndcg@1"] == 0.0 and a["mrr@1"] == 0.0 and a["mrr@3"] == 0.5
    assert all(v == 0.0 for v in b.values())
    failures = _report(out, "failure_examples.json")["examples"]
    assert [f["example_id"] for f in failures] == ["a"]  # b has nothing to find
    summary = failures[0]["input_summary"]
    assert summary["rank_1"].startswith("d2 (score 1, label 0)")
    assert failures[0]["truth"] == "d1"


def test_ties_are_counted_where_the_primary_metric_reads_the_ranking(tmp_path: Path) -> None:
    # Twelve documents with distinct scores except the last two, tied at ranks 11 and 12:
    # NDCG@10 never sees that tie, NDCG@100 does.
    scores = [float(20 - i) for i in range(11)] + [10.0]
    t = pd.DataFrame(
        {
            "query_id": ["q"] * 12,
            "doc_id": [f"d{i:02d}" for i in range(12)],
            "relevance": [1] + [0] * 11,
            "score": scores,
        }
    )
    cutoffs = (1, 10, 100)
    at_ten = _evaluate(
        tmp_path / "ten",
        t,
        t["score"].to_numpy(),
        config=EvalConfig(n_bootstrap=20, ranking_cutoffs=cutoffs),
    )
    ranking = _report(at_ten, "ranking.json")
    assert (ranking["tie_k"], ranking["tie_share"]) == (10, 0.0)
    deep = _evaluate(
        tmp_path / "deep",
        t,
        t["score"].to_numpy(),
        config=EvalConfig(n_bootstrap=20, ranking_cutoffs=cutoffs, headline=("ndcg@100",)),
    )
    ranking = _report(deep, "ranking.json")
    assert (ranking["tie_k"], ranking["tie_share"]) == (100, 1.0)
