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

:func:`evaluate_arrays` takes a run and its qrels as flat arrays (what a run file holds,
see :func:`evalharness.formats.trec.read_run_arrays`) and ranks every query with NumPy,
no Python object per document; :func:`evaluate_queries` flattens its mappings into the
same arrays, so both give the same numbers, to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

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
_MAX_CELLS = 1 << 18  # rows x columns of one batch: bounds memory, keeps arrays in cache


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
    non-integer label, or a bad cutoff, naming the query and document (of the first
    query in sorted order that has a problem).
    """
    ks, level = _options(cutoffs, gain, relevance_level)
    qids = sorted(qrels)
    judged = [qrels[q] for q in qids]
    qrels_queries = np.repeat(np.array(qids, dtype=str), [len(j) for j in judged])
    qrels_docs = np.array(list(chain.from_iterable(judged)), dtype=str)
    labels = list(chain.from_iterable(j.values() for j in judged))
    # The run, flattened in the same query order; errors found here wait for the others,
    # so that the first query in sorted order is the one named.
    errors: list[_Error] = []
    run_queries: list[str] = []
    run_docs: list[str] = []
    scores: list[Array] = []
    sizes: list[int] = []
    for qid in qids:
        entries = run.get(qid)
        if not entries:
            continue
        values: Iterable[float]
        if isinstance(entries, Mapping):
            docs, values = list(entries), entries.values()
        else:
            pairs = list(entries)
            docs, values = [d for d, _ in pairs], [s for _, s in pairs]
        try:
            got = np.fromiter(values, dtype=np.float64, count=len(docs))
        except (TypeError, ValueError) as exc:
            errors.append((qid, _E_SCORE, f"run query {qid!r}: scores must be numbers ({exc})"))
            got = np.zeros(len(docs))
        run_queries.append(qid)
        sizes.append(len(docs))
        run_docs.extend(docs)
        scores.append(got)
    return _evaluate(
        (qrels_queries, qrels_docs, _labels(labels)),
        (
            np.repeat(np.array(run_queries, dtype=str), sizes),
            np.array(run_docs, dtype=str),
            np.concatenate(scores) if scores else np.zeros(0),
        ),
        ks,
        gain,
        judged_only,
        level,
        errors,
        unjudged=[q for q, j in zip(qids, judged, strict=True) if not j],
    )


def evaluate_arrays(
    qrels_queries: ArrayLike,
    qrels_docs: ArrayLike,
    qrels_labels: ArrayLike,
    run_queries: ArrayLike,
    run_docs: ArrayLike,
    run_scores: ArrayLike,
    *,
    cutoffs: Iterable[int] = DEFAULT_CUTOFFS,
    gain: Gain = "linear",
    judged_only: bool = False,
    relevance_level: int = 1,
) -> dict[str, QueryMeasures]:
    """:func:`evaluate_queries` on flat arrays: one entry per judgment, one per retrieved
    document, with no Python object per entry.

    Ids are arrays of str or of UTF-8 bytes (anything else is compared through ``str``),
    labels integers, scores numbers; row order plays no part. The measures are
    :func:`evaluate_queries`' to the last bit, with its conventions and its errors (a
    document judged twice for one query is refused too). Raises ValueError naming the
    query and document, for the first query in sorted order that has a problem.
    """
    ks, level = _options(cutoffs, gain, relevance_level)
    qq, qd = _id_array(qrels_queries, "qrels queries"), _id_array(qrels_docs, "qrels docs")
    rq, rd = _id_array(run_queries, "run queries"), _id_array(run_docs, "run docs")
    labels = _labels(qrels_labels if isinstance(qrels_labels, list) else np.asarray(qrels_labels))
    try:
        scores = np.asarray(run_scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"run scores must be numbers ({exc})") from None
    if not qq.shape == qd.shape == labels.values.shape:
        raise ValueError(
            f"qrels queries, docs and labels must be 1-D of one length, got {qq.shape}, "
            f"{qd.shape}, {labels.values.shape}"
        )
    if not rq.shape == rd.shape == scores.shape:
        raise ValueError(
            f"run queries, docs and scores must be 1-D of one length, got {rq.shape}, "
            f"{rd.shape}, {scores.shape}"
        )
    return _evaluate((qq, qd, labels), (rq, rd, scores), ks, gain, judged_only, level, [])


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


# --- evaluation: every query at once, from flat arrays --------------------------------------
#
# Ids become big-endian 64-bit words whose order is the ids' string order. Query ids are
# numbered in sorted order; each query's rows are grouped (they usually are already).
# Queries of similar depth are then ranked together in padded (queries, rows) arrays:
# one sort of each row's retrieved and judged documents by id finds every label and every
# duplicate, a stable sort by score of the documents in descending id order gives
# trec_eval's ranking, and _compute takes it from there.

#: (query, priority within the query, message): the first in that order is raised
_Error = tuple[str, int, str]
_E_LABEL, _E_RANGE, _E_DUPLICATE, _E_SCORE, _E_NAN, _E_JUDGED_TWICE = range(6)
#: the key of padding: no UTF-8 text and no code point gives 8 bytes of 0xff
_PAD = np.uint64(2**64 - 1)
_NO_RANK = 2**62  # the rank of padding: past every cutoff
_MAGNITUDE = np.int64(2**63 - 1)
_LAST = np.int64(2**63 - 1)  # above every score's key


@dataclass(frozen=True)
class _Labels:
    """Labels as int64, and the rows that are not integers or do not fit in 64 bits."""

    values: NDArray[np.int64]
    raw: Sequence[Any] | NDArray[Any]  # as given, to show a refused label
    not_integer: NDArray[np.bool_] | None
    out_of_range: NDArray[np.bool_] | None


def _labels(labels: list[Any] | NDArray[Any]) -> _Labels:
    if isinstance(labels, np.ndarray) and labels.dtype != object:
        if labels.dtype.kind not in "iu":
            return _Labels(
                np.zeros(labels.shape, np.int64), labels, np.ones(labels.shape, bool), None
            )
        over = labels > np.iinfo(np.int64).max
        return _Labels(labels.astype(np.int64), labels, None, over if over.any() else None)
    raw: list[Any] = labels.tolist() if isinstance(labels, np.ndarray) else labels
    if all(
        issubclass(t, int | np.integer) and not issubclass(t, bool) for t in set(map(type, raw))
    ):
        arr = np.array(raw) if raw else np.zeros(0, np.int64)
        if arr.dtype.kind == "i" or (arr.dtype.kind == "u" and arr.max() <= np.iinfo(np.int64).max):
            return _Labels(arr.astype(np.int64), raw, None, None)
    integer = [isinstance(v, int | np.integer) and not isinstance(v, bool) for v in raw]
    big = [ok and not -(2**63) <= int(v) < 2**63 for v, ok in zip(raw, integer, strict=True)]
    return _Labels(np.zeros(len(raw), np.int64), raw, ~np.array(integer, bool), np.array(big, bool))


def _options(
    cutoffs: Iterable[int], gain: Gain, relevance_level: int
) -> tuple[tuple[int, ...], int]:
    ks = _check_cutoffs(cutoffs)
    if gain not in ("linear", "exponential"):
        raise ValueError(f"gain must be 'linear' or 'exponential', got {gain!r}")
    if isinstance(relevance_level, bool) or not isinstance(relevance_level, int | np.integer):
        raise ValueError(f"relevance_level must be an integer, got {relevance_level!r}")
    if relevance_level < 1:
        raise ValueError(f"relevance_level must be at least 1, got {relevance_level}")
    return ks, int(relevance_level)


def _check_cutoffs(cutoffs: Iterable[int]) -> tuple[int, ...]:
    ks = list(cutoffs)
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"cutoffs must be positive integers, got {k!r}")
    if len(set(ks)) != len(ks):
        raise ValueError(f"duplicate cutoffs in {ks}")
    return tuple(sorted(int(k) for k in ks))


def _id_array(ids: ArrayLike, what: str) -> NDArray[Any]:
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    return arr if arr.dtype.kind in "SU" else arr.astype(str)


def _joined(a: NDArray[Any], b: NDArray[Any]) -> NDArray[Any]:
    """Both id arrays end to end, as one kind (text if either is text)."""
    if not a.size or not b.size:
        return b if not a.size else a
    if a.dtype.kind != b.dtype.kind:
        a, b = (_text(x) if x.dtype.kind == "S" else x for x in (a, b))
    return np.concatenate([a, b])


def _text(ids: NDArray[np.bytes_]) -> NDArray[np.str_]:
    try:
        return ids.astype(str)  # ASCII: NumPy's own cast, fast
    except UnicodeDecodeError:
        out: NDArray[np.str_] = np.char.decode(ids, "utf-8")
        return out


def _texts(ids: NDArray[Any]) -> list[str]:
    if ids.dtype.kind == "U":
        return [str(x) for x in ids.tolist()]
    try:
        return [x.decode("utf-8") for x in ids.tolist()]
    except UnicodeDecodeError as exc:
        raise ValueError(f"ids must be UTF-8 text ({exc})") from None


def _words(ids: NDArray[Any]) -> NDArray[np.uint64]:
    """``(len(ids), k)`` unsigned keys; rows compare as the ids compare as strings.

    Bytes (and text below U+0100) go 8 to a word, other text 2 code points to a word,
    big-endian and padded with zeros, as strcmp orders a prefix first."""
    n = ids.shape[0]
    if ids.dtype.kind == "U":
        ids = np.ascontiguousarray(ids, dtype=ids.dtype.newbyteorder("="))
        width = ids.dtype.itemsize // 4
        points = ids.view(np.uint32).reshape(n, width)
        if n and width and points.max() >= 256:
            pairs = np.zeros((n, width + width % 2), np.uint64)
            pairs[:, :width] = points
            return (pairs[:, 0::2] << np.uint64(32)) | pairs[:, 1::2]
        chars = points.astype(np.uint8)
    else:
        ids = np.ascontiguousarray(ids)
        width = ids.dtype.itemsize
        chars = ids.view(np.uint8).reshape(n, width)
    k = max(1, -(-width // 8))
    if width != 8 * k:
        padded = np.zeros((n, 8 * k), np.uint8)
        padded[:, :width] = chars
        chars = padded
    return chars.view(">u8").astype(np.uint64)


def _lex_order(words: NDArray[np.uint64]) -> NDArray[np.intp]:
    """Stable argsort of the rows of ``words``, first column first."""
    order = np.argsort(words[:, -1], kind="stable")
    for j in range(words.shape[1] - 2, -1, -1):
        order = order[np.argsort(words[order, j], kind="stable")]
    return order


@dataclass(frozen=True)
class _Runs:
    """Rows as runs of one id (a file lists a query's lines together): where each run
    starts, its length, and its id's code (codes sort as the ids do)."""

    starts: NDArray[np.int64]
    lengths: NDArray[np.int64]
    codes: NDArray[np.int64]

    def code_of(self, rows: NDArray[np.intp]) -> NDArray[np.int64]:
        """The code of each of ``rows``."""
        return self.codes[np.searchsorted(self.starts, rows, side="right") - 1]

    def part(self, start: int, stop: int) -> _Runs:
        """The runs of rows start..stop-1 (runs never cross start or stop), renumbered."""
        keep = (self.starts >= start) & (self.starts < stop)
        return _Runs(self.starts[keep] - start, self.lengths[keep], self.codes[keep])


def _factorize(
    words: NDArray[np.uint64], breaks: Sequence[int] = ()
) -> tuple[_Runs, NDArray[np.intp]]:
    """The runs of equal rows of ``words`` (a run also starts at each of ``breaks``), each
    coded by its rank among the distinct rows; and the first row of each code."""
    n = words.shape[0]
    change = np.ones(n, bool)
    change[1:] = (words[1:] != words[:-1]).any(axis=1)
    change[[b for b in breaks if b < n]] = True
    starts = np.flatnonzero(change)
    segments = words[starts]
    order = _lex_order(segments) if n else np.zeros(0, np.intp)
    ranked = segments[order]
    new = np.ones(len(ranked), bool)
    new[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
    codes = np.empty(len(ranked), np.int64)
    codes[order] = np.cumsum(new) - 1
    return _Runs(starts, np.diff(np.append(starts, n)), codes), starts[order[new]]


@dataclass(frozen=True)
class _Side:
    """The qrels or the run, rows grouped by query code."""

    ids: NDArray[Any]  # document ids, in the caller's row order (for messages)
    rows: NDArray[np.intp] | None  # the caller's row of each grouped row (None: the same)
    words: tuple[NDArray[np.uint64], ...]  # document keys, one array per word
    values: NDArray[Any]  # labels (int64) or scores (float64)
    starts: NDArray[np.int64]  # per query code: its first grouped row
    counts: NDArray[np.int64]  # per query code: its number of rows

    @classmethod
    def of(
        cls,
        ids: NDArray[Any],
        runs: _Runs,
        n_codes: int,
        words: NDArray[np.uint64],
        values: NDArray[Any],
    ) -> _Side:
        counts = np.bincount(runs.codes, weights=runs.lengths, minlength=n_codes).astype(np.int64)
        rows = None
        if np.bincount(runs.codes, minlength=1).max() <= 1:  # each query's rows are together
            starts = np.zeros(n_codes, np.int64)
            starts[runs.codes] = runs.starts
        else:
            rows = np.argsort(np.repeat(runs.codes, runs.lengths), kind="stable")
            starts = np.cumsum(counts) - counts
            words, values = words[rows], values[rows]
        cols = tuple(np.ascontiguousarray(words[:, j]) for j in range(words.shape[1]))
        return cls(ids, rows, cols, values, starts, counts)

    def docs(self, code: int) -> list[str]:
        """The query's document ids in the caller's row order."""
        a, b = int(self.starts[code]), int(self.starts[code] + self.counts[code])
        return _texts(self.ids[slice(a, b) if self.rows is None else self.rows[a:b]])


def _first_repeat(docs: list[str]) -> str | None:
    seen: set[str] = set()
    for doc in docs:
        if doc in seen:
            return doc
        seen.add(doc)
    return None


def _evaluate(
    qrels: tuple[NDArray[Any], NDArray[Any], _Labels],
    run: tuple[NDArray[Any], NDArray[Any], Array],
    ks: tuple[int, ...],
    gain: Gain,
    judged_only: bool,
    level: int,
    errors: list[_Error],
    unjudged: Sequence[str] = (),
) -> dict[str, QueryMeasures]:
    """The measures of every qrels query, and of the ``unjudged`` ones: qrels queries
    without a judgment (only a mapping can hold one)."""
    qq, qd, labels = qrels
    rq, rd, scores = run
    n_qrels, n_extra = qq.size, len(unjudged)
    # Query codes, shared by both sides; rank_queries passes one array for both.
    if rq is qq and not unjudged:
        qruns, first = _factorize(_words(qq))
        rruns, names = qruns, _texts(qq[first])
    else:
        both = _joined(_joined(qq, np.array(unjudged, dtype=str)), rq)
        runs, first = _factorize(_words(both), (n_qrels, n_qrels + n_extra))
        names = _texts(both[first])
        qruns, rruns = runs.part(0, n_qrels), runs.part(n_qrels + n_extra, both.size)
        extra = runs.part(n_qrels, n_qrels + n_extra).codes
    n_codes = len(names)
    dwords = _words(qd if rd is qd else _joined(qd, rd))
    qwords, rwords = (dwords, dwords) if rd is qd else (dwords[:n_qrels], dwords[n_qrels:])

    def failed(code: int, priority: int, message: str) -> None:
        errors.append((names[code], priority, message))

    def first_row(mask: NDArray[np.bool_], runs: _Runs) -> tuple[int, int]:
        """Among the rows in ``mask``, the first of the first query: (its code, its row)."""
        where = np.flatnonzero(mask)
        codes = runs.code_of(where)
        i = np.lexsort((where, codes))[0]
        return int(codes[i]), int(where[i])

    for mask, integer in ((labels.not_integer, True), (labels.out_of_range, False)):
        if mask is not None and mask.any():
            c, i = first_row(mask, qruns)
            doc, label = _texts(qd[i : i + 1])[0], labels.raw[i]
            if isinstance(labels.raw, np.ndarray):
                label = label.item()
            failed(
                c,
                _E_LABEL if integer else _E_RANGE,
                f"qrels query {names[c]!r}: label of {doc!r} is not an integer: {label!r}"
                if integer
                else f"qrels query {names[c]!r}: labels out of the 64-bit range",
            )
    # Run queries absent from the qrels play no part, not even in the checks.
    judged = np.zeros(n_codes, bool)
    judged[qruns.codes] = True
    if unjudged:
        judged[extra] = True
    nan = np.isnan(scores)
    if nan.any():
        nan[nan] = judged[rruns.code_of(np.flatnonzero(nan))]
    if nan.any():
        c, i = first_row(nan, rruns)
        doc = _texts(rd[i : i + 1])[0]
        failed(c, _E_NAN, f"run query {names[c]!r}: document {doc!r} has a NaN score")

    qside = _Side.of(qd, qruns, n_codes, qwords, labels.values)
    rside = _Side.of(rd, rruns, n_codes, rwords, scores)
    out: dict[int, QueryMeasures] = {}
    for batch in _batches(np.flatnonzero(judged), rside.counts + qside.counts):
        ranked = _rank_batch(batch, rside, qside, judged_only, level)
        if not isinstance(ranked, _Ranked):
            for c in ranked.tolist():
                listed, judged_twice = _first_repeat(rside.docs(c)), _first_repeat(qside.docs(c))
                if listed is None and judged_twice is None:
                    raise AssertionError(f"query {names[c]!r} has no duplicate after all")
                if listed is not None:
                    failed(
                        c,
                        _E_DUPLICATE,
                        f"run query {names[c]!r} lists document {listed!r} more than once"
                        " (trec_eval refuses duplicate documents too)",
                    )
                if judged_twice is not None:
                    failed(
                        c,
                        _E_JUDGED_TWICE,
                        f"qrels query {names[c]!r} judges document {judged_twice!r} more than once",
                    )
        elif not errors:
            for i, q in enumerate(_compute(ranked, [names[c] for c in batch], ks, gain, level)):
                out[int(batch[i])] = q
    if errors:
        raise ValueError(min(errors)[2])
    return {names[c]: out[c] for c in sorted(out)}


def _batches(codes: NDArray[np.intp], width: NDArray[np.int64]) -> Iterable[NDArray[np.intp]]:
    """Query codes grouped by depth, so padding to a common length wastes little."""
    order = codes[np.argsort(width[codes], kind="stable")]
    sizes = np.maximum(width[order], 1).tolist()
    start = 0
    for i, w in enumerate(sizes):
        if i > start and (i - start + 1) * w > _MAX_CELLS:
            yield order[start:i]
            start = i
    if start < len(sizes):
        yield order[start:]


@dataclass(frozen=True)
class _Ranked:
    """A batch of queries ranked, kept to what the measures read: the judged retrieved
    documents in rank order, as padded (queries, documents) arrays, and counts."""

    in_run: NDArray[np.bool_]
    rank: NDArray[np.int64]  # rank of each judged retrieved document (padding: _NO_RANK)
    labels: NDArray[np.int64]  # its label (padding: -1)
    n_ret: NDArray[np.int64]
    ideal: NDArray[np.int64]  # positive labels of the query's judgments, descending, 0-padded
    num_rel: NDArray[np.int64]
    num_nonrel: NDArray[np.int64]  # judged documents with 0 <= label < relevance_level
    first_tie: NDArray[np.int64]  # rank r whose score equals that of rank r + 1; 0: none


def _along(a: NDArray[Any], index: NDArray[np.intp]) -> NDArray[Any]:
    return np.take_along_axis(a, index, axis=1)


def _rank_batch(
    batch: NDArray[np.intp], run: _Side, qrels: _Side, judged_only: bool, level: int
) -> _Ranked | NDArray[np.intp]:
    """The batch ranked, or its queries that list a document twice (in the run or in
    the qrels)."""
    n = batch.size
    rn, qn = run.counts[batch], qrels.counts[batch]
    width, qwidth = int(rn.max()), int(qn.max())
    cells = width + qwidth
    rcol, qcol = np.arange(width), np.arange(qwidth)
    rvalid, qvalid = rcol < rn[:, None], qcol < qn[:, None]
    # Each cell's row in its side's arrays (padding reads any row, then is masked).
    ridx = np.minimum(run.starts[batch, None] + rcol, max(run.values.size - 1, 0))
    qidx = np.minimum(qrels.starts[batch, None] + qcol, max(qrels.values.size - 1, 0))

    full = bool(rvalid.all())  # (often: queries of one depth are batched together)

    def merged(r: NDArray[Any], q: NDArray[Any], fill: Any) -> NDArray[Any]:
        out = np.empty((n, cells), r.dtype)
        out[:, :width] = r[ridx] if full else np.where(rvalid, r[ridx], fill)
        out[:, width:] = np.where(qvalid, q[qidx], fill)
        return out

    # Each query's retrieved documents, then its judged ones, in descending id order.
    keys = [merged(r, q, _PAD) for r, q in zip(run.words, qrels.words, strict=True)]
    if len(keys) == 1:  # equal ids are refused below, so any sort will do
        order = np.argsort(keys[0], axis=1)
    else:
        order = np.argsort(keys[-1], axis=1, kind="stable")
        for key in keys[-2::-1]:
            order = _along(order, np.argsort(_along(key, order), axis=1, kind="stable"))
    offsets = (np.arange(n) * cells)[:, None]
    flat = np.ascontiguousarray((order + offsets)[:, ::-1])
    # Neighbours in that order: the same id, and which sides (0 run, 1 qrels, 2 and 3
    # padding).
    source = np.empty((n, cells), np.int8)
    source[:, :width], source[:, width:] = np.where(rvalid, 0, 2), np.where(qvalid, 1, 3)
    src = source.ravel()[flat]
    pair = src[:, :-1] * 4 + src[:, 1:]  # 0: run, run; 1: run, qrels; 4: qrels, run; 5
    same = (src[:, :-1] < 2) & (src[:, 1:] < 2)
    for key in keys:
        k = key.ravel()[flat]
        same &= k[:, 1:] == k[:, :-1]
    # Without duplicates an id is at most twice in a row, once from each side.
    twice = (same & ((pair == 0) | (pair == 5))).any(axis=1)
    twice |= (same[:, 1:] & same[:, :-1]).any(axis=1)
    if twice.any():
        flagged: NDArray[np.intp] = batch[twice]
        return flagged
    # A retrieved document's judgment sits next to it, on one side or the other; a
    # negative label is unjudged, as if absent.
    qlabels = np.where(qvalid, qrels.values[qidx], 0)
    judged = np.zeros((n, cells), np.int64)
    judged[:, width:] = np.maximum(qlabels, _NOT_JUDGED)
    judged = judged.ravel()[flat]
    label = np.full(src.shape, _NOT_JUDGED, np.int64)
    label[:, :-1] = np.where(same & (pair == 1), judged[:, 1:], _NOT_JUDGED)
    label[:, 1:] = np.where(same & (pair == 4), judged[:, :-1], label[:, 1:])
    # Stably by descending score: ties keep the descending id order. The key of a
    # score is an integer in the order of its negation (0.0 and -0.0 alike); judgments
    # and padding have the largest and go last.
    negated = (-run.values[ridx] + 0.0).view(np.int64)
    negated ^= (negated >> 63) & _MAGNITUDE
    scores = np.full((n, cells), _LAST, np.int64)
    scores[:, :width] = negated if full else np.where(rvalid, negated, _LAST)
    scores = scores.ravel()[flat]
    rank = np.argsort(scores, axis=1, kind="stable")[:, :width]
    rank += offsets
    labels = label.ravel()[rank]
    ranked_scores = scores.ravel()[rank]  # keys: equality is all that is read
    kept = labels >= 0
    n_ret = rn
    if judged_only:
        n_ret = np.count_nonzero(kept, axis=1).astype(np.int64)
    # The judged documents, packed to the left of each row, in rank order.
    row, col = np.nonzero(kept)
    count = np.count_nonzero(kept, axis=1)
    slot = np.arange(row.size) - np.repeat(np.cumsum(count) - count, count)
    depth = int(count.max(initial=0))
    ranks = np.full((n, depth), _NO_RANK, np.int64)
    packed = np.full((n, depth), _NOT_JUDGED, np.int64)
    ranks[row, slot] = slot + 1 if judged_only else col + 1
    packed[row, slot] = labels[row, col]
    # First tie: equal scores at ranks r and r + 1, both retrieved (and kept).
    if judged_only:
        tie_scores = np.full((n, depth), _LAST, np.int64)
        tie_scores[row, slot] = ranked_scores[row, col]
    else:
        tie_scores = ranked_scores
    ties = (tie_scores[:, 1:] == tie_scores[:, :-1]) & (tie_scores[:, 1:] != _LAST)
    first_tie = np.zeros(n, np.int64)
    if ties.shape[1]:
        first_tie = np.where(ties.any(axis=1), np.argmax(ties, axis=1) + 1, 0)
    positive = np.where(qlabels > 0, qlabels, 0)
    return _Ranked(
        in_run=rn > 0,
        rank=ranks,
        labels=packed,
        n_ret=n_ret,
        ideal=-np.sort(-positive, axis=1),
        num_rel=np.count_nonzero(qvalid & (qlabels >= level), axis=1).astype(np.int64),
        num_nonrel=np.count_nonzero(qvalid & (qlabels >= 0) & (qlabels < level), axis=1).astype(
            np.int64
        ),
        first_tie=first_tie,
    )


# --- computation: a batch of queries as padded (queries, ranks) arrays ---------------------


def _log2_table(n: int) -> Array:
    """``log2(rank + 1)`` for ranks 1..n, from the C library's log2 as trec_eval calls it
    (NumPy's vectorised log2 may round differently from one CPU to another)."""
    return np.array([math.log2(i) for i in range(2, n + 2)], dtype=np.float64)


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
    ranked: _Ranked, qids: list[str], ks: tuple[int, ...], gain: Gain, level: int
) -> list[QueryMeasures]:
    """The measures of a ranked batch. Only judged documents move a measure, so the
    sums run over them alone, in rank order: the same additions as over every rank
    (the others add 0.0), so the same floats."""
    labels, rank, n_ret = ranked.labels, ranked.rank, ranked.n_ret
    num_rel, num_nonrel = ranked.num_rel, ranked.num_nonrel
    n_q, width = labels.shape
    has_rel = num_rel > 0
    safe_rel = np.maximum(num_rel, 1).astype(np.float64)
    ranks = rank.astype(np.float64)
    rows = np.arange(n_q)

    def upto(cum: NDArray[Any], k: int | NDArray[np.int64]) -> NDArray[Any]:
        """``cum`` at the last document ranked k or better (0 if there is none)."""
        if not width:
            return np.zeros(n_q, dtype=cum.dtype)
        count = np.count_nonzero(rank <= np.reshape(k, (-1, 1)), axis=1)
        return np.where(count > 0, cum[rows, np.maximum(count - 1, 0)], 0)

    rel = labels >= level
    cum_rel = np.cumsum(rel, axis=1, dtype=np.int64)
    num_rel_ret = _at(cum_rel, width)

    # map: precision at each relevant document, summed rank by rank, over all relevant.
    ap_sum = _at(np.cumsum(np.where(rel, cum_rel / ranks, 0.0), axis=1), width)
    ap = np.where(has_rel, ap_sum / safe_rel, 0.0)

    # Rprec: relevant among the first min(num_ret, R), over R.
    depth = np.minimum(n_ret, num_rel)
    rprec = np.where(depth > 0, upto(cum_rel, depth) / safe_rel, 0.0)

    # recip_rank / mrr_k: rank of the first relevant document.
    found = num_rel_ret > 0
    first = np.where(rel, rank, _NO_RANK).min(axis=1, initial=_NO_RANK)
    first = np.where(found, first, 1)
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
    log2 = _log2_table(int(np.max(n_ret, initial=1)))
    discount = log2[np.minimum(rank, log2.size) - 1]  # padding: any, its gain is 0
    dcg = np.cumsum(_gains(labels, gain) / discount, axis=1)
    ideal_labels = ranked.ideal
    idcg = np.cumsum(_gains(ideal_labels, gain) / _log2_table(ideal_labels.shape[1]), axis=1)

    def ndcg_at(top: Array, k: int) -> Array:
        best = _at(idcg, k)
        return np.where(best > 0, top / np.where(best > 0, best, 1.0), 0.0)

    big = max(int(np.max(n_ret, initial=0)), ideal_labels.shape[1], 1)
    ndcg_all = ndcg_at(_at(dcg, width), big)
    rel_at = {k: upto(cum_rel, k) for k in ks}
    precision = {k: rel_at[k] / k for k in ks}
    recall = {k: np.where(has_rel, rel_at[k] / safe_rel, 0.0) for k in ks}
    success = {k: (rel_at[k] > 0).astype(np.float64) for k in ks}
    mrr = {k: np.where(found & (first <= k), 1.0 / first, 0.0) for k in ks}
    ndcg_cut = {k: ndcg_at(upto(dcg, k), k) for k in ks}

    def rows_of(by_k: dict[int, NDArray[Any]]) -> list[list[float]]:
        return np.column_stack([by_k[k] for k in ks]).tolist() if ks else [[]] * n_q

    columns = zip(
        qids,
        ranked.in_run.tolist(),
        n_ret.tolist(),
        num_rel.tolist(),
        num_rel_ret.tolist(),
        ap.tolist(),
        rprec.tolist(),
        bpref.tolist(),
        rr.tolist(),
        ndcg_all.tolist(),
        rows_of(precision),
        rows_of(recall),
        rows_of(ndcg_cut),
        rows_of(mrr),
        rows_of(success),
        ranked.first_tie.tolist(),
        strict=True,
    )
    return [
        QueryMeasures(
            qid=qid,
            in_run=in_run,
            num_ret=ret,
            num_rel=nrel,
            num_rel_ret=nrr,
            map=m,
            Rprec=rp,
            bpref=bp,
            recip_rank=r,
            ndcg=nd,
            P=dict(zip(ks, p_k, strict=True)),
            recall=dict(zip(ks, recall_k, strict=True)),
            ndcg_cut=dict(zip(ks, ndcg_k, strict=True)),
            mrr=dict(zip(ks, mrr_k, strict=True)),
            success=dict(zip(ks, success_k, strict=True)),
            first_tie_rank=tie or None,
        )
        for (
            qid,
            in_run,
            ret,
            nrel,
            nrr,
            m,
            rp,
            bp,
            r,
            nd,
            p_k,
            recall_k,
            ndcg_k,
            mrr_k,
            success_k,
            tie,
        ) in columns
    ]
