"""A learning-to-rank candidates table: BM25's top documents per query, with features.

One row per (query, document) that BM25 retrieves, the qrels label as a graded target and
numeric features computed from the text alone (the same :func:`~modellab_ranking.bm25.tokens`
as BM25, no learned embeddings), so a ``learning-to-rank`` task can re-rank the baseline.

Regenerate the shipped Vaswani table with::

    python -m modellab_ranking.candidates plugins/ranking/modellab_ranking/demo_data/vaswani_ltr.csv
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path

import numpy as np
import polars as pl
from scipy import sparse

from modellab_ranking.bm25 import BM25, tokens
from modellab_ranking.collection import Collection, read_collection

#: the feature columns, in table order
FEATURES = (
    "bm25",
    "tfidf_cosine",
    "doc_length",
    "query_length",
    "term_overlap",
    "matched_idf",
    "max_term_tf",
)
#: every column, in table order
COLUMNS = ("query_id", "doc_id", "relevance", *FEATURES)
#: decimals features keep, so the CSV bytes do not depend on the last bits of a float
DECIMALS = 6


def _term_counts(index: BM25, documents: Mapping[str, str]) -> sparse.csr_matrix:
    """Raw term frequencies, a row per document in ``index.ids`` order and a column per
    term of ``index.vocab``."""
    rows: list[int] = []
    cols: list[int] = []
    counts: list[int] = []
    for i, doc in enumerate(index.ids):
        for term, count in sorted(Counter(tokens(documents[doc])).items()):
            rows.append(i)
            cols.append(index.vocab[term])
            counts.append(count)
    return sparse.csr_matrix(
        (np.asarray(counts, dtype=np.float64), (rows, cols)),
        shape=(len(index.ids), len(index.vocab)),
    )


def _tfidf_idf(tf: sparse.csr_matrix) -> np.ndarray:
    """scikit-learn's smoothed idf, ``ln((1 + N) / (1 + df)) + 1`` (``smooth_idf=True``),
    so the cosine is the one ``TfidfVectorizer`` with its defaults would give."""
    n = tf.shape[0]
    df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float64)
    idf: np.ndarray = np.log((1.0 + n) / (1.0 + df)) + 1.0
    return idf


def candidate_table(collection: Collection, depth: int = 100) -> pl.DataFrame:
    """BM25's top ``depth`` documents for every query of ``collection``, one row each.

    Rows are sorted by query id, then BM25 score descending, then document id descending,
    the order trec_eval ranks a run in (it breaks score ties by docno, descending), on the
    rounded score the table holds so the file is consistent with its own ``bm25`` column.
    Ids compare as strings. ``relevance`` is the qrels label, 0 for a document the query
    has no judgment of. Features, as floats rounded to :data:`DECIMALS` decimals:

    - ``bm25``: the BM25 score;
    - ``tfidf_cosine``: cosine of the query's and the document's TF-IDF vectors (raw
      counts, idf ``ln((1 + N) / (1 + df)) + 1`` over the documents, as scikit-learn's
      ``TfidfVectorizer`` defaults; query terms no document holds are left out);
    - ``doc_length`` and ``query_length``: tokens in the document and in the query;
    - ``term_overlap``: the share of the query's distinct terms the document holds;
    - ``matched_idf``: the sum of BM25's idf over the distinct query terms it holds;
    - ``max_term_tf``: the largest frequency in the document of a query term.

    Queries BM25 retrieves nothing for have no rows.
    """
    return CandidateFeatures(collection.documents).table(
        collection.queries, collection.qrels, depth
    )


class CandidateFeatures:
    """The corpus-level parts of :func:`candidate_table` (the BM25 index, term counts,
    TF-IDF weights and norms, document lengths), built once for a corpus and reused for
    every batch of queries (a reranker's first stage)."""

    def __init__(self, documents: Mapping[str, str]) -> None:
        self.documents = documents
        self.index = BM25(documents)
        self.tf = _term_counts(self.index, documents)
        self.idf = _tfidf_idf(self.tf)
        self.weighted = self.tf.multiply(self.idf[np.newaxis, :]).tocsr()
        self.norms = np.sqrt(np.asarray(self.weighted.multiply(self.weighted).sum(axis=1)).ravel())
        self.lengths = np.asarray(self.tf.sum(axis=1)).ravel()
        self.position = {doc: i for i, doc in enumerate(self.index.ids)}

    def table(
        self,
        queries: Mapping[str, str],
        qrels: Mapping[str, Mapping[str, int]],
        depth: int = 100,
    ) -> pl.DataFrame:
        """:func:`candidate_table`'s rows for ``queries``, labelled by ``qrels``."""
        index, tf, idf, weighted = self.index, self.tf, self.idf, self.weighted
        norms, lengths, position = self.norms, self.lengths, self.position
        query_ids: list[str] = []
        doc_ids: list[str] = []
        labels: list[int] = []
        values: dict[str, list[float]] = {name: [] for name in FEATURES}
        for qid in sorted(queries):
            text = queries[qid]
            hits = index.search(text, depth)
            if not hits:
                continue
            ranked = sorted(
                ((round(score, DECIMALS), doc) for doc, score in hits.items()), reverse=True
            )
            said = tokens(text)
            asked = Counter(index.vocab[t] for t in said if t in index.vocab)
            terms = sorted(asked)
            query_vector = np.asarray([asked[t] for t in terms], dtype=np.float64) * idf[terms]
            query_norm = float(np.sqrt(query_vector @ query_vector))
            rows = [position[doc] for _, doc in ranked]
            # Dense (candidates x query terms) blocks: small, and summed in a fixed order.
            block_tf = tf[rows][:, terms].toarray()
            held = block_tf > 0
            cosine = (weighted[rows][:, terms].toarray() @ query_vector) / (
                norms[rows] * query_norm
            )
            judged = qrels.get(qid, {})
            features = {
                "bm25": np.asarray([score for score, _ in ranked]),
                "tfidf_cosine": cosine,
                "doc_length": lengths[rows],
                "query_length": np.full(len(rows), float(len(said))),
                "term_overlap": held.sum(axis=1) / len(set(said)),
                "matched_idf": held @ index.idf[terms],
                "max_term_tf": block_tf.max(axis=1),
            }
            query_ids.extend([qid] * len(ranked))
            doc_ids.extend(doc for _, doc in ranked)
            labels.extend(judged.get(doc, 0) for _, doc in ranked)
            for name in FEATURES:
                values[name].extend(round(float(v), DECIMALS) for v in features[name])
        return pl.DataFrame(
            {"query_id": query_ids, "doc_id": doc_ids, "relevance": labels, **values},
            schema={
                "query_id": pl.String,
                "doc_id": pl.String,
                "relevance": pl.Int64,
                **dict.fromkeys(FEATURES, pl.Float64),
            },
        )


def _vaswani() -> Path:
    """The shipped Vaswani collection's folder."""
    return Path(str(files("modellab_ranking.demo_data") / "vaswani"))


def main(argv: Sequence[str] | None = None) -> None:
    """Write the candidates table of a collection (the shipped Vaswani one by default)
    as CSV."""
    parser = argparse.ArgumentParser(
        prog="python -m modellab_ranking.candidates", description=main.__doc__
    )
    parser.add_argument("out", type=Path, help="the CSV to write")
    parser.add_argument("--depth", type=int, default=100, help="documents per query (100)")
    parser.add_argument("--docs", type=Path, help="documents, TREC format")
    parser.add_argument("--topics", type=Path, help="topics, TREC format")
    parser.add_argument("--qrels", type=Path, help="judgments, qrels format")
    args = parser.parse_args(argv)
    folder = _vaswani()
    collection = read_collection(
        args.docs or folder / "doc-text.trec",
        args.topics or folder / "query-text.trec",
        args.qrels or folder / "qrels",
    )
    candidate_table(collection, args.depth).write_csv(args.out, line_terminator="\n")


if __name__ == "__main__":
    main()
