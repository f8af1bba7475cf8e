"""The retrieval template's models: each searches a collection's whole corpus per query.

- ``bm25``, the baseline: :class:`modellab_ranking.bm25.BM25` over every document.
- ``bm25_xgb_rerank``, a candidate: BM25's top documents reranked by XGBoost
  ``rank:ndcg`` (:class:`Reranker`), trained on the training queries' judgments.
- ``dense_tfidf_svd_hnsw``, a candidate: documents and queries embedded by TF-IDF
  (word unigrams and bigrams, sublinear term frequency) reduced by a TruncatedSVD trained on
  the corpus, L2-normalized, and searched by inner product in a faiss HNSW index. Every
  step is seeded, and the index is built on one thread, so the same corpus gives the same
  index and ranking.

A model retrieves its ``depth`` best documents for every query of the frame it is given
(the frame's ``query`` column, one query per :data:`~modellab.tasks.GROUP`) and answers
them as a run: a frame of (query, document, score). The corpus comes from the frame's
attachments (:data:`~modellab.tasks.ATTACHMENTS`). Nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import pandas as pd
from scipy import sparse

from modellab.errors import ModelLabError
from modellab.tasks import ATTACHMENTS, GROUP
from modellab_ranking.bm25 import BM25
from modellab_ranking.configs import BM25Config, DenseConfig, RerankConfig

if TYPE_CHECKING:
    from modellab_ranking.candidates import CandidateFeatures

QUERY = "query"
#: the run columns a retriever's ``predict`` answers with
RUN_COLUMNS = (GROUP, "doc_id", "score")


def corpus(frame: pd.DataFrame) -> dict[str, str]:
    """The documents of the collection a run's frame belongs to, by id."""
    attached = frame.attrs.get(ATTACHMENTS)
    if attached is None or "documents" not in attached.names:
        raise ModelLabError(
            "a retrieval model needs the collection's documents: add the dataset as a "
            "collection folder (TREC, BEIR or documents/queries/qrels tables)"
        )
    docs = attached.load("documents")
    return dict(zip(docs["doc_id"].to_list(), docs["text"].to_list(), strict=True))


def queries(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(query id, text) of every query of ``frame``, sorted by id."""
    first = frame[[GROUP, QUERY]].drop_duplicates(GROUP)
    return sorted(zip(first[GROUP].astype(str), first[QUERY].astype(str), strict=True))


def _run(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


class CorpusRetriever:
    """What the retrievers share: a query's text in, its top documents out, and no
    preprocessor fit on the split's rows (an index holds documents, not rows)."""

    config: Any
    #: what the output is, with ``{depth}`` for the documents per query
    output = "the {depth} best documents of each query, scored"

    @property
    def preprocessors(self) -> list[Any]:
        """None of the split's rows: the index is built from the corpus."""
        return []

    @property
    def signature(self) -> dict[str, Any]:
        """A query's text in, its top documents out."""
        return {
            "inputs": {GROUP: "string", QUERY: "string"},
            "output": self.output.format(depth=self.config.depth),
        }


class BM25Retriever(CorpusRetriever):
    """BM25 over the whole corpus; a query sharing no term with a document scores 0 on it
    and such documents are not retrieved."""

    def __init__(self, index: BM25, config: BM25Config) -> None:
        self.index = index
        self.config = config

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The run of ``frame``'s queries."""
        rows: list[tuple[str, str, float]] = []
        for qid, text in queries(frame):
            hits = self.index.search(text, self.config.depth)
            rows.extend((qid, doc, score) for doc, score in hits.items())
        return _run(rows)

    def save(self, folder: Path) -> str:
        """The index as arrays and JSON: no code runs to load it."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "bm25.json").write_text(
            json.dumps(
                {
                    "ids": self.index.ids,
                    "vocab": self.index.vocab,
                    "config": msgspec.structs.asdict(self.config),
                },
                sort_keys=True,
            )
        )
        np.save(folder / "idf.npy", self.index.idf, allow_pickle=False)
        sparse.save_npz(folder / "weights.npz", self.index.weights.tocsc(), compressed=True)
        return "bm25-index"


def fit_bm25(train: pd.DataFrame, config: BM25Config, seed: int) -> BM25Retriever:
    """Index the collection's documents (no learning: the training rows are not used)."""
    return BM25Retriever(BM25(corpus(train), k1=config.k1, b=config.b), config)


def load_bm25(folder: Path) -> BM25Retriever:
    """The BM25 retriever that :meth:`BM25Retriever.save` wrote."""
    meta = json.loads((folder / "bm25.json").read_text())
    index = BM25.__new__(BM25)
    index.ids = meta["ids"]
    index.vocab = meta["vocab"]
    index.idf = np.load(folder / "idf.npy", allow_pickle=False)
    index.weights = sparse.load_npz(folder / "weights.npz").tocsc()
    return BM25Retriever(index, BM25Config(**meta["config"]))


class DenseRetriever(CorpusRetriever):
    """TF-IDF -> TruncatedSVD -> L2-normalized embeddings in a faiss HNSW index; the
    vectorizer and the SVD are fit on the corpus."""

    def __init__(
        self, vectorizer: Any, svd: Any, index: Any, ids: list[str], config: DenseConfig
    ) -> None:
        self.vectorizer = vectorizer
        self.svd = svd
        self.index = index
        self.ids = ids
        self.config = config

    output = "the {depth} nearest documents of each query, by cosine"

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings of ``texts`` (float32, as faiss takes them)."""
        vectors = self.svd.transform(self.vectorizer.transform(texts))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The run of ``frame``'s queries."""
        asked = queries(frame)
        if not asked:
            return _run([])
        self.index.hnsw.efSearch = self.config.ef_search
        sims, found = self.index.search(self.embed([t for _, t in asked]), self.config.depth)
        rows: list[tuple[str, str, float]] = []
        for (qid, _), row_sims, row_found in zip(asked, sims, found, strict=True):
            hits = [
                (self.ids[j], float(s)) for j, s in zip(row_found, row_sims, strict=True) if j >= 0
            ]
            rows.extend((qid, doc, round(score, 6)) for doc, score in hits)
        return _run(rows)

    def save(self, folder: Path) -> str:
        """Vocabulary, idf and SVD components as arrays and JSON, the index in faiss' own
        format: no code runs to load it."""
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        vocab = {t: int(i) for t, i in self.vectorizer.vocabulary_.items()}
        (folder / "dense.json").write_text(
            json.dumps(
                {
                    "ids": self.ids,
                    "vocabulary": vocab,
                    "config": msgspec.structs.asdict(self.config),
                },
                sort_keys=True,
            )
        )
        np.save(folder / "idf.npy", self.vectorizer.idf_, allow_pickle=False)
        np.save(folder / "components.npy", self.svd.components_, allow_pickle=False)
        faiss.write_index(self.index, str(folder / "hnsw.faiss"))
        return "tfidf-svd-hnsw"


def _vectorizer(vocabulary: dict[str, int] | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        lowercase=True,
        token_pattern=r"(?u)\b\w+\b",
        ngram_range=(1, 2),
        sublinear_tf=True,
        min_df=1 if vocabulary is not None else 2,
        vocabulary=vocabulary,
        dtype=np.float64,
    )


def _hnsw(vectors: np.ndarray, config: DenseConfig) -> Any:
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = config.ef_construction
    threads = faiss.omp_get_max_threads()
    # One thread: a graph built in parallel depends on the threads' timing.
    faiss.omp_set_num_threads(1)
    try:
        index.add(vectors)
    finally:
        faiss.omp_set_num_threads(threads)
    return index


def fit_dense(train: pd.DataFrame, config: DenseConfig, seed: int) -> DenseRetriever:
    """Fit TF-IDF and the SVD on the corpus and index every document."""
    from sklearn.decomposition import TruncatedSVD

    docs = corpus(train)
    ids = sorted(docs)
    texts = [docs[d] for d in ids]
    vectorizer = _vectorizer()
    tfidf = vectorizer.fit_transform(texts)
    k = min(config.dimensions, tfidf.shape[1] - 1, len(ids) - 1)
    svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=7, random_state=seed)
    svd.fit(tfidf)
    model = DenseRetriever(vectorizer, svd, None, ids, config)
    model.index = _hnsw(model.embed(texts), config)
    return model


def load_dense(folder: Path) -> DenseRetriever:
    """The dense retriever that :meth:`DenseRetriever.save` wrote."""
    import faiss
    from sklearn.decomposition import TruncatedSVD

    meta = json.loads((folder / "dense.json").read_text())
    vectorizer = _vectorizer(meta["vocabulary"])
    vectorizer.idf_ = np.load(folder / "idf.npy", allow_pickle=False)
    svd = TruncatedSVD(n_components=int(meta["config"]["dimensions"]))
    svd.components_ = np.load(folder / "components.npy", allow_pickle=False)
    svd.n_components = svd.components_.shape[0]
    index = faiss.read_index(str(folder / "hnsw.faiss"))
    return DenseRetriever(vectorizer, svd, index, meta["ids"], DenseConfig(**meta["config"]))


class Reranker(CorpusRetriever):
    """BM25's top documents reranked by XGBoost ``rank:ndcg`` over text features of each
    (query, document) pair (:func:`modellab_ranking.candidates.candidate_table`: the BM25
    score, TF-IDF cosine, lengths, term overlap, matched idf, largest term frequency)."""

    def __init__(self, first_stage: CandidateFeatures, ranker: Any, config: RerankConfig) -> None:
        # Built once for the corpus: every prediction's first stage searches it again.
        self.first_stage = first_stage
        self.ranker = ranker
        self.config = config

    @property
    def preprocessors(self) -> list[Any]:
        """The ranker's own (fit on the training queries' candidates)."""
        return list(self.ranker.preprocessors)

    output = "BM25's {depth} best documents of each query, reranked"

    def candidates(self, frame: pd.DataFrame) -> pd.DataFrame:
        """BM25's top documents of ``frame``'s queries with their features (first stage)."""
        table = self.first_stage.table(dict(queries(frame)), {}, self.config.depth)
        out = table.to_pandas().rename(columns={"query_id": GROUP})
        return out.drop(columns=["relevance"])

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The run of ``frame``'s queries: BM25's candidates in the ranker's order."""
        found = self.candidates(frame)
        if found.empty:
            return _run([])
        scores = np.asarray(self.ranker.predict(found.drop(columns=["doc_id"])), dtype=np.float64)
        rows = [
            (str(q), str(d), round(float(s), 6))
            for q, d, s in zip(found[GROUP], found["doc_id"], scores, strict=True)
        ]
        return _run(rows)

    def save(self, folder: Path) -> str:
        """The documents (for the first stage) as Parquet and the ranker as XGBoost JSON."""
        import polars as pl

        folder.mkdir(parents=True, exist_ok=True)
        documents = self.first_stage.documents
        ids = sorted(documents)
        pl.DataFrame({"doc_id": ids, "text": [documents[d] for d in ids]}).write_parquet(
            folder / "documents.parquet", statistics=False
        )
        (folder / "rerank.json").write_bytes(msgspec.json.encode({"config": self.config}))
        self.ranker.save(folder / "ranker")
        return "bm25-xgb-reranker"


def fit_reranker(train: pd.DataFrame, config: RerankConfig, seed: int) -> Reranker:
    """Train the ranker on BM25's candidates for the training queries, labelled by their
    judgments (a candidate nobody judged counts as not relevant)."""
    from modellab.tasks import ITEM, TARGET
    from modellab_ranking.candidates import CandidateFeatures
    from modellab_ranking.models import fit_xgb_ranker

    first_stage = CandidateFeatures(corpus(train))
    judged: dict[str, dict[str, int]] = {}
    for q, d, label in zip(
        train[GROUP].astype(str), train[ITEM].astype(str), train[TARGET], strict=True
    ):
        judged.setdefault(q, {})[d] = int(label)
    table = first_stage.table(dict(queries(train)), judged, config.depth)
    frame = table.to_pandas().rename(columns={"query_id": GROUP, "relevance": TARGET})
    ranker = fit_xgb_ranker(frame.drop(columns=["doc_id"]), config.ranker, seed)
    return Reranker(first_stage, ranker, config)


def load_reranker(folder: Path) -> Reranker:
    """The reranker that :meth:`Reranker.save` wrote."""
    import polars as pl

    from modellab_ranking.candidates import CandidateFeatures
    from modellab_ranking.models import load_ranker

    docs = pl.read_parquet(folder / "documents.parquet")
    config = msgspec.convert(
        json.loads((folder / "rerank.json").read_text())["config"], RerankConfig
    )
    documents = dict(zip(docs["doc_id"].to_list(), docs["text"].to_list(), strict=True))
    return Reranker(CandidateFeatures(documents), load_ranker(folder / "ranker"), config)
