"""Calling the slicers that apply to a run: the slices its report is broken down by.

Core calls every slicer of the run's task (``Registry.slicers_for``) on the test units
and hands what they return to the evaluator, which writes them into ``slices.json``. A
slicer that breaks its contract fails the run with a reason naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from modellab.errors import ModelLabError
from modellab.tasks import SliceDefinition, Slicer


def run_slicers(
    slicers: Sequence[Slicer], n_units: int, **inputs: Any
) -> tuple[SliceDefinition, ...]:
    """Every slice of ``slicers`` over ``n_units`` test units, in slicer order.

    ``inputs`` are the keyword arguments each ``generate`` gets (see
    :class:`modellab.tasks.Slicer`). Family and family description default to the
    slicer's name and description; masks become boolean arrays.

    :raises ModelLabError: a slicer raised, returned something other than
        SliceDefinitions, a mask of the wrong length, or a slice id already taken.
    """
    out: list[SliceDefinition] = []
    seen: dict[str, str] = {}
    for slicer in slicers:
        try:
            made = list(slicer.generate(**inputs))
        except Exception as exc:
            raise ModelLabError(
                f"slicer {slicer.name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        for item in made:
            if not isinstance(item, SliceDefinition):
                raise ModelLabError(
                    f"slicer {slicer.name!r} returned {type(item).__name__}; expected "
                    "SliceDefinition"
                )
            mask = np.asarray(item.mask)
            if mask.shape != (n_units,):
                raise ModelLabError(
                    f"slicer {slicer.name!r}: slice {item.name!r} has a mask of shape "
                    f"{mask.shape}; it needs one entry per test unit ({n_units})"
                )
            if item.name in seen:
                raise ModelLabError(
                    f"slicer {slicer.name!r}: slice id {item.name!r} is taken by slicer "
                    f"{seen[item.name]!r}"
                )
            seen[item.name] = slicer.name
            out.append(
                dataclasses.replace(
                    item,
                    mask=mask.astype(bool),
                    family=item.family or slicer.name,
                    family_description=item.family_description or slicer.description,
                )
            )
    return tuple(out)
