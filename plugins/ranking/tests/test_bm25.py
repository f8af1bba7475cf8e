"""Our BM25 against bm25s, an independent implementation, on the Vaswani collection.

Both use Lucene's idf, ``log(1 + (N - df + 0.5) / (df + 0.5))``. Our term weight keeps the
classic ``(k1 + 1)`` factor in its numerator, which Lucene 8 and bm25s dropped: a constant
factor on every score, so the two rank every document the same. bm25s gets our tokens, so
the check is of the scoring alone.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import bm25s
import numpy as np

from modellab_ranking.bm25 import BM25, tokens
from modellab_ranking.collection import read_collection

VASWANI = Path(str(files("modellab_ranking.demo_data") / "vaswani"))
K1, B = 0.9, 0.4


def test_bm25_scores_are_bm25s_lucene_times_k1_plus_one() -> None:
    c = read_collection(VASWANI / "doc-text.trec", VASWANI / "query-text.trec", VASWANI / "qrels")
    ours = BM25(c.documents, k1=K1, b=B)
    reference = bm25s.BM25(method="lucene", k1=K1, b=B)
    reference.index([tokens(c.documents[d]) for d in ours.ids], show_progress=False)
    position = {d: i for i, d in enumerate(ours.ids)}
    for qid in sorted(c.queries):
        text = c.queries[qid]
        theirs = np.asarray(reference.get_scores(tokens(text)), dtype=np.float64) * (K1 + 1)
        mine = np.zeros(len(ours.ids))
        for doc, score in ours.search(text, depth=len(ours.ids)).items():
            mine[position[doc]] = score
        # bm25s scores in float32: agreement to its precision
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5, err_msg=qid)
