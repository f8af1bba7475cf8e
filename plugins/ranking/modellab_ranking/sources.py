"""Retrieval collections as dataset versions: the source formats of the retrieval task.

A collection becomes a version whose rows are its judgments (``query_id``, ``doc_id``,
``relevance`` and the query's ``query`` text), split by query like any grouped task, with
the corpus and every query stored beside them as the ``documents`` and ``queries``
attachments. The profile states what the rows alone do not show: document and query
lengths, judgments and relevant documents per query, the grade distribution, queries
without a relevant document, and judged documents the corpus lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from modellab.datasets.profile import numeric_summaries, top_categories
from modellab.datasets.sources import SourceTables
from modellab.domain import (
    SourceCategories,
    SourceCount,
    SourceDistribution,
    SourceIds,
    SourceProfile,
)
from modellab_ranking import layouts
from modellab_ranking.bm25 import tokens
from modellab_ranking.collection import Collection
from modellab_ranking.plugin import COLLECTION_GROUP, COLLECTION_TARGET

#: ids listed per profile entry (the count is always complete)
LISTED_IDS = 50


def _sorted_ids(ids: set[str] | list[str]) -> list[str]:
    """Ids in numeric order when they are all numbers (TREC's usually are), else text."""
    values = list(ids)
    if all(v.isdigit() for v in values):
        return sorted(values, key=lambda v: (int(v), v))
    return sorted(values)


def _lengths(label: str, texts: list[str]) -> tuple[str, list[int]]:
    return label, [len(tokens(t)) for t in texts]


def collection_profile(collection: Collection) -> SourceProfile:
    """The profile of ``collection`` (ingest adds the format's name and description)."""
    judged = collection.qrels
    relevant = {q: sum(1 for v in docs.values() if v >= 1) for q, docs in judged.items()}
    no_relevant = [q for q, n in relevant.items() if n == 0]
    unjudged = sorted(collection.queries.keys() - judged.keys())
    missing = collection.judged_missing
    series = dict(
        [
            _lengths("document length (terms)", list(collection.documents.values())),
            _lengths("query length (terms)", list(collection.queries.values())),
            ("judgments per query", [len(d) for d in judged.values()]),
            ("relevant documents per query", list(relevant.values())),
        ]
    )
    # One frame per quantity: documents, queries and judged queries differ in number.
    summaries = {
        k: numeric_summaries(pl.DataFrame({k: pl.Series(v, dtype=pl.Float64)}), [k])[k]
        for k, v in series.items()
    }
    grades = pl.Series("grade", [str(v) for d in judged.values() for v in d.values()])
    n_judgments = grades.len()
    return SourceProfile(
        counts=[
            SourceCount("documents", len(collection.documents)),
            SourceCount("queries", len(collection.queries)),
            SourceCount("judged queries", len(judged)),
            SourceCount("judgments", n_judgments),
            SourceCount("relevant judgments (grade 1 or more)", sum(relevant.values())),
        ],
        distributions=[
            SourceDistribution(label, summary)
            for label, summary in summaries.items()
            if summary is not None
        ],
        categories=[SourceCategories("judgments per grade", top_categories(grades, k=32))],
        ids=[
            SourceIds(label, len(ids), _sorted_ids(ids)[:LISTED_IDS])
            for label, ids in (
                ("queries without a relevant document (they score 0)", no_relevant),
                ("judged documents missing from the corpus", missing),
                ("queries without judgments (not evaluated)", unjudged),
            )
        ],
    )


def collection_tables(
    collection: Collection,
    train_rows: int | None = None,
    notes: list[str] | None = None,
) -> SourceTables:
    """The version's rows, attachments and profile of ``collection``."""
    qids = [q for q, docs in collection.qrels.items() for _ in docs]
    table = pl.DataFrame(
        {
            COLLECTION_GROUP: qids,
            "doc_id": [d for docs in collection.qrels.values() for d in docs],
            COLLECTION_TARGET: pl.Series(
                [v for docs in collection.qrels.values() for v in docs.values()], dtype=pl.Int64
            ),
            "query": [collection.queries[q] for q in qids],
        }
    )
    warnings = list(notes or [])
    missing = collection.judged_missing
    if missing:
        warnings.append(
            f"{len(missing)} judged documents are missing from the corpus (e.g. "
            f"{missing[0]!r}); a system cannot retrieve them, so they lower every recall"
        )
    documents = pl.DataFrame(
        {"doc_id": list(collection.documents), "text": list(collection.documents.values())}
    )
    queries = pl.DataFrame(
        {"query_id": list(collection.queries), "text": list(collection.queries.values())}
    )
    return SourceTables(
        table=table,
        attachments={"documents": documents, "queries": queries},
        profile=collection_profile(collection),
        train_rows=train_rows,
        warnings=tuple(warnings),
    )


def read_trec(root: Path, files: Mapping[str, Path]) -> SourceTables:
    """A TREC folder (documents, topics, qrels) as a version's tables."""
    return collection_tables(layouts.read_trec(root, files))


def read_beir(root: Path, files: Mapping[str, Path]) -> SourceTables:
    """A BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv) as a version's tables."""
    collection, train_rows, notes = layouts.read_beir(root, files)
    return collection_tables(collection, train_rows, notes)


def read_tables(root: Path, files: Mapping[str, Path]) -> SourceTables:
    """A folder of documents, queries and qrels tables as a version's tables."""
    return collection_tables(layouts.read_tables(root, files))
