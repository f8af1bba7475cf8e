"""The regression plugin's models read back what they saved and predict the same.

The whole contract runs on the classification plugin (its tests) and on the toy plugin's
model for the regression template; here every regression model's save-and-load round
trip runs on the cars, without a run.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

import modellab_regression.plugin
from modellab.demo import demo_file
from modellab.plugins import Registry
from modellab.tasks import TARGET
from modellab.testing.contracts import check_round_trip, check_template


@pytest.fixture
def modellab_plugin() -> ModuleType:
    return modellab_regression.plugin


def test_every_regression_model_loads_back_as_fitted(
    modellab_registry: Registry, tmp_path: Path
) -> None:
    template = modellab_registry.templates["tabular-regression"]
    check_template(template)
    task = modellab_registry.task_types[template.task_type]
    cars = pd.read_csv(demo_file("cars.csv")).dropna(subset=["miles_per_gallon"])
    frame = cars.rename(columns={"miles_per_gallon": TARGET})
    frame[TARGET] = task.cast_target(frame[TARGET])
    train, test = frame.iloc[:300], frame.iloc[300:].drop(columns=[TARGET])
    for variant in template.variants:
        check_round_trip(variant, train, test, tmp_path / variant.name, task=task)
