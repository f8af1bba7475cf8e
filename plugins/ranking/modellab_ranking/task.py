"""The ranking task type: graded relevance labels on the rows of each query, queries as
units, splits by query.

The plugin registers these through ``deferred``: discovering plugins imports none of
them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from modellab.domain import DataWarning, TargetProfile
from modellab.runs.predictions import ITEM_ID, UNIT_ID
from modellab.tasks import GROUP, FittedModel, TaskPredictions
from modellab_ranking.plugin import RETRIEVAL, TASK

#: above this many grades a target is not a relevance scale
MAX_GRADES = 32


def check_target(column: str, facts: Any) -> str | None:
    """Relevance labels are whole numbers (0 not relevant, higher more relevant): an
    integer column, or a float column of few values (whether each is whole is checked
    when a run casts them)."""
    grades = facts.dtype.is_integer() or (facts.dtype.is_float() and facts.n_unique <= MAX_GRADES)
    if not grades:
        return (
            f"target column {column!r} holds {facts.dtype} values, not relevance grades; a "
            "ranking target is a whole number per row (0 = not relevant, higher = more "
            f"relevant), with at most {MAX_GRADES} grades"
        )
    return None


def target_affinity(facts: Any) -> float:
    """Never inferred: a grade column looks like a class label; ask with ``--task``."""
    return 0.0


def _grade_profile(series: pl.Series, task: str) -> tuple[TargetProfile, list[DataWarning]]:
    from modellab.datasets.profile import top_categories

    grades = top_categories(series, k=MAX_GRADES)
    warnings = []
    if series.drop_nulls().len() and series.drop_nulls().max() < 1:  # type: ignore[operator]
        warnings.append(
            DataWarning(
                "no_relevant_rows",
                f"no row of {series.name!r} has a grade of 1 or more: every query scores 0",
                series.name,
            )
        )
    return TargetProfile(column=series.name, task=task, classes=grades), warnings


def profile_target(series: pl.Series, summary: Any) -> tuple[TargetProfile, list[DataWarning]]:
    """The grade distribution; a warning when no row is relevant."""
    return _grade_profile(series, TASK)


def profile_retrieval_target(
    series: pl.Series, summary: Any
) -> tuple[TargetProfile, list[DataWarning]]:
    """The grade distribution of a collection's judgments; a warning when none is
    relevant."""
    return _grade_profile(series, RETRIEVAL)


def cast_target(series: Any) -> Any:
    """Grades as integers (ingest's ``check_train`` refused grades that are not whole)."""
    import pandas as pd

    from evalharness.metrics.queries import integer_labels

    return pd.Series(integer_labels(series.to_numpy()), index=series.index, name=series.name)


def predict(model: FittedModel, frame: Any) -> TaskPredictions:
    """One score per row; each row is keyed by its query and its dataset row."""
    scores = np.asarray(model.predict(frame), dtype=np.float64)
    return TaskPredictions(
        scores, units=frame[GROUP].astype(str).to_numpy(), items=frame.index.to_numpy()
    )


def predict_retrieved(model: FittedModel, frame: Any) -> TaskPredictions:
    """The documents the model retrieved for each query of ``frame``, scored; keyed by
    query and document id (core adds the judged documents it did not retrieve)."""
    run = model.predict(frame)
    return TaskPredictions(
        np.asarray(run["score"], dtype=np.float64),
        units=run[GROUP].astype(str).to_numpy(),
        items=run["doc_id"].astype(str).to_numpy(),
    )


def read_trec_run(path: Path) -> TaskPredictions:
    """A TREC run file (``qid Q0 docno rank score tag``) as retrieved documents; the rank
    column is ignored, as trec_eval ignores it, and a document listed twice for a query
    is refused (naming the line)."""
    from evalharness.formats.trec import TrecFormatError, read_run
    from modellab.errors import InvalidInputError

    try:
        run = read_run(path)
    except TrecFormatError as exc:
        raise InvalidInputError(str(exc)) from None
    units = [q for q, docs in run.items() for _ in docs]
    items = [d for docs in run.values() for d in docs]
    scores = [s for docs in run.values() for s in docs.values()]
    return TaskPredictions(
        np.asarray(scores, dtype=np.float64),
        units=np.asarray(units, dtype=object),
        items=np.asarray(items, dtype=object),
    )


def check_train(train_target: pl.Series) -> str | None:
    """Grades are whole numbers, and a ranker needs a relevant training row to learn from."""
    grades = train_target.drop_nulls()
    if grades.dtype.is_float():
        bad = grades.filter(grades.round() != grades)
        if bad.len():
            return (
                f"target {train_target.name!r} holds {bad[0]!r}, not a whole-number grade "
                f"({bad.len()} such train rows); grades are 0 (not relevant), 1, 2, ..."
            )
    if grades.len() and grades.max() >= 1:  # type: ignore[operator]
        return None
    return (
        f"the train split of target {train_target.name!r} has no row graded 1 or more: a "
        "ranker has nothing relevant to learn from"
    )


def retrieved_rows(units: Any, items: Any, truth: Any, scores: Any) -> Any:
    """A retrieval run's prediction rows as EvalHarness' scored rows: a missing score (a
    judged document not retrieved) becomes NaN, a missing truth (a retrieved document
    nobody judged) the label -1, trec_eval's "unjudged"."""
    import pandas as pd

    from evalharness.core.ranking import ScoredRows

    return ScoredRows.of(
        np.asarray(units),
        np.asarray(items),
        pd.to_numeric(pd.Series(truth), errors="coerce").fillna(-1).to_numpy(),
        pd.to_numeric(pd.Series(scores), errors="coerce").to_numpy(dtype=np.float64),
    )


def scored_rows(table: pl.DataFrame) -> Any:
    """A predictions table as EvalHarness' scored rows (:func:`retrieved_rows`; a ranking
    table has neither a missing score nor a missing truth)."""
    return retrieved_rows(
        table[UNIT_ID].to_numpy(),
        table[ITEM_ID].to_numpy(),
        table["truth"].to_numpy(),
        table["prediction"].to_numpy(),
    )


def paired_deltas(a: pl.DataFrame, b: pl.DataFrame, config: Any) -> Any:
    """EvalHarness' paired bootstrap of (B - A) over the queries both runs ranked, each
    run's table ranked on its own (a retriever's documents are its own)."""
    from evalharness.core.ranking import paired_ranking_deltas

    return paired_ranking_deltas(scored_rows(a), scored_rows(b), config=config)


def paired_test(a: pl.DataFrame, b: pl.DataFrame, config: Any, metric: str) -> dict[str, Any]:
    """EvalHarness' paired randomization test of B against A on ``metric`` over queries,
    with B's report settings (cutoffs, gain, seed and count of sign flips)."""
    from evalharness.core.ranking import randomization_test

    result = randomization_test(scored_rows(a), scored_rows(b), metric, config=config)
    return {
        "name": "paired randomization test",
        "metric": result.metric,
        "observed": result.observed,
        "p_value": result.p_value,
        "n": result.n,
        "units": "queries",
        "n_permutations": result.n_permutations,
        "seed": result.seed,
    }
