"""The regression evaluator: EvalHarness on a run's test rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from evalharness import evaluate_regression
from modellab.tasks import EvalRequest
from modellab_tabular.evaluation import (
    baseline_result,
    eval_config,
    leakage_inputs,
    run_info,
    slice_families,
)


def evaluate(req: EvalRequest) -> None:
    """Write the EvalHarness folder of a regression run."""
    # Shift refits log like training: each of their lines names its stress scenario.
    model: Any = req.model

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict(frame), dtype=float)

    refit: Callable[[pd.DataFrame, np.ndarray], Callable[[pd.DataFrame], np.ndarray]] | None = None
    if req.refit is not None:
        fit_again = req.refit

        def refit(frame: pd.DataFrame, target: np.ndarray) -> Callable[[pd.DataFrame], np.ndarray]:
            again: Any = fit_again(frame, target)
            return lambda f: np.asarray(again.predict(f), dtype=float)

    baseline_predict: Callable[[pd.DataFrame], np.ndarray] | None = None
    if req.baseline is not None and req.baseline.model is not None:
        theirs: Any = req.baseline.model

        def baseline_predict(frame: pd.DataFrame) -> np.ndarray:
            return np.asarray(theirs.predict(frame), dtype=float)

    evaluate_regression(
        req.out_dir,
        req.test_frame,
        np.asarray(req.y_true, dtype=float),
        np.asarray(req.y_pred, dtype=float) if req.y_pred is not None else predict(req.test_frame),
        run=run_info(req),
        predict=predict,
        refit=refit,
        baseline=baseline_result(req, as_labels=False, predict=baseline_predict),
        leakage=leakage_inputs(req),
        config=eval_config(req),
        latency=req.latency_file,
        slices=slice_families(req),
    )
