"""The whole contract of a plugin, checked on one dataset: :func:`check_plugin`.

What the plugin registers is checked as objects first (task types, templates, model
variants and their configs). Then the dataset is ingested into the home and, for the
dataset's task, every model variant of the plugin (or, for a plugin without one, each
template's first baseline) whose template takes the dataset's columns (a text template
needs free text) is fitted, saved and loaded back, predicted, sliced by the
plugin's slicers, and run end to end; each report must follow the EvalHarness contract
and a second run with the same seed must write the same bytes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from modellab.datasets.schema import column_facts
from modellab.datasets.storage import load_frame
from modellab.domain import DatasetVersion
from modellab.plugins import Registry
from modellab.runs.options import EvalSettings
from modellab.runs.predictions import PredictionKeys
from modellab.tasks import TARGET, ModelVariant, Template
from modellab.testing.contracts import (
    ContractError,
    check_eval_folder,
    check_predictions,
    check_round_trip,
    check_same_eval,
    check_slicer,
    check_task_type,
    check_template,
    check_variant,
)
from modellab.testing.home import Data, ModelLabHome
from modellab.testing.runs import FinishedRun, run_model


@dataclass(frozen=True)
class ContractReport:
    """What :func:`check_plugin` checked."""

    plugin: str
    dataset: str
    task: str
    #: ``template/variant`` of every model fitted, round-tripped and run
    variants: tuple[str, ...]
    #: the plugin's slicers run on each model's predictions
    slicers: tuple[str, ...]
    runs: tuple[FinishedRun, ...]


def check_plugin(
    home: ModelLabHome,
    data: Data,
    target: str,
    task: str | None = None,
    *,
    group_column: str | None = None,
    twice: Collection[str] | None = None,
    n_bootstrap: int = 20,
    seed: int = 0,
) -> ContractReport:
    """Check every hook of the plugin under test of ``home`` on ``data``.

    :param task: the dataset's task type; None infers it from ``target``.
    :param group_column: split the dataset by this column (a grouped task's unit, such as
        a ranking dataset's query id) instead of at random.
    :param twice: the variants (``name`` or ``template/name``) run a second time to
        compare the eval folders byte for byte; None: every variant.
    :param n_bootstrap: bootstrap replicates of each run (small keeps the check fast).
    :raises ContractError: naming the first object that breaks its contract.
    """
    reg, name = home.registry, home.subject.name
    owned = reg.registered_by(name)
    if not any(owned.values()):
        raise ContractError(f"plugin {name!r} registers nothing")
    for task_name in owned["task_types"]:
        check_task_type(reg.task_types[task_name])
    for template_name in owned["templates"]:
        check_template(reg.templates[template_name])
    for key in owned["variants"]:
        template, variant = _variant(reg, key)
        check_variant(variant, f"template {template.name!r}")

    version = home.add_dataset(data, target, task, group_column=group_column)
    task_type = reg.task_type(version.task)
    if version.task in owned["task_types"]:
        frame = load_frame(home.artifacts, version).select(version.target)
        facts = column_facts(frame)[version.target]
        check_task_type(task_type, facts, frame[version.target].drop_nulls().to_pandas())
    slicers = [s for s in reg.slicers_for(version.task) if s.name in owned["slicers"]]
    evaluator = reg.evaluators.get(version.task)
    mine = [tv for tv in _own_variants(reg, name, version.task) if _takes(tv[0], version)]
    if not (
        mine
        or slicers
        or version.task in owned["task_types"]
        or (evaluator is not None and evaluator.name in owned["evaluators"])
    ):
        raise ContractError(
            f"plugin {name!r} registers nothing for task {version.task!r} of {version.ref}; "
            "pass data of a task it registers something for"
        )
    # A plugin without a model of the task is exercised through the task's baselines.
    exercised = mine or [tv for tv in _first_baselines(reg, version.task) if _takes(tv[0], version)]
    if not exercised:
        raise ContractError(
            f"no template of task {version.task!r} is loaded to exercise plugin {name!r}; "
            "name the plugin that owns one in modellab_plugins_beside"
        )
    # One load per set of input roles: a template's variants all see the same frames.
    frames = {roles: home.frames(version, roles) for roles in {t.input_roles for t, _ in exercised}}
    for template, variant in exercised:
        prepared = frames[template.input_roles]
        test = prepared.test_x
        folder = home.root / "round-trip" / template.name / variant.name
        model = check_round_trip(variant, prepared.train, test, folder, seed, task_type)
        predicted = check_predictions(task_type, model, test)
        keys = PredictionKeys.of(test.index.to_numpy(), predicted)
        n_units = np.unique(keys.units).size if task_type.grouped else len(test)
        for slicer in slicers:
            check_slicer(
                slicer,
                n_units,
                frame=test,
                train_frame=prepared.train.drop(columns=[TARGET]),
                units=keys.units,
                y_true=prepared.test_y,
                y_pred=predicted.y_pred,
                scores=predicted.scores,
                score_labels=predicted.score_labels,
                settings=EvalSettings(),
            )
    runs: list[FinishedRun] = []
    # Baselines first: a candidate's report compares it with them.
    for template, variant in exercised:
        first = run_model(
            home, template.name, variant.name, version, seed=seed, n_bootstrap=n_bootstrap
        )
        check_eval_folder(first.eval_dir)
        runs.append(first)
        if twice is None or variant.name in twice or f"{template.name}/{variant.name}" in twice:
            again = run_model(
                home, template.name, variant.name, version, seed=seed, n_bootstrap=n_bootstrap
            )
            what = f"runs {first.id} and {again.id} of {template.name}/{variant.name}"
            check_same_eval(first.eval_dir, again.eval_dir, what)
            runs.append(again)
    return ContractReport(
        plugin=name,
        dataset=version.ref,
        task=version.task,
        variants=tuple(f"{t.name}/{v.name}" for t, v in exercised),
        slicers=tuple(s.name for s in slicers),
        runs=tuple(runs),
    )


def _takes(template: Template, version: DatasetVersion) -> bool:
    """Whether ``version`` has a column of each input role of ``template`` beyond plain
    features (a text template needs free text), or features for a template of features
    only: a tabular template is not exercised on text alone."""
    present = {str(c.role) for c in version.schema}
    needed = [r for r in template.input_roles if r != "feature"] or ["feature"]
    return all(role in present for role in needed)


def _variant(reg: Registry, key: str) -> tuple[Template, ModelVariant]:
    """The template and variant of a ``template/variant`` key of ``registered_by``."""
    template_name, _, variant_name = key.partition("/")
    template = reg.templates[template_name]
    variant = template.variant(variant_name)
    assert variant is not None, key
    return template, variant


def _own_variants(reg: Registry, plugin: str, task: str) -> list[tuple[Template, ModelVariant]]:
    """The plugin's model variants for ``task``, baselines first: those of its templates
    and those it adds to others' (a variant added to a template is its adder's)."""
    mine: list[tuple[Template, ModelVariant]] = []
    for template in reg.templates.values():
        if template.task_type != task:
            continue
        owns_template = reg.owners[("templates", template.name)] == plugin
        for variant in template.variants:
            adder = reg.owners.get(("variants", f"{template.name}/{variant.name}"))
            if adder == plugin or (adder is None and owns_template):
                mine.append((template, variant))
    return sorted(mine, key=lambda tv: tv[1].role != "baseline")


def _first_baselines(reg: Registry, task: str) -> list[tuple[Template, ModelVariant]]:
    """Each template of ``task`` with its first baseline (every template has one)."""
    return [
        (t, next(v for v in t.variants if v.role == "baseline"))
        for t in reg.templates.values()
        if t.task_type == task
    ]
