"""The plugin test kit (modellab.testing): it passes a sound plugin and fails broken ones.

The sound plugin is :mod:`tests.toy_task`, loaded as a module beside the installed
regression plugin (it adds a model to the regression template). Broken plugins are small
objects built here, which the kit refuses before any run, and the modules
:mod:`tests.testing.broken_evaluator` and :mod:`tests.testing.crashing_model`, whose
faults only a run shows.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, cast

import msgspec
import numpy as np
import pandas as pd
import polars as pl
import pytest

from modellab import hookimpl
from modellab.datasets.schema import column_facts
from modellab.plugins import Registry
from modellab.tasks import TARGET, ModelVariant, SliceDefinition, Slicer, Template
from modellab.testing.check import ContractReport
from modellab.testing.contracts import (
    ContractError,
    check_config_type,
    check_round_trip,
    check_same_eval,
    check_task_type,
)
from modellab.testing.home import ModelLabHome
from modellab.testing.runs import FinishedRun
from tests import toy_task
from tests.conftest import REPO

CARS = REPO / "core" / "demo_data" / "cars.csv"
Contract = Callable[..., ContractReport]
RunModel = Callable[..., FinishedRun]


def counts() -> pd.DataFrame:
    """Visits per day of a toy shop: an integer target, which the toy count task claims."""
    days = np.arange(120)
    return pd.DataFrame(
        {"weekday": days % 7, "promo": (days * 7) % 11, "visits": (days % 7) + (days % 3)}
    )


def plugin(**hooks: Callable[[], list[Any]]) -> types.SimpleNamespace:
    """A plugin object implementing ``hooks``."""
    return types.SimpleNamespace(**{k: hookimpl(v) for k, v in hooks.items()})


def toy_with(*variants: ModelVariant, slicers: tuple[Slicer, ...] = ()) -> types.SimpleNamespace:
    """The toy count task with a template of the toy median baseline and ``variants``."""
    template = Template("counts", toy_task.TASK, (toy_task.TOY_TEMPLATE.variants[0], *variants))
    return plugin(
        register_task_types=lambda: [toy_task.TOY_TASK],
        register_templates=lambda: [template],
        register_evaluators=lambda: [toy_task.TOY_EVALUATOR],
        register_slicers=lambda: list(slicers),
    )


class NoDefault(msgspec.Struct):
    depth: Annotated[int, msgspec.Meta(ge=1, le=9)]


class Unbounded(msgspec.Struct):
    depth: int = 3


class DefaultOutOfBounds(msgspec.Struct):
    depth: Annotated[int, msgspec.Meta(ge=1, le=9)] = 0


def off_by_one(folder: Path) -> toy_task.ConstantModel:
    """A load that reads the model back wrong."""
    model = toy_task.load_constant(folder)
    return toy_task.ConstantModel(model.value + 1, model.columns)


def one_too_many(y_true: Any, **_: Any) -> list[SliceDefinition]:
    return [SliceDefinition("all", "every row, and one more", np.ones(len(y_true) + 1, bool))]


# -- the toy plugin passes -------------------------------------------------------------

TOY = pytest.mark.parametrize(
    ("modellab_plugin", "modellab_plugins_beside"), [("tests.toy_task", ["regression"])]
)


@TOY
def test_the_registry_holds_the_plugin_and_those_beside_it(modellab_registry: Registry) -> None:
    assert [p.name for p in modellab_registry.plugins] == ["regression", "tests.toy_task"]
    assert set(modellab_registry.task_types) == {"regression", toy_task.TASK}
    assert "toy_median" in {
        v.name for v in modellab_registry.templates["tabular-regression"].variants
    }


@TOY
def test_the_toy_plugin_keeps_every_contract(modellab_contract: Contract) -> None:
    report = modellab_contract(data=counts(), target="visits", n_bootstrap=10)
    assert (report.plugin, report.task) == ("tests.toy_task", toy_task.TASK)
    assert report.variants == ("toy-counts/median", "toy-counts/mean")
    assert report.slicers == ("parity",)
    # Each model ran twice, and the two reports were byte-identical.
    assert [r.status for r in report.runs] == ["succeeded"] * 4
    # Its model for the regression template is checked on a regression dataset.
    report = modellab_contract(
        data=CARS, target="miles_per_gallon", task="regression", twice=(), n_bootstrap=10
    )
    assert report.variants == ("tabular-regression/toy_median",) and len(report.runs) == 1


@TOY
def test_one_call_runs_a_model_end_to_end(modellab_run: RunModel) -> None:
    run = modellab_run(
        toy_task.TEMPLATE, "mean", data=counts(), target="visits", config={"scale": 2.0}, seed=3
    )
    assert run.status == "succeeded" and run.status_reason is None
    assert (run.run.config, run.run.seed) == ({"scale": 2.0}, 3)
    assert (run.eval_dir / "eval_summary.json").exists()
    assert (run.model_dir / "signature.json").exists()
    assert run.metrics["n_test"] == 24


@TOY
async def test_the_home_serves_an_async_test(modellab_home: ModelLabHome) -> None:
    # The test's event loop is running: the home's calls run on a loop of their own.
    version = modellab_home.add_dataset(counts(), "visits")
    assert (version.ref, version.task) == ("p/data@1", toy_task.TASK)
    assert len(modellab_home.frames(version).test_x) == 24


# -- broken plugins fail ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("config_type", "problem"),
    [
        (NoDefault, r"fields \['depth'\] have no default"),
        (Unbounded, r"numeric fields \['depth'\] have no bounds"),
        (DefaultOutOfBounds, "defaults break its own constraints"),
    ],
)
def test_a_config_needs_defaults_within_bounds(
    config_type: type[msgspec.Struct], problem: str
) -> None:
    with pytest.raises(ContractError, match=problem):
        check_config_type(config_type)


@pytest.mark.parametrize(
    "modellab_plugin",
    [toy_with(ModelVariant("deep", "candidate", toy_task.fit_mean, NoDefault))],
)
def test_the_contract_refuses_a_config_without_defaults(modellab_contract: Contract) -> None:
    with pytest.raises(ContractError, match="variant 'deep': config NoDefault: fields"):
        modellab_contract(data=counts(), target="visits")


@pytest.mark.parametrize(
    ("modellab_plugin", "problem"),
    [
        (
            toy_with(ModelVariant("mean", "candidate", toy_task.fit_mean, toy_task.StatConfig)),
            "variant 'mean' has no load",
        ),
        (
            toy_with(
                ModelVariant(
                    "mean", "candidate", toy_task.fit_mean, toy_task.StatConfig, load=off_by_one
                )
            ),
            "variant 'mean': the model its load.. read back gives other predictions than the "
            "fitted model on 24 of 24 test rows",
        ),
        (
            toy_with(slicers=(Slicer("too_long", one_too_many, (toy_task.TASK,)),)),
            r"slicer 'too_long': slice 'all' has a mask of shape \(25,\)",
        ),
    ],
    ids=["no-load", "load-differs", "slicer-mask"],
)
def test_the_contract_refuses_what_breaks_before_a_run(
    modellab_contract: Contract, problem: str
) -> None:
    with pytest.raises(ContractError, match=problem):
        modellab_contract(data=counts(), target="visits")


@pytest.mark.parametrize("modellab_plugin", [plugin()])
def test_a_plugin_that_registers_nothing_fails(modellab_contract: Contract) -> None:
    with pytest.raises(ContractError, match="registers nothing"):
        modellab_contract(data=counts(), target="visits")


def every_row(y_true: Any, **_: Any) -> list[SliceDefinition]:
    return [SliceDefinition("everything", "every row", np.ones(len(y_true), bool))]


@pytest.mark.parametrize(
    ("modellab_plugin", "modellab_plugins_beside"),
    [(plugin(register_slicers=lambda: [Slicer("everything", every_row)]), ["regression"])],
)
def test_an_object_plugin_is_checked_up_to_the_runs(modellab_contract: Contract) -> None:
    # A slicer-only plugin is exercised through the regression baselines; as an object,
    # not a module, it cannot reach the training processes of the runs.
    with pytest.raises(ContractError, match="is a SimpleNamespace object, not a module"):
        modellab_contract(data=CARS, target="miles_per_gallon", task="regression")


def test_a_load_that_predicts_differently_fails_the_round_trip(tmp_path: Path) -> None:
    frame = counts().rename(columns={"visits": TARGET})
    variant = ModelVariant("m", "baseline", toy_task.fit_mean, toy_task.StatConfig, load=off_by_one)
    with pytest.raises(ContractError, match="gives other predictions"):
        check_round_trip(variant, frame[:100], frame[100:].drop(columns=[TARGET]), tmp_path)


def test_a_task_type_must_take_its_target_and_have_its_callables() -> None:
    facts = column_facts(pl.DataFrame({"y": [0.5, 1.5, 2.5]}))["y"]
    with pytest.raises(ContractError, match="check_target refuses the dataset's target 'y'"):
        check_task_type(toy_task.TOY_TASK, facts)
    counted = column_facts(pl.DataFrame({"y": [1, 2, 3]}))["y"]
    check_task_type(toy_task.TOY_TASK, counted, pd.Series([1, 2, 3]))
    negative = dataclasses.replace(toy_task.TOY_TASK, target_affinity=lambda facts: -1.0)
    with pytest.raises(ContractError, match="target_affinity must return a finite number >= 0"):
        check_task_type(negative, counted)
    no_predict = dataclasses.replace(toy_task.TOY_TASK, predict=cast(Any, None))
    with pytest.raises(ContractError, match="predict must be callable"):
        check_task_type(no_predict)


def test_reports_that_differ_fail_the_same_seed_check(tmp_path: Path) -> None:
    for name, text in (("a", "one"), ("b", "two")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text("{}")
        (tmp_path / name / "takeaway.txt").write_text(text)
    with pytest.raises(ContractError, match=r"wrote different eval/ files: \['takeaway.txt'\]"):
        check_same_eval(tmp_path / "a", tmp_path / "b")


@pytest.mark.parametrize("modellab_plugin", ["tests.testing.broken_evaluator"])
def test_the_contract_refuses_an_evaluator_writing_an_invalid_folder(
    modellab_contract: Contract,
) -> None:
    with pytest.raises(ContractError, match="breaks the EvalHarness contract") as caught:
        modellab_contract(data=counts(), target="visits", n_bootstrap=10)
    assert "takeaway.txt" in str(caught.value)


CRASHING = pytest.mark.parametrize("modellab_plugin", ["tests.testing.crashing_model"])


@CRASHING
def test_the_contract_refuses_a_model_that_cannot_fit(modellab_contract: Contract) -> None:
    with pytest.raises(ContractError, match="variant 'crash': fit raised RuntimeError"):
        modellab_contract(data=counts(), target="visits")


@CRASHING
def test_a_failed_run_fails_with_its_reason(modellab_run: RunModel) -> None:
    with pytest.raises(ContractError, match=r"failed: .*the crash model always fails to fit"):
        modellab_run("crashing-counts", "crash", data=counts(), target="visits", n_bootstrap=10)
    # Without the check the run comes back as it ended.
    run = modellab_run(
        "crashing-counts", "crash", data=counts(), target="visits", n_bootstrap=10, check=False
    )
    assert run.status == "failed" and "fails to fit" in (run.status_reason or "")
