"""Ranking stress tests: the documents' features corrupted, every query ranked again.

The units are queries, so a case re-scores every row (document) of the stressed queries
and recomputes each query's measures; the bootstrap then resamples queries as the report
does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evalharness.bootstrap.paired import point_metrics
from evalharness.core.task import StressContext
from evalharness.metrics.queries import QueryMeans, rank_queries
from evalharness.metrics.ranking import Gain
from evalharness.slicing import fixed as F
from evalharness.stress.corruptions import add_noise, inject_missing
from evalharness.stress.runner import StressCase, not_run, severity_rng

#: ``predict(rows) -> scores``: a model's score of each row (document) of a frame
Scorer = Callable[[pd.DataFrame], Any]


@dataclass(frozen=True)
class StressedRanker:
    """One model under stress: how it scores corrupted rows, and its clean scores."""

    name: str
    predict: Scorer | None
    scores: NDArray[np.float64] | None


@dataclass(frozen=True)
class RankingStress:
    """The stress tests of a ranker and its baseline on the same queries.

    ``rows`` are the scored documents (features only), ``units``/``items``/``labels``
    their query, id and label, ``queries`` the stressed queries in report order.
    """

    rows: pd.DataFrame
    units: NDArray[Any]
    items: NDArray[Any]
    labels: NDArray[np.int64]
    queries: tuple[str, ...]
    models: tuple[StressedRanker, ...]
    cutoffs: tuple[int, ...]
    gain: Gain

    def on_rows(self, rows: NDArray[np.intp]) -> RankingStress:
        """The same tests on the queries at report positions ``rows`` only."""
        keep = {self.queries[i] for i in rows.tolist()}
        mask = np.isin(self.units.astype(str), sorted(keep))
        return RankingStress(
            self.rows[mask],
            self.units[mask],
            self.items[mask],
            self.labels[mask],
            tuple(q for q in self.queries if q in keep),
            tuple(
                StressedRanker(m.name, m.predict, None if m.scores is None else m.scores[mask])
                for m in self.models
            ),
            self.cutoffs,
            self.gain,
        )

    def _means(self, scores: Any, metric: str) -> QueryMeans:
        ranked = rank_queries(
            self.units,
            self.items,
            self.labels,
            np.asarray(scores, dtype=np.float64),
            cutoffs=self.cutoffs,
            gain=self.gain,
        )
        return QueryMeans((metric,), ranked.values([metric]))

    def clean(self, metric: str) -> dict[str, float | None]:
        """Each model's uncorrupted ``metric`` on these queries."""
        return {
            m.name: None
            if m.scores is None
            else point_metrics(self._means(m.scores, metric), [metric])[metric]
            for m in self.models
        }

    def cases(self, ctx: StressContext) -> tuple[list[StressCase], dict[str, str]]:
        """Feature noise and blanked feature cells, per model, at every severity."""
        cfg, frame = ctx.cfg, self.rows
        numeric = sorted(str(c) for c in frame.columns if not F.is_categorical(frame[c]))
        selected = [cfg.stress_column] if cfg.stress_column in numeric else numeric
        scenarios = {
            "feature_noise": "severity = Gaussian noise in column standard deviations on the "
            f"documents' {', '.join(selected) or '(no numeric) features'}; every query "
            "ranked again",
            "missing_values": "severity = share of the documents' feature cells blanked at "
            "random; every query ranked again",
        }
        cases: list[StressCase] = []
        skip = "no predict callable was given"
        for si, sev in enumerate(cfg.stress_severities):
            for m in self.models:
                fn = m.predict

                def noisy(fn: Any = fn, si: int = si, sev: float = sev) -> QueryMeans:
                    corrupted = add_noise(frame, selected, sev, severity_rng(cfg.seed, 0, si))
                    return self._means(fn(corrupted), ctx.metric)

                def missing(fn: Any = fn, si: int = si, sev: float = sev) -> QueryMeans:
                    corrupted = inject_missing(frame, sev, severity_rng(cfg.seed, 1, si))
                    return self._means(fn(corrupted), ctx.metric)

                runs = fn is not None
                cases.append(
                    StressCase(
                        "feature_noise", m.name, sev, noisy if runs and selected else not_run, skip
                    )
                )
                cases.append(
                    StressCase("missing_values", m.name, sev, missing if runs else not_run, skip)
                )
        return cases, scenarios


def stressed_models(
    candidate: Scorer | None,
    candidate_scores: NDArray[np.float64],
    baseline: tuple[Scorer | None, NDArray[np.float64] | None] | None,
) -> Sequence[StressedRanker]:
    """The candidate and, when there is one, the baseline, as the stress tests take them."""
    models = [StressedRanker("candidate", candidate, candidate_scores)]
    if baseline is not None:
        models.append(StressedRanker("baseline", baseline[0], baseline[1]))
    return models
