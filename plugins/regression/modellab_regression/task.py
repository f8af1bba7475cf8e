"""The regression task type: numeric targets, their distribution, paired error deltas.

The plugin registers these through ``deferred``: discovering plugins imports none of
them; EvalHarness loads when a check or a comparison first runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from modellab.domain import DataWarning, TargetProfile
from modellab.tasks import FittedModel, TaskPredictions
from modellab_regression.plugin import TASK
from modellab_tabular.targets import few_integers, single_feature_leaks


def check_target(column: str, facts: Any) -> str | None:
    """A regression target is a number."""
    if facts.dtype.is_numeric():
        return None
    return (
        f"target column {column!r} is not numeric (type {facts.dtype}), so it cannot be a "
        "regression target"
    )


def target_affinity(facts: Any) -> float:
    """Floats and integers with many values are quantities; few integers may be too."""
    if facts.dtype.is_float() or (facts.dtype.is_integer() and not few_integers(facts)):
        return 1.0
    return 0.5 if facts.dtype.is_integer() else 0.0


def profile_target(series: pl.Series, summary: Any) -> tuple[TargetProfile, list[DataWarning]]:
    """The target's distribution (its numeric summary)."""
    if summary is None:
        from modellab.datasets.profile import numeric_summaries

        summary = numeric_summaries(series.to_frame(), [series.name])[series.name]
    return TargetProfile(column=series.name, task=TASK, distribution=summary), []


def cast_target(series: Any) -> Any:
    """Targets as floats."""
    return series.astype(float)


def predict(model: FittedModel, frame: Any) -> TaskPredictions:
    """One number per row."""
    return TaskPredictions(np.asarray(model.predict(frame)))


def find_leaks(
    learn_x: Any, learn_y: Any, score_x: Any, score_y: Any, config: Any
) -> list[tuple[str, str]]:
    """Columns that alone predict the target (EvalHarness' single-feature check)."""
    return single_feature_leaks(TASK, learn_x, learn_y, score_x, score_y, config)


def paired_deltas(a: pl.DataFrame, b: pl.DataFrame, config: Any) -> Any:
    """EvalHarness' paired bootstrap of (B - A) over both runs' test rows."""
    from evalharness import paired_regression_deltas

    return paired_regression_deltas(
        b["truth"].cast(pl.Float64).to_numpy(),
        a["prediction"].cast(pl.Float64).to_numpy(),
        b["prediction"].cast(pl.Float64).to_numpy(),
        config=config,
    )
