"""Hook implementations of the regression plugin (entry point ``regression``)."""

from __future__ import annotations

from modellab import hookimpl
from modellab.tasks import ModelVariant, Slicer, Template
from modellab_regression.models import MeanConfig, fit_mean
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
                ModelVariant("mean", "baseline", fit_mean, MeanConfig, "Predicts the train mean."),
            ),
        )
    ]


@hookimpl
def register_slicers() -> list[Slicer]:
    """Slices by quintile of the true target."""
    return [Slicer("target_quintile", by_target_quintile, (TASK,), "Quintiles of the target.")]
