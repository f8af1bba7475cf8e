"""BM25, the retrieval baseline every ranking comparison starts from.

Okapi BM25 with Lucene's idf, ``log(1 + (N - df + 0.5) / (df + 0.5))``, and the
parameters Anserini uses by default (k1 = 0.9, b = 0.4); the term weight keeps the
classic ``(k1 + 1)`` factor, so scores are bm25s' "lucene" scores times ``k1 + 1``
(``tests/test_bm25.py`` checks it) and rank the same. Text is lower-cased and split
into runs of letters and digits; no stemming or stop list, so the baseline is the same
wherever it runs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

import numpy as np
from scipy import sparse

_TOKEN = re.compile(r"[^\W_]+")


def tokens(text: str) -> list[str]:
    """The terms of ``text``."""
    return _TOKEN.findall(text.lower())


class BM25:
    """A BM25 index over ``documents`` (id -> text), documents kept in sorted id order."""

    def __init__(self, documents: Mapping[str, str], k1: float = 0.9, b: float = 0.4) -> None:
        self.ids = sorted(documents)
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        lengths = np.zeros(len(self.ids))
        for i, doc in enumerate(self.ids):
            terms = Counter(tokens(documents[doc]))
            lengths[i] = sum(terms.values())
            for term in sorted(terms):
                rows.append(i)
                cols.append(vocab.setdefault(term, len(vocab)))
                counts.append(terms[term])
        self.vocab = vocab
        tf = sparse.csc_matrix(
            (np.asarray(counts, dtype=np.float64), (rows, cols)),
            shape=(len(self.ids), len(vocab)),
        )
        n = len(self.ids)
        df = np.diff(tf.indptr).astype(np.float64)
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5))
        avg = lengths.mean() if n else 0.0
        norm = k1 * (1 - b + b * lengths / avg) if avg else np.full(n, k1)
        # The term-frequency part of each (document, term) weight, stored once.
        weighted = tf.copy()
        weighted.data = tf.data * (k1 + 1) / (tf.data + norm[tf.indices])
        self.weights = weighted

    def search(self, query: str, depth: int = 1000) -> dict[str, float]:
        """The ``depth`` best documents for ``query`` and their scores (documents that
        share no term with it are not retrieved)."""
        # A term the query repeats counts as often as it appears.
        asked = Counter(self.vocab[t] for t in tokens(query) if t in self.vocab)
        columns = sorted(asked)
        if not columns:
            return {}
        part = self.weights[:, columns]
        boosts = np.array([asked[c] for c in columns], dtype=np.float64)
        scores = np.asarray(part @ (self.idf[columns] * boosts)).ravel()
        hit = np.flatnonzero(scores > 0)
        top = hit[np.argsort(-scores[hit], kind="stable")[:depth]]
        return {self.ids[i]: float(scores[i]) for i in top}
