"""Plugin discovery through entry points, MODELLAB_PLUGINS, and refusals that name names."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest

from modellab import hookimpl
from modellab.errors import PluginError
from modellab.plugins import build_registry, get_plugin_manager, load_registry
from modellab.tasks import Evaluator, ModelVariant, Slicer, Template, TemplateVariant
from tests import toy_task
from tests.conftest import Env


class NoConfig(msgspec.Struct):
    pass


def _fit(train: object, spec: object, seed: int) -> Any:
    raise AssertionError("not called here")


class Plugin:
    """A plugin object; compared by identity, as pluggy registers objects."""


def plugin(**hooks: object) -> Plugin:
    obj = Plugin()
    for name, fn in hooks.items():
        setattr(obj, name, hookimpl(cast(Callable[..., object], fn)))
    return obj


def test_builtin_plugins_are_discovered_through_entry_points() -> None:
    reg = load_registry()
    names = {p.name: p.distribution for p in reg.plugins}
    assert names == {
        "classification": "modellab-classification",
        "regression": "modellab-regression",
        "ranking": "modellab-ranking",
    }
    assert reg.templates["tabular-classification"].task_type == "classification"
    assert reg.templates["tabular-regression"].task_type == "regression"
    assert reg.templates["learning-to-rank"].task_type == "ranking"
    assert reg.task_types.keys() == {"classification", "regression", "ranking", "retrieval"}
    assert [f.name for f in reg.task_types["retrieval"].source_formats] == [
        "trec",
        "beir",
        "tables",
    ]
    assert reg.registered_by("ranking") == {
        "task_types": ["ranking", "retrieval"],
        "templates": ["learning-to-rank", "retrieval"],
        "variants": [],
        "evaluators": ["evalharness-ranking", "evalharness-retrieval"],
        "slicers": [],
    }


def test_modellab_plugins_narrows_what_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELLAB_PLUGINS", "regression, modellab-ranking")
    reg = load_registry()
    assert [p.name for p in reg.plugins] == ["ranking", "regression"]
    assert sorted(reg.templates) == ["learning-to-rank", "retrieval", "tabular-regression"]


def test_modellab_plugins_with_an_unknown_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELLAB_PLUGINS", "nope")
    with pytest.raises(PluginError, match="MODELLAB_PLUGINS names 'nope', which is not installed"):
        load_registry()


def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module_source: str) -> None:
    """Install a real entry point: a dist-info folder and its module on sys.path."""
    (tmp_path / "brokenplug.py").write_text(module_source)
    info = tmp_path / "modellab_broken-9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: modellab-broken\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text("[modellab]\nbroken = brokenplug\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "brokenplug", raising=False)


def test_a_plugin_that_fails_to_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_distribution(tmp_path, monkeypatch, "import not_a_module_anywhere\n")
    with pytest.raises(PluginError) as err:
        get_plugin_manager()
    msg = str(err.value)
    assert "plugin 'broken' (distribution modellab-broken 9.9) failed to import brokenplug" in msg
    assert "ModuleNotFoundError" in msg


def test_a_plugin_with_an_unknown_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_distribution(
        tmp_path,
        monkeypatch,
        "from modellab import hookimpl\n@hookimpl\ndef register_tempaltes():\n    return []\n",
    )
    with pytest.raises(PluginError) as err:
        get_plugin_manager()
    msg = str(err.value)
    assert "plugin 'broken' (distribution modellab-broken 9.9)" in msg
    assert "register_tempaltes" in msg


def test_a_hook_returning_the_wrong_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_distribution(
        tmp_path,
        monkeypatch,
        "from modellab import hookimpl\n@hookimpl\ndef register_slicers():\n    return ['x']\n",
    )
    with pytest.raises(PluginError) as err:
        build_registry(get_plugin_manager())
    assert str(err.value) == (
        "plugin 'broken' (distribution modellab-broken 9.9): hook register_slicers returned "
        "str at position 0; expected Slicer"
    )


def test_a_hook_that_raises() -> None:
    def register_templates() -> list[Template]:
        raise RuntimeError("boom")

    pm = get_plugin_manager(
        [("mine", plugin(register_templates=register_templates))], discover=False
    )
    with pytest.raises(
        PluginError, match=r"plugin 'mine'.*hook register_templates raised RuntimeError: boom"
    ):
        build_registry(pm)


def test_template_without_a_baseline_is_refused() -> None:
    def register_templates() -> list[Template]:
        return [Template("t", "x", (ModelVariant("big", "candidate", _fit, NoConfig),))]

    pm = get_plugin_manager(
        [("mine", plugin(register_templates=register_templates))], discover=False
    )
    with pytest.raises(
        PluginError, match="hook register_templates: template 't' has no baseline variant"
    ):
        build_registry(pm)


def test_duplicate_template_names_name_both_plugins() -> None:
    def register_templates() -> list[Template]:
        return [
            Template(
                "tabular-classification",
                "classification",
                (ModelVariant("b", "baseline", _fit, NoConfig),),
            )
        ]

    pm = get_plugin_manager([("mine", plugin(register_templates=register_templates))])
    with pytest.raises(PluginError, match="already registered by plugin 'classification'"):
        build_registry(pm)


def test_two_evaluators_for_one_task_are_refused() -> None:
    def register_evaluators() -> list[Evaluator]:
        return [Evaluator("e", "toy-count", lambda **_: None)]

    pm = get_plugin_manager(
        [
            ("toy", plugin(register_task_types=lambda: [toy_task.TOY_TASK])),
            ("a", plugin(register_evaluators=register_evaluators)),
            ("b", plugin(register_evaluators=register_evaluators)),
        ],
        discover=False,
    )
    with pytest.raises(
        PluginError, match="task 'toy-count' already has an evaluator from plugin 'a'"
    ):
        build_registry(pm)


def test_a_template_of_an_unknown_task_type_is_refused() -> None:
    def register_templates() -> list[Template]:
        return [Template("t", "nope", (ModelVariant("b", "baseline", _fit, NoConfig),))]

    pm = get_plugin_manager([("mine", plugin(register_templates=register_templates))])
    with pytest.raises(
        PluginError,
        match=r"template 't' names task type 'nope', which no plugin registers "
        r"\(installed: classification, ranking, regression, retrieval\)",
    ):
        build_registry(pm)


def test_a_variant_for_a_missing_template_or_a_taken_name_is_refused() -> None:
    variant = ModelVariant("xgboost", "candidate", _fit, NoConfig)
    for template, message in (
        ("nope", "variant 'xgboost' is for template 'nope', which no plugin registers"),
        ("tabular-regression", "template 'tabular-regression' declares variant 'xgboost' twice"),
    ):
        extra = plugin(register_model_variants=lambda t=template: [TemplateVariant(t, variant)])
        with pytest.raises(PluginError, match=message):
            build_registry(get_plugin_manager([("mine", extra)]))


def test_a_task_type_registered_twice_is_refused() -> None:
    twice = plugin(register_task_types=lambda: [toy_task.TOY_TASK, toy_task.TOY_TASK])
    with pytest.raises(PluginError, match="task type 'toy-count' is already registered"):
        build_registry(get_plugin_manager([("mine", twice)], discover=False))


def test_plugin_modules_load_beside_the_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELLAB_PLUGIN_MODULES", "tests.toy_task")
    reg = load_registry()
    assert "toy-count" in reg.task_types and "classification" in reg.task_types
    assert reg.registered_by("tests.toy_task")["variants"] == ["tabular-regression/toy_median"]
    monkeypatch.setenv("MODELLAB_PLUGIN_MODULES", "tests.no_such_module")
    with pytest.raises(
        PluginError, match=r"MODELLAB_PLUGIN_MODULES names module 'tests\.no_such_module'"
    ):
        load_registry()


def test_slicers_for_a_task() -> None:
    def register_slicers() -> list[Slicer]:
        return [Slicer("everywhere", lambda **_: [])]

    reg = build_registry(get_plugin_manager([("mine", plugin(register_slicers=register_slicers))]))
    names = [s.name for s in reg.slicers_for("regression")]
    # The task's own plugin first, in its order; then the others by plugin name.
    assert names == ["target_quintile", "key_feature", "missingness", "everywhere"]
    assert [s.name for s in reg.slicers_for("classification")] == [
        "confidence_decile",
        "missingness",
        "key_feature",
        "class",
        "text_length",
        "text_out_of_vocabulary",
        "out_of_scope",
        "everywhere",
    ]


def test_plugins_command(ml: Env) -> None:
    listed = ml.json("plugins")
    by_name = {p["name"]: p for p in listed}
    assert by_name["classification"]["distribution"] == "modellab-classification"
    assert by_name["classification"]["version"] == "0.1.0"
    template = by_name["classification"]["templates"][0]
    assert template["name"] == "tabular-classification"
    assert {"name": "most_frequent", "role": "baseline"} in template["variants"]
    assert "class" in by_name["classification"]["slicers"]
    text = ml.run("plugins").stdout
    assert "modellab-regression" in text and "tabular-regression" in text


def test_plugins_command_reports_a_broken_plugin(
    ml: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution(tmp_path, monkeypatch, "raise ImportError('half installed')\n")
    result = ml.run("plugins", ok=False)
    assert result.exit_code == 3
    assert (
        "error: plugin 'broken' (distribution modellab-broken 9.9) failed to import"
        in result.stderr
    )
    assert "Traceback" not in result.output


def test_preload_imports_every_deferred_function() -> None:
    """A worker calls preload() once so that no run pays for importing its plugin's code."""
    from modellab.tasks import Deferred

    registry = load_registry()
    functions = [e.evaluate for e in registry.evaluators.values()] + [
        v.fit for t in registry.templates.values() for v in t.variants
    ]
    deferred = [f for f in functions if isinstance(f, Deferred)]
    assert deferred, "the built-in plugins register deferred functions"
    registry.preload()
    for fn in deferred:
        module, _, attr = fn.target.partition(":")
        assert module in sys.modules
        assert fn.load() is getattr(sys.modules[module], attr)


def test_deferred_refuses_a_target_without_a_function() -> None:
    from modellab.tasks import deferred

    with pytest.raises(ValueError, match=r"package\.module:function"):
        deferred("modellab_classification.models")


def test_a_task_type_whose_source_formats_are_not_source_formats_is_refused() -> None:
    from dataclasses import replace

    from modellab.datasets.sources import SourceFormat

    fmt = SourceFormat("odd", "odd layout", "y", "g", lambda rels: False, lambda root, f: None)  # type: ignore[arg-type,return-value]
    for formats, message in (
        (("trec",), "source_formats holds 'trec', not a SourceFormat"),
        ((fmt, fmt), r"names a source format twice: \['odd', 'odd'\]"),
    ):
        task = replace(toy_task.TOY_TASK, source_formats=formats)  # type: ignore[arg-type]
        pm = get_plugin_manager(
            [("toy", plugin(register_task_types=lambda task=task: [task]))], discover=False
        )
        with pytest.raises(PluginError, match=message):
            build_registry(pm)
