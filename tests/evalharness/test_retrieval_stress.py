"""Retrieval stress on cases whose answer is known: corrupted text, a term-matching
retriever that typos defeat, a missing part that skips its scenario, and an index sweep
whose recall against exact search is set by construction."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from evalharness.bootstrap.resample import resolve_method
from evalharness.core.config import EvalConfig
from evalharness.core.task import StressContext
from evalharness.stress.retrieval import IndexConfiguration, RetrievalStress, StressedRetriever
from evalharness.stress.text import drop_words, typos

DOCS = {f"d{i}": f"word{i} common" for i in range(20)}
QUERIES = {f"q{i}": f"word{i}" for i in range(20)}
JUDGED = {f"q{i}": {f"d{i}": 1} for i in range(20)}


def exact_match(asked: Mapping[str, str]) -> list[tuple[str, str, float]]:
    """Retrieves the documents holding every word of the query."""
    return [
        (q, d, 1.0)
        for q, text in sorted(asked.items())
        for d, body in sorted(DOCS.items())
        if set(text.split()) <= set(body.split())
    ]


def stress(retriever: StressedRetriever) -> RetrievalStress:
    return RetrievalStress(
        tuple(sorted(QUERIES)), QUERIES, DOCS, JUDGED, retriever, (1, 10), "linear"
    )


def test_corruptions_change_the_share_asked_and_are_seeded() -> None:
    text = "alpha beta gamma delta"

    def rng() -> np.random.Generator:
        return np.random.default_rng(7)

    hit = typos(text, 1.0, rng())
    assert all(a != b for a, b in zip(text.split(), hit.split(), strict=True))
    assert typos(text, 1.0, rng()) == hit and typos(text, 0.0, rng()) == text
    assert len(drop_words(text, 0.5, rng()).split()) == 2
    assert len(drop_words(text, 1.0, rng()).split()) == 1  # one word always stays


def test_typos_defeat_a_term_matcher_and_missing_parts_are_skipped() -> None:
    s = stress(StressedRetriever(exact_match))
    assert s.clean("ndcg@10") == {"candidate": 1.0}
    cfg = EvalConfig(stress_severities=(1.0,), seed=3)
    cases, scenarios = s.cases(StressContext(None, None, "ndcg@10", cfg, 1))  # type: ignore[arg-type]
    by = {c.scenario: c for c in cases}
    # Every one-word query misspelt: nothing matches, every query scores 0.
    assert by["query_typos"].build().values.sum() == 0.0  # type: ignore[union-attr]
    assert by["embedding_noise"].build() is None
    assert by["embedding_noise"].skip_reason == "the retriever has no embeddings"
    assert by["missing_document_text"].build() is None
    assert set(scenarios) == set(by)


def test_the_index_sweep_reports_recall_against_exact_search() -> None:
    def half(asked: Mapping[str, str]) -> list[tuple[str, str, float]]:
        # The true document first for half the queries, a wrong one for the rest.
        return [(q, q.replace("q", "d") if int(q[1:]) % 2 else "d99", 1.0) for q in sorted(asked)]

    r = StressedRetriever(
        exact_match,
        exact=exact_match,
        configurations=lambda: [
            IndexConfiguration("ivf", "nprobe", 1, False, half),
            IndexConfiguration("ivf", "nprobe", 8, True, exact_match),
        ],
    )
    cfg = EvalConfig(seed=1)
    points = stress(r).index_sweep("ndcg@1", cfg, resolve_method("auto", 20, 10_000))
    low, high = points
    assert (low.label, low.recall_vs_exact, high.recall_vs_exact) == ("ivf nprobe=1", 0.5, 1.0)
    assert low.metric_value == pytest.approx(0.5) and low.degradation == pytest.approx(-0.5)
    assert high.degradation == 0.0
    assert low.recall_ci_low is not None and low.recall_ci_high is not None
    assert low.recall_ci_low < 0.5 < low.recall_ci_high
