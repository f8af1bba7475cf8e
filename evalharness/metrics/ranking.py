"""Ranking metrics with trec_eval's exact definitions.

A ranking report is only comparable with published numbers if every convention matches the
reference tool, so this kernel follows trec_eval 10.0 (github.com/usnistgov/trec_eval,
``form_res_rels.c``, ``trec_eval.c`` and the ``m_*.c`` measures) line by line:

- Documents are ordered by score descending; equal scores are ordered by document id
  descending, compared as strings (trec_eval's ``strcmp``; Python's code-point order is the
  same as the byte order of UTF-8). The run's rank column plays no part: the kernel never
  sees it.
- A label ``>= relevance_level`` (default 1, trec_eval's ``-l``) is relevant; ``0`` up to
  ``relevance_level - 1`` is judged non-relevant. A negative label means "in the pool but
  not judged" (trec_eval's RELVALUE_UNJUDGED); every measure here treats it exactly like a
  document absent from the qrels: neither relevant nor judged non-relevant. (A query with
  only negative labels makes trec_eval fail; here it is a query without a relevant document.)
- The gains of ``ndcg`` and ``ndcg_cut_k`` are the positive labels themselves (trec_eval's
  default, whatever ``relevance_level``); discount ``log2(rank + 1)``; the ideal ranking
  holds every judged document with a positive label, retrieved or not. ``gain="exponential"``
  (``2**label - 1``, not a trec_eval option) changes both the ranking's and the ideal gains.
- A qrels query without a relevant document scores 0 on every measure.
- Run queries absent from the qrels are ignored. A qrels query absent from the run (or with
  no document in it) scores 0 on every measure, ``num_rel`` aside. :func:`aggregate` then
  averages over all qrels queries with ``complete=True`` (trec_eval's ``-c``), or over the
  queries present in both with ``complete=False`` (trec_eval 9.x without ``-c``; trec_eval
  10.0 refuses such a run instead), and lists the missing queries either way.
- A run listing one document twice for a query is refused (trec_eval: "duplicate docs").
- In a summary ``num_ret``, ``num_rel`` and ``num_rel_ret`` are totals over the queries,
  every other measure a mean, as on trec_eval's ``all`` lines. (Known divergence: with
  ``-c`` and ``-l`` above 1, trec_eval's total ``num_rel`` counts every positive label; the
  total here is always the sum of the per-query ``num_rel``.)

``mrr_k`` (reciprocal rank, 0 when the first relevant document is ranked below ``k``) is
not a trec_eval measure; with ``k`` at least the run's depth it equals ``recip_rank``.

Sums run in trec_eval's order (rank by rank, query by query in sorted query order) and the
discounts come from the C library's ``log2`` as in trec_eval, so values agree to the last
bit in all but rare cases, and are the same on every CPU.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: query id -> {document id: relevance label}
Qrels = Mapping[str, Mapping[str, int]]
#: query id -> {document id: score}, or a sequence of (document id, score) pairs (which,
#: unlike a mapping, can show a duplicate document, and is refused if it does)
Run = Mapping[str, Mapping[str, float] | Sequence[tuple[str, float]]]
Gain = Literal["linear", "exponential"]

#: trec_eval's default cutoffs for P, recall and ndcg_cut, plus success's 1
DEFAULT_CUTOFFS = (1, 5, 10, 15, 20, 30, 100, 200, 500, 1000)
#: measures that are totals, not means, in a summary (as on trec_eval's ``all`` lines)
COUNT_MEASURES = ("num_ret", "num_rel", "num_rel_ret")
#: what each measure family measures, in a line
DESCRIPTIONS = {
    "map": "average precision: precision at each relevant document, over all relevant",
    "P_k": "share of the top k that is relevant (always divided by k)",
    "recall_k": "share of the relevant documents found in the top k",
    "ndcg": "discounted gain of the ranking over that of the ideal ranking",
    "ndcg_cut_k": "ndcg of the top k against the ideal top k",
    "recip_rank": "1 / rank of the first relevant document",
    "mrr_k": "1 / rank of the first relevant document, 0 if it is below rank k",
    "Rprec": "precision at rank R, R the number of relevant documents",
    "success_k": "1 if a relevant document is in the top k",
    "bpref": "share of judged non-relevant documents each relevant one is ranked above",
    "num_ret": "documents retrieved",
    "num_rel": "relevant documents in the qrels",
    "num_rel_ret": "relevant documents retrieved",
}

_NOT_JUDGED = -1  # absent from the qrels, or a negative (unjudged) label
_FEW_TIE_RUNS = 16  # above this many runs of tied scores, rank all ids at once
_MAX_CELLS = 1 << 21  # rows x columns of one batch: bounds memory, keeps arrays in cache


@dataclass(frozen=True)
class QueryMeasures:
    """trec_eval's measures for one qrels query; cutoff measures are keyed by k."""

    qid: str
    #: False when the run has no document for the query (then everything but num_rel is 0)
    in_run: bool
    num_ret: int
    num_rel: int
    num_rel_ret: int
    map: float
    Rprec: float
    bpref: float
    recip_rank: float
    ndcg: float
    P: Mapping[int, float]
    recall: Mapping[int, float]
    ndcg_cut: Mapping[int, float]
    mrr: Mapping[int, float]
    success: Mapping[int, float]
    #: rank r of the first document whose score equals the next one's (rank r + 1), if any
    first_tie_rank: int | None

    def values(self) -> dict[str, float]:
        """Every measure under trec_eval's name (``P_10``, ``ndcg_cut_5``, ...)."""
        out: dict[str, float] = {
            "num_ret": self.num_ret,
            "num_rel": self.num_rel,
            "num_rel_ret": self.num_rel_ret,
            "map": self.map,
            "Rprec": self.Rprec,
            "bpref": self.bpref,
            "recip_rank": self.recip_rank,
            "ndcg": self.ndcg,
        }
        for name, by_k in (
            ("P", self.P),
            ("recall", self.recall),
            ("ndcg_cut", self.ndcg_cut),
            ("mrr", self.mrr),
            ("success", self.success),
        ):
            out.update({f"{name}_{k}": v for k, v in by_k.items()})
        return out


@dataclass(frozen=True)
class RankingSummary:
    """The ``all`` line: means over the averaged queries (totals for the counts)."""

    values: Mapping[str, float]
    #: queries averaged over: all qrels queries if ``complete``, else those in the run too
    num_q: int
    complete: bool
    #: qrels queries the run has no document for (scored 0, averaged only if complete)
    missing: tuple[str, ...]
    #: qrels queries without a relevant document (they score 0 on every measure)
    no_relevant: tuple[str, ...]
    tie_k: int
    #: share of the averaged queries with two equal scores inside the top ``tie_k``,
    #: where the order comes from the document ids alone
    tie_share: float
    #: the averaged queries, sorted
    queries: tuple[str, ...]


def evaluate_queries(
    qrels: Qrels,
    run: Run,
    *,
    cutoffs: Iterable[int] = DEFAULT_CUTOFFS,
    gain: Gain = "linear",
    judged_only: bool = False,
    relevance_level: int = 1,
) -> dict[str, QueryMeasures]:
    """trec_eval's per-query measures for every qrels query, in sorted query order.

    ``cutoffs`` serve P, recall, ndcg_cut, mrr and success alike. ``judged_only`` drops the
    retrieved documents without a judgment (label absent or negative) before ranking, as
    trec_eval's ``-J``. Raises ValueError for a duplicate document, a NaN score, a
    non-integer label, or a bad cutoff, naming the query and document.
    """
    ks = _check_cutoffs(cutoffs)
    if gain not in ("linear", "exponential"):
        raise ValueError(f"gain must be 'linear' or 'exponential', got {gain!r}")
    if isinstance(relevance_level, bool) or not isinstance(relevance_level, int | np.integer):
        raise ValueError(f"relevance_level must be an integer, got {relevance_level!r}")
    if relevance_level < 1:
        raise ValueError(f"relevance_level must be at least 1, got {relevance_level}")
    prepared = [
        _prepare(qid, qrels[qid], run.get(qid), judged_only, int(relevance_level))
        for qid in sorted(qrels)
    ]
    out: dict[str, QueryMeasures] = {}
    for batch in _batches(prepared):
        for q in _compute(batch, ks, gain, int(relevance_level)):
            out[q.qid] = q
    return {qid: out[qid] for qid in sorted(out)}


def aggregate(
    per_query: Mapping[str, QueryMeasures], *, complete: bool = False, tie_k: int = 10
) -> RankingSummary:
    """Mean over queries of each measure (totals for the counts), as trec_eval's ``all``.

    ``complete=True`` averages over every qrels query, missing ones as 0 (``-c``);
    otherwise over the queries the run has documents for. Raises ValueError when no query
    is left to average over (trec_eval: "No queries with both results and relevance info").
    """
    if tie_k < 1:
        raise ValueError(f"tie_k must be positive, got {tie_k}")
    qids = sorted(per_query)
    used = [q for q in qids if complete or per_query[q].in_run]
    if not used:
        raise ValueError("no query has both run results and relevance judgments")
    rows = [per_query[q].values() for q in used]
    names = list(rows[0])
    if any(list(row) != names for row in rows):
        raise ValueError("the queries were evaluated with different cutoffs")
    table = np.array([list(row.values()) for row in rows], dtype=np.float64)
    # cumsum adds query by query, in trec_eval's order (a plain sum adds pairwise).
    totals = np.cumsum(table, axis=0)[-1]
    values = {
        n: (float(totals[j]) if n in COUNT_MEASURES else float(totals[j]) / len(used))
        for j, n in enumerate(names)
    }
    for n in COUNT_MEASURES:
        values[n] = int(values[n])
    tied = sum(1 for q in used if (r := per_query[q].first_tie_rank) is not None and r + 1 <= tie_k)
    return RankingSummary(
        values=values,
        num_q=len(used),
        complete=complete,
        missing=tuple(q for q in qids if not per_query[q].in_run),
        no_relevant=tuple(q for q in qids if per_query[q].num_rel == 0),
        tie_k=tie_k,
        tie_share=tied / len(used),
        queries=tuple(used),
    )


# --- preparation: one query's ranking, in Python (string order and dict look-ups) ---------


@dataclass(frozen=True)
class _Prepared:
    qid: str
    in_run: bool
    labels: NDArray[np.int64]  # label of each retrieved document in rank order (-1: none)
    scores: Array  # scores in rank order
    ideal: NDArray[np.int64]  # positive labels of the query's judged documents, descending
    num_rel: int
    num_nonrel: int  # judged documents with 0 <= label < relevance_level


def _prepare(
    qid: str,
    judged: Mapping[str, int],
    entries: Mapping[str, float] | Sequence[tuple[str, float]] | None,
    judged_only: bool,
    level: int,
) -> _Prepared:
    labels_all = _labels(qid, judged)
    num_rel = int(np.count_nonzero(labels_all >= level))
    num_nonrel = int(np.count_nonzero((labels_all >= 0) & (labels_all < level)))
    ideal = np.sort(labels_all[labels_all > 0])[::-1]
    docs, scores = _scores(qid, entries)
    if not docs:
        empty = np.zeros(0, dtype=np.int64)
        return _Prepared(qid, False, empty, np.zeros(0), ideal, num_rel, num_nonrel)
    order = _trec_order(docs, scores)
    ranked = np.array(docs, dtype=object)[order]
    labels = np.fromiter(
        map(judged.get, ranked, repeat(_NOT_JUDGED, len(docs))), dtype=np.int64, count=len(docs)
    )
    np.maximum(labels, _NOT_JUDGED, out=labels)  # a negative label: unjudged, as if absent
    ranked_scores = scores[order]
    if judged_only:
        keep = labels >= 0
        labels, ranked_scores = labels[keep], ranked_scores[keep]
    return _Prepared(qid, True, labels, ranked_scores, ideal, num_rel, num_nonrel)


def _trec_order(docs: list[str], scores: Array) -> list[int] | NDArray[np.intp]:
    """Positions of ``docs`` by score descending, then document id descending
    (trec_eval's comp_sim_docno).

    NumPy orders the scores; document ids are compared only where scores tie: run by run
    when there are few runs of ties, else through the rank of every id."""
    order = np.argsort(-scores)  # any order within ties: they are re-sorted below
    ranked = scores[order]
    tied = np.flatnonzero(ranked[1:] == ranked[:-1])
    if not tied.size:
        return order
    new_run = np.diff(tied) > 1
    if np.count_nonzero(new_run) >= _FEW_TIE_RUNS:
        by_id = np.empty(len(docs), dtype=np.intp)
        by_id[sorted(range(len(docs)), key=docs.__getitem__)] = np.arange(len(docs))
        return np.lexsort((-by_id, -scores))
    positions: list[int] = order.tolist()
    # a run of equal scores spans [start, end); consecutive tied pairs share a run
    starts = tied[np.r_[True, new_run]]
    ends = tied[np.r_[new_run, True]] + 2
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        positions[a:b] = sorted(positions[a:b], key=docs.__getitem__, reverse=True)
    return positions


def _labels(qid: str, judged: Mapping[str, int]) -> NDArray[np.int64]:
    if not judged:
        return np.zeros(0, dtype=np.int64)
    arr = np.array(list(judged.values()))
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        for doc, label in judged.items():
            if isinstance(label, bool) or not isinstance(label, int | np.integer):
                raise ValueError(
                    f"qrels query {qid!r}: label of {doc!r} is not an integer: {label!r}"
                )
        raise ValueError(f"qrels query {qid!r}: labels out of the 64-bit range")
    return arr.astype(np.int64)


def _scores(
    qid: str, entries: Mapping[str, float] | Sequence[tuple[str, float]] | None
) -> tuple[list[str], Array]:
    """The query's documents and their scores; refuses duplicates and NaN scores."""
    if entries is None:
        return [], np.zeros(0)
    if isinstance(entries, Mapping):
        by_doc = entries
    else:
        pairs = list(entries)
        by_doc = dict(pairs)
        if len(by_doc) != len(pairs):
            seen: set[str] = set()
            for doc, _ in pairs:
                if doc in seen:
                    raise ValueError(
                        f"run query {qid!r} lists document {doc!r} more than once"
                        " (trec_eval refuses duplicate documents too)"
                    )
                seen.add(doc)
    try:
        scores = np.fromiter(by_doc.values(), dtype=np.float64, count=len(by_doc))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"run query {qid!r}: scores must be numbers ({exc})") from None
    if np.isnan(scores).any():
        doc = next(d for d, v in by_doc.items() if v != v)
        raise ValueError(f"run query {qid!r}: document {doc!r} has a NaN score")
    return list(by_doc), scores


def _check_cutoffs(cutoffs: Iterable[int]) -> tuple[int, ...]:
    ks = list(cutoffs)
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"cutoffs must be positive integers, got {k!r}")
    if len(set(ks)) != len(ks):
        raise ValueError(f"duplicate cutoffs in {ks}")
    return tuple(sorted(int(k) for k in ks))


def _batches(prepared: list[_Prepared]) -> Iterable[list[_Prepared]]:
    """Queries grouped by depth, so padding to a common length wastes little."""
    order = sorted(prepared, key=lambda p: max(p.labels.size, p.ideal.size))
    batch: list[_Prepared] = []
    for p in order:
        width = max(p.labels.size, p.ideal.size, 1)
        if batch and (len(batch) + 1) * width > _MAX_CELLS:
            yield batch
            batch = []
        batch.append(p)
    if batch:
        yield batch


# --- computation: a batch of queries as padded (queries, ranks) arrays ---------------------


def _log2_table(n: int) -> Array:
    """``log2(rank + 1)`` for ranks 1..n, from the C library's log2 as trec_eval calls it
    (NumPy's vectorised log2 may round differently from one CPU to another)."""
    return np.array([math.log2(i) for i in range(2, n + 2)], dtype=np.float64)


def _padded(rows: Sequence[NDArray[Any]], fill: float, dtype: type[np.generic]) -> NDArray[Any]:
    lengths = np.array([r.size for r in rows], dtype=np.intp)
    width = int(lengths.max()) if rows else 0
    out = np.full((len(rows), width), fill, dtype=dtype)
    if width:
        out[np.arange(width) < lengths[:, None]] = np.concatenate(rows)
    return out


def _gains(labels: NDArray[np.int64], gain: Gain) -> Array:
    positive = labels > 0
    if gain == "linear":
        return np.where(positive, labels, 0).astype(np.float64)
    # 2**label - 1, exact for integer labels.
    return np.where(positive, np.ldexp(1.0, np.where(positive, labels, 0)) - 1.0, 0.0)


def _at(cum: NDArray[Any], k: int) -> NDArray[Any]:
    """Column k-1 of a cumulative array (its last column if it is narrower than k)."""
    if cum.shape[1] == 0:
        return np.zeros(cum.shape[0], dtype=cum.dtype)
    return cum[:, min(k, cum.shape[1]) - 1]


def _compute(
    batch: list[_Prepared], ks: tuple[int, ...], gain: Gain, level: int
) -> list[QueryMeasures]:
    labels = _padded([p.labels for p in batch], _NOT_JUDGED, np.int64)
    scores = _padded([p.scores for p in batch], np.nan, np.float64)
    n_q, width = labels.shape
    n_ret = np.array([p.labels.size for p in batch], dtype=np.int64)
    num_rel = np.array([p.num_rel for p in batch], dtype=np.int64)
    num_nonrel = np.array([p.num_nonrel for p in batch], dtype=np.int64)
    has_rel = num_rel > 0
    safe_rel = np.maximum(num_rel, 1).astype(np.float64)
    ranks = np.arange(1, width + 1, dtype=np.float64)

    rel = labels >= level
    cum_rel = np.cumsum(rel, axis=1, dtype=np.int64)
    num_rel_ret = _at(cum_rel, width)

    # map: precision at each relevant document, summed rank by rank, over all relevant.
    ap_sum = _at(np.cumsum(np.where(rel, cum_rel / ranks, 0.0), axis=1), width)
    ap = np.where(has_rel, ap_sum / safe_rel, 0.0)

    # Rprec: relevant among the first min(num_ret, R), over R.
    depth = np.minimum(n_ret, num_rel)
    rows = np.arange(n_q)
    at_depth = cum_rel[rows, np.maximum(depth - 1, 0)] if width else np.zeros(n_q, np.int64)
    rprec = np.where(depth > 0, at_depth / safe_rel, 0.0)

    # recip_rank / mrr_k: rank of the first relevant document.
    found = num_rel_ret > 0
    first = (np.argmax(rel, axis=1) + 1) if width else np.ones(n_q, dtype=np.intp)
    rr = np.where(found, 1.0 / first, 0.0)

    # bpref: for each relevant document, the judged non-relevant ranked above it.
    nonrel = (labels >= 0) & (labels < level)
    above = np.cumsum(nonrel, axis=1, dtype=np.int64)  # at a relevant rank: those above it
    r_col = num_rel[:, None]
    denom = np.maximum(np.minimum(num_nonrel, num_rel), 1)[:, None]
    credit = np.where(above > 0, 1.0 - np.minimum(above, r_col) / denom, 1.0)
    bpref_sum = _at(np.cumsum(np.where(rel, credit, 0.0), axis=1), width)
    bpref = np.where(has_rel, bpref_sum / safe_rel, 0.0)

    # DCG of the ranking and of the ideal ranking, both rank by rank.
    dcg = np.cumsum(_gains(labels, gain) / _log2_table(width), axis=1)
    ideal_labels = _padded([p.ideal for p in batch], 0, np.int64)
    idcg = np.cumsum(_gains(ideal_labels, gain) / _log2_table(ideal_labels.shape[1]), axis=1)

    def ndcg_at(k: int) -> Array:
        top, best = _at(dcg, k), _at(idcg, k)
        return np.where(best > 0, top / np.where(best > 0, best, 1.0), 0.0)

    big = max(width, ideal_labels.shape[1], 1)
    ndcg_all = ndcg_at(big)
    precision = {k: _at(cum_rel, k) / k for k in ks}
    recall = {k: np.where(has_rel, _at(cum_rel, k) / safe_rel, 0.0) for k in ks}
    success = {k: (_at(cum_rel, k) > 0).astype(np.float64) for k in ks}
    mrr = {k: np.where(found & (first <= k), 1.0 / first, 0.0) for k in ks}
    ndcg_cut = {k: ndcg_at(k) for k in ks}

    # First tie: equal scores at ranks r and r + 1, both retrieved.
    if width > 1:
        ties = (scores[:, 1:] == scores[:, :-1]) & (np.arange(1, width) < n_ret[:, None])
        tie_any = ties.any(axis=1)
        tie_rank = np.argmax(ties, axis=1) + 1
    else:
        tie_any = np.zeros(n_q, dtype=bool)
        tie_rank = np.zeros(n_q, dtype=np.intp)

    out = []
    for i, p in enumerate(batch):
        out.append(
            QueryMeasures(
                qid=p.qid,
                in_run=p.in_run,
                num_ret=int(n_ret[i]),
                num_rel=int(num_rel[i]),
                num_rel_ret=int(num_rel_ret[i]),
                map=float(ap[i]),
                Rprec=float(rprec[i]),
                bpref=float(bpref[i]),
                recip_rank=float(rr[i]),
                ndcg=float(ndcg_all[i]),
                P={k: float(v[i]) for k, v in precision.items()},
                recall={k: float(v[i]) for k, v in recall.items()},
                ndcg_cut={k: float(v[i]) for k, v in ndcg_cut.items()},
                mrr={k: float(v[i]) for k, v in mrr.items()},
                success={k: float(v[i]) for k, v in success.items()},
                first_tie_rank=int(tie_rank[i]) if tie_any[i] else None,
            )
        )
    return out
