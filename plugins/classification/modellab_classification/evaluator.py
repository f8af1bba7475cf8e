"""The classification evaluator: EvalHarness on a run's test rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evalharness import EvalConfig, evaluate_classification
from modellab.modeling.evaluation import baseline_result, leakage_inputs, run_info
from modellab.modeling.fitted import labels_of
from modellab.tasks import EvalRequest


def evaluate(req: EvalRequest) -> None:
    """Write the EvalHarness folder of a classification run."""
    model: Any = req.model

    def predict(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        # One inference per call: labels are the likeliest class of the probabilities.
        proba = np.asarray(model.predict_proba(frame), dtype=float)
        return labels_of(model.classes, proba).astype(str), proba

    if req.scores is not None and req.y_pred is not None:
        y_pred, scores = np.asarray(req.y_pred).astype(str), np.asarray(req.scores, dtype=float)
    else:
        y_pred, scores = predict(req.test_frame)
    evaluate_classification(
        req.out_dir,
        req.test_frame,
        np.asarray(req.y_true).astype(str),
        y_pred,
        run=run_info(req),
        scores=scores,
        classes=list(model.classes),
        predict=predict,
        baseline=baseline_result(req, as_labels=True),
        leakage=leakage_inputs(req),
        config=EvalConfig(n_bootstrap=req.n_bootstrap, seed=req.seed),
    )
