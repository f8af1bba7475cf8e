"""Hook implementations of the ranking plugin (entry point ``ranking``): the ranking task
type, the learning-to-rank template and EvalHarness' ranking evaluator."""

from __future__ import annotations

from dataclasses import replace

from modellab import hookimpl
from modellab.datasets.sources import SourceFormat
from modellab.domain import ColumnRole
from modellab.tasks import Evaluator, ModelVariant, TaskType, Template, deferred
from modellab_ranking.configs import (
    BM25Config,
    DenseConfig,
    LinearRankerConfig,
    RerankConfig,
    SingleFeatureConfig,
    XGBRankerConfig,
)

TASK = "ranking"
RETRIEVAL = "retrieval"
#: a collection's table (one row per judgment): its target and the column of each row's
#: query
COLLECTION_TARGET = "relevance"
COLLECTION_GROUP = "query_id"


@hookimpl
def register_task_types() -> list[TaskType]:
    """Ranking: graded relevance labels on the rows (documents) of each query. Retrieval:
    the same labels as a collection's judgments, read from TREC, BEIR or table folders."""
    ranking = TaskType(
        name=TASK,
        description="Rank the rows of each query (its candidate documents) by relevance.",
        check_target=deferred("modellab_ranking.task:check_target"),
        target_affinity=deferred("modellab_ranking.task:target_affinity"),
        profile_target=deferred("modellab_ranking.task:profile_target"),
        cast_target=deferred("modellab_ranking.task:cast_target"),
        predict=deferred("modellab_ranking.task:predict"),
        check_train=deferred("modellab_ranking.task:check_train"),
        paired_deltas=deferred("modellab_ranking.task:paired_deltas"),
        paired_test=deferred("modellab_ranking.task:paired_test"),
        unit="query",
        grouped=True,
    )
    # The same grades, checks and pairing; the rows are a collection's judgments, and a
    # model retrieves its own documents from the collection's corpus.
    retrieval = replace(
        ranking,
        name=RETRIEVAL,
        description="Retrieve and rank a collection's documents for each query; the "
        "dataset is the collection (documents, queries, judgments), its rows the judgments.",
        profile_target=deferred("modellab_ranking.task:profile_retrieval_target"),
        predict=deferred("modellab_ranking.task:predict_retrieved"),
        retrieves=True,
        read_predictions=deferred("modellab_ranking.task:read_trec_run"),
        source_formats=tuple(
            SourceFormat(
                name,
                description,
                COLLECTION_TARGET,
                COLLECTION_GROUP,
                deferred(f"modellab_ranking.layouts:{name}_matches"),
                deferred(f"modellab_ranking.sources:read_{name}"),
                roles={"doc_id": ColumnRole.ITEM, "query": ColumnRole.FEATURE},
            )
            for name, description in (
                ("trec", "TREC collection (documents, topics, qrels)"),
                ("beir", "BEIR collection (corpus.jsonl, queries.jsonl, qrels/*.tsv)"),
                ("tables", "collection of tables (documents, queries, qrels)"),
            )
        ),
    )
    return [ranking, retrieval]


@hookimpl
def register_templates() -> list[Template]:
    """The learning-to-rank template, baselines first. The single best feature is the
    reference baseline (the bar a candidate must clear): on a candidates table it is
    usually the first-stage retriever's score, BM25's on the Vaswani demo."""
    return [
        Template(
            name="learning-to-rank",
            task_type=TASK,
            description="Rank the candidate documents of each query from their features.",
            variants=(
                ModelVariant(
                    "linear",
                    "baseline",
                    deferred("modellab_ranking.models:fit_linear"),
                    LinearRankerConfig,
                    "Ridge regression of the grade on imputed, scaled features (pointwise).",
                    load=deferred("modellab_tabular.fitted:load_pipeline"),
                ),
                ModelVariant(
                    "single_feature",
                    "baseline",
                    deferred("modellab_ranking.models:fit_single_feature"),
                    SingleFeatureConfig,
                    "Ranks by one feature: the one given, else the best on the training "
                    "queries by NDCG@10.",
                    load=deferred("modellab_ranking.models:load_feature"),
                ),
                ModelVariant(
                    "xgb_ranker",
                    "candidate",
                    deferred("modellab_ranking.models:fit_xgb_ranker"),
                    XGBRankerConfig,
                    "XGBoost rank:ndcg (LambdaMART) with early stopping on held-out "
                    "training queries.",
                    load=deferred("modellab_ranking.models:load_ranker"),
                ),
            ),
        ),
        Template(
            name="retrieval",
            task_type=RETRIEVAL,
            description="Retrieve each query's documents from the collection's whole corpus.",
            variants=(
                ModelVariant(
                    "bm25",
                    "baseline",
                    deferred("modellab_ranking.retrievers:fit_bm25"),
                    BM25Config,
                    "BM25 (k1 0.9, b 0.4) over every document; no stemming.",
                    load=deferred("modellab_ranking.retrievers:load_bm25"),
                ),
                ModelVariant(
                    "bm25_xgb_rerank",
                    "candidate",
                    deferred("modellab_ranking.retrievers:fit_reranker"),
                    RerankConfig,
                    "BM25's top 100 documents reranked by XGBoost rank:ndcg over text "
                    "features (BM25 score, TF-IDF cosine, lengths, term overlap).",
                    load=deferred("modellab_ranking.retrievers:load_reranker"),
                ),
                ModelVariant(
                    "dense_tfidf_svd_hnsw",
                    "candidate",
                    deferred("modellab_ranking.retrievers:fit_dense"),
                    DenseConfig,
                    "TF-IDF word 1-2-grams reduced by TruncatedSVD, cosine search in a faiss "
                    "HNSW index (trained on the corpus, seeded).",
                    load=deferred("modellab_ranking.retrievers:load_dense"),
                ),
            ),
        ),
    ]


@hookimpl
def register_evaluators() -> list[Evaluator]:
    """EvalHarness' ranking evaluation."""
    return [
        Evaluator(
            "evalharness-ranking",
            TASK,
            deferred("modellab_ranking.evaluator:evaluate"),
            "EvalHarness ranking report: trec_eval's measures per query, bootstrap over "
            "queries, paired randomization test against the baseline.",
        ),
        Evaluator(
            "evalharness-retrieval",
            RETRIEVAL,
            deferred("modellab_ranking.evaluator:evaluate_retrieval"),
            "EvalHarness ranking report of what each query retrieved from the corpus: "
            "trec_eval's measures against the judgments, bootstrap over queries, "
            "out-of-vocabulary and length slices, the baseline paired query by query.",
        ),
    ]
