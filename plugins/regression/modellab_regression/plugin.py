"""Hook implementations of the regression plugin (entry point ``regression``)."""

from __future__ import annotations

from modellab import hookimpl
from modellab.tasks import Evaluator, ModelVariant, Slicer, TaskType, Template, deferred
from modellab_regression.configs import LinearRegressionConfig, MeanConfig, XGBoostRegressorConfig
from modellab_tabular.slicers import KEY_FEATURE, MISSINGNESS

TASK = "regression"


@hookimpl
def register_task_types() -> list[TaskType]:
    """Regression: a number per row."""
    return [
        TaskType(
            name=TASK,
            description="Predict a number for each row.",
            check_target=deferred("modellab_regression.task:check_target"),
            target_affinity=deferred("modellab_regression.task:target_affinity"),
            profile_target=deferred("modellab_regression.task:profile_target"),
            cast_target=deferred("modellab_regression.task:cast_target"),
            predict=deferred("modellab_regression.task:predict"),
            find_leaks=deferred("modellab_regression.task:find_leaks"),
            paired_deltas=deferred("modellab_regression.task:paired_deltas"),
        )
    ]


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
                    load=deferred("modellab_tabular.fitted:load_pipeline"),
                ),
                ModelVariant(
                    "linear_regression",
                    "baseline",
                    deferred("modellab_regression.models:fit_linear_regression"),
                    LinearRegressionConfig,
                    "Least squares on imputed, scaled, one-hot encoded features.",
                    load=deferred("modellab_tabular.fitted:load_pipeline"),
                ),
                ModelVariant(
                    "xgboost",
                    "candidate",
                    deferred("modellab_regression.models:fit_xgboost"),
                    XGBoostRegressorConfig,
                    "XGBoost with native categoricals and early stopping.",
                    load=deferred("modellab_tabular.fitted:load_booster"),
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
    """EvalHarness' regression slices, in report order: target quintiles, the key
    feature, missingness."""
    return [
        Slicer(
            "target_quintile",
            deferred("modellab_regression.slicers:by_target_quintile"),
            (TASK,),
            "Quintiles of the true target.",
        ),
        KEY_FEATURE,
        MISSINGNESS,
    ]
