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
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import pandas as pd
from scipy import sparse

from modellab.errors import ModelLabError
from modellab.tasks import ATTACHMENTS, GROUP, INDEX_PART
from modellab_ranking.bm25 import BM25
from modellab_ranking.configs import BM25Config, DenseConfig, RerankConfig

if TYPE_CHECKING:
    from evalharness.stress.retrieval import IndexConfiguration, StressedRetriever
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


#: a run as rows: (query id, document id, score)
Hits = list[tuple[str, str, float]]


def _run(rows: Hits) -> pd.DataFrame:
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

    def search(self, asked: Mapping[str, str]) -> Hits:
        """The run of the queries ``asked`` (text by id)."""
        raise NotImplementedError

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The run of ``frame``'s queries."""
        return _run(self.search(dict(queries(frame))))

    def under_stress(self) -> StressedRetriever:
        """What EvalHarness' retrieval stress tests may vary: the queries, at least."""
        from evalharness.stress.retrieval import StressedRetriever

        return StressedRetriever(self.search)

    def latency_parts(self, frame: pd.DataFrame) -> dict[str, Callable[[], Any]]:
        """The stages of one prediction on ``frame``, each timed apart (none: the whole
        ``predict`` is the only stage)."""
        return {}


class BM25Retriever(CorpusRetriever):
    """BM25 over the whole corpus; a query sharing no term with a document scores 0 on it
    and such documents are not retrieved."""

    def __init__(self, index: BM25, config: BM25Config) -> None:
        self.index = index
        self.config = config

    def search(self, asked: Mapping[str, str]) -> Hits:
        """The run of the queries ``asked``."""
        return _bm25_search(self.index, asked, self.config.depth)

    def under_stress(self) -> StressedRetriever:
        """Queries, and the corpus: the index is rebuilt over another one."""
        from evalharness.stress.retrieval import StressedRetriever

        def reindexed(documents: Mapping[str, str]) -> Callable[[Mapping[str, str]], Hits]:
            index = BM25(dict(documents), k1=self.config.k1, b=self.config.b)
            return lambda asked: _bm25_search(index, asked, self.config.depth)

        return StressedRetriever(self.search, reindexed=reindexed)

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


def _bm25_search(index: BM25, asked: Mapping[str, str], depth: int) -> Hits:
    rows: Hits = []
    for qid in sorted(asked):
        rows.extend((qid, doc, score) for doc, score in index.search(asked[qid], depth).items())
    return rows


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


@dataclass(frozen=True)
class IndexSetting:
    """One setting of the dense retriever's index sweep: a faiss index and the value of
    its search parameter (``ef_search`` for an index built with another M)."""

    family: str
    parameter: str
    value: int
    deployed: bool
    index: Any
    ef_search: int | None = None

    @property
    def label(self) -> str:
        """``FAMILY PARAMETER=VALUE``, as the sweep and the timings name the setting."""
        return f"{self.family} {self.parameter}={self.value}"

    def prepare(self) -> None:
        """Set the index's search parameter before a search."""
        if self.parameter == "nprobe":
            self.index.nprobe = self.value
        else:
            self.index.hnsw.efSearch = self.ef_search or self.value


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
        return _unit(self.svd.transform(self.vectorizer.transform(texts)))

    def search(self, asked: Mapping[str, str]) -> Hits:
        """The run of the queries ``asked``."""
        return self._deployed(asked, self._embed_queries(asked))

    def _deployed(self, asked: Mapping[str, str], vectors: Any) -> Hits:
        """The deployed index's search with query embeddings ``vectors``; efSearch is
        set each time, as the index sweep changes it on this same index."""
        self.index.hnsw.efSearch = self.config.ef_search
        return self._nearest(self.index, self.ids, asked, vectors)

    def _document_vectors(self) -> np.ndarray:
        """The embeddings the index holds, read back from it once."""
        vectors: np.ndarray | None = getattr(self, "_vectors", None)
        if vectors is None:
            vectors = np.asarray(self.index.reconstruct_n(0, self.index.ntotal))
            self._vectors = vectors
        return vectors

    def _embed_queries(self, asked: Mapping[str, str]) -> np.ndarray:
        return self.embed([asked[q] for q in sorted(asked)])

    def _nearest(self, index: Any, ids: list[str], asked: Mapping[str, str], vectors: Any) -> Hits:
        """``index``'s nearest documents (``ids`` by position) of the sorted queries,
        whose embeddings are ``vectors``."""
        if not asked:
            return []
        sims, found = index.search(vectors, self.config.depth)
        rows: Hits = []
        for qid, row_sims, row_found in zip(sorted(asked), sims, found, strict=True):
            rows.extend(
                (qid, ids[j], round(float(s), 6))
                for j, s in zip(row_found, row_sims, strict=True)
                if j >= 0
            )
        return rows

    def latency_parts(self, frame: pd.DataFrame) -> dict[str, Callable[[], Any]]:
        """Embedding the queries, then searching the HNSW index with them; and the
        search alone at every setting of the index sweep (:data:`INDEX_PART`, for the
        run's recall-latency trade-off)."""
        asked = dict(queries(frame))
        vectors = self._embed_queries(asked)

        def at(setting: IndexSetting) -> Callable[[], Any]:
            return lambda: self._search_at(setting, asked, vectors)

        parts: dict[str, Callable[[], Any]] = {
            "embed queries": lambda: self._embed_queries(asked),
            "search index": lambda: self._deployed(asked, vectors),
        }
        # Search alone (the queries embedded already), as the sweep's trade-off needs.
        parts.update({INDEX_PART + s.label: at(s) for s in self.index_settings()})
        return parts

    def under_stress(self) -> StressedRetriever:
        """Queries, the corpus (re-embedded by the fitted TF-IDF and SVD into a new
        index), noisy query embeddings, and the index sweep against exact search."""
        from evalharness.stress.retrieval import StressedRetriever

        def reindexed(documents: Mapping[str, str]) -> Callable[[Mapping[str, str]], Hits]:
            ids = sorted(documents)
            index = _hnsw(self.embed([documents[d] for d in ids]), self.config, self.config.hnsw_m)
            index.hnsw.efSearch = self.config.ef_search
            return lambda asked: self._nearest(index, ids, asked, self._embed_queries(asked))

        # Each dimension's spread over the corpus: noise in its units, as tabular
        # feature noise is in column standard deviations.
        spread = self._document_vectors().std(axis=0)

        def noisy(sd: float, rng: np.random.Generator) -> Callable[[Mapping[str, str]], Hits]:
            def search(asked: Mapping[str, str]) -> Hits:
                clean = self._embed_queries(asked)
                shaken = clean + rng.normal(0.0, 1.0, clean.shape) * (sd * spread)
                return self._deployed(asked, _unit(shaken))

            return search

        def exact(asked: Mapping[str, str]) -> Hits:
            return self._nearest(self._exact_index(), self.ids, asked, self._embed_queries(asked))

        return StressedRetriever(
            self.search,
            reindexed=reindexed,
            noisy=noisy,
            exact=exact,
            configurations=self.index_configurations,
        )

    def _exact_index(self) -> Any:
        import faiss

        if getattr(self, "_flat", None) is None:
            flat = faiss.IndexFlatIP(self.index.d)
            flat.add(self._document_vectors())
            self._flat = flat
        return self._flat

    def index_configurations(self) -> list[IndexConfiguration]:
        """The index sweep's settings (:meth:`index_settings`) as EvalHarness searches
        them: query text in."""
        from evalharness.stress.retrieval import IndexConfiguration

        def at(setting: IndexSetting) -> Callable[[Mapping[str, str]], Hits]:
            return lambda asked: self._search_at(setting, asked, self._embed_queries(asked))

        return [
            IndexConfiguration(s.family, s.parameter, s.value, s.deployed, at(s))
            for s in self.index_settings()
        ]

    def index_settings(self) -> list[IndexSetting]:
        """The HNSW index at other efSearch values, HNSW indexes built with fewer
        neighbours per node (M / 4, M / 2), and an IVF index (sqrt(N) k-means cells) at
        several nprobe; built once, then kept."""
        cached: list[IndexSetting] | None = getattr(self, "_settings", None)
        if cached is None:
            cached = self._build_settings()
            self._settings = cached
        return cached

    def _search_at(self, setting: IndexSetting, asked: Mapping[str, str], vectors: Any) -> Hits:
        setting.prepare()
        return self._nearest(setting.index, self.ids, asked, vectors)

    def _build_settings(self) -> list[IndexSetting]:
        cfg = self.config
        vectors = self._document_vectors()
        out = [
            IndexSetting("hnsw", "efSearch", ef, ef == cfg.ef_search, self.index)
            for ef in sorted({16, 32, 64, 128, 256, cfg.ef_search})
        ]
        for m in sorted({max(2, cfg.hnsw_m // 4), max(2, cfg.hnsw_m // 2), cfg.hnsw_m}):
            index = self.index if m == cfg.hnsw_m else _hnsw(vectors, cfg, m)
            out.append(IndexSetting("hnsw", "M", m, m == cfg.hnsw_m, index, cfg.ef_search))
        lists = max(1, int(math.sqrt(len(self.ids))))
        ivf = _ivf(vectors, lists)
        out += [
            IndexSetting("ivf", "nprobe", p, False, ivf) for p in (1, 2, 4, 8, 16, 32) if p <= lists
        ]
        return out

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


def _unit(vectors: Any) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero), float32 and contiguous."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def _one_thread(build: Callable[[], None]) -> None:
    """Run ``build`` on one faiss thread: a graph or a clustering computed in parallel
    depends on the threads' timing, and an index must be the same on every run."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        build()
    finally:
        faiss.omp_set_num_threads(threads)


def _hnsw(vectors: np.ndarray, config: DenseConfig, m: int) -> Any:
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = config.ef_construction
    _one_thread(lambda: index.add(vectors))
    return index


def _ivf(vectors: np.ndarray, lists: int) -> Any:
    """An inverted-file index of ``lists`` k-means cells (faiss' fixed clustering seed)."""
    import faiss

    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = 1234

    def build() -> None:
        index.train(vectors)
        index.add(vectors)

    _one_thread(build)
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
    model.index = _hnsw(model.embed(texts), config, config.hnsw_m)
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

    def search(self, asked: Mapping[str, str]) -> Hits:
        """The run of the queries ``asked``: BM25's candidates in the ranker's order."""
        return self._rerank(self._candidates(self.first_stage, asked))

    def _candidates(self, first_stage: CandidateFeatures, asked: Mapping[str, str]) -> pd.DataFrame:
        table = first_stage.table(dict(asked), {}, self.config.depth)
        return table.to_pandas().rename(columns={"query_id": GROUP}).drop(columns=["relevance"])

    def _rerank(self, found: pd.DataFrame) -> Hits:
        if found.empty:
            return []
        scores = np.asarray(self.ranker.predict(found.drop(columns=["doc_id"])), dtype=np.float64)
        return [
            (str(q), str(d), round(float(s), 6))
            for q, d, s in zip(found[GROUP], found["doc_id"], scores, strict=True)
        ]

    def latency_parts(self, frame: pd.DataFrame) -> dict[str, Callable[[], Any]]:
        """Candidate generation (BM25's top documents with their features), then
        reranking them."""
        asked = dict(queries(frame))
        found = self._candidates(self.first_stage, asked)
        return {
            "candidates": lambda: self._candidates(self.first_stage, asked),
            "rerank": lambda: self._rerank(found),
        }

    def under_stress(self) -> StressedRetriever:
        """Queries, and the corpus: the first stage is rebuilt over another one, the
        trained ranker kept."""
        from evalharness.stress.retrieval import StressedRetriever
        from modellab_ranking.candidates import CandidateFeatures

        def reindexed(documents: Mapping[str, str]) -> Callable[[Mapping[str, str]], Hits]:
            first_stage = CandidateFeatures(dict(documents))
            return lambda asked: self._rerank(self._candidates(first_stage, asked))

        return StressedRetriever(self.search, reindexed=reindexed)

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
