"""Retrieval stress tests: a retriever searches its corpus again under corrupted input.

Unlike a reranker's (:mod:`evalharness.stress.ranking`), a retriever's stress changes what
it retrieves, not only the order: each case searches the corpus again and is judged
against the same judgments, a judged document it no longer finds counting as missed.

- ``query_typos`` and ``dropped_terms`` corrupt the queries' text;
- ``missing_document_text`` blanks the text of a share of the documents and rebuilds the
  index over them (the retriever's learned parts are kept: the index changes, not the
  model);
- ``embedding_noise`` adds Gaussian noise to the query embeddings of a retriever that
  has them.

The **index sweep** searches the same embeddings with other settings of an approximate
index (HNSW efSearch and M, IVF nprobe) and reports each one's recall against exact
search at the primary metric's K and its primary metric, with bootstrap intervals over
queries and the change against the deployed setting. Its latency is the caller's to time,
outside the report folder (timings differ on every run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from evalharness.bootstrap.engine import Group, run_bootstrap
from evalharness.bootstrap.paired import point_metrics
from evalharness.bootstrap.resample import Resampling
from evalharness.core.config import EvalConfig
from evalharness.core.task import StressContext
from evalharness.metrics.queries import QueryMeans, rank_queries
from evalharness.metrics.ranking import Gain
from evalharness.schemas import files as S
from evalharness.stress.runner import StressCase, not_run, severity_rng
from evalharness.stress.text import drop_words, typos

#: a retriever's answer: (query id, document id, score) rows
Run = Sequence[tuple[str, str, float]]
#: a retriever's search: query text by id in, its run out
Search = Callable[[Mapping[str, str]], Run]
#: the name recall against exact search has in the index sweep's bootstrap
RECALL_VS_EXACT = "recall_vs_exact"

SCENARIOS = {
    "query_typos": "severity = share of each query's words given one typo (two neighbouring "
    "characters swapped, or one dropped, added or replaced); every query searched again",
    "dropped_terms": "severity = share of each query's words dropped (one word always stays); "
    "every query searched again",
    "missing_document_text": "severity = share of the documents whose text is missing (a "
    "collection stores one text field per document: BEIR's title and text are joined); the "
    "index rebuilt over the corpus with the retriever's learned parts kept, every query "
    "searched again",
    "embedding_noise": "severity = Gaussian noise added to each query embedding, in standard "
    "deviations of each dimension over the corpus's embeddings; the noisy embedding "
    "normalized again and searched",
}


@dataclass(frozen=True)
class IndexConfiguration:
    """One setting of an approximate index over the deployed embeddings."""

    family: str
    parameter: str
    value: int
    deployed: bool
    search: Search

    @property
    def label(self) -> str:
        """``FAMILY PARAMETER=VALUE``: how reports and timings name the setting."""
        return f"{self.family} {self.parameter}={self.value}"


@dataclass(frozen=True)
class StressedRetriever:
    """What a retriever offers its stress tests; each optional part enables scenarios.

    ``reindexed(documents)`` is a search over another corpus with the same learned
    parts; ``noisy(sd, rng)`` a search whose query embeddings carry Gaussian noise;
    ``exact`` the exact nearest-neighbour search over the embeddings an approximate
    index holds, and ``configurations()`` that index's other settings, built when called.
    """

    search: Search
    reindexed: Callable[[Mapping[str, str]], Search] | None = None
    noisy: Callable[[float, np.random.Generator], Search] | None = None
    exact: Search | None = None
    configurations: Callable[[], Sequence[IndexConfiguration]] | None = None


@dataclass(frozen=True)
class RetrievalStress:
    """The stress tests of a retriever on the report's queries (in report order), judged
    against ``judged`` (query -> document -> grade)."""

    queries: tuple[str, ...]
    query_text: Mapping[str, str]
    documents: Mapping[str, str]
    judged: Mapping[str, Mapping[str, int]]
    retriever: StressedRetriever | None
    cutoffs: tuple[int, ...]
    gain: Gain
    _sweep: dict[str, list[S.IndexSweepPoint]] = field(default_factory=dict, compare=False)

    def on_rows(self, rows: NDArray[np.intp]) -> RetrievalStress:
        """The same tests on the queries at report positions ``rows`` only."""
        keep = tuple(self.queries[i] for i in rows.tolist())
        return RetrievalStress(
            keep,
            self.query_text,
            self.documents,
            self.judged,
            self.retriever,
            self.cutoffs,
            self.gain,
        )

    def asked(self) -> dict[str, str]:
        """The text of every query under test."""
        return {q: self.query_text[q] for q in self.queries}

    def means(self, run: Run, names: Sequence[str]) -> QueryMeans:
        """trec_eval's ``names`` per query of ``run`` against the judgments; a judged
        document the run lacks counts as not retrieved, a query it lacks scores 0."""
        wanted = set(self.queries)
        units: list[str] = []
        items: list[str] = []
        labels: list[int] = []
        scores: list[float] = []
        seen: set[tuple[str, str]] = set()
        for q, d, s in run:
            q, d = str(q), str(d)
            if q not in wanted:
                continue
            seen.add((q, d))
            units.append(q)
            items.append(d)
            labels.append(self.judged.get(q, {}).get(d, -1))
            scores.append(float(s))
        for q in self.queries:
            for d, label in sorted(self.judged.get(q, {}).items()):
                if (q, d) not in seen:
                    units.append(q)
                    items.append(d)
                    labels.append(label)
                    scores.append(np.nan)
        ranked = rank_queries(
            np.asarray(units, dtype=object),
            np.asarray(items, dtype=object),
            np.asarray(labels, dtype=np.int64),
            np.asarray(scores, dtype=np.float64),
            cutoffs=self.cutoffs,
            gain=self.gain,
        )
        values = ranked.values(names)
        index = {q: j for j, q in enumerate(ranked.queries)}
        # Report order; a query without a judgment or a retrieved document scores 0.
        out = np.zeros((len(names), len(self.queries)))
        for j, q in enumerate(self.queries):
            if q in index:
                out[:, j] = values[:, index[q]]
        return QueryMeans(tuple(names), out)

    def clean(self, metric: str) -> dict[str, float | None]:
        """The retriever's uncorrupted ``metric`` on these queries."""
        if self.retriever is None:
            return {"candidate": None}
        means = self.means(self.retriever.search(self.asked()), [metric])
        return {"candidate": point_metrics(means, [metric])[metric]}

    def cases(self, ctx: StressContext) -> tuple[list[StressCase], dict[str, str]]:
        """Every scenario at every severity; a part the retriever lacks skips its
        scenario, saying why."""
        r, cfg, metric = self.retriever, ctx.cfg, ctx.metric
        asked = self.asked()
        cases: list[StressCase] = []
        for si, sev in enumerate(cfg.stress_severities):

            def corrupted_queries(
                corrupt: Callable[[str, float, np.random.Generator], str],
                scenario: int,
                sev: float = sev,
                si: int = si,
            ) -> QueryMeans:
                assert r is not None
                rng = severity_rng(cfg.seed, scenario, si)
                text = {q: corrupt(asked[q], sev, rng) for q in sorted(asked)}
                return self.means(r.search(text), [metric])

            def missing_text(sev: float = sev, si: int = si) -> QueryMeans:
                assert r is not None and r.reindexed is not None
                rng = severity_rng(cfg.seed, 2, si)
                ids = sorted(self.documents)
                blank = rng.random(len(ids)) < sev
                docs = {d: "" if b else self.documents[d] for d, b in zip(ids, blank, strict=True)}
                return self.means(r.reindexed(docs)(asked), [metric])

            def noise(sev: float = sev, si: int = si) -> QueryMeans:
                assert r is not None and r.noisy is not None
                return self.means(r.noisy(sev, severity_rng(cfg.seed, 3, si))(asked), [metric])

            def typo_case(sev: float = sev, si: int = si) -> QueryMeans:
                return corrupted_queries(typos, 0, sev, si)

            def drop_case(sev: float = sev, si: int = si) -> QueryMeans:
                return corrupted_queries(drop_words, 1, sev, si)

            none = "no retriever was given"
            cases += [
                StressCase("query_typos", "candidate", sev, typo_case if r else not_run, none),
                StressCase("dropped_terms", "candidate", sev, drop_case if r else not_run, none),
                StressCase(
                    "missing_document_text",
                    "candidate",
                    sev,
                    missing_text if r and r.reindexed and self.documents else not_run,
                    "the retriever cannot rebuild its index over another corpus" if r else none,
                ),
                StressCase(
                    "embedding_noise",
                    "candidate",
                    sev,
                    noise if r and r.noisy else not_run,
                    "the retriever has no embeddings" if r else none,
                ),
            ]
        return cases, dict(SCENARIOS)

    def index_sweep(
        self, metric: str, cfg: EvalConfig, method: Resampling
    ) -> list[S.IndexSweepPoint]:
        """Every setting of the retriever's approximate index: recall against exact
        search at ``metric``'s K and ``metric``, each with a bootstrap interval over
        queries (one set of replicates for all settings), and ``metric``'s change
        against the deployed setting. Empty without an index to sweep."""
        if metric in self._sweep:
            return self._sweep[metric]
        r = self.retriever
        if r is None or r.exact is None or r.configurations is None or not self.queries:
            return []
        k = int(metric.partition("@")[2] or max(self.cutoffs))
        asked = self.asked()
        exact = _top(r.exact(asked), k)
        configs = sorted(r.configurations(), key=lambda c: (c.family, c.parameter, c.value))
        names = (metric, RECALL_VS_EXACT)
        groups = {}
        for i, c in enumerate(configs):
            run = c.search(asked)
            found = _top(run, k)
            recall = [
                len(found.get(q, set()) & exact[q]) / len(exact[q]) if exact.get(q) else 1.0
                for q in self.queries
            ]
            values = np.vstack([self.means(run, [metric]).values, np.asarray(recall)[None, :]])
            groups[str(i)] = Group(QueryMeans(names, values), None)
        boot = run_bootstrap(
            len(self.queries), groups, list(names), cfg.stress_n_bootstrap, cfg.seed + 2000, method
        )
        deployed = next(
            (boot.interval(str(i), metric).estimate for i, c in enumerate(configs) if c.deployed),
            None,
        )
        points = []
        for i, c in enumerate(configs):
            m, rec = boot.interval(str(i), metric), boot.interval(str(i), RECALL_VS_EXACT)
            points.append(
                S.IndexSweepPoint(
                    label=c.label,
                    family=c.family,
                    parameter=c.parameter,
                    value=c.value,
                    deployed=c.deployed,
                    k=k,
                    recall_vs_exact=rec.estimate,
                    recall_ci_low=rec.ci_low,
                    recall_ci_high=rec.ci_high,
                    metric=metric,
                    metric_value=m.estimate,
                    metric_ci_low=m.ci_low,
                    metric_ci_high=m.ci_high,
                    degradation=None
                    if m.estimate is None or deployed is None
                    else m.estimate - deployed,
                )
            )
        self._sweep[metric] = points
        return points


def _top(run: Run, k: int) -> dict[str, set[str]]:
    """Each query's ``k`` best documents of ``run`` (score descending, ties by document
    id descending, as the measures order them)."""
    per: dict[str, list[tuple[float, str]]] = {}
    for q, d, s in run:
        per.setdefault(str(q), []).append((float(s), str(d)))
    return {q: {d for _, d in sorted(rows, reverse=True)[:k]} for q, rows in per.items()}


def judgments(units: Any, items: Any, labels: Any) -> dict[str, dict[str, int]]:
    """Query -> document -> grade of the judged rows (labels of 0 or more)."""
    out: dict[str, dict[str, int]] = {}
    for q, d, label in zip(
        np.asarray(units).astype(str), np.asarray(items).astype(str), labels, strict=True
    ):
        if int(label) >= 0:
            out.setdefault(str(q), {})[str(d)] = int(label)
    return out
