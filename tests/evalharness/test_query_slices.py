"""Query slices that read the queries' text: entity density (by a rule that knows when
capitals mean nothing) and rare or unseen terms, on cases whose answer is known."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from evalharness import EvalConfig, RunInfo
from evalharness.core.ranking import evaluate_ranking
from evalharness.slicing.entities import entity_shares
from modellab_ranking.collection import read_topics
from modellab_ranking.evaluator import query_vocabulary

VASWANI = Path(str(files("modellab_ranking.demo_data") / "vaswani"))
LTR = VASWANI.parent / "vaswani_ltr.csv"
CFG = EvalConfig(n_bootstrap=100, stress_n_bootstrap=10, randomization_n=100)


def test_capitals_count_only_where_the_queries_use_both_cases() -> None:
    cased, rule = entity_shares(
        ["What is the iPhone 12 battery life", "how do I reset my password", "NASA Mars missions"]
    )
    # "12"; nothing ("I" is a word, not a name); "NASA" and "Mars".
    assert cased.tolist() == pytest.approx([1 / 7, 0.0, 2 / 3])
    assert "acronyms" in rule
    upper, rule = entity_shares(["MEASUREMENT OF DIELECTRIC CONSTANT", "USE OF 3 PHASE FILTERS"])
    assert upper.tolist() == [0.0, 0.2]
    assert "one case" in rule


def _slices(out: Path) -> Any:
    return json.loads((out / "slices.json").read_text())


def test_queries_full_of_entities_are_the_weakest_slice_when_ranked_worst(
    tmp_path: Path,
) -> None:
    """Half the Vaswani queries get a part number; the scores rank those queries'
    documents upside down and the others' perfectly: the entity slices must be weakest."""
    t = pd.read_csv(LTR, dtype={"query_id": str, "doc_id": str})
    topics = read_topics(VASWANI / "query-text.trec")
    ids = sorted(t["query_id"].unique(), key=int)
    numbered = set(ids[::2])
    text = {q: f"{topics[q]} 4711" if q in numbered else topics[q] for q in ids}
    flip = t["query_id"].isin(numbered).to_numpy()
    rel = t["relevance"].to_numpy(dtype=np.float64)
    scores = np.where(flip, -rel, rel) + 1e-6 * t["bm25"].to_numpy()
    evaluate_ranking(
        tmp_path,
        t["query_id"],
        t["doc_id"],
        t["relevance"],
        scores,
        run=RunInfo("r", "vaswani", "1", "abc", "deadbeef"),
        config=CFG,
        query_text=text,
    )
    report = _slices(tmp_path)
    entity = [s for s in report["slices"] if s["family"] == "entity_density"]
    assert {s["id"] for s in entity} == {"entities:none", "entities:some"}
    weakest = report["ranking"][0]
    assert weakest == "entities:some"
    # The slice bars draw the ranking's order, the weakest marked worse than overall.
    import msgspec

    from evalharness.core.pipeline import slice_bars
    from evalharness.schemas.files import SlicesFile

    parsed = msgspec.json.decode((tmp_path / "slices.json").read_bytes(), type=SlicesFile)
    bars = slice_bars(parsed.slices, parsed.ranking, "ndcg@10", True)
    assert [b.id for b in bars] == [r for r in parsed.ranking if any(b.id == r for b in bars)]
    assert bars[0].id == "entities:some" and bars[0].worse and not bars[-1].worse
    assert (tmp_path / "plots" / "slices.png").is_file()
    assert "one case" in report["families"]["entity_density"]


def test_all_capital_queries_without_digits_say_they_have_no_entity_slice(
    tmp_path: Path,
) -> None:
    t = pd.read_csv(LTR, dtype={"query_id": str, "doc_id": str})
    topics = read_topics(VASWANI / "query-text.trec")
    evaluate_ranking(
        tmp_path,
        t["query_id"],
        t["doc_id"],
        t["relevance"],
        t["bm25"].to_numpy(),
        run=RunInfo("r", "vaswani", "1", "abc", "deadbeef"),
        config=CFG,
        query_text=topics,
    )
    report = _slices(tmp_path)
    says = report["families"]["entity_density"]
    assert "one case" in says and "no entity slice" in says
    assert not [s for s in report["slices"] if s["family"] == "entity_density"]


def test_rare_and_unseen_terms_are_counted_by_document_frequency() -> None:
    # 2,000 documents: a term is rare under 0.1% of them, i.e. in at most one.
    documents = {f"d{i}": "common words here" for i in range(2000)}
    documents["d0"] += " zeppelin"
    frame = query_vocabulary(
        {"q1": "common words", "q2": "common zeppelin", "q3": "zeppelin quasar words here"},
        documents,
    )
    assert frame["oov_share"].tolist() == [0.0, 0.0, 0.25]
    assert frame["rare_share"].tolist() == [0.0, 0.5, 0.25]
