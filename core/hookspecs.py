"""Every hook a ModelLab plugin can implement.

Plugins are modules (or objects) registered under the ``modellab`` entry-point group;
they mark implementations with :data:`hookimpl`. Every ``register_*`` hook returns a
list, and ModelLab flattens the lists of all plugins. The reference page is
``docs/plugins.md``; ``tests/test_hooks.py`` checks that every hook here is
documented there and has a test.
"""

from __future__ import annotations

import pluggy

from modellab.tasks import Evaluator, Slicer, TaskType, Template, TemplateVariant

PROJECT_NAME = "modellab"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_task_types() -> list[TaskType]:  # type: ignore[empty-body]
    """Register task types.

    A task type owns what core must not know by name: which target columns it accepts
    (and how well a target fits it when the user names no task), the target's profile,
    whether splits stratify on it, how the target is cast for a model, the predictions
    table, and how compare pairs two runs. Task type names are unique across all
    plugins; templates, evaluators and slicers refer to a task type by its name.

    :return: the task types this plugin provides (may be empty).
    """


@hookspec
def register_templates() -> list[Template]:  # type: ignore[empty-body]
    """Register task templates.

    Each template names its task type and its model variants, each marked
    ``baseline`` or ``candidate``; a template needs at least one baseline, because a
    candidate's improvement is only meaningful against one. Template names are unique
    across all plugins.

    :return: the templates this plugin provides (may be empty).
    """


@hookspec
def register_model_variants() -> list[TemplateVariant]:  # type: ignore[empty-body]
    """Add model variants to templates that other plugins register.

    This is how a third party offers one more candidate (or baseline) for an existing
    template without copying it. The template must be installed; a variant name must
    be new within its template.

    :return: ``TemplateVariant(template_name, variant)`` pairs (may be empty).
    """


@hookspec
def register_evaluators() -> list[Evaluator]:  # type: ignore[empty-body]
    """Register evaluators, at most one per task type across all plugins.

    An evaluator turns a task's predictions (frame, truth, predictions, scores and the
    baseline's results) into an EvalHarness report folder.

    :return: the evaluators this plugin provides (may be empty).
    """


@hookspec
def register_slicers() -> list[Slicer]:  # type: ignore[empty-body]
    """Register named slice generators.

    A slicer yields named subsets of evaluation rows (confidence deciles, missingness
    buckets, top categories of a key feature, ...). Slicer names are unique across all
    plugins; ``task_types`` says which tasks it applies to (empty: every task whose
    units are rows).

    :return: the slicers this plugin provides (may be empty).
    """
