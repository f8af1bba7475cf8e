"""The ranking plugin keeps every hook contract of the plugin test kit.

Its three learning-to-rank models are fitted, saved and loaded back (the loaded model
scores the same) and run end to end on the Vaswani candidates table, split by query;
the single-feature baseline and XGBRanker run twice for byte-identical reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

import modellab_ranking.plugin
from modellab.testing.check import ContractReport

LTR = files("modellab_ranking.demo_data") / "vaswani_ltr.csv"


@pytest.fixture
def modellab_plugin() -> ModuleType:
    return modellab_ranking.plugin


def test_the_ranking_plugin_keeps_every_contract(
    modellab_contract: Callable[..., ContractReport],
) -> None:
    # The document id is not a feature; the kit's ingest takes no roles, so it goes.
    table = pd.read_csv(str(LTR), dtype={"query_id": str, "doc_id": str}).drop(columns="doc_id")
    report = modellab_contract(
        data=table,
        target="relevance",
        task="ranking",
        group_column="query_id",
        twice=("single_feature", "xgb_ranker"),
        n_bootstrap=10,
    )
    assert (report.plugin, report.task) == ("ranking", "ranking")
    assert report.variants == (
        "learning-to-rank/linear",
        "learning-to-rank/single_feature",
        "learning-to-rank/xgb_ranker",
    )
    assert report.slicers == ()
    assert [r.status for r in report.runs] == ["succeeded"] * 5


def _small_collection(folder: Path) -> Path:
    """A BEIR folder cut from Vaswani: 40 judged queries and 1,000 documents (every one
    they judge and the first others by id), small enough for the whole contract."""
    from modellab_ranking.collection import read_documents, read_topics

    vaswani = Path(str(files("modellab_ranking.demo_data") / "vaswani"))
    judged: dict[str, dict[str, int]] = {}
    for line in (vaswani / "qrels").read_text().splitlines():
        q, _, d, rel = line.split()
        judged.setdefault(q, {})[d] = int(rel)
    queries = sorted(judged, key=int)[:40]
    documents = read_documents(vaswani / "doc-text.trec")
    wanted = {d for q in queries for d in judged[q]}
    wanted |= set(sorted(set(documents) - wanted, key=int)[: 1000 - len(wanted)])
    topics = read_topics(vaswani / "query-text.trec")
    folder.mkdir()
    (folder / "corpus.jsonl").write_text(
        "".join(
            json.dumps({"_id": d, "text": documents[d]}) + "\n" for d in sorted(wanted, key=int)
        )
    )
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": topics[q]}) + "\n" for q in queries)
    )
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n"
        + "".join(f"{q}\t{d}\t{r}\n" for q in queries for d, r in sorted(judged[q].items()))
    )
    return folder


def test_the_retrieval_template_keeps_every_contract_on_a_collection_folder(
    modellab_contract: Callable[..., ContractReport], tmp_path: Path
) -> None:
    """A collection folder is data for the kit as for ``modellab dataset add``: its format
    implies the target, task and a split by query."""
    report = modellab_contract(
        data=_small_collection(tmp_path / "npl-small"),
        target="",
        # Byte-identical reruns of these three models are test_eval_hashes' business.
        twice=(),
        n_bootstrap=10,
    )
    assert report.task == "retrieval"
    assert report.variants == (
        "retrieval/bm25",
        "retrieval/bm25_xgb_rerank",
        "retrieval/dense_tfidf_svd_hnsw",
    )
    assert [r.status for r in report.runs] == ["succeeded"] * 3
    sweep = json.loads((report.runs[-1].eval_dir / "ranking.json").read_text())["index_sweep"]
    assert sweep and all(p["recall_vs_exact"] is not None for p in sweep)


def test_a_retriever_that_names_a_document_twice_breaks_the_contract() -> None:
    """The kit's predictions check for a retrieving task: units and items named, every
    unit a test query, no document twice for a query (as a TREC run file is refused)."""
    import dataclasses

    import numpy as np

    from modellab.tasks import GROUP, ITEM, TaskPredictions
    from modellab.testing.contracts import ContractError, check_predictions
    from modellab_ranking.plugin import register_task_types

    test = pd.DataFrame({GROUP: ["1", "1", "2"], ITEM: ["a", "b", "a"]})

    def answering(got: TaskPredictions) -> object:
        (retrieval,) = (t for t in register_task_types() if t.retrieves)
        return dataclasses.replace(retrieval, predict=lambda model, frame: got)

    good = TaskPredictions(np.array([3.0, 2.0, 1.0]), units=["1", "1", "2"], items=["c", "a", "b"])
    assert check_predictions(answering(good), object(), test) is good  # type: ignore[arg-type]
    for got, problem in (
        (TaskPredictions(np.array([1.0, 2.0])), "must name units and items"),
        (
            TaskPredictions(np.array([1.0, 2.0]), units=["1", "1"], items=["c", "c"]),
            "retrieved item 'c' twice for unit '1'",
        ),
        (
            TaskPredictions(np.array([1.0]), units=["9"], items=["c"]),
            r"units not in the test rows: \['9'\]",
        ),
        (
            TaskPredictions(np.array([1.0, 2.0]), units=["1"], items=["c", "d"]),
            "2 predictions, 1 units and 2 items",
        ),
    ):
        with pytest.raises(ContractError, match=problem):
            check_predictions(answering(got), object(), test)  # type: ignore[arg-type]
