"""What is installed: plugins, task types, templates, models with their config schemas."""

from __future__ import annotations

import msgspec
from litestar import Controller, get

from modellab import __version__
from modellab.plugins import Registry
from modellab.runs.options import eval_defaults, setting_descriptions
from modellab.runs.service import reference_baseline
from modellab.server.auth.middleware import PUBLIC
from modellab.server.schemas import (
    DescriptionsOut,
    EvalSettingOut,
    Health,
    ModelOut,
    PluginOut,
    PluginsOut,
    TaskTypeOut,
    TemplateOut,
)
from modellab.server.services import Services


def descriptions(registry: Registry) -> DescriptionsOut:
    """EvalHarness' catalog, with the metrics of the installed evaluators added."""
    # Here, not at the top: EvalHarness brings NumPy, SciPy and matplotlib.
    from evalharness.catalog import catalog

    words = msgspec.to_builtins(catalog())
    for _, evaluator in sorted(registry.evaluators.items()):
        for name, info in evaluator.metrics.items():
            words["metrics"].setdefault(
                name, {"description": info.description, "higher_is_better": info.higher_is_better}
            )
    words["metrics"] = dict(sorted(words["metrics"].items()))
    return msgspec.convert(words, DescriptionsOut)


class PluginController(Controller):
    """``/api/plugins`` and ``/api/health``"""

    tags = ("plugins",)

    @get("/api/plugins")
    async def plugins(self, services: Services) -> PluginsOut:
        """Installed plugins; each model's config as JSON Schema, to build a form from;
        what each metric, plot and failure mode of a report means."""
        registry = services.registry
        plugins = [
            PluginOut(p.name, p.distribution, p.version, **registry.registered_by(p.name))
            for p in sorted(registry.plugins, key=lambda p: p.name)
        ]
        task_types = [
            TaskTypeOut(
                t.name,
                t.description,
                registry.owners.get(("task_types", t.name), ""),
                t.unit,
                t.labels,
                [f.description for f in t.source_formats],
            )
            for _, t in sorted(registry.task_types.items())
        ]
        templates = [
            TemplateOut(
                name=t.name,
                task_type=t.task_type,
                description=t.description,
                plugin=registry.owners.get(("templates", t.name), ""),
                models=[
                    ModelOut(v.name, v.role, v.description, msgspec.json.schema(v.config_type))
                    for v in t.variants
                ],
                reference_baseline=reference_baseline(t).name,
                input_roles=list(t.input_roles),
            )
            for _, t in sorted(registry.templates.items())
        ]
        defaults = eval_defaults()
        settings = [
            EvalSettingOut(name, description, _default_shown(defaults[name]))
            for name, description in setting_descriptions().items()
        ]
        return PluginsOut(plugins, task_types, templates, settings, descriptions(registry))

    @get("/api/health", opt={PUBLIC: True})
    async def health(self, services: Services) -> Health:
        """The server is up; which executor and database kind it uses."""
        return Health(
            status="ok",
            version=__version__,
            executor=services.executor.name,
            database=services.db.engine.dialect.name,
        )


def _default_shown(value: object) -> float | str | None:
    """A setting's default as a form shows it: a number, a word, or a list written as the
    command line takes it (``1,5,10``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return float(value)  # type: ignore[arg-type]
