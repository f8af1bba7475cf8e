"""The learning-to-rank candidates table: the shipped Vaswani CSV is reproducible, has the
promised shape and order, and its features agree with independent references."""

from __future__ import annotations

import math
from importlib.resources import files
from pathlib import Path

import polars as pl
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from modellab_ranking.bm25 import BM25, tokens
from modellab_ranking.candidates import COLUMNS, FEATURES, candidate_table, main
from modellab_ranking.collection import Collection, read_collection

DEMO = Path(str(files("modellab_ranking.demo_data")))
SHIPPED = DEMO / "vaswani_ltr.csv"
IDS = {"query_id": pl.String, "doc_id": pl.String}


@pytest.fixture(scope="module")
def vaswani() -> Collection:
    folder = DEMO / "vaswani"
    return read_collection(folder / "doc-text.trec", folder / "query-text.trec", folder / "qrels")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The table made again, by the command that made the shipped one."""
    out = tmp_path_factory.mktemp("ltr") / "vaswani_ltr.csv"
    main([str(out)])
    return out


@pytest.fixture(scope="module")
def table(regenerated: Path) -> pl.DataFrame:
    return pl.read_csv(regenerated, schema_overrides=IDS)


def test_the_shipped_csv_is_what_the_command_makes(regenerated: Path) -> None:
    assert regenerated.read_bytes() == SHIPPED.read_bytes()
    assert b"\r" not in SHIPPED.read_bytes()


def test_shape_and_labels(table: pl.DataFrame, vaswani: Collection) -> None:
    assert tuple(table.columns) == COLUMNS
    assert table["relevance"].dtype == pl.Int64
    assert all(table[name].dtype == pl.Float64 for name in FEATURES)
    per_query = table.group_by("query_id").len()
    assert per_query.height == 93 and per_query["len"].max() <= 100  # type: ignore[operator]
    assert table.select("query_id", "doc_id").is_duplicated().sum() == 0
    assert table["query_id"].to_list() == sorted(table["query_id"].to_list())
    for qid, doc, label in table.select("query_id", "doc_id", "relevance").iter_rows():
        assert label == vaswani.qrels.get(qid, {}).get(doc, 0), (qid, doc)
    assert table["relevance"].sum() > 0


def test_rows_follow_bm25_order_with_trec_eval_ties(
    table: pl.DataFrame, vaswani: Collection
) -> None:
    index = BM25(vaswani.documents)
    for (qid,), rows in table.group_by("query_id", maintain_order=True):
        hits = index.search(vaswani.queries[str(qid)], 100)
        assert rows["bm25"].to_list() == [round(s, 6) for s in hits.values()], qid
        # Same documents; score ties broken by doc id, descending, as trec_eval does.
        expected = sorted(hits, key=lambda d: (round(hits[d], 6), d), reverse=True)
        assert rows["doc_id"].to_list() == expected, qid


TINY = Collection(
    documents={
        "d1": "The cat sat on the mat.",
        "d2": "The dog sat; the dog ran.",
        "d3": "Cats and dogs.",
        "d4": "A cat, a bird, a cat-flap.",
    },
    # "10" sorts before "9" as a string; "fish" is in no document
    queries={"9": "cat dog fish cat", "10": "sat on the dog"},
    qrels={"9": {"d4": 2, "d1": 0}, "10": {"d2": 1}},
)


def test_features_against_independent_references() -> None:
    got = candidate_table(TINY)
    # by query id as strings, then score (worked out by hand from k1 = 0.9, b = 0.4)
    assert got.select("query_id", "doc_id").rows() == [
        ("10", "d2"),
        ("10", "d1"),
        ("9", "d4"),
        ("9", "d2"),
        ("9", "d1"),
    ]
    # TF-IDF cosine: scikit-learn with our tokens and its defaults (smooth idf, l2 norm)
    ids = sorted(TINY.documents)
    vectorizer = TfidfVectorizer(analyzer=tokens)
    matrix = vectorizer.fit_transform([TINY.documents[d] for d in ids])
    # BM25's (Lucene's) idf with N = 4: df 1 -> ln(1 + 3.5 / 1.5), df 2 -> ln 2
    ln2, rare = math.log(2), math.log1p(3.5 / 1.5)
    # (doc_length, query_length, term_overlap, matched_idf, max_term_tf, relevance)
    hand = {
        ("9", "d1"): (6, 4, 1 / 3, ln2, 1, 0),  # cat
        ("9", "d2"): (6, 4, 1 / 3, rare, 2, 0),  # dog x2
        ("9", "d4"): (7, 4, 1 / 3, ln2, 2, 2),  # cat x2
        ("10", "d1"): (6, 4, 3 / 4, ln2 + rare + ln2, 2, 0),  # sat, on, the x2
        ("10", "d2"): (6, 4, 3 / 4, ln2 + rare + ln2, 2, 1),  # sat, dog x2, the x2
    }
    assert len(got) == len(hand)
    for row in got.iter_rows(named=True):
        key = (row["query_id"], row["doc_id"])
        query = vectorizer.transform([TINY.queries[key[0]]])
        cosine = cosine_similarity(query, matrix[ids.index(key[1])])[0, 0]
        assert row["tfidf_cosine"] == pytest.approx(cosine, abs=1e-6), key
        doc_length, query_length, overlap, matched, max_tf, label = hand[key]
        assert row["doc_length"] == doc_length, key
        assert row["query_length"] == query_length, key
        assert row["term_overlap"] == pytest.approx(overlap, abs=1e-6), key
        assert row["matched_idf"] == pytest.approx(matched, abs=1e-6), key
        assert row["max_term_tf"] == max_tf, key
        assert row["relevance"] == label, key
