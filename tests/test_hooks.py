"""One test per hook (Datasette's rule), and a meta-test that keeps it so.

Each ``test_hook_<name>`` registers a plugin implementing only that hook and checks
that what it returns reaches the registry.
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
from modellab.tasks import Evaluator, ModelVariant, SliceDefinition, Slicer, Template

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


def test_hook_register_templates() -> None:
    variant = ModelVariant("b", "baseline", lambda df, spec, seed: None, Cfg)  # type: ignore[arg-type, return-value]
    reg = registry_with(register_templates=lambda: [Template("t", "my-task", (variant,))])
    assert reg.template("t").variant("b") is variant
    assert reg.registered_by("under-test")["templates"] == ["t"]


def test_hook_register_evaluators() -> None:
    ev = Evaluator("my-eval", "my-task", lambda request: None)
    reg = registry_with(register_evaluators=lambda: [ev])
    assert reg.evaluator_for("my-task") is ev


def test_hook_register_slicers() -> None:
    def halves(y_true: object, **_: object) -> list[SliceDefinition]:
        y = np.asarray(y_true)
        return [SliceDefinition("first", "first half", np.arange(y.size) < y.size // 2)]

    reg = registry_with(register_slicers=lambda: [Slicer("halves", halves, ("my-task",))])
    (s,) = reg.slicers_for("my-task")
    assert s.generate(y_true=[1, 2, 3, 4])[0].mask.tolist() == [True, True, False, False]
    assert reg.slicers_for("other") == []


def test_every_hook_has_a_test_a_docstring_and_a_reference_entry() -> None:
    names = hook_names()
    assert names == ["register_evaluators", "register_slicers", "register_templates"]
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
