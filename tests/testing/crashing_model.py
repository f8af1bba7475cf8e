"""A plugin whose ``crash`` model fails to fit, for the plugin test kit's tests of a
failed run. Training processes load it as a module (``MODELLAB_PLUGIN_MODULES``); it
reuses the task type, baseline and evaluator of :mod:`tests.toy_task`.
"""

from __future__ import annotations

from typing import Any

from modellab import hookimpl
from modellab.tasks import Evaluator, ModelVariant, TaskType, Template
from tests import toy_task

TEMPLATE = "crashing-counts"


def fit_crash(train: Any, spec: toy_task.StatConfig, seed: int) -> toy_task.ConstantModel:
    """Fails, as a model with a bug does."""
    raise RuntimeError("the crash model always fails to fit")


@hookimpl
def register_task_types() -> list[TaskType]:
    """The toy count task."""
    return [toy_task.TOY_TASK]


@hookimpl
def register_templates() -> list[Template]:
    """The toy median baseline and a model that cannot fit."""
    median = toy_task.TOY_TEMPLATE.variants[0]
    crash = ModelVariant(
        "crash", "candidate", fit_crash, toy_task.StatConfig, load=toy_task.load_constant
    )
    return [Template(TEMPLATE, toy_task.TASK, (median, crash), "Counts that crash.")]


@hookimpl
def register_evaluators() -> list[Evaluator]:
    """The toy report."""
    return [toy_task.TOY_EVALUATOR]
