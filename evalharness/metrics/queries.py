"""A ranking report's metrics: trec_eval's per-query measures under report names, as
weighted means over queries for the bootstrap.

Every ranking metric of a report is a mean over queries of a per-query value, so one
matrix of per-query values serves the point estimates, the bootstrap over queries, the
slices and the paired comparison. The values come from :mod:`evalharness.metrics.ranking`
(trec_eval's definitions); this module only names and lays them out.

Rows are scored items: each has its unit (query) id, its item (document) id, its graded
label and its score. A query's judgments are the labels of its rows, so the ideal ranking
of NDCG is over the candidates the table holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evalharness.metrics.ranking import Gain, QueryMeasures, evaluate_arrays
from evalharness.metrics.sums import weighted_sums

Array = NDArray[np.float64]

#: the @K families, report name -> trec_eval's measure prefix
AT_K = {
    "ndcg": "ndcg_cut",
    "recall": "recall",
    "precision": "P",
    "mrr": "mrr",
    "success": "success",
}
#: the measures of the whole ranking, report name -> trec_eval's name
WHOLE = {"map": "map", "r_precision": "Rprec", "ndcg": "ndcg"}
#: what each metric family measures, in a line (pages show it beside the metric)
DESCRIPTIONS = {
    "ndcg@k": "discounted gain of the top k over that of the ideal top k",
    "recall@k": "share of the relevant documents found in the top k",
    "precision@k": "share of the top k that is relevant (always divided by k)",
    "mrr@k": "1 / rank of the first relevant document, 0 if it is below rank k",
    "success@k": "1 if a relevant document is in the top k",
    "map": "mean average precision: precision at each relevant document, over all relevant",
    "r_precision": "precision at rank R, R the query's number of relevant documents",
    "ndcg": "discounted gain of the whole ranking over that of the ideal ranking",
}
#: trec_eval's conventions, stated in every ranking report
CONVENTIONS = (
    "trec_eval's definitions: documents ordered by score descending, ties by document id "
    "descending (as strings); the rank column is ignored; a label >= 1 is relevant, a "
    "negative label is unjudged; NDCG's gain is the label (or 2**label - 1 with "
    "exponential gain), discount log2(rank + 1), ideal ranking over every judged relevant "
    "document of the query; precision@k divides by k; a query without a relevant document "
    "scores 0; metrics are means over queries"
)


def metric_names(cutoffs: Sequence[int]) -> tuple[str, ...]:
    """Every metric of a ranking report, in report order: each family at each K, then
    the measures of the whole ranking."""
    return tuple(f"{fam}@{k}" for fam in AT_K for k in cutoffs) + tuple(WHOLE)


def family_of(name: str) -> str:
    """``ndcg@10`` -> ``ndcg@k``; a whole-ranking measure is its own family."""
    head, sep, _ = name.partition("@")
    return f"{head}@k" if sep else name


def _trec_name(name: str) -> str:
    head, sep, k = name.partition("@")
    return f"{AT_K[head]}_{k}" if sep else WHOLE[name]


@dataclass(frozen=True)
class RankedQueries:
    """Per-query measures of one system, queries in sorted id order."""

    queries: tuple[str, ...]
    measures: dict[str, QueryMeasures]
    #: candidates (scored rows) and relevant labels of each query, in ``queries`` order
    candidates: NDArray[np.int64]
    relevant: NDArray[np.int64]

    def values(self, names: Sequence[str]) -> Array:
        """``(len(names), n_queries)``: each metric's value per query."""
        trec = [_trec_name(n) for n in names]
        out = np.empty((len(names), len(self.queries)))
        for j, qid in enumerate(self.queries):
            row = self.measures[qid].values()
            out[:, j] = [row[t] for t in trec]
        return out


def integer_labels(labels: ArrayLike) -> NDArray[np.int64]:
    """Graded labels as integers; a label that is not a whole number is refused."""
    raw = np.asarray(labels)
    if raw.dtype.kind in "iub":
        return raw.astype(np.int64)
    values = raw.astype(np.float64)
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"relevance labels must be whole numbers; row {i} has {raw[i]!r} "
            f"({int(bad.sum())} such rows)"
        )
    return values.astype(np.int64)


def rank_queries(
    units: ArrayLike,
    items: ArrayLike,
    labels: ArrayLike,
    scores: ArrayLike,
    *,
    cutoffs: Sequence[int],
    gain: Gain = "linear",
) -> RankedQueries:
    """trec_eval's measures of every query that ``units`` names.

    Each row is one item of its query; ids are compared as strings. A row with a NaN
    score is a judged item the system did not retrieve (it counts in the judgments, not
    in the ranking), a row with a negative label a retrieved item nobody judged. Raises
    ValueError for arrays of unequal length, a label that is not a whole number, or an
    item listed twice for one query (trec_eval refuses such a run), naming the query and
    item.
    """
    u = np.asarray(units).astype(str)
    it = np.asarray(items).astype(str)
    lab = integer_labels(labels)
    sc = np.asarray(scores, dtype=np.float64)
    if not (u.shape == it.shape == lab.shape == sc.shape) or u.ndim != 1:
        raise ValueError(
            f"units, items, labels and scores must be 1-D of one length, got {u.shape}, "
            f"{it.shape}, {lab.shape}, {sc.shape}"
        )
    # Every row is a judgment (its label); the rows with a score are the run.
    retrieved = ~np.isnan(sc)
    if retrieved.all():
        ru, rit, rsc = u, it, sc  # one array for both sides: its ids are coded once
    else:
        ru, rit, rsc = u[retrieved], it[retrieved], sc[retrieved]
    measures = evaluate_arrays(u, it, lab, ru, rit, rsc, cutoffs=cutoffs, gain=gain)
    queries = tuple(measures)
    return RankedQueries(
        queries,
        measures,
        np.array([measures[q].num_ret for q in queries], dtype=np.int64),
        np.array([measures[q].num_rel for q in queries], dtype=np.int64),
    )


@dataclass(frozen=True)
class QueryMeans:
    """Ranking metrics as weighted means of per-query values (the bootstrap's kernels).

    ``values[j]`` holds metric ``names[j]`` per query; a replicate's metric is
    ``sum(w * v) / sum(w)`` over its resampled queries.
    """

    names: tuple[str, ...]
    values: Array  # (len(names), n)

    @property
    def n(self) -> int:
        """Number of queries."""
        return int(self.values.shape[1])

    def _rows(self, names: Sequence[str]) -> list[int]:
        index = {m: j for j, m in enumerate(self.names)}
        unknown = [m for m in names if m not in index]
        if unknown:
            raise ValueError(f"unknown ranking metric {unknown[0]!r}")
        return [index[m] for m in names]

    def compute(self, w: NDArray[Any], names: Sequence[str]) -> dict[str, Array]:
        """Every metric in ``names`` for each weight row of ``w``."""
        rows = self._rows(names)
        sums = weighted_sums(w, np.ascontiguousarray(self.values[rows]))
        total = np.asarray(w, dtype=np.float64).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return {m: sums[:, j] / total for j, m in enumerate(names)}

    def subset(self, positions: NDArray[np.intp], names: Sequence[str] | None = None) -> QueryMeans:
        """The same metrics on the queries at ``positions`` (order kept)."""
        keep = self.names if names is None else tuple(names)
        return QueryMeans(keep, np.ascontiguousarray(self.values[self._rows(keep)][:, positions]))

    def row_values(self, names: Sequence[str]) -> Array | None:
        """Each metric is a mean of its per-query values."""
        if len(names) != 1:
            return None
        out: Array = self.values[self._rows(names)[0]]
        return out


def query_means(ranked: RankedQueries, names: Sequence[str]) -> QueryMeans:
    """The bootstrap kernels of ``ranked``'s metrics ``names``."""
    return QueryMeans(tuple(names), ranked.values(names))
