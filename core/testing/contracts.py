"""Contract checks of what a plugin registers, one plain function per contract.

Each check raises :class:`ContractError` (an ``AssertionError``, so pytest reports it as
a failed test) with a message naming the object and what it breaks. They take the
objects a plugin registers and plain data, so a plugin's own tests may call them one by
one; :func:`modellab.testing.check.check_plugin` runs all of them on a dataset.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from modellab.errors import ModelLabError
from modellab.tasks import (
    GROUP,
    ITEM,
    TASK_TYPE_VALUES,
    FittedModel,
    ModelVariant,
    SliceDefinition,
    Slicer,
    TaskPredictions,
    TaskType,
    Template,
)

#: JSON Schema keywords that bound a number
BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
#: what a fitted model must expose (modellab.tasks.FittedModel)
MODEL_MEMBERS = ("predict", "save", "signature", "preprocessors")


class ContractError(AssertionError):
    """A plugin breaks the contract of a hook; the message says which and how."""


def check_task_type(task: TaskType, facts: Any = None, target: pd.Series | None = None) -> None:
    """``task`` has its required callables; on a target it should take, ``check_target``
    accepts it, ``target_affinity`` rates it with a number >= 0 and ``cast_target``
    keeps every row.

    :param facts: the target column's :class:`modellab.datasets.schema.ColumnFacts`.
    :param target: the target's values as a run reads them (pandas).
    """
    where = f"task type {task.name!r}"
    for f in dataclasses.fields(task):
        value = getattr(task, f.name)
        if f.name in TASK_TYPE_VALUES:
            continue
        required = f.default is dataclasses.MISSING
        if (required or value is not None) and not callable(value):
            raise ContractError(f"{where}: {f.name} must be callable, got {value!r}")
    if facts is not None:
        reason = task.check_target(facts.name, facts)
        if reason is not None:
            if not isinstance(reason, str):
                raise ContractError(
                    f"{where}: check_target must return None or a reason (str), got {reason!r}"
                )
            raise ContractError(
                f"{where}: check_target refuses the dataset's target {facts.name!r}: {reason}"
            )
        affinity = task.target_affinity(facts)
        if (
            isinstance(affinity, bool)
            or not isinstance(affinity, int | float)
            or not math.isfinite(affinity)
            or affinity < 0
        ):
            raise ContractError(
                f"{where}: target_affinity must return a finite number >= 0, got {affinity!r}"
            )
    if target is not None:
        cast = task.cast_target(target)
        if len(cast) != len(target):
            raise ContractError(
                f"{where}: cast_target returned {len(cast)} values for {len(target)} rows"
            )


def check_template(template: Template) -> None:
    """``template`` has a baseline, unique variant names, and every variant a callable
    ``fit`` and a config type that :func:`check_config_type` accepts."""
    where = f"template {template.name!r}"
    if not any(v.role == "baseline" for v in template.variants):
        raise ContractError(f"{where} has no baseline variant")
    names = [v.name for v in template.variants]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ContractError(f"{where} declares variants {twice} more than once")
    for variant in template.variants:
        check_variant(variant, where)


def check_variant(variant: ModelVariant, where: str = "") -> None:
    """``variant`` has a known role, a callable ``fit`` and a sound config type."""
    where = f"{where + ' ' if where else ''}variant {variant.name!r}"
    if variant.role not in ("baseline", "candidate"):
        raise ContractError(f"{where}: role {variant.role!r} is neither baseline nor candidate")
    if not callable(variant.fit):
        raise ContractError(f"{where}: fit must be callable")
    check_config_type(variant.config_type, where)


def check_config_type(config_type: type[msgspec.Struct], where: str = "") -> None:
    """``config_type`` is a msgspec Struct whose every field has a default (it builds
    with no arguments), whose defaults pass its own constraints, and whose numeric
    fields are bounded (``msgspec.Meta`` ge, gt, le or lt)."""
    name = getattr(config_type, "__name__", repr(config_type))
    where = f"{where + ': ' if where else ''}config {name}"
    if not (isinstance(config_type, type) and issubclass(config_type, msgspec.Struct)):
        raise ContractError(f"{where} is not a msgspec.Struct")
    fields = msgspec.structs.fields(config_type)
    missing = [
        f.name
        for f in fields
        if f.default is msgspec.NODEFAULT and f.default_factory is msgspec.NODEFAULT
    ]
    if missing:
        raise ContractError(
            f"{where}: fields {missing} have no default; a run without --set must build it"
        )
    try:
        msgspec.convert(msgspec.to_builtins(config_type()), config_type)
    except msgspec.ValidationError as exc:
        raise ContractError(f"{where}: its defaults break its own constraints: {exc}") from None
    properties = _schema_properties(config_type)
    unbounded = [
        f.name for f in fields if _numeric_without_bounds(properties.get(f.encode_name, {}))
    ]
    if unbounded:
        raise ContractError(
            f"{where}: numeric fields {unbounded} have no bounds; give each a "
            "msgspec.Meta(ge=, gt=, le= or lt=) so forms and --set refuse nonsense"
        )


def _schema_properties(config_type: type[msgspec.Struct]) -> dict[str, Any]:
    schema = msgspec.json.schema(config_type)
    ref = schema.get("$ref", "")
    body = schema.get("$defs", {}).get(ref.rpartition("/")[2], schema)
    properties: dict[str, Any] = body.get("properties", {})
    return properties


def _numeric_without_bounds(prop: Mapping[str, Any]) -> bool:
    """A number (or an optional one) whose schema names no bound."""
    options = prop.get("anyOf", [prop])
    return any(
        o.get("type") in ("integer", "number") and not any(b in o for b in BOUNDS) for o in options
    )


def check_round_trip(
    variant: ModelVariant,
    train: pd.DataFrame,
    test: pd.DataFrame,
    folder: Path,
    seed: int = 0,
    task: TaskType | None = None,
) -> FittedModel:
    """Fit ``variant`` with its default config, save the model into ``folder`` (as a run
    writes ``model/``), read it back with the variant's ``load`` and check both predict
    the same on ``test``. Return the fitted model.

    With ``task``, the comparison is of ``task.predict`` (the predictions and scores of
    the predictions table); without, of the models' ``predict``.
    """
    where = f"variant {variant.name!r}"
    if variant.load is None:
        raise ContractError(
            f"{where} has no load: give its ModelVariant load=deferred('pkg.module:load') "
            "that reads back what the fitted model's save writes"
        )
    try:
        model = variant.fit(train, variant.config_type(), seed)
    except Exception as exc:
        raise ContractError(f"{where}: fit raised {type(exc).__name__}: {exc}") from exc
    absent = [m for m in MODEL_MEMBERS if not hasattr(model, m)]
    if absent:
        raise ContractError(f"{where}: fit returned a {type(model).__name__} without {absent}")
    fmt = model.save(folder)
    if not isinstance(fmt, str) or not fmt:
        raise ContractError(f"{where}: save must return the format's name, got {fmt!r}")
    # What a run writes beside the model; a load may read it.
    signature = {"format": fmt, **dict(model.signature)}
    (folder / "signature.json").write_text(json.dumps(signature, indent=2, sort_keys=True))
    try:
        loaded = variant.load(folder)
    except Exception as exc:
        raise ContractError(f"{where}: load raised {type(exc).__name__}: {exc}") from exc
    if task is not None:
        fitted, read = task.predict(model, test), task.predict(loaded, test)
        _check_same(where, "predictions", (fitted.y_pred, read.y_pred), test)
        if fitted.scores is not None or read.scores is not None:
            _check_same(where, "scores", (fitted.scores, read.scores), test)
    else:
        _check_same(where, "predictions", (model.predict(test), loaded.predict(test)), test)
    return model


def _check_same(where: str, what: str, pair: tuple[Any, Any], test: pd.DataFrame) -> None:
    fitted, loaded = pair
    a = np.asarray(fitted) if fitted is not None else None
    b = np.asarray(loaded) if loaded is not None else None
    if a is None or b is None or a.shape != b.shape:
        raise ContractError(
            f"{where}: the loaded model's {what} have shape "
            f"{None if b is None else b.shape}, the fitted model's "
            f"{None if a is None else a.shape}"
        )
    differ = _differing_rows(a, b)
    if differ.any():
        row = int(np.flatnonzero(differ)[0])
        raise ContractError(
            f"{where}: the model its load() read back gives other {what} than the fitted "
            f"model on {int(differ.sum())} of {len(differ)} test rows (first: row "
            f"{test.index[row]!r}, {a[row]!r} fitted, {b[row]!r} loaded)"
        )


def _differing_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        same = (a == b) | (np.isnan(a) & np.isnan(b))
    else:
        same = a == b
    same = np.asarray(same, dtype=bool)
    if same.ndim == 0:
        same = np.full(len(a), bool(same))
    elif same.ndim > 1:
        same = same.reshape(len(same), -1).all(axis=1)
    differ: np.ndarray = ~same
    return differ


def check_slicer(slicer: Slicer, n_units: int, **inputs: Any) -> list[SliceDefinition]:
    """``slicer.generate(**inputs)`` returns SliceDefinitions with unique names and
    boolean masks of one entry per test unit; return them.

    ``inputs`` are what a run passes (``frame``, ``y_true``, ``y_pred``, ``scores``,
    ``score_labels``, ``units``, ``settings``; see :class:`modellab.tasks.Slicer`).
    """
    where = f"slicer {slicer.name!r}"
    try:
        made = list(slicer.generate(**inputs))
    except Exception as exc:
        raise ContractError(f"{where} raised {type(exc).__name__}: {exc}") from exc
    seen: set[str] = set()
    for item in made:
        if not isinstance(item, SliceDefinition):
            raise ContractError(f"{where} returned a {type(item).__name__}, not SliceDefinition")
        mask = np.asarray(item.mask)
        if mask.shape != (n_units,):
            raise ContractError(
                f"{where}: slice {item.name!r} has a mask of shape {mask.shape}; it needs "
                f"one entry per test unit ({n_units})"
            )
        if mask.dtype != bool:
            raise ContractError(
                f"{where}: slice {item.name!r} has a {mask.dtype} mask; masks are boolean"
            )
        if not item.name or item.name in seen:
            raise ContractError(f"{where}: slice name {item.name!r} is empty or repeated")
        seen.add(item.name)
    return made


def check_eval_folder(folder: Path) -> None:
    """``folder`` follows the EvalHarness contract (``validate_folder`` finds nothing)."""
    from evalharness.schemas.validate import validate_folder

    if not folder.is_dir():
        raise ContractError(f"the evaluator wrote no folder at {folder}")
    problems = validate_folder(folder)
    if problems:
        listed = "\n  ".join(problems)
        raise ContractError(f"{folder} breaks the EvalHarness contract:\n  {listed}")


def eval_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` by its relative path, sorted."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def check_same_eval(first: Path, second: Path, what: str = "two runs") -> None:
    """The eval folders ``first`` and ``second`` hold the same files, byte for byte."""
    a, b = eval_hashes(first), eval_hashes(second)
    differ = sorted(n for n in a.keys() | b.keys() if a.get(n) != b.get(n))
    if differ:
        raise ContractError(
            f"{what} with the same seed wrote different eval/ files: {differ} "
            f"(compare {first} and {second})"
        )


def check_predictions(task: TaskType, model: FittedModel, test: pd.DataFrame) -> TaskPredictions:
    """``task.predict`` gives a TaskPredictions with one prediction (and score row) per
    test row, and a label per score column; a retrieving task's (``TaskType.retrieves``)
    instead name the test unit and the item of each prediction, no item twice for a
    unit. Return it."""
    where = f"task type {task.name!r}"
    got = task.predict(model, test)
    if not isinstance(got, TaskPredictions):
        raise ContractError(f"{where}: predict returned {type(got).__name__}, not TaskPredictions")
    if task.retrieves:
        _check_retrieved(where, got, test)
    elif len(np.asarray(got.y_pred)) != len(test):
        raise ContractError(
            f"{where}: predict gave {len(np.asarray(got.y_pred))} predictions for {len(test)} rows"
        )
    if got.scores is not None:
        scores = np.asarray(got.scores)
        labels: Sequence[str] = got.score_labels or ()
        if (
            scores.ndim != 2
            or scores.shape[0] != len(np.asarray(got.y_pred))
            or scores.shape[1] != len(labels)
        ):
            raise ContractError(
                f"{where}: scores have shape {scores.shape}; they need one row per "
                f"prediction and one column per score label ({len(labels)})"
            )
    return got


def _check_retrieved(where: str, got: TaskPredictions, test: pd.DataFrame) -> None:
    """A retrieving model's predictions: a unit and an item for each, every unit a test
    unit, no (unit, item) twice; the items may be any the model found."""
    from modellab.runs.predictions import PredictionKeys, retrieval_table

    n = len(np.asarray(got.y_pred))
    if got.units is None or got.items is None:
        raise ContractError(f"{where}: a retrieving task's predictions must name units and items")
    if len(np.asarray(got.units)) != n or len(np.asarray(got.items)) != n:
        raise ContractError(
            f"{where}: {n} predictions, {len(np.asarray(got.units))} units and "
            f"{len(np.asarray(got.items))} items; one of each per prediction"
        )
    asked = set(test[GROUP].astype(str))
    strangers = sorted(set(np.asarray(got.units).astype(str).tolist()) - asked)
    if strangers:
        raise ContractError(f"{where}: predictions for units not in the test rows: {strangers[:5]}")
    try:
        retrieval_table(
            PredictionKeys.of(test.index.to_numpy(), got),
            got,
            test[GROUP],
            test[ITEM],
            np.zeros(len(test)),
        )
    except ModelLabError as e:
        raise ContractError(f"{where}: {e}") from e
