"""The classification evaluator: EvalHarness on a run's test rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from evalharness import TrainingTexts, evaluate_classification
from modellab.tasks import EvalRequest
from modellab_tabular.evaluation import (
    baseline_result,
    eval_config,
    leakage_inputs,
    run_info,
    slice_families,
)
from modellab_tabular.labels import labels_of


def widener(trained: list[str], classes: list[str]) -> Callable[[Any], Any]:
    """A function giving scores over ``trained`` a column for each of ``classes``.

    A class that appears only in the test rows was never learned: the model gives it
    probability 0, so those rows count as errors instead of breaking the evaluation.
    """
    if classes == list(trained):
        return lambda scores: scores
    columns = [classes.index(c) for c in trained]

    def widen(scores: Any) -> Any:
        if scores is None:
            return None
        wide = np.zeros((len(scores), len(classes)))
        wide[:, columns] = scores
        return wide

    return widen


def predictor(
    model: Any, classes: list[str]
) -> Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray]]:
    """``predict(frame) -> (labels, scores over classes)`` of a fitted classifier, as the
    stress tests call it on corrupted frames."""
    widen = widener(list(model.classes), classes)

    def predict(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        # One inference per call: labels are the likeliest class of the probabilities.
        proba = np.asarray(model.predict_proba(frame), dtype=float)
        return labels_of(model.classes, proba).astype(str), widen(proba)

    return predict


def evaluate(req: EvalRequest) -> None:
    """Write the EvalHarness folder of a classification run; a baseline whose model the
    run loaded back is stressed beside it."""
    model: Any = req.model
    y_true = np.asarray(req.y_true).astype(str)
    baseline_model: Any = req.baseline.model if req.baseline is not None else None
    trained = [*model.classes, *(baseline_model.classes if baseline_model is not None else ())]
    classes = sorted({str(c) for c in trained} | set(y_true))
    widen = widener(list(model.classes), classes)
    predict = predictor(model, classes)
    if req.scores is not None and req.y_pred is not None:
        y_pred = np.asarray(req.y_pred).astype(str)
        scores = widen(np.asarray(req.scores, dtype=float))
    else:
        y_pred, scores = predict(req.test_frame)
    baseline = baseline_result(
        req,
        as_labels=True,
        predict=None if baseline_model is None else predictor(baseline_model, classes),
    )
    if baseline is not None:
        # Its predictions table scores the classes it learned (the same train rows').
        theirs = widen if baseline_model is None else widener(baseline_model.classes, classes)
        baseline = dataclasses.replace(baseline, scores=theirs(baseline.scores))
    texts = list(getattr(model, "text_columns", None) or ())
    evaluate_classification(
        req.out_dir,
        req.test_frame,
        y_true,
        y_pred,
        run=run_info(req),
        scores=scores,
        classes=classes,
        predict=predict,
        baseline=baseline,
        leakage=leakage_inputs(req),
        config=eval_config(req),
        latency=req.latency_file,
        slices=slice_families(req),
        # A text model's free text gets the text stress tests as well, and its failures
        # the nearest training text.
        text_columns=texts,
        train_texts=TrainingTexts.of(req.train_frame, texts, req.train_target) if texts else None,
    )
