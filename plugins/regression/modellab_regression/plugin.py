"""Hook implementations of the regression plugin (entry point ``regression``)."""

from __future__ import annotations

from modellab import hookimpl
from modellab.tasks import Evaluator, ModelVariant, Slicer, Template, deferred
from modellab_regression.configs import LinearRegressionConfig, MeanConfig, XGBoostRegressorConfig
from modellab_regression.slicers import by_target_quintile

TASK = "regression"


@hookimpl
def register_templates() -> list[Template]:
    """The tabular regression template, baselines first."""
    return [
        Template(
            name="tabular-regression",
            task_type=TASK,
            description="Predict a numeric target of a table's rows.",
            variants=(
                ModelVariant(
                    "mean",
                    "baseline",
                    deferred("modellab_regression.models:fit_mean"),
                    MeanConfig,
                    "Predicts the train mean.",
                ),
                ModelVariant(
                    "linear_regression",
                    "baseline",
                    deferred("modellab_regression.models:fit_linear_regression"),
                    LinearRegressionConfig,
                    "Least squares on imputed, scaled, one-hot encoded features.",
                ),
                ModelVariant(
                    "xgboost",
                    "candidate",
                    deferred("modellab_regression.models:fit_xgboost"),
                    XGBoostRegressorConfig,
                    "XGBoost with native categoricals and early stopping.",
                ),
            ),
        )
    ]


@hookimpl
def register_evaluators() -> list[Evaluator]:
    """EvalHarness' regression evaluation."""
    return [
        Evaluator(
            "evalharness-regression",
            TASK,
            deferred("modellab_regression.evaluator:evaluate"),
            "EvalHarness regression report.",
        )
    ]


@hookimpl
def register_slicers() -> list[Slicer]:
    """Slices by quintile of the true target."""
    return [Slicer("target_quintile", by_target_quintile, (TASK,), "Quintiles of the target.")]
