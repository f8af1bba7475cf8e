"""Plugin discovery and the registry of task types, templates, evaluators and slicers.

Plugins are found exactly as a third party's are: through entry points of the
``modellab`` group. ``MODELLAB_PLUGINS`` (a comma list of entry-point or distribution
names) narrows which load; ``MODELLAB_PLUGIN_MODULES`` (a comma list of importable module
names) adds modules that are not installed as distributions. Every failure names the
plugin, its distribution and the hook, instead of surfacing a bare traceback.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from modellab import hookspecs
from modellab.datasets.sources import SourceFormat
from modellab.errors import InvalidInputError, PluginError
from modellab.tasks import (
    ROLES,
    TASK_TYPE_VALUES,
    Deferred,
    Evaluator,
    Slicer,
    TaskType,
    Template,
    TemplateVariant,
)

ENTRY_POINT_GROUP = "modellab"
#: importable modules loaded as plugins beside the installed ones (comma list): a plugin
#: tried before it is packaged, or one a test defines; child processes inherit it
MODULES_VARIABLE = "MODELLAB_PLUGIN_MODULES"


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: its entry-point name and the distribution that provides it."""

    name: str
    distribution: str
    version: str


@dataclass
class Registry:
    """Everything the loaded plugins registered, validated and indexed."""

    plugins: list[PluginInfo]
    task_types: dict[str, TaskType] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    evaluators: dict[str, Evaluator] = field(default_factory=dict)
    slicers: dict[str, Slicer] = field(default_factory=dict)
    #: each plugin's slicer names in the order it registered them
    slicer_order: dict[str, list[str]] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)

    def task_type(self, name: str) -> TaskType:
        """Return the task type ``name`` or raise an error listing the known ones."""
        try:
            return self.task_types[name]
        except KeyError:
            known = ", ".join(sorted(self.task_types)) or "none (no plugin registers any)"
            raise InvalidInputError(f"unknown task {name!r}; installed: {known}") from None

    def template(self, name: str) -> Template:
        """Return the template ``name`` or raise an error listing the known ones."""
        try:
            return self.templates[name]
        except KeyError:
            known = ", ".join(sorted(self.templates)) or "none (no plugin registers any)"
            raise InvalidInputError(f"unknown template {name!r}; installed: {known}") from None

    def evaluator_for(self, task_type: str) -> Evaluator:
        """Return the evaluator of ``task_type`` or raise an error naming the task."""
        try:
            return self.evaluators[task_type]
        except KeyError:
            raise InvalidInputError(
                f"no installed plugin registers an evaluator for task {task_type!r}"
            ) from None

    def slicers_for(self, task_type: str) -> list[Slicer]:
        """Return the slicers that apply to ``task_type``, in report order.

        The plugin that registers the task type comes first, its slicers in the order
        it lists them; then the other plugins' (by plugin name), each slicer once. A
        slicer that names no task type slices rows, so it applies to every task whose
        units are rows, not to a grouped task (whose units are queries).
        """
        owner = self.owners.get(("task_types", task_type))
        plugins = sorted(self.slicer_order, key=lambda p: (p != owner, p))
        names = dict.fromkeys(n for p in plugins for n in self.slicer_order[p])
        task = self.task_types.get(task_type)
        grouped = task is not None and task.grouped
        return [
            self.slicers[n]
            for n in names
            if task_type in self.slicers[n].task_types
            or (not self.slicers[n].task_types and not grouped)
        ]

    def preload(self) -> None:
        """Import every deferred fit and evaluate function now.

        Workers and the server call this once at start, so a run's timings hold its own
        work and not the first import of scikit-learn, XGBoost or EvalHarness.
        """
        functions: list[object] = [e.evaluate for e in self.evaluators.values()]
        for task in self.task_types.values():
            functions.extend(getattr(task, f.name) for f in dataclasses.fields(task))
        functions.extend(s.generate for s in self.slicers.values())
        for template in self.templates.values():
            functions.extend(v.fit for v in template.variants)
        for function in functions:
            if isinstance(function, Deferred):
                function.load()

    def registered_by(self, plugin: str) -> dict[str, list[str]]:
        """Names of what ``plugin`` registered, per kind (task types, templates, model
        variants of other plugins' templates, evaluators, slicers)."""
        out: dict[str, list[str]] = {
            "task_types": [],
            "templates": [],
            "variants": [],
            "evaluators": [],
            "slicers": [],
        }
        for (kind, name), owner in sorted(self.owners.items()):
            if owner == plugin and kind != "slicers":
                out[kind].append(name)
        # A shared slicer counts for every plugin that registers it.
        out["slicers"] = sorted(self.slicer_order.get(plugin, []))
        return out


def _module_names(value: str) -> list[str]:
    return [m.strip() for m in value.split(",") if m.strip()]


def _selected(eps: Iterable[EntryPoint], selection: str | None) -> list[EntryPoint]:
    eps = sorted(eps, key=lambda ep: ep.name)
    if not selection:
        return eps
    wanted = [w.strip() for w in selection.split(",") if w.strip()]
    by_name = {ep.name: ep for ep in eps}
    by_dist = {ep.dist.name: ep for ep in eps if ep.dist is not None}
    chosen: list[EntryPoint] = []
    for w in wanted:
        ep = by_name.get(w) or by_dist.get(w)
        if ep is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise PluginError(
                f"MODELLAB_PLUGINS names {w!r}, which is not installed; installed: {known}"
            )
        if ep not in chosen:
            chosen.append(ep)
    return chosen


def get_plugin_manager(
    extra_plugins: Sequence[tuple[str, object]] = (),
    selection: str | None = None,
    discover: bool = True,
) -> pluggy.PluginManager:
    """Build a plugin manager with the installed plugins loaded and checked.

    :param extra_plugins: ``(name, plugin)`` pairs registered beside the discovered
        ones (the plugin test kit uses this for a plugin under test).
    :param selection: comma list of plugin or distribution names to load; defaults
        to ``MODELLAB_PLUGINS``.
    :param discover: load entry points of the ``modellab`` group, and the modules that
        ``MODELLAB_PLUGIN_MODULES`` names.
    :raises PluginError: naming the plugin, its distribution and the failing hook.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}
    if discover:
        sel = selection if selection is not None else os.environ.get("MODELLAB_PLUGINS")
        for ep in _selected(entry_points(group=ENTRY_POINT_GROUP), sel):
            dist = ep.dist.name if ep.dist is not None else "unknown"
            version = ep.dist.version if ep.dist is not None else "unknown"
            info = PluginInfo(ep.name, dist, version)
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {ep.name!r} (distribution {dist} {version}) failed to import "
                    f"{ep.value}: {type(exc).__name__}: {exc}"
                ) from exc
            _register(pm, ep.name, plugin, info)
            infos[ep.name] = info
        for module_name in _module_names(os.environ.get(MODULES_VARIABLE, "")):
            try:
                plugin = importlib.import_module(module_name)
            except Exception as exc:
                raise PluginError(
                    f"{MODULES_VARIABLE} names module {module_name!r}, which failed to "
                    f"import: {type(exc).__name__}: {exc}"
                ) from exc
            info = PluginInfo(module_name, f"(module, {MODULES_VARIABLE})", "")
            _register(pm, module_name, plugin, info)
            infos[module_name] = info
    for name, plugin in extra_plugins:
        info = PluginInfo(name, "(registered directly)", "")
        _register(pm, name, plugin, info)
        infos[name] = info
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        culprit = infos.get(pm.get_name(exc.plugin) or "")
        raise PluginError(_describe(culprit, str(exc))) from exc
    pm.modellab_infos = infos  # type: ignore[attr-defined]
    return pm


def _describe(info: PluginInfo | None, problem: str) -> str:
    if info is None:
        return f"a plugin broke a hook contract: {problem}"
    return f"plugin {info.name!r} (distribution {info.distribution} {info.version}): {problem}"


def _register(pm: pluggy.PluginManager, name: str, plugin: object, info: PluginInfo) -> None:
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(_describe(info, str(exc))) from exc
    except ValueError as exc:  # the same name or object registered twice
        raise PluginError(_describe(info, str(exc))) from exc


def _call_each(
    pm: pluggy.PluginManager, hook_name: str, item_type: type, infos: dict[str, PluginInfo]
) -> list[tuple[str, Any]]:
    """Call one hook plugin by plugin, so a broken result names who returned it."""
    caller = getattr(pm.hook, hook_name)
    results: list[tuple[str, Any]] = []
    for impl in caller.get_hookimpls():
        info = infos.get(impl.plugin_name)
        try:
            items = impl.function()
        except Exception as exc:
            raise PluginError(
                _describe(info, f"hook {hook_name} raised {type(exc).__name__}: {exc}")
            ) from exc
        if not isinstance(items, list | tuple):
            raise PluginError(
                _describe(info, f"hook {hook_name} must return a list, got {type(items).__name__}")
            )
        for i, item in enumerate(items):
            if not isinstance(item, item_type):
                raise PluginError(
                    _describe(
                        info,
                        f"hook {hook_name} returned {type(item).__name__} at position {i}; "
                        f"expected {item_type.__name__}",
                    )
                )
            results.append((impl.plugin_name, item))
    return results


def _check_template(t: Template, fail: Callable[[str], PluginError]) -> None:
    if not t.name or not t.task_type:
        raise fail(f"template {t.name!r} needs a name and a task type")
    if not t.variants:
        raise fail(f"template {t.name!r} has no model variants")
    seen: set[str] = set()
    for v in t.variants:
        if v.role not in ROLES:
            raise fail(f"template {t.name!r} variant {v.name!r} has role {v.role!r}; use {ROLES}")
        if v.name in seen:
            raise fail(f"template {t.name!r} declares variant {v.name!r} twice")
        if not callable(v.fit):
            raise fail(f"template {t.name!r} variant {v.name!r} has no callable fit")
        seen.add(v.name)
    if not any(v.role == "baseline" for v in t.variants):
        raise fail(f"template {t.name!r} has no baseline variant")


def _check_task_type(task: TaskType, fail: Callable[[str], PluginError]) -> None:
    if not task.name:
        raise fail("a task type needs a name")
    for f in dataclasses.fields(task):
        value = getattr(task, f.name)
        required = f.default is dataclasses.MISSING
        if f.name in TASK_TYPE_VALUES:
            continue
        if (required or value is not None) and not callable(value):
            raise fail(f"task type {task.name!r}: {f.name} must be callable")
    for fmt in task.source_formats:
        if not isinstance(fmt, SourceFormat) or not (callable(fmt.matches) and callable(fmt.read)):
            raise fail(f"task type {task.name!r}: source_formats holds {fmt!r}, not a SourceFormat")
    names = [fmt.name for fmt in task.source_formats]
    if len(set(names)) != len(names):
        raise fail(f"task type {task.name!r} names a source format twice: {names}")


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Collect and validate what every plugin registers.

    :raises PluginError: when a hook returns something other than a list of the
        hook's type, or a name is registered twice.
    """
    infos: dict[str, PluginInfo] = getattr(pm, "modellab_infos", {})
    reg = Registry(plugins=[infos[n] for n in sorted(infos)])

    def failer(plugin: str, hook: str) -> Callable[[str], PluginError]:
        return lambda msg: PluginError(_describe(infos.get(plugin), f"hook {hook}: {msg}"))

    def known_task(task_type: str, what: str, fail: Callable[[str], PluginError]) -> None:
        if task_type not in reg.task_types:
            known = ", ".join(sorted(reg.task_types)) or "none"
            raise fail(
                f"{what} names task type {task_type!r}, which no plugin registers "
                f"(installed: {known})"
            )

    for plugin, task in _call_each(pm, "register_task_types", TaskType, infos):
        fail = failer(plugin, "register_task_types")
        _check_task_type(task, fail)
        if task.name in reg.task_types:
            other = reg.owners[("task_types", task.name)]
            raise fail(f"task type {task.name!r} is already registered by plugin {other!r}")
        reg.task_types[task.name] = task
        reg.owners[("task_types", task.name)] = plugin
    for plugin, t in _call_each(pm, "register_templates", Template, infos):
        fail = failer(plugin, "register_templates")
        _check_template(t, fail)
        known_task(t.task_type, f"template {t.name!r}", fail)
        if t.name in reg.templates:
            other = reg.owners[("templates", t.name)]
            raise fail(f"template {t.name!r} is already registered by plugin {other!r}")
        reg.templates[t.name] = t
        reg.owners[("templates", t.name)] = plugin
    for plugin, extra in _call_each(pm, "register_model_variants", TemplateVariant, infos):
        fail = failer(plugin, "register_model_variants")
        if extra.template not in reg.templates:
            known = ", ".join(sorted(reg.templates)) or "none"
            raise fail(
                f"variant {extra.variant.name!r} is for template {extra.template!r}, "
                f"which no plugin registers (installed: {known})"
            )
        t = dataclasses.replace(
            reg.templates[extra.template],
            variants=(*reg.templates[extra.template].variants, extra.variant),
        )
        _check_template(t, fail)
        reg.templates[t.name] = t
        reg.owners[("variants", f"{t.name}/{extra.variant.name}")] = plugin
    for plugin, e in _call_each(pm, "register_evaluators", Evaluator, infos):
        fail = failer(plugin, "register_evaluators")
        if not callable(e.evaluate):
            raise fail(f"evaluator {e.name!r} has no callable evaluate")
        known_task(e.task_type, f"evaluator {e.name!r}", fail)
        if e.task_type in reg.evaluators:
            other = reg.owners[("evaluators", reg.evaluators[e.task_type].name)]
            raise fail(f"task {e.task_type!r} already has an evaluator from plugin {other!r}")
        reg.evaluators[e.task_type] = e
        reg.owners[("evaluators", e.name)] = plugin
    for plugin, s in _call_each(pm, "register_slicers", Slicer, infos):
        fail = failer(plugin, "register_slicers")
        if not callable(s.generate):
            raise fail(f"slicer {s.name!r} has no callable generate")
        for task_type in s.task_types:
            known_task(task_type, f"slicer {s.name!r}", fail)
        # Plugins may share a slicer (one object from a library both use); a different
        # slicer under a taken name is a conflict.
        if s.name in reg.slicers and reg.slicers[s.name] is not s:
            other = reg.owners[("slicers", s.name)]
            raise fail(f"slicer {s.name!r} is already registered by plugin {other!r}")
        reg.slicers[s.name] = s
        reg.owners.setdefault(("slicers", s.name), plugin)
        reg.slicer_order.setdefault(plugin, []).append(s.name)
    return reg


def load_registry(selection: str | None = None) -> Registry:
    """Discover the installed plugins and return their validated registry."""
    return build_registry(get_plugin_manager(selection=selection))
