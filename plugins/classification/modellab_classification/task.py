"""The classification task type: class-label targets, stratified splits, class shares.

The plugin registers these through ``deferred``: discovering plugins imports none of
them; EvalHarness loads when a check or a comparison first runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from modellab.domain import DataWarning, TargetProfile
from modellab.tasks import FittedModel, TaskPredictions
from modellab_classification.plugin import TASK
from modellab_tabular.labels import labels_of
from modellab_tabular.targets import few_integers, single_feature_leaks

#: below this share the rarest class gets a class_imbalance warning
RARE_CLASS = 0.05


def check_target(column: str, facts: Any) -> str | None:
    """Any column of values can be class labels but dates and times."""
    if facts.dtype.is_temporal():
        return f"target column {column!r} holds dates/times, which are not class labels"
    return None


def target_affinity(facts: Any) -> float:
    """Strings, booleans and integers with few values are classes; floats are not."""
    if facts.dtype.is_temporal() or facts.dtype.is_float():
        return 0.0
    if facts.dtype.is_integer():
        return 1.0 if few_integers(facts) else 0.0
    return 1.0


def profile_target(series: pl.Series, summary: Any) -> tuple[TargetProfile, list[DataWarning]]:
    """Every class with its share; a warning when the rarest class is under 5% of rows."""
    from modellab.datasets.profile import top_categories

    classes = top_categories(series, k=10_000)
    warnings = []
    if classes and classes[-1].fraction < RARE_CLASS:
        warnings.append(
            DataWarning(
                "class_imbalance",
                f"class {classes[-1].value!r} is only {classes[-1].fraction:.1%} of rows; "
                "prefer balanced accuracy or PR-AUC over accuracy",
                series.name,
            )
        )
    return TargetProfile(column=series.name, task=TASK, classes=classes), warnings


def check_train(train_target: pl.Series) -> str | None:
    """A classifier needs at least two classes among its training rows."""
    seen = train_target.drop_nulls().unique().sort().to_list()
    if len(seen) >= 2:
        return None
    return (
        f"the train split of target {train_target.name!r} holds "
        f"{f'only one class, {seen[0]!r}' if seen else 'no class'} "
        f"({train_target.len()} rows): a classifier needs at least two; add rows, "
        "choose another split or another target"
    )


def cast_target(series: Any) -> Any:
    """Class labels are strings, whatever type the column had."""
    return series.astype(str)


def predict(model: FittedModel, frame: Any) -> TaskPredictions:
    """Class probabilities once; the labels are their likeliest class."""
    classes = list(model.classes)  # type: ignore[attr-defined]
    scores = np.asarray(model.predict_proba(frame))  # type: ignore[attr-defined]
    return TaskPredictions(labels_of(classes, scores), scores, classes)


def find_leaks(
    learn_x: Any, learn_y: Any, score_x: Any, score_y: Any, config: Any
) -> list[tuple[str, str]]:
    """Columns that alone predict the class (EvalHarness' single-feature check)."""
    return single_feature_leaks(TASK, learn_x, learn_y, score_x, score_y, config)


def score_classes(preds: pl.DataFrame) -> list[str]:
    """The classes a run's ``predictions.parquet`` has a ``score_<class>`` column for."""
    return [c.removeprefix("score_") for c in preds.columns if c.startswith("score_")]


def class_scores(preds: pl.DataFrame, classes: list[str]) -> np.ndarray | None:
    """``(n, K)`` scores in ``classes`` order; a class the run has no column for scores 0.

    A class the model never learned gets probability 0, as the evaluator widens them,
    so two runs' scores line up class by class.
    """
    have = set(score_classes(preds))
    if not have:
        return None
    wide = np.zeros((preds.height, len(classes)))
    for i, cls in enumerate(classes):
        if cls in have:
            wide[:, i] = preds[f"score_{cls}"].cast(pl.Float64).to_numpy()
    return wide


def paired_deltas(a: pl.DataFrame, b: pl.DataFrame, config: Any) -> Any:
    """EvalHarness' paired bootstrap of (B - A) over both runs' test rows."""
    from evalharness import paired_classification_deltas

    truth = b["truth"].cast(pl.String).to_numpy()
    pred_a = a["prediction"].cast(pl.String).to_numpy()
    pred_b = b["prediction"].cast(pl.String).to_numpy()
    seen = {*score_classes(a), *score_classes(b), *truth.tolist()}
    classes = sorted(seen | set(pred_a.tolist()) | set(pred_b.tolist()))
    return paired_classification_deltas(
        truth,
        pred_a,
        pred_b,
        a_scores=class_scores(a, classes),
        b_scores=class_scores(b, classes),
        classes=classes,
        config=config,
    )


def unit_failures(preds: pl.DataFrame) -> np.ndarray:
    """A row fails when its predicted class is not its true class."""
    wrong: np.ndarray = (
        preds["prediction"].cast(pl.String) != preds["truth"].cast(pl.String)
    ).to_numpy()
    return wrong
