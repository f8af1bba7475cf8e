"""Hook implementations of the classification plugin (entry point ``classification``)."""

from __future__ import annotations

from modellab import hookimpl
from modellab.tasks import Evaluator, ModelVariant, Slicer, Template, deferred
from modellab_classification.configs import (
    LogisticRegressionConfig,
    MostFrequentConfig,
    XGBoostClassifierConfig,
)
from modellab_classification.slicers import by_class, by_confidence_decile

TASK = "classification"


@hookimpl
def register_templates() -> list[Template]:
    """The tabular classification template, baselines first."""
    return [
        Template(
            name="tabular-classification",
            task_type=TASK,
            description="Classify rows of a table.",
            variants=(
                ModelVariant(
                    "most_frequent",
                    "baseline",
                    deferred("modellab_classification.models:fit_most_frequent"),
                    MostFrequentConfig,
                    "Predicts the most frequent training class, with the training class shares "
                    "as probabilities.",
                ),
                ModelVariant(
                    "logistic_regression",
                    "baseline",
                    deferred("modellab_classification.models:fit_logistic_regression"),
                    LogisticRegressionConfig,
                    "Logistic regression on imputed, scaled, one-hot encoded features.",
                ),
                ModelVariant(
                    "xgboost",
                    "candidate",
                    deferred("modellab_classification.models:fit_xgboost"),
                    XGBoostClassifierConfig,
                    "XGBoost with native categoricals and early stopping.",
                ),
            ),
        )
    ]


@hookimpl
def register_evaluators() -> list[Evaluator]:
    """EvalHarness' classification evaluation."""
    return [
        Evaluator(
            "evalharness-classification",
            TASK,
            deferred("modellab_classification.evaluator:evaluate"),
            "EvalHarness classification report.",
        )
    ]


@hookimpl
def register_slicers() -> list[Slicer]:
    """Slices by true class and by predicted-confidence decile."""
    return [
        Slicer("class", by_class, (TASK,), "Each true class (top 3 when many)."),
        Slicer("confidence_decile", by_confidence_decile, (TASK,), "Deciles of confidence."),
    ]
