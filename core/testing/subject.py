"""The plugin under test: how the kit names it, registers it and lets training reach it.

A plugin is given as its module (or the module's import name), or as any object with
hook implementations. The registry of a test holds that plugin and the installed
plugins named to load beside it, nothing else. Training processes are fresh
interpreters that discover plugins themselves: an installed plugin is selected by its
entry-point name, a module that is not installed through ``MODELLAB_PLUGIN_MODULES``
with its folder on ``PYTHONPATH``; a plain object cannot reach them.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sysconfig
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from modellab.plugins import (
    ENTRY_POINT_GROUP,
    MODULES_VARIABLE,
    Registry,
    build_registry,
    get_plugin_manager,
)

#: the variable naming which installed plugins load (core reads it at discovery)
SELECTION_VARIABLE = "MODELLAB_PLUGINS"


@dataclass(frozen=True)
class PluginUnderTest:
    """A plugin under test and the installed plugins it builds on."""

    #: its name in the registry: the entry-point name when installed, else the module's
    name: str
    plugin: object
    #: the import name of its module (None: an object training processes cannot load)
    module: str | None
    #: its entry-point name when it is installed as a distribution
    entry_point: str | None
    #: installed plugins (entry-point or distribution names) loaded beside it
    beside: tuple[str, ...] = ()

    @classmethod
    def of(cls, plugin: object, beside: Sequence[str] = ()) -> PluginUnderTest:
        """Describe ``plugin`` (a module, a module's import name, or an object)."""
        if isinstance(plugin, str):
            plugin = importlib.import_module(plugin)
        module = plugin.__name__ if isinstance(plugin, types.ModuleType) else None
        installed = None
        if module is not None:
            installed = next(
                (
                    ep.name
                    for ep in entry_points(group=ENTRY_POINT_GROUP)
                    if ep.module == module and not ep.attr
                ),
                None,
            )
        name = installed or module or type(plugin).__name__
        if name in beside:
            raise ValueError(f"plugin {name!r} is the plugin under test; do not load it beside")
        return cls(name, plugin, module, installed, tuple(beside))

    def registry(self) -> Registry:
        """A registry holding this plugin and the plugins beside it, validated."""
        # Discovery would add the modules MODELLAB_PLUGIN_MODULES names (a home's own
        # setting included): the registry of a test holds only what it names.
        with _without(MODULES_VARIABLE):
            pm = get_plugin_manager(
                [(self.name, self.plugin)],
                selection=",".join(self.beside),
                discover=bool(self.beside),
            )
        return build_registry(pm)

    def environment(self) -> tuple[dict[str, str], tuple[str, ...]]:
        """Variables that make training processes load this plugin (and those beside),
        and the variables to remove.

        Without an entry point and without plugins beside, nothing narrows discovery:
        training processes then load the installed plugins too (``MODELLAB_PLUGINS``
        cannot name none).
        """
        env: dict[str, str] = {}
        unset: list[str] = []
        selected = [*([self.entry_point] if self.entry_point else []), *self.beside]
        if selected:
            env[SELECTION_VARIABLE] = ",".join(selected)
        else:
            unset.append(SELECTION_VARIABLE)
        if self.entry_point is None and self.module is not None:
            env[MODULES_VARIABLE] = self.module
            root = import_root(self.module)
            if root is not None and str(root) not in _library_folders():
                # A training process starts in the caller's folder; the module may live
                # elsewhere (a test folder on pytest's path only).
                path = os.environ.get("PYTHONPATH")
                env["PYTHONPATH"] = os.pathsep.join([str(root), *([path] if path else [])])
        else:
            unset.append(MODULES_VARIABLE)
        return env, tuple(unset)

    def require_module(self) -> str:
        """The module training processes import, or an error saying why there is none."""
        if self.module is None:
            raise ValueError(
                f"the plugin under test is a {type(self.plugin).__name__} object, not a "
                "module: training processes cannot load it. Return the plugin's module "
                "from the modellab_plugin fixture to run it end to end."
            )
        return self.module


def import_root(module: str) -> Path | None:
    """The folder on ``sys.path`` from which ``module`` was imported (None: unknown)."""
    imported = importlib.import_module(module)
    file = getattr(imported, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    if path.name == "__init__.py":
        path = path.parent
    return path.parents[len(module.split(".")) - 1]


def _library_folders() -> set[str]:
    """Where installed modules live: they import in any process without help."""
    paths = sysconfig.get_paths()
    return {str(Path(paths[k]).resolve()) for k in ("purelib", "platlib", "stdlib")}


@contextlib.contextmanager
def _without(variable: str) -> Iterator[None]:
    saved = os.environ.pop(variable, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[variable] = saved
