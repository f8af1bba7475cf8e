"""A task plugin defined by the tests: counting, with a toy template, evaluator and slicer.

Nothing in core knows it. Tests load it with ``MODELLAB_PLUGIN_MODULES=tests.toy_task``
(training processes inherit the variable) or register it directly. Its task type takes
integer targets ("how many"), its template predicts a train statistic, its evaluator is
EvalHarness' regression report, and its slicer splits the test rows by the parity of
the true count. It also adds a model variant to the built-in regression template.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import msgspec
import numpy as np
import pandas as pd
import polars as pl

from modellab import hookimpl
from modellab.domain import DataWarning, TargetProfile
from modellab.tasks import (
    TARGET,
    EvalRequest,
    Evaluator,
    FittedModel,
    ModelVariant,
    SliceDefinition,
    Slicer,
    TaskPredictions,
    TaskType,
    Template,
    TemplateVariant,
)

TASK = "toy-count"
TEMPLATE = "toy-counts"


def check_target(column: str, facts: Any) -> str | None:
    """Counts are integers."""
    if facts.dtype.is_integer():
        return None
    return f"target column {column!r} holds {facts.dtype} values, not counts"


def target_affinity(facts: Any) -> float:
    """An integer target is a count, above every other task's claim."""
    return 5.0 if facts.dtype.is_integer() else 0.0


def profile_target(series: pl.Series, summary: Any) -> tuple[TargetProfile, list[DataWarning]]:
    """The count's distribution, and a warning when a count is negative."""
    warnings = []
    if (series.drop_nulls() < 0).any():
        warnings.append(DataWarning("negative_count", "some counts are negative", series.name))
    return TargetProfile(column=series.name, task=TASK, distribution=summary), warnings


def cast_target(series: Any) -> Any:
    return series.astype(float)


def predict(model: FittedModel, frame: Any) -> TaskPredictions:
    return TaskPredictions(np.asarray(model.predict(frame), dtype=float))


def unit_failures(preds: pl.DataFrame) -> np.ndarray:
    """A count is wrong when the prediction rounds to another number."""
    wrong: np.ndarray = (
        preds["prediction"].cast(pl.Float64).round() != preds["truth"].cast(pl.Float64)
    ).to_numpy()
    return wrong


class StatConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Predict a scaled statistic of the training counts."""

    scale: Annotated[float, msgspec.Meta(gt=0, le=10, description="factor on the statistic")] = 1.0


class ConstantModel:
    """Predicts one number for every row."""

    def __init__(self, value: float, columns: list[str]) -> None:
        self.value = value
        self.columns = columns

    @property
    def preprocessors(self) -> list[Any]:
        return []

    @property
    def signature(self) -> dict[str, Any]:
        return {"inputs": [{"name": c} for c in self.columns], "output": {"kind": "count"}}

    def save(self, folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        doc = {"value": self.value, "columns": self.columns}
        (folder / "constant.json").write_text(json.dumps(doc))
        return "json"

    def predict(self, frame: Any) -> Any:
        return np.full(len(frame), self.value)


def load_constant(folder: Path) -> ConstantModel:
    """Read back what :meth:`ConstantModel.save` wrote."""
    doc = json.loads((folder / "constant.json").read_text())
    return ConstantModel(float(doc["value"]), list(doc["columns"]))


def fit_mean(train: pd.DataFrame, spec: StatConfig, seed: int) -> ConstantModel:
    """The mean training count, scaled."""
    columns = [c for c in train.columns if c != TARGET]
    return ConstantModel(float(train[TARGET].mean()) * spec.scale, columns)


def fit_median(train: pd.DataFrame, spec: StatConfig, seed: int) -> ConstantModel:
    """The median training count, scaled."""
    columns = [c for c in train.columns if c != TARGET]
    return ConstantModel(float(train[TARGET].median()) * spec.scale, columns)


def evaluate(req: EvalRequest) -> None:
    """EvalHarness' regression report of the counts, sliced by the run's slicers."""
    from evalharness import RunInfo, evaluate_regression
    from evalharness.slicing import SliceDef, SliceFamily

    families: dict[str, list[SliceDef]] = {}
    described: dict[str, str] = {}
    for s in req.slices:
        families.setdefault(s.family, []).append(SliceDef(s.name, s.family, s.definition, s.mask))
        described[s.family] = s.family_description
    name, _, version = req.dataset_ref.rpartition("@")
    evaluate_regression(
        req.out_dir,
        req.test_frame,
        np.asarray(req.y_true, dtype=float),
        np.asarray(req.y_pred, dtype=float),
        run=RunInfo(
            run_id=req.run_key,
            dataset_name=name,
            dataset_version=version,
            dataset_checksum=req.dataset_checksum,
            commit=req.commit,
            split_checksum=req.split_checksum,
            seed=req.seed,
            train_command=req.reproduce_command,
        ),
        slices=[SliceFamily(f, described[f], tuple(d)) for f, d in families.items()],
    )


def by_parity(y_true: Any, **_: Any) -> list[SliceDefinition]:
    """Even and odd true counts."""
    y = np.asarray(y_true, dtype=float)
    return [
        SliceDefinition("parity:even", "the true count is even", y % 2 == 0),
        SliceDefinition("parity:odd", "the true count is odd", y % 2 == 1),
    ]


TOY_TASK = TaskType(
    name=TASK,
    description="Predict how many.",
    check_target=check_target,
    target_affinity=target_affinity,
    profile_target=profile_target,
    cast_target=cast_target,
    predict=predict,
    unit_failures=unit_failures,
)
TOY_TEMPLATE = Template(
    TEMPLATE,
    TASK,
    (
        ModelVariant(
            "median", "baseline", fit_median, StatConfig, "The median count.", load=load_constant
        ),
        ModelVariant(
            "mean", "candidate", fit_mean, StatConfig, "The mean count.", load=load_constant
        ),
    ),
    "Predict a count from a training statistic.",
)
TOY_EVALUATOR = Evaluator("toy-evaluator", TASK, evaluate, "EvalHarness' regression report.")
PARITY = Slicer("parity", by_parity, (TASK,), "Even and odd true counts.")
#: one more candidate for the built-in regression template
EXTRA_VARIANT = TemplateVariant(
    "tabular-regression",
    ModelVariant(
        "toy_median", "candidate", fit_median, StatConfig, "The median target.", load=load_constant
    ),
)


@hookimpl
def register_task_types() -> list[TaskType]:
    """The count task."""
    return [TOY_TASK]


@hookimpl
def register_templates() -> list[Template]:
    """The count template: median baseline, mean candidate."""
    return [TOY_TEMPLATE]


@hookimpl
def register_model_variants() -> list[TemplateVariant]:
    """A median candidate for the tabular regression template."""
    return [EXTRA_VARIANT]


@hookimpl
def register_evaluators() -> list[Evaluator]:
    """EvalHarness' regression report, for counts."""
    return [TOY_EVALUATOR]


@hookimpl
def register_slicers() -> list[Slicer]:
    """Even and odd counts."""
    return [PARITY]
