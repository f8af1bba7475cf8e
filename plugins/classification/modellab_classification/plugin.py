"""Hook implementations of the classification plugin (entry point ``classification``)."""

from __future__ import annotations

from modellab import hookimpl
from modellab.tasks import ModelVariant, Slicer, Template
from modellab_classification.models import MostFrequentConfig, fit_most_frequent
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
                    fit_most_frequent,
                    MostFrequentConfig,
                    "Predicts the most frequent training class.",
                ),
            ),
        )
    ]


@hookimpl
def register_slicers() -> list[Slicer]:
    """Slices by true class and by predicted-confidence decile."""
    return [
        Slicer("class", by_class, (TASK,), "Each true class (top 3 when many)."),
        Slicer("confidence_decile", by_confidence_decile, (TASK,), "Deciles of confidence."),
    ]
