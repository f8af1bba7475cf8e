"""Ranking: the task's part of an evaluation (its :class:`TaskSpec`), the public
evaluator and the paired deltas of two rankers.

The unit is a query: the pipeline bootstraps, slices and pairs queries, each carrying its
trec_eval measures (:mod:`evalharness.metrics.queries`). The caller passes scored rows (a
query id, a document id, a graded label and a score per row); the report's frame has one
row per query, sorted by id.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from evalharness.bench.latency import LatencyResult
from evalharness.bootstrap.engine import Group, run_bootstrap
from evalharness.bootstrap.paired import PairedDeltas, paired_bootstrap, point_metrics
from evalharness.bootstrap.randomization import paired_randomization_test
from evalharness.bootstrap.resample import resolve_method
from evalharness.core.config import (
    AUTO_MULTINOMIAL_MAX_ROWS,
    BaselineResult,
    EvalConfig,
    LeakageInputs,
    RunInfo,
)
from evalharness.core.errors import LeakageError
from evalharness.core.jsonio import encode_json
from evalharness.core.leakage import CHECK_GROUP_IN_TRAIN
from evalharness.core.pipeline import evaluate
from evalharness.core.task import TaskMetrics, TaskSpec
from evalharness.failures.queries import query_failures, query_rankings
from evalharness.metrics import queries as MQ
from evalharness.metrics.ranking import aggregate
from evalharness.plots import ranking as PR
from evalharness.plots.collect import PlotSet
from evalharness.schemas import files as S
from evalharness.slicing import fixed as F
from evalharness.slicing.entities import DENSE_SHARE, entity_shares
from evalharness.slicing.families import SliceFamily
from evalharness.stress.ranking import RankingStress, Scorer, stressed_models
from evalharness.stress.retrieval import RetrievalStress, StressedRetriever, judgments

TASK = "ranking"
#: what the weak-slice search treats as loss (slices.json ``search.loss``)
SEARCH_LOSS = "1 - the primary metric of the query"
#: a query term in fewer than this share of the corpus's documents is rare (a
#: retriever's ``rare_share`` feature counts a query's terms under it)
RARE_DOCUMENT_SHARE = 0.001


@dataclass(frozen=True)
class ScoredRows:
    """Scored documents: each row's query, document id, graded label and score."""

    units: NDArray[Any]
    items: NDArray[Any]
    labels: NDArray[np.int64]
    scores: NDArray[np.float64]

    @classmethod
    def of(
        cls, units: ArrayLike, items: ArrayLike, labels: ArrayLike, scores: ArrayLike
    ) -> ScoredRows:
        """Validated rows (labels must be whole numbers, scores numbers)."""
        u, it = np.asarray(units).astype(str), np.asarray(items).astype(str)
        lab = MQ.integer_labels(labels)
        sc = np.asarray(scores, dtype=np.float64)
        if not (u.shape == it.shape == lab.shape == sc.shape) or u.ndim != 1:
            raise ValueError(
                f"units, items, labels and scores must be 1-D of one length, got {u.shape}, "
                f"{it.shape}, {lab.shape}, {sc.shape}"
            )
        return cls(u, it, lab, sc)

    def rank(self, scores: NDArray[np.float64] | None, cfg: EvalConfig) -> MQ.RankedQueries:
        """trec_eval's measures of every query with ``scores`` (default: the rows')."""
        return MQ.rank_queries(
            self.units,
            self.items,
            self.labels,
            self.scores if scores is None else scores,
            cutoffs=cfg.ranking_cutoffs,
            gain=cfg.ranking_gain,
        )


def default_headline(cutoffs: Sequence[int]) -> tuple[str, ...]:
    """NDCG, then MAP, then recall, at 10 (else the largest K below it, else the
    smallest): recall at the deepest K of a candidates table is often 1 by construction."""
    below = [k for k in cutoffs if k <= 10]
    k = max(below) if below else min(cutoffs)
    return (f"ndcg@{k}", "map", f"recall@{k}")


def query_frame(ranked: MQ.RankedQueries, features: pd.DataFrame | None) -> pd.DataFrame:
    """One row per query in report order: its candidates, its relevant documents and the
    caller's query features (indexed by query id), for slices and the weak-slice search."""
    frame = pd.DataFrame(
        {"candidates": ranked.candidates, "relevant": ranked.relevant},
        index=pd.Index(list(ranked.queries), name="query_id"),
    )
    if features is not None and len(features.columns):
        extra = features.copy()
        extra.index = extra.index.astype(str)
        frame = frame.join(extra.reindex(frame.index))
    return frame


def ranking_families(
    frame: pd.DataFrame, query_text: Mapping[str, str] | None = None
) -> list[SliceFamily]:
    """Head and tail queries by their number of relevant documents, query length buckets
    when the frame has a ``query_length`` column, out-of-vocabulary queries when it has
    an ``oov_share`` column (and rare-term ones with ``rare_share``, see
    :data:`RARE_DOCUMENT_SHARE`), and entity density when the queries' text is known."""
    relevant = frame["relevant"].to_numpy()
    families = []
    judged = relevant[relevant > 0]
    if judged.size:
        median = float(np.median(judged))
        defs = [
            F.SliceDef(
                "relevant:head",
                "relevant_documents",
                f"more than {median:g} relevant documents (the median query's)",
                relevant > median,
            ),
            F.SliceDef(
                "relevant:tail",
                "relevant_documents",
                f"1 to {median:g} relevant documents",
                (relevant >= 1) & (relevant <= median),
            ),
            F.SliceDef(
                "relevant:none", "relevant_documents", "no relevant document", relevant == 0
            ),
        ]
        families.append(
            SliceFamily(
                "relevant_documents",
                "head queries have more relevant documents than the median query, tail "
                "queries at most as many",
                tuple(d for d in defs if d.mask.any()),
            )
        )
    if "query_length" in frame.columns:
        lengths = frame["query_length"].to_numpy(dtype=np.float64)
        families.append(
            SliceFamily(
                "query_length",
                "terciles of the number of terms in the query",
                tuple(F.quantile_slices(lengths, 3, "query_length", "query length")),
            )
        )
    if "oov_share" in frame.columns:
        families.append(_vocabulary_family(frame))
    if query_text is not None:
        families.append(_entity_family([query_text.get(str(q), "") for q in frame.index]))
    return families


def _vocabulary_family(frame: pd.DataFrame) -> SliceFamily:
    """Queries by the rarest of their terms in the corpus: one that no document holds, or
    (with ``rare_share``) one that only a few documents hold, or neither."""
    unseen = frame["oov_share"].to_numpy(dtype=np.float64) > 0
    rare = (
        frame["rare_share"].to_numpy(dtype=np.float64) > 0
        if "rare_share" in frame.columns
        else np.zeros(len(frame), dtype=bool)
    )
    rare_words = f"in fewer than {RARE_DOCUMENT_SHARE:.1%} of the documents"
    defs = [
        F.SliceDef(
            "oov:none",
            "out_of_vocabulary",
            "every query term occurs in the corpus"
            + (f", none of them only {rare_words}" if "rare_share" in frame.columns else ""),
            ~unseen & ~rare,
        ),
        F.SliceDef(
            "oov:rare",
            "out_of_vocabulary",
            f"every term occurs in the corpus, some only {rare_words}",
            ~unseen & rare,
        ),
        F.SliceDef(
            "oov:unseen", "out_of_vocabulary", "some query terms occur in no document", unseen
        ),
    ]
    return SliceFamily(
        "out_of_vocabulary",
        "queries by their rarest term: one missing from the corpus's vocabulary, one "
        f"{rare_words}, or neither",
        tuple(d for d in defs if d.mask.any()),
    )


def _entity_family(texts: Sequence[str]) -> SliceFamily:
    """Queries by their share of entity-like terms (:mod:`evalharness.slicing.entities`);
    no slices, and a description that says why, when no query holds one."""
    shares, rule = entity_shares(texts)
    dense = f"more than {DENSE_SHARE:.0%}"
    defs = [
        F.SliceDef("entities:none", "entity_density", "no entity-like term", shares == 0),
        F.SliceDef(
            "entities:some",
            "entity_density",
            f"some entity-like terms, at most {DENSE_SHARE:.0%} of them",
            (shares > 0) & (shares <= DENSE_SHARE),
        ),
        F.SliceDef(
            "entities:dense",
            "entity_density",
            f"{dense} of the terms entity-like",
            shares > DENSE_SHARE,
        ),
    ]
    kept = tuple(d for d in defs if d.mask.any())
    described = f"queries by their share of entity-like terms: {rule}"
    if len(kept) < 2:
        # One slice would be the whole test set again: say so instead of showing it.
        return SliceFamily(
            "entity_density",
            f"{described}; every query has {kept[0].definition if kept else 'none'}, so "
            "there is no entity slice",
            (),
        )
    return SliceFamily("entity_density", described, kept)


def curves(means: MQ.QueryMeans, cfg: EvalConfig, method: Any) -> dict[str, list[S.CurvePoint]]:
    """Each @K family's value at every K, with its bootstrap interval over queries (the
    report's replicates: same count, seed and method)."""
    names = [f"{fam}@{k}" for fam in PR.CURVE_FAMILIES for k in cfg.ranking_cutoffs]
    boot = run_bootstrap(
        means.n, {"overall": Group(means, None)}, names, cfg.n_bootstrap, cfg.seed, method
    )
    out: dict[str, list[S.CurvePoint]] = {}
    for fam in PR.CURVE_FAMILIES:
        points = []
        for k in cfg.ranking_cutoffs:
            iv = boot.interval("overall", f"{fam}@{k}")
            points.append(
                S.CurvePoint(k=k, value=iv.estimate, ci_low=iv.ci_low, ci_high=iv.ci_high)
            )
        out[fam] = points
    return out


def ranking_task(
    rows: ScoredRows,
    cfg: EvalConfig,
    *,
    features: pd.DataFrame | None = None,
    predict: Scorer | None = None,
    baseline: BaselineResult | None = None,
    slices: Sequence[SliceFamily] | None = None,
    documents: Mapping[str, str] | None = None,
    query_text: Mapping[str, str] | None = None,
    stress_rows: pd.DataFrame | None = None,
    ranked: MQ.RankedQueries | None = None,
    baseline_rows: ScoredRows | None = None,
    retriever: StressedRetriever | None = None,
) -> TaskSpec:
    """The ranking task's part of an evaluation (arguments as :func:`evaluate_ranking`
    takes them); ``ranked`` is ``rows.rank(None, cfg)`` when the caller has it already."""
    names = MQ.metric_names(cfg.ranking_cutoffs)
    if ranked is None:
        ranked = rows.rank(None, cfg)
    means = MQ.query_means(ranked, names)
    n = means.n
    order = np.arange(n, dtype=np.intp)
    b_means = None
    b_scores = None
    if baseline_rows is not None:
        b_ranked = baseline_rows.rank(None, cfg)
        if b_ranked.queries != ranked.queries:
            raise ValueError("the baseline was judged on other queries than the model")
        b_means = MQ.query_means(b_ranked, names)
    elif baseline is not None and baseline.y_pred is not None:
        b_scores = np.asarray(baseline.y_pred, dtype=np.float64)
        b_ranked = rows.rank(b_scores, cfg)
        if b_ranked.queries != ranked.queries:
            raise ValueError("the baseline scored other queries than the model")
        b_means = MQ.query_means(b_ranked, names)
    headline = cfg.headline or default_headline(cfg.ranking_cutoffs)
    primary = headline[0] if headline[0] in names else default_headline(cfg.ranking_cutoffs)[0]
    frame = query_frame(ranked, features)
    # Ties matter where the headline reads the ranking: at the primary metric's K.
    k_primary = int(primary.partition("@")[2] or max(cfg.ranking_cutoffs))
    summary = aggregate(ranked.measures, complete=True, tie_k=k_primary)
    method = resolve_method(cfg.bootstrap_method, n, AUTO_MULTINOMIAL_MAX_ROWS)
    model_curves = {"candidate": curves(means, cfg, method)}
    if b_means is not None:
        model_curves["baseline"] = curves(b_means, cfg, method)
    primary_values = means.values[names.index(primary)]
    randomization = None
    if b_means is not None:
        randomization = randomization_result(
            b_means.values[names.index(primary)], primary_values, primary, cfg
        )
    rankings = query_rankings(rows.units, rows.items, rows.labels, rows.scores)
    stress = _stress_source(
        rows,
        ranked,
        cfg,
        predict,
        stress_rows,
        baseline,
        b_scores,
        retriever,
        documents,
        query_text,
    )

    def sweep() -> list[S.IndexSweepPoint]:
        if not cfg.run_stress or not isinstance(stress, RetrievalStress):
            return []
        return stress.index_sweep(primary, cfg, method)

    def ranking_file() -> dict[str, tuple[str, bytes]]:
        per_query = [
            S.QueryResult(
                query_id=q,
                candidates=int(ranked.candidates[j]),
                relevant=int(ranked.relevant[j]),
                metrics={m: float(means.values[i, j]) for i, m in enumerate(names)},
                baseline=None
                if b_means is None
                else {m: float(b_means.values[i, j]) for i, m in enumerate(names)},
            )
            for j, q in enumerate(ranked.queries)
        ]
        content = S.RankingFile(
            schema_version=S.SCHEMA_VERSION,
            conventions=MQ.CONVENTIONS,
            cutoffs=list(cfg.ranking_cutoffs),
            gain=cfg.ranking_gain,
            relevance_level=1,
            num_q=summary.num_q,
            missing_queries=list(summary.missing),
            no_relevant_queries=list(summary.no_relevant),
            tie_k=summary.tie_k,
            tie_share=summary.tie_share,
            curves={
                model: {fam: list(points) for fam, points in c.items()}
                for model, c in model_curves.items()
            },
            randomization=randomization,
            per_query=per_query,
            index_sweep=sweep(),
        )
        return {"ranking": ("ranking.json", encode_json(content))}

    def plots(out: PlotSet) -> None:
        drawn = {
            model: {
                fam: [
                    (p.k, p.value, p.ci_low, p.ci_high)
                    for p in points
                    if p.value is not None and p.ci_low is not None and p.ci_high is not None
                ]
                for fam, points in c.items()
            }
            for model, c in model_curves.items()
        }
        out.add("metric_vs_k", PR.metric_vs_k_plot, drawn)
        if b_means is not None:
            delta = primary_values - b_means.values[names.index(primary)]
            out.add("per_query_delta", PR.per_query_delta_plot, delta, primary)
        drawable = [
            PR.SweepPoint(p.family, p.parameter, p.value, p.deployed, recall, metric)
            for p in sweep()
            if (recall := _estimate(p.recall_vs_exact, p.recall_ci_low, p.recall_ci_high))
            and (metric := _estimate(p.metric_value, p.metric_ci_low, p.metric_ci_high))
        ]
        if drawable:
            out.add("index_sweep", PR.index_sweep_plot, drawable, primary)

    notes = {
        "conventions": MQ.CONVENTIONS,
        "queries": (
            f"{summary.num_q} queries; {len(summary.no_relevant)} without a relevant "
            f"document (they score 0); {summary.tie_share:.1%} have tied scores in the top "
            f"{summary.tie_k}, ordered by document id"
        ),
    }
    return TaskSpec(
        name=TASK,
        y_true=ranked.relevant,
        y=ranked.relevant.astype(np.float64),
        metrics=TaskMetrics(
            names=names,
            higher_is_better=dict.fromkeys(names, True),
            default_headline=default_headline(cfg.ranking_cutoffs),
            arrays=means,
            order=order,
            point=point_metrics(means, names),
            notes=notes,
            baseline=b_means,
        ),
        slices=ranking_families(frame, query_text) if slices is None else slices,
        search_loss=1.0 - primary_values,
        search_loss_description=SEARCH_LOSS,
        failures=lambda worst: query_failures(
            ranked.queries,
            primary_values,
            primary,
            rankings,
            k_primary,
            cfg.n_failures,
            documents=documents,
            query_text=query_text,
        ),
        plots=plots,
        stress=stress,
        units="queries",
        files=ranking_file,
    )


def _estimate(
    value: float | None, low: float | None, high: float | None
) -> tuple[float, float, float] | None:
    """An estimate and its interval, None when any of them is undefined."""
    if value is None or low is None or high is None:
        return None
    return value, low, high


def _stress_source(
    rows: ScoredRows,
    ranked: MQ.RankedQueries,
    cfg: EvalConfig,
    predict: Scorer | None,
    stress_rows: pd.DataFrame | None,
    baseline: BaselineResult | None,
    b_scores: NDArray[np.float64] | None,
    retriever: StressedRetriever | None,
    documents: Mapping[str, str] | None,
    query_text: Mapping[str, str] | None,
) -> RankingStress | RetrievalStress:
    """A retriever's stress tests search its corpus again; a ranker's re-score its rows."""
    if retriever is not None:
        if query_text is None:
            raise ValueError("a retriever's stress tests need the queries' text (query_text)")
        return RetrievalStress(
            ranked.queries,
            query_text,
            documents or {},
            judgments(rows.units, rows.items, rows.labels),
            retriever,
            cfg.ranking_cutoffs,
            cfg.ranking_gain,
        )
    frame = stress_rows if stress_rows is not None else pd.DataFrame(index=range(len(rows.units)))
    return RankingStress(
        frame,
        rows.units,
        rows.items,
        rows.labels,
        ranked.queries,
        tuple(
            stressed_models(
                predict, rows.scores, None if baseline is None else (baseline.predict, b_scores)
            )
        ),
        cfg.ranking_cutoffs,
        cfg.ranking_gain,
    )


def evaluate_ranking(
    out_dir: Path,
    units: ArrayLike,
    items: ArrayLike,
    labels: ArrayLike,
    scores: ArrayLike,
    *,
    run: RunInfo,
    features: pd.DataFrame | None = None,
    predict: Scorer | None = None,
    stress_rows: pd.DataFrame | None = None,
    baseline: BaselineResult | None = None,
    leakage: LeakageInputs | None = None,
    config: EvalConfig | None = None,
    latency: LatencyResult | str | None = None,
    slices: Sequence[SliceFamily] | None = None,
    documents: Mapping[str, str] | None = None,
    query_text: Mapping[str, str] | None = None,
    train_units: ArrayLike | None = None,
    baseline_rows: ScoredRows | None = None,
    retriever: StressedRetriever | None = None,
) -> S.EvalSummaryFile:
    """Evaluate a ranker's scored rows and (re)write ``out_dir``; the unit is a query.

    Each row is one document of a query (``units``) with its id (``items``), graded
    ``labels`` and the model's ``scores``; a query's judged documents are its rows.
    ``features`` are query-level columns indexed by query id (``query_length`` gives
    length slices). ``predict(stress_rows) -> scores`` (``stress_rows``: the rows'
    features, in row order) enables the stress tests; ``baseline.y_pred`` holds the
    baseline's score of each row. ``documents`` and ``query_text`` (by id) put text
    into the failure examples. ``slices`` masks run over the sorted query ids.
    ``train_units`` are the queries the model learned from: a test query among them
    raises LeakageError, as do the row-level checks of ``leakage``; they finish before
    anything is written, and on LeakageError nothing is.

    A retriever's rows are the documents it retrieved and the judged ones: a NaN score
    marks a judged document it did not retrieve, a negative label a retrieved document
    nobody judged. Its baseline retrieved other documents: ``baseline_rows`` are the
    baseline's own rows (``baseline`` then only names it), paired query by query.
    ``retriever`` (its search, and the parts of it that can be stressed) replaces
    ``predict``: the stress tests then search the corpus again with corrupted queries
    (from ``query_text``), with ``documents`` partly blanked, with noisy embeddings, and
    sweep its approximate index's settings against exact search.
    """
    rows = ScoredRows.of(units, items, labels, scores)
    cfg = config or EvalConfig()
    if train_units is not None:
        check_queries_apart(train_units, rows.units)
    probe = rows.rank(None, cfg)
    frame = query_frame(probe, features)
    return evaluate(
        out_dir,
        frame,
        lambda config_used: ranking_task(
            rows,
            config_used,
            features=features,
            predict=predict,
            baseline=baseline,
            slices=slices,
            documents=documents,
            query_text=query_text,
            stress_rows=stress_rows,
            # The pipeline builds with this same config: rank every query once.
            ranked=probe if cfg is config_used else None,
            baseline_rows=baseline_rows,
            retriever=retriever,
        ),
        run=run,
        baseline=baseline,
        leakage=leakage,
        config=cfg,
        latency=latency,
    )


def check_queries_apart(train_units: ArrayLike, test_units: ArrayLike) -> None:
    """No query may have rows on both sides: a ranker that learned a query's other
    documents' labels ranks it at test time with knowledge no metric would reveal.

    :raises LeakageError: naming how many test queries the train rows hold, and some.
    """
    train = set(np.asarray(train_units).astype(str).tolist())
    shared = sorted(train.intersection(np.asarray(test_units).astype(str).tolist()))
    if shared:
        shown = ", ".join(repr(q) for q in shared[:5])
        raise LeakageError(
            CHECK_GROUP_IN_TRAIN,
            f"{len(shared)} test queries also have rows in train (e.g. {shown}); split by "
            "query so that each query is on one side",
        )


def paired_ranking_deltas(
    a: ScoredRows, b: ScoredRows, *, config: EvalConfig | None = None
) -> PairedDeltas:
    """Paired bootstrap intervals of (B - A) over queries for every ranking metric.

    ``a`` and ``b`` are each system's scored rows: the same rows with two systems' scores
    (a reranker's), or each retriever's own documents (their judged ones alike). Queries
    pair by id. ``config``'s ``n_bootstrap``, ``seed``, ``bootstrap_method``,
    ``ranking_cutoffs`` and ``ranking_gain`` pick the replicates and metrics, so the result
    equals B's report deltas against baseline A number for number.
    """
    cfg = config or EvalConfig()
    names = MQ.metric_names(cfg.ranking_cutoffs)
    b_means, a_means = (MQ.query_means(_paired_rank(a, b, cfg)[i], names) for i in (1, 0))
    method = resolve_method(cfg.bootstrap_method, b_means.n, AUTO_MULTINOMIAL_MAX_ROWS)
    return paired_bootstrap(
        b_means, a_means, names, dict.fromkeys(names, True), cfg.n_bootstrap, cfg.seed, method
    )


def _paired_rank(
    a: ScoredRows, b: ScoredRows, cfg: EvalConfig
) -> tuple[MQ.RankedQueries, MQ.RankedQueries]:
    ranked_a, ranked_b = a.rank(None, cfg), b.rank(None, cfg)
    if ranked_a.queries != ranked_b.queries:
        raise ValueError(
            "the two systems were judged on other queries: "
            f"{len(ranked_a.queries)} against {len(ranked_b.queries)}"
        )
    return ranked_a, ranked_b


def randomization_test(
    a: ScoredRows, b: ScoredRows, metric: str, *, config: EvalConfig | None = None
) -> S.RandomizationResult:
    """The paired randomization test of B against A on ``metric`` over queries (rows as
    :func:`paired_ranking_deltas` takes them), with the report's sign flips and seed."""
    cfg = config or EvalConfig()
    ranked_a, ranked_b = _paired_rank(a, b, cfg)
    return randomization_result(
        ranked_a.values([metric])[0], ranked_b.values([metric])[0], metric, cfg
    )


def randomization_result(
    a: NDArray[np.float64], b: NDArray[np.float64], metric: str, cfg: EvalConfig
) -> S.RandomizationResult:
    """The paired randomization test of per-query values ``b`` against ``a``, with the
    config's count of sign flips and seed, as ranking.json records it."""
    test = paired_randomization_test(
        a, b, metric=metric, n_permutations=cfg.randomization_n, seed=cfg.seed
    )
    return S.RandomizationResult(**dataclasses.asdict(test))
