"""What a task plugin registers: templates with model variants, evaluators, slicers.

A task type is a name ("classification", "regression", a third party's "my-task") that
ties a plugin's templates, evaluators and slicers together. The hooks in
:mod:`modellab.hookspecs` return lists of these objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import msgspec

Role = Literal["baseline", "candidate"]
ROLES: tuple[str, ...] = ("baseline", "candidate")


class FittedModel(Protocol):
    """What a variant's ``fit`` returns.

    ``predict`` takes a frame of raw feature columns; ``preprocessors`` are the fitted
    preprocessing objects (fit on train rows only, which EvalHarness verifies);
    ``signature`` describes the inference interface (input columns, dtypes, output).
    """

    preprocessors: Sequence[Any]
    signature: Mapping[str, Any]

    def predict(self, frame: Any) -> Any:
        """Return predictions for every row of ``frame``."""


FitFunction = Callable[[Any, Any, int], FittedModel]
"""``fit(train_frame, spec, seed) -> FittedModel``; ``spec`` is the variant's config."""


@dataclass(frozen=True)
class ModelVariant:
    """A named model of a template, marked as a baseline or a candidate."""

    name: str
    role: Role
    fit: FitFunction
    config_type: type[msgspec.Struct]
    description: str = ""


@dataclass(frozen=True)
class Template:
    """A task template: a task type and its model variants, baselines first."""

    name: str
    task_type: str
    variants: tuple[ModelVariant, ...]
    description: str = ""

    def variant(self, name: str) -> ModelVariant | None:
        """Return the variant called ``name``, or None."""
        return next((v for v in self.variants if v.name == name), None)


@dataclass(frozen=True)
class Evaluator:
    """Turns predictions of one task type into an EvalHarness report."""

    name: str
    task_type: str
    evaluate: Callable[..., Any]
    description: str = ""


@dataclass(frozen=True)
class SliceDefinition:
    """A named subset of evaluation rows produced by a slicer."""

    name: str
    definition: str
    mask: Any  # boolean array over the evaluation rows


@dataclass(frozen=True)
class Slicer:
    """A named slice generator; ``task_types`` empty means it applies to every task."""

    name: str
    generate: Callable[..., Sequence[SliceDefinition]]
    task_types: tuple[str, ...] = field(default=())
    description: str = ""
