"""One test per hook (Datasette's rule), and a meta-test that keeps it so.

Each ``test_hook_<name>`` registers a plugin implementing that hook (with the toy task
type of :mod:`tests.toy_task` where the hook needs a task) and checks what it does.
``tests/server/test_task_plugin.py`` runs the whole toy plugin end to end.
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import cast

import msgspec
import numpy as np

from modellab import hookimpl, hookspecs
from modellab.plugins import build_registry, get_plugin_manager
from modellab.runs.slices import run_slicers
from modellab.tasks import (
    Evaluator,
    ModelVariant,
    SliceDefinition,
    Slicer,
    Template,
    TemplateVariant,
)
from tests import toy_task
from tests.conftest import Env, write

REPO = Path(__file__).resolve().parents[1]


def hook_names() -> list[str]:
    return sorted(
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "modellab_spec")
    )


def registry_with(**hooks: object):  # type: ignore[no-untyped-def]
    ns = types.SimpleNamespace(
        **{k: hookimpl(cast(Callable[..., object], v)) for k, v in hooks.items()}
    )
    return build_registry(get_plugin_manager([("under-test", ns)], discover=False))


class Cfg(msgspec.Struct):
    depth: int = 3


def test_hook_register_task_types(ml: Env) -> None:
    """A registered task type decides ingest: it is inferred from the target, refuses a
    target it cannot take, and profiles its target."""
    reg = registry_with(register_task_types=lambda: [toy_task.TOY_TASK])
    assert reg.task_type("toy-count") is toy_task.TOY_TASK
    assert reg.registered_by("under-test")["task_types"] == ["toy-count"]
    ml.env["MODELLAB_PLUGIN_MODULES"] = "tests.toy_task"
    data = write(
        ml.home.parent / "counts.csv", "x,n\n" + "".join(f"{i % 7},{i % 4}\n" for i in range(40))
    )
    added = ml.json("dataset", "add", "-p", "p", "-n", "counts", "-t", "n", str(data))
    assert added["task"] == "toy-count"  # its affinity beats classification's
    profile = ml.json("dataset", "show", "p/counts")["profile"]
    assert profile["target"]["task"] == "toy-count"
    assert profile["target"]["distribution"]["max"] == 3
    floats = write(
        ml.home.parent / "floats.csv", "x,n\n" + "".join(f"{i},{i / 3}\n" for i in range(40))
    )
    refused = ml.run(
        "dataset",
        "add",
        "-p",
        "p",
        "-n",
        "f",
        "-t",
        "n",
        "--task",
        "toy-count",
        str(floats),
        ok=False,
    )
    assert refused.exit_code != 0
    assert (
        "target column 'n' holds Float64 values, not counts; use --task classification or "
        "regression" in refused.output
    )


def test_hook_register_templates() -> None:
    variant = ModelVariant("b", "baseline", lambda df, spec, seed: None, Cfg)  # type: ignore[arg-type, return-value]
    reg = registry_with(
        register_task_types=lambda: [toy_task.TOY_TASK],
        register_templates=lambda: [Template("t", "toy-count", (variant,))],
    )
    assert reg.template("t").variant("b") is variant
    assert reg.registered_by("under-test")["templates"] == ["t"]


def test_hook_register_model_variants() -> None:
    """A variant for another plugin's template joins that template, after its own."""
    reg = registry_with(
        register_task_types=lambda: [toy_task.TOY_TASK],
        register_templates=lambda: [toy_task.TOY_TEMPLATE],
        register_model_variants=lambda: [
            TemplateVariant(
                "toy-counts",
                ModelVariant("extra", "candidate", toy_task.fit_mean, toy_task.StatConfig),
            )
        ],
    )
    names = [v.name for v in reg.template("toy-counts").variants]
    assert names == ["median", "mean", "extra"]
    assert reg.registered_by("under-test")["variants"] == ["toy-counts/extra"]


def test_hook_register_evaluators() -> None:
    ev = Evaluator("my-eval", "toy-count", lambda request: None)
    reg = registry_with(
        register_task_types=lambda: [toy_task.TOY_TASK], register_evaluators=lambda: [ev]
    )
    assert reg.evaluator_for("toy-count") is ev


def test_hook_register_slicers() -> None:
    def halves(y_true: object, **_: object) -> list[SliceDefinition]:
        y = np.asarray(y_true)
        return [SliceDefinition("first", "first half", np.arange(y.size) < y.size // 2)]

    reg = registry_with(
        register_task_types=lambda: [toy_task.TOY_TASK],
        register_slicers=lambda: [Slicer("halves", halves, ("toy-count",), "Halves.")],
    )
    (s,) = reg.slicers_for("toy-count")
    (made,) = run_slicers([s], 4, y_true=[1, 2, 3, 4])
    assert made.mask.tolist() == [True, True, False, False]
    assert (made.family, made.family_description) == ("halves", "Halves.")
    assert reg.slicers_for("other") == []


def test_every_hook_has_a_test_a_docstring_and_a_reference_entry() -> None:
    names = hook_names()
    assert names == [
        "register_evaluators",
        "register_model_variants",
        "register_slicers",
        "register_task_types",
        "register_templates",
    ]
    module = sys.modules[__name__]
    reference = (REPO / "docs" / "plugins.md").read_text()
    for name in names:
        assert hasattr(module, f"test_hook_{name}"), f"hook {name} has no test"
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert ":return:" in doc, f"hook {name} docstring lacks :return:"
        assert f"### `{name}(" in reference, f"hook {name} missing from docs/plugins.md"
        assert inspect.signature(getattr(hookspecs, name)).return_annotation.startswith("list[")


def test_hookimpl_is_exported() -> None:
    import modellab

    assert modellab.hookimpl is hookspecs.hookimpl
