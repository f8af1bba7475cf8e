"""A ranking report's failure examples: the queries ranked worst, with their documents.

Each example shows what the model put on top (id, a snippet of the text when the caller
gives the documents, score and judged label) and the relevant documents it left below
the cutoff, so a reader sees why the query failed without opening the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalharness.failures.selection import Failure

#: documents shown from the top of each failed query's ranking
TOP_SHOWN = 3
#: characters of a document's text shown in an example
SNIPPET = 80
#: relevant documents listed as missed, at most
MISSED_SHOWN = 5


@dataclass(frozen=True)
class QueryRanking:
    """One query's documents in ranked order (trec_eval's: score down, id down)."""

    items: list[str]
    scores: list[float]
    labels: list[int]
    #: relevant judged documents the system did not retrieve (a NaN score), by id
    unretrieved: list[tuple[str, int]] = field(default_factory=list)


def query_rankings(
    units: NDArray[Any], items: NDArray[Any], labels: NDArray[np.int64], scores: NDArray[Any]
) -> dict[str, QueryRanking]:
    """Every query's ranking, as trec_eval orders it."""
    u, it = units.astype(str), items.astype(str)
    out: dict[str, QueryRanking] = {}
    # Python's sort on (-score, id) reversed by id: score descending, id descending.
    grouped: dict[str, list[tuple[float, str, int]]] = {}
    unretrieved: dict[str, list[tuple[str, int]]] = {}
    for q, d, s, lab in zip(u.tolist(), it.tolist(), scores.tolist(), labels.tolist(), strict=True):
        grouped.setdefault(q, [])
        if math.isnan(s):  # judged, not retrieved
            if lab >= 1:
                unretrieved.setdefault(q, []).append((d, int(lab)))
        else:
            grouped[q].append((float(s), d, int(lab)))
    for q in sorted(grouped):
        ranked = sorted(grouped[q], key=lambda t: (t[0], t[1]), reverse=True)
        out[q] = QueryRanking(
            [d for _, d, _ in ranked],
            [s for s, _, _ in ranked],
            [lab for _, _, lab in ranked],
            sorted(unretrieved.get(q, [])),
        )
    return out


def _snippet(text: str | None) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1] + "…"


def query_failures(
    queries: tuple[str, ...],
    values: NDArray[np.float64],
    metric: str,
    rankings: Mapping[str, QueryRanking],
    cutoff: int,
    n_failures: int,
    *,
    documents: Mapping[str, str] | None = None,
    query_text: Mapping[str, str] | None = None,
) -> list[Failure]:
    """The ``n_failures`` queries with the lowest ``metric`` (``values`` in ``queries``
    order) that have a relevant document, lowest first, ties by query id."""
    order = sorted(range(len(queries)), key=lambda j: (values[j], queries[j]))
    out: list[Failure] = []
    for j in order:
        if len(out) >= n_failures:
            break
        qid = queries[j]
        r = rankings[qid]
        relevant = [i for i, lab in enumerate(r.labels) if lab >= 1]
        if not relevant and not r.unretrieved:
            continue  # nothing to find: a data gap, listed in ranking.json instead
        summary: dict[str, Any] = {}
        if query_text is not None and qid in query_text:
            summary["query"] = _snippet(query_text[qid])
        for rank in range(min(TOP_SHOWN, len(r.items))):
            doc = r.items[rank]
            text = _snippet(documents.get(doc) if documents else None)
            summary[f"rank_{rank + 1}"] = (
                f"{doc} (score {r.scores[rank]:.4g}, label {r.labels[rank]})"
                + (f": {text}" if text else "")
            )
        missed = [
            f"{r.items[i]} (label {r.labels[i]}, rank {i + 1})" for i in relevant if i >= cutoff
        ] + [f"{doc} (label {label}, not retrieved)" for doc, label in r.unretrieved]
        summary["missed_relevant"] = ", ".join(missed[:MISSED_SHOWN]) + (
            f" and {len(missed) - MISSED_SHOWN} more" if len(missed) > MISSED_SHOWN else ""
        )
        n_relevant = len(relevant) + len(r.unretrieved)
        where = (
            f"the first of its {n_relevant} relevant documents is at rank {relevant[0] + 1}"
            if relevant
            else f"none of its {n_relevant} relevant documents was retrieved"
        )
        out.append(
            Failure(
                example_id=qid,
                list="worst_queries",
                input_summary=summary,
                prediction=r.items[0] if r.items else "",
                truth=r.items[relevant[0]] if relevant else r.unretrieved[0][0],
                confidence=None,
                reason=(
                    f"{metric} = {values[j]:.3g}: {where}; {len(missed)} are below rank "
                    f"{cutoff} or not retrieved"
                    if r.unretrieved
                    else f"{metric} = {values[j]:.3g}: {where}; {len(missed)} are below rank "
                    f"{cutoff}"
                ),
                category="model_representation",
            )
        )
    return out
