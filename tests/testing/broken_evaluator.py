"""A plugin whose evaluator writes a report EvalHarness' contract refuses: a clock time
in the takeaway. Only a run shows it; the plugin test kit's tests load it as a module
(``MODELLAB_PLUGIN_MODULES``). It reuses the task type and model of :mod:`tests.toy_task`.
"""

from __future__ import annotations

from modellab import hookimpl
from modellab.tasks import EvalRequest, Evaluator, TaskType, Template
from tests import toy_task

TEMPLATE = "badly-reported-counts"


def evaluate(req: EvalRequest) -> None:
    """The toy report, then a sentence with the time it was written."""
    toy_task.evaluate(req)
    takeaway = req.out_dir / "takeaway.txt"
    takeaway.write_text(takeaway.read_text() + "Written at 2024-05-01 12:00.\n")


@hookimpl
def register_task_types() -> list[TaskType]:
    """The toy count task."""
    return [toy_task.TOY_TASK]


@hookimpl
def register_templates() -> list[Template]:
    """The toy median baseline alone."""
    median = toy_task.TOY_TEMPLATE.variants[0]
    return [Template(TEMPLATE, toy_task.TASK, (median,), "Counts, reported badly.")]


@hookimpl
def register_evaluators() -> list[Evaluator]:
    """A report with a clock time in it."""
    return [Evaluator("clock-evaluator", toy_task.TASK, evaluate)]
