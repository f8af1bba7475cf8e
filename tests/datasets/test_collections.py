"""A retrieval collection (documents, queries, judgments) is a dataset version.

The ranking plugin's retrieval task type reads TREC, BEIR and table folders through
``TaskType.source_formats``; core stages, checksums, splits and stores them like any
table, with the documents and queries beside the rows. Counts are checked against the
files themselves, read here without the plugin.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import Env

VASWANI = Path(str(files("modellab_ranking.demo_data") / "vaswani"))
ADD = ("dataset", "add", "-p", "p", "-n", "coll")


def _shown(ml: Env, ref: str = "p/coll@1") -> Any:
    return ml.json("dataset", "show", ref)


def _source(version: Any) -> Any:
    return version["profile"]["source"]


def _counts(source: Any) -> dict[str, int]:
    return {c["label"]: c["value"] for c in source["counts"]} | {
        i["label"]: i["count"] for i in source["ids"]
    }


def test_the_vaswani_trec_collection_is_a_version_split_by_query(ml: Env) -> None:
    added = ml.json(*ADD, str(VASWANI))
    assert (added["task"], added["target"]) == ("retrieval", "relevance")
    assert added["split"]["strategy"] == "group"
    qrels = [line.split() for line in (VASWANI / "qrels").read_text().splitlines() if line.strip()]
    assert added["rows"] == len(qrels) == 2083
    version = _shown(ml)
    source = _source(version)
    assert (source["format"], source["attachments"]) == ("trec", ["documents", "queries"])
    assert version["provenance"]["format"] == "trec"
    docs = re.findall(r"<DOCNO>\s*(\S+?)\s*</DOCNO>", (VASWANI / "doc-text.trec").read_text())
    topics = re.findall(r"<num>\s*(\S+?)\s*</num>", (VASWANI / "query-text.trec").read_text())
    counts = _counts(source)
    assert counts["documents"] == len(docs) == 11429
    assert counts["queries"] == len(topics) == 93
    assert counts["judgments"] == len(qrels)
    assert counts["judged documents missing from the corpus"] == 0
    per_query = next(d for d in source["distributions"] if d["label"] == "judgments per query")
    by_query: dict[str, int] = {}
    for q, *_ in qrels:
        by_query[q] = by_query.get(q, 0) + 1
    assert per_query["summary"]["max"] == max(by_query.values())
    assert per_query["summary"]["mean"] == pytest.approx(len(qrels) / len(by_query), abs=1e-3)
    folder = ml.artifacts / "p" / "datasets" / added["checksum"] / "attachments"
    stored = pl.read_parquet(folder / "documents.parquet")
    assert stored.height == len(docs) and stored["doc_id"].to_list() == docs
    assert pl.read_parquet(folder / "queries.parquet").height == 93
    # The split keeps every query on one side.
    schema = {c["name"]: c["role"] for c in version["schema"]}
    assert schema == {
        "query_id": "group",
        "doc_id": "item",
        "relevance": "target",
        "query": "feature",
    }
    again = ml.json(*ADD, str(VASWANI))
    assert (again["created"], again["checksum"]) == (False, added["checksum"])


def _beir(
    folder: Path, *, qrels: dict[str, str], corpus: list[dict[str, str]] | None = None
) -> Path:
    folder.mkdir()
    docs = corpus or [
        {"_id": f"d{i}", "title": f"title {i}", "text": f"text about topic {i % 3}"}
        for i in range(12)
    ]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    queries = [{"_id": f"q{i}", "text": f"topic {i % 3} question"} for i in range(8)]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels").mkdir()
    for name, text in qrels.items():
        (folder / "qrels" / name).write_text("query-id\tcorpus-id\tscore\n" + text)
    (folder / "README.md").write_text("notes beside the data are ignored\n")
    return folder


def test_a_beir_folder_keeps_its_own_split_and_profiles_what_is_odd(
    ml: Env, tmp_path: Path
) -> None:
    train = "".join(f"q{q}\td{d}\t{(q + d) % 3}\n" for q in range(5) for d in range(3))
    # q5 has no relevant document; q6 judges d99, which the corpus lacks; q7 is unjudged.
    test = "q5\td1\t0\nq5\td2\t0\nq6\td4\t2\nq6\td99\t1\n"
    folder = _beir(
        tmp_path / "beir",
        qrels={"train.tsv": train, "test.tsv": test, "dev.tsv": "q0\td1\t1\n"},
    )
    added = ml.json(*ADD, str(folder))
    assert added["split"]["strategy"] == "predefined"
    assert (added["split"]["train_rows"], added["split"]["test_rows"]) == (15, 4)
    assert any("d99" in w and "missing from the corpus" in w for w in added["warnings"])
    assert any("dev.tsv: dev judgments are left out" in w for w in added["warnings"])
    source = _source(_shown(ml))
    ids = {i["label"]: i["ids"] for i in source["ids"]}
    assert ids["queries without a relevant document (they score 0)"] == ["q5"]
    assert ids["judged documents missing from the corpus"] == ["d99"]
    assert ids["queries without judgments (not evaluated)"] == ["q7"]
    grades = {c["value"]: c["count"] for c in source["categories"][0]["counts"]}
    expected = [(q + d) % 3 for q in range(5) for d in range(3)] + [0, 0, 2, 1]
    assert grades == {str(g): expected.count(g) for g in set(expected)}


def test_a_folder_of_tables_is_a_collection(ml: Env, tmp_path: Path) -> None:
    folder = tmp_path / "tables"
    folder.mkdir()
    pl.DataFrame({"doc_id": ["a", "b", "c"], "text": ["x y", "y z", "z"]}).write_parquet(
        folder / "documents.parquet"
    )
    (folder / "queries.csv").write_text(
        "query_id,text\n" + "".join(f"{q},word {q}\n" for q in range(10))
    )
    (folder / "qrels.tsv").write_text(
        "query_id\tdoc_id\trelevance\n" + "".join(f"{q}\ta\t1\n{q}\tb\t0\n" for q in range(10))
    )
    added = ml.json(*ADD, str(folder))
    assert (added["task"], added["rows"]) == ("retrieval", 20)
    source = _source(_shown(ml))
    assert source["format"] == "tables"
    assert _counts(source)["documents"] == 3


def _trec(folder: Path, *, docs: str, topics: str, qrels: str) -> Path:
    folder.mkdir()
    (folder / "docs.trec").write_text(docs)
    (folder / "topics.txt").write_text(topics)
    (folder / "qrels").write_text(qrels)
    return folder


DOCS = "".join(f"<DOC>\n<DOCNO>{i}</DOCNO>\ntext {i}\n</DOC>\n" for i in range(4))
TOPICS = "".join(f"<top>\n<num>{q}</num>\n<title>query {q}</title>\n</top>\n" for q in range(6))
QRELS = "".join(f"{q} 0 {q % 4} 1\n" for q in range(6))


@pytest.mark.parametrize(
    ("what", "docs", "topics", "qrels", "expected"),
    [
        (
            "a qrels line with 3 fields",
            DOCS,
            TOPICS,
            QRELS + "7 0 1\n",
            "qrels, line 7: a qrels line has 4 fields (qid iter docno rel), this one has 3",
        ),
        (
            "a duplicate document id",
            DOCS + "<DOC>\n<DOCNO>2</DOCNO>\nagain\n</DOC>\n",
            TOPICS,
            QRELS,
            "docs.trec, line 17: DOCNO '2' appears a second time",
        ),
        (
            "a judgment for an unknown query",
            DOCS,
            TOPICS,
            QRELS + "42 0 1 1\n",
            "qrels: judgments for 1 query that topics.txt does not hold, e.g. '42'",
        ),
    ],
)
def test_a_broken_trec_collection_is_refused_naming_the_file_and_line(
    ml: Env, tmp_path: Path, what: str, docs: str, topics: str, qrels: str, expected: str
) -> None:
    folder = _trec(tmp_path / "trec", docs=docs, topics=topics, qrels=qrels)
    out = ml.run(*ADD, str(folder), ok=False)
    assert out.exit_code != 0, what
    assert str(folder) in out.output and expected in out.output, out.output
    assert "Traceback" not in out.output and "internal error" not in out.output
    assert ml.stored_files() == []
    assert ml.json("dataset", "list", "p") == []


def test_broken_beir_and_table_collections_are_refused_naming_the_line(
    ml: Env, tmp_path: Path
) -> None:
    folder = _beir(tmp_path / "beir", qrels={"test.tsv": "q0\td1\t1\nq1\td2\n"})
    out = ml.run(*ADD, str(folder), ok=False)
    assert "test.tsv, line 3: a qrels line has 3 tab-separated fields" in out.output
    (folder / "qrels" / "test.tsv").write_text("q0\td1\t1\n")
    with (folder / "corpus.jsonl").open("a") as fh:
        fh.write("{not json\n")
    out = ml.run(*ADD, str(folder), ok=False)
    assert "corpus.jsonl, line 13: not a JSON object" in out.output
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "documents.csv").write_text("doc_id,text\na,x\nb,y\na,z\n")
    (tables / "queries.csv").write_text("query_id,text\n1,x\n")
    (tables / "qrels.csv").write_text("query_id,doc_id,relevance\n1,a,1\n")
    out = ml.run(*ADD, str(tables), ok=False)
    assert "documents.csv, data row 3: doc_id 'a' appears a second time" in out.output
    assert ml.stored_files() == []


def test_flags_that_contradict_a_collection_are_refused(ml: Env) -> None:
    out = ml.run(*ADD, "--target", "grade", str(VASWANI), ok=False)
    assert "a TREC collection (documents, topics, qrels) folder's target is 'relevance'" in (
        out.output
    )
    out = ml.run(*ADD, "--split", "stratified", str(VASWANI), ok=False)
    assert "is split by 'query_id'" in out.output
    assert ml.stored_files() == []


def test_a_table_without_a_target_asks_for_one(ml: Env, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    out = ml.run(*ADD, str(path), ok=False)
    assert "name the column to predict with --target; columns are: a, b" in out.output


def test_item_and_group_columns_with_many_values_are_no_warning(ml: Env) -> None:
    added = ml.json(*ADD, str(VASWANI))
    assert not [w for w in added["warnings"] if "distinct values" in w], added["warnings"]
