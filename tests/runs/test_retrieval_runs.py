"""Retrieval runs on the Vaswani collection: BM25 and a dense retriever search the whole
corpus, the report ranks what they retrieved against the judgments (pytrec-eval gives the
same numbers from the run's own predictions table), the two compare query by query, a
pack reproduces, and an outside TREC run evaluates as a tracked run (that reruns give
byte-identical folders is test_eval_hashes' business)."""

from __future__ import annotations

import hashlib
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import pytrec_eval

from evalharness.formats.trec import read_qrels
from tests.conftest import Env

VASWANI = Path(str(files("modellab_ranking.demo_data") / "vaswani"))
SETTINGS = ("--eval", "ranking_cutoffs=1,5,10,100", "--eval", "randomization_n=1000")


def _eval(ml: Env, run: Any, name: str) -> Any:
    return json.loads((ml.artifacts / "p" / run["id"] / "eval" / name).read_text())


@pytest.fixture(scope="module")
def retrieved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Env, Any, Any]:
    from click.testing import CliRunner

    from modellab.cli import cli

    root = tmp_path_factory.mktemp("retrieval")
    env = {
        "MODELLAB_HOME": str(root / "home"),
        "MODELLAB_ARTIFACT_ROOT": str(root / "artifacts"),
        "MODELLAB_DATABASE_URL": "",
    }
    ml = Env(root / "home", root / "artifacts", env)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        assert CliRunner().invoke(cli, ["project", "create", "p"], env=env).exit_code == 0
        ml.run("dataset", "add", "-p", "p", "-n", "npl", "--test-size", "0.5", str(VASWANI))
        runs = ml.train(
            "npl", "dense_tfidf_svd_hnsw", "--with-baseline", *SETTINGS, template="retrieval"
        )
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"], runs
    base, cand = runs
    assert (base["model"], cand["model"]) == ("bm25", "dense_tfidf_svd_hnsw")
    return ml, base, cand


def test_the_report_is_pytrec_evals_on_what_the_run_retrieved(
    retrieved: tuple[Env, Any, Any],
) -> None:
    ml, base, _ = retrieved
    table = pl.read_parquet(ml.artifacts / "p" / base["id"] / "predictions.parquet")
    test_queries = set(table["unit_id"].to_list())
    qrels = {q: docs for q, docs in read_qrels(VASWANI / "qrels").items() if q in test_queries}
    n_test = ml.json("dataset", "show", "p/npl@1")["split"]["test"]["groups"]
    assert len(qrels) == len(test_queries) == n_test
    run: dict[str, dict[str, float]] = {q: {} for q in qrels}
    for q, d, score in (
        table.filter(pl.col("prediction").is_not_null())
        .select("unit_id", "item_id", "prediction")
        .iter_rows()
    ):
        run[q][d] = score
    # Every judged document is in the table, retrieved or not.
    judged = table.filter(pl.col("truth").is_not_null())
    assert judged.height == sum(len(d) for d in qrels.values())
    ref = pytrec_eval.RelevanceEvaluator(
        qrels, {"map", "ndcg_cut_10", "P_5", "recall_100", "recip_rank"}
    ).evaluate(run)
    ranking = _eval(ml, base, "ranking.json")
    per_query = {r["query_id"]: r["metrics"] for r in ranking["per_query"]}
    for ours, theirs in [
        ("map", "map"),
        ("ndcg@10", "ndcg_cut_10"),
        ("precision@5", "P_5"),
        ("recall@100", "recall_100"),
        ("mrr@100", "recip_rank"),  # depth 100: no rank is cut off
    ]:
        for q in qrels:
            assert per_query[q][ours] == pytest.approx(ref[q][theirs], abs=1e-12), (ours, q)
    assert ranking["num_q"] == n_test
    summary = _eval(ml, base, "eval_summary.json")
    assert summary["n_examples"] == n_test


def test_slices_and_failures_speak_of_queries_and_documents(
    retrieved: tuple[Env, Any, Any],
) -> None:
    ml, _, cand = retrieved
    families = {s["family"] for s in _eval(ml, cand, "slices.json")["slices"]}
    assert {"relevant_documents", "query_length"} <= families
    failures = _eval(ml, cand, "failure_examples.json")["examples"]
    assert failures, "the worst queries are listed"
    first = failures[0]["input_summary"]
    assert first["query"] and first["rank_1"].count("(score ") == 1
    assert ":" in first["rank_1"]  # the document's text follows its id


def test_bm25_and_the_dense_retriever_compare_query_by_query(
    retrieved: tuple[Env, Any, Any],
) -> None:
    ml, base, cand = retrieved
    doc = ml.json("compare", base["id"], cand["id"])
    n_test = ml.json("dataset", "show", "p/npl@1")["split"]["test"]["groups"]
    assert doc["paired_bootstrap"]["rows"] == n_test
    test = doc["paired_test"]
    assert (test["metric"], test["units"], test["n"]) == ("ndcg@10", "queries", n_test)
    ranking = _eval(ml, cand, "ranking.json")
    assert ranking["randomization"]["p_value"] == test["p_value"]
    metrics = _eval(ml, cand, "metrics.json")
    for name, est in metrics["deltas"].items():
        paired = next(m for m in doc["metrics"] if m["metric"] == name)["paired"]
        assert paired["ci_low"] == est["ci_low"], name


def test_a_retrieval_pack_reproduces(retrieved: tuple[Env, Any, Any], tmp_path: Path) -> None:
    # BM25's pack: the collection folder travels in it and is read again on the way back.
    ml, cand, _ = retrieved
    pack = tmp_path / "retrieval.tar.gz"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ml.env.items():
            mp.setenv(key, value)
        ml.run("repro", "export", cand["id"], "-o", str(pack))
        result = ml.run("reproduce", str(pack))
    assert result.stdout.startswith("REPRODUCED"), result.stdout


def _trec_run(table: pl.DataFrame, path: Path, extra: str = "") -> Path:
    """A TREC run file of a predictions table's retrieved rows; the rank column counts
    up from the worst document, which trec_eval (and ModelLab) ignore."""
    rows = table.filter(pl.col("prediction").is_not_null()).sort("unit_id", "prediction")
    lines = [
        f"{q} Q0 {d} {i} {s!r} rankforge"
        for i, (q, d, s) in enumerate(rows.select("unit_id", "item_id", "prediction").iter_rows())
    ]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def test_an_outside_trec_run_is_a_tracked_run_with_the_same_numbers(
    retrieved: tuple[Env, Any, Any], tmp_path: Path
) -> None:
    ml, base, _ = retrieved
    table = pl.read_parquet(ml.artifacts / "p" / base["id"] / "predictions.parquet")
    # BM25's own documents as RankForge would send them, plus a query of the train split.
    train_query = "1" if "1" not in set(table["unit_id"].to_list()) else "2"
    run_file = _trec_run(table, tmp_path / "bm25.run", f"{train_query} Q0 42 1 3.5 rankforge\n")
    args = ("evaluate-file", "-p", "p", "-d", "npl@1", "-n", "rankforge", "--seed", "3")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ml.env.items():
            mp.setenv(key, value)
        before = len(ml.json("runs", "--project", "p"))
        broken = tmp_path / "broken.run"
        broken.write_text("1 Q0 5 1 2.0 x\n1 Q0 5 2 1.0 x\n")
        out = ml.run(*args, "--commit", "abc", str(broken), ok=False)
        assert "line 2: query 1 lists document 5 twice" in out.output, out.output
        assert "Traceback" not in out.output
        assert len(ml.json("runs", "--project", "p")) == before  # refused before any run
        done = ml.json(*args, "--commit", "abc", str(run_file))
    assert done["status"] == "succeeded" and done["template"] == "external"
    assert (done["outside_test"], done["units"]) == (1, table["unit_id"].n_unique() + 1)
    ours = _eval(ml, done, "metrics.json")
    theirs = _eval(ml, base, "metrics.json")
    for name, value in theirs["metrics"].items():
        assert ours["metrics"][name] == value, name
    assert all(d["value"] == 0.0 for d in ours["deltas"].values())  # against BM25 itself
    stored = ml.artifacts / "p" / done["id"] / "files" / "bm25.run"
    assert stored.read_bytes() == run_file.read_bytes()
    recorded = json.loads((stored.parents[1] / "run.json").read_text())["run"]["config"]
    assert recorded == {
        "file": "bm25.run",
        "sha256": hashlib.sha256(run_file.read_bytes()).hexdigest(),
    }


def test_stress_searches_the_corpus_again_and_says_what_a_retriever_lacks(
    retrieved: tuple[Env, Any, Any],
) -> None:
    ml, base, cand = retrieved
    scenarios = {"query_typos", "dropped_terms", "missing_document_text", "embedding_noise"}
    for run, lacks in ((cand, set()), (base, {"embedding_noise"})):
        stress = _eval(ml, run, "stress.json")
        rows = [r for r in stress["rows"] if r["model"] == "candidate"]
        assert {r["scenario"] for r in rows} == scenarios
        for r in rows:
            if r["scenario"] in lacks:
                assert r["status"] == "skipped: the retriever has no embeddings", r
                continue
            assert r["status"] == "ok", r
            assert r["ci_low"] <= r["value"] <= r["ci_high"]
        # Half of every query's words misspelt or dropped, half the corpus blank: worse.
        for scenario in scenarios - {"embedding_noise"}:
            worst = max((r for r in rows if r["scenario"] == scenario), key=lambda r: r["severity"])
            assert worst["degradation"] < 0, worst


def test_the_index_sweep_measures_recall_against_exact_search(
    retrieved: tuple[Env, Any, Any],
) -> None:
    import numpy as np

    from modellab_ranking.collection import read_topics
    from modellab_ranking.retrievers import load_dense

    ml, base, cand = retrieved
    assert _eval(ml, base, "ranking.json")["index_sweep"] == []  # BM25 has no ANN index
    ranking = _eval(ml, cand, "ranking.json")
    sweep = {p["label"]: p for p in ranking["index_sweep"]}
    assert {"hnsw efSearch=16", "hnsw efSearch=256", "hnsw M=8", "ivf nprobe=1"} <= set(sweep)
    deployed = [p for p in sweep.values() if p["deployed"]]
    assert {p["label"] for p in deployed} == {"hnsw efSearch=256", "hnsw M=32"}
    clean = _eval(ml, cand, "metrics.json")["metrics"]["ndcg@10"]
    for p in deployed:
        assert p["metric_value"] == pytest.approx(clean, abs=1e-12) and p["degradation"] == 0
    # Independent reference: exact top 10 by numpy over the stored document embeddings,
    # against the deployed index's top 10 in the run's own predictions table.
    folder = ml.artifacts / "p" / cand["id"]
    model = load_dense(folder / "model")
    table = pl.read_parquet(folder / "predictions.parquet").filter(
        pl.col("prediction").is_not_null()
    )
    vectors = model.index.reconstruct_n(0, model.index.ntotal)
    texts = read_topics(VASWANI / "query-text.trec")
    overlaps = []
    for q, rows in table.group_by("unit_id"):
        qid = str(q[0])
        top = rows.sort(["prediction", "item_id"], descending=True)["item_id"].head(10).to_list()
        sims = vectors @ model.embed([texts[qid]])[0]
        order = np.lexsort((np.array(model.ids), -sims))[:10]
        exact = {model.ids[j] for j in order}
        overlaps.append(len(exact & set(top)) / 10)
    assert sweep["hnsw efSearch=256"]["recall_vs_exact"] == pytest.approx(np.mean(overlaps))
    # Verdicts known in advance: more IVF cells probed never loses a true neighbour, and
    # a wider HNSW search list finds at least as many on these queries.
    ivf = sorted((p for p in sweep.values() if p["family"] == "ivf"), key=lambda p: p["value"])
    recalls = [p["recall_vs_exact"] for p in ivf]
    assert recalls == sorted(recalls) and recalls[0] < recalls[-1]
    assert (
        sweep["hnsw efSearch=16"]["recall_vs_exact"]
        <= sweep["hnsw efSearch=256"]["recall_vs_exact"]
    )
    assert (folder / "eval" / "plots" / "index_sweep.png").is_file()
    # Each setting's latency, and the stages, are timed beside eval/, not in it.
    lat = json.loads((folder / "latency.json").read_text())
    names = {p["name"] for p in lat["parts"]}
    assert {"embed queries", "search index", "index hnsw efSearch=16"} <= names
    assert lat["batch_unit"] == "queries"
    # One point per setting of the sweep in the recall-latency plot, beside latency.json.
    from modellab.runs.latency import index_tradeoff, read_index_sweep

    points = index_tradeoff(read_index_sweep(folder / "eval"), lat)
    assert sorted(
        f"{p.series.split()[0]} {p.series.split()[1]}={p.value}" for p in points
    ) == sorted(sweep)
    assert all(p.p50_ms > 0 and p.recall[1] <= p.recall[0] <= p.recall[2] for p in points)
    assert lat["tradeoff_plot"] == "recall_latency.png"
    assert (folder / "recall_latency.png").read_bytes()[:4] == b"\x89PNG"
    assert "tradeoff_plot" not in json.loads(
        (ml.artifacts / "p" / base["id"] / "latency.json").read_text()
    )
