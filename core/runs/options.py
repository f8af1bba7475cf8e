"""Run options: settings of a run that sit beside its model's config.

They change what a run computes (the columns its model sees, the thresholds of the
evaluation's rules), so they are part of the run key, ``config.json``, the reproduce
command and compare's config diff, like the model config.
"""

from __future__ import annotations

from typing import Any

import msgspec

from modellab.domain import DatasetVersion
from modellab.errors import InvalidInputError

#: The EvalHarness settings a run may change (``--eval KEY=VALUE``), each with what it
#: decides. Defaults are EvalHarness' own (``evalharness.EvalConfig``).
EVAL_SETTINGS: dict[str, str] = {
    "duplicate_excess_error": (
        "duplicate rule: fail when test rows repeat train records more often than train "
        "rows repeat each other (chance) by more than this share"
    ),
    "duplicate_p_value": (
        "duplicate rule: ... and a binomial test against chance gives p below this"
    ),
    "leak_min_accuracy": ("leak suspects: a column alone reaching this held-out accuracy is named"),
    "leak_min_balanced_accuracy": (
        "leak suspects: ... and this balanced accuracy (classification)"
    ),
    "leak_min_r2": "leak suspects: a column alone reaching this held-out R^2 is named",
    "min_slice_size": (
        "slices: fewest rows a slice needs to be measured (default: from the test size)"
    ),
    "shift_min_refit_rows": "stress: fewest train rows a distribution-shift refit needs",
}


#: settings that count rows: whole numbers
WHOLE_NUMBER_SETTINGS = ("min_slice_size", "shift_min_refit_rows")


class RunOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a run takes beside its model config."""

    #: feature columns of the dataset version this run leaves out (``--exclude``)
    exclude: list[str] = msgspec.field(default_factory=list)
    #: the only feature columns this run uses (``--features``); None: the version's own
    features: list[str] | None = None
    #: EvalHarness settings of this run (keys of EVAL_SETTINGS; ``--eval KEY=VALUE``)
    eval: dict[str, float | int] = msgspec.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The options as stored: JSON values, keys sorted."""
        out = msgspec.to_builtins(self)
        out["eval"] = dict(sorted(self.eval.items()))
        return dict(sorted(out.items()))


def eval_defaults() -> dict[str, Any]:
    """Each changeable EvalHarness setting's default (None: derived from the data)."""
    from evalharness import EvalConfig

    defaults = EvalConfig()
    return {name: getattr(defaults, name) for name in EVAL_SETTINGS}


def parse_options(raw: dict[str, Any] | None) -> RunOptions:
    """Stored or requested options as a :class:`RunOptions`.

    :raises InvalidInputError: naming the unknown option or setting, or the bad value.
    """
    try:
        options = msgspec.convert(raw or {}, RunOptions)
    except msgspec.ValidationError as exc:
        raise InvalidInputError(f"invalid run options: {exc}") from None
    # JSON numbers may arrive as 10.0 (the API types every setting as a number).
    counts = {
        k: int(v)
        for k, v in options.eval.items()
        if k in WHOLE_NUMBER_SETTINGS and isinstance(v, float) and v.is_integer()
    }
    if counts:
        options = msgspec.structs.replace(options, eval={**options.eval, **counts})
    unknown = sorted(set(options.eval) - set(EVAL_SETTINGS))
    if unknown:
        raise InvalidInputError(
            f"unknown evaluation setting {unknown[0]!r}; settings: {', '.join(EVAL_SETTINGS)}"
        )
    if options.eval:
        from evalharness import EvalConfig

        try:
            EvalConfig(**options.eval)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"invalid evaluation setting: {exc}") from None
    return options


def run_features(version: DatasetVersion, options: RunOptions) -> list[str]:
    """The feature columns a run with ``options`` trains on, in the version's order.

    :raises InvalidInputError: a named column is not in the dataset, is the target, or
        leaves the run without features.
    """
    columns = {c.name: c for c in version.schema}
    for name in [*options.exclude, *(options.features or [])]:
        if name not in columns:
            raise InvalidInputError(
                f"column {name!r} is not in dataset {version.ref}; columns: "
                f"{', '.join(sorted(columns))}"
            )
        if name == version.target:
            raise InvalidInputError(f"column {name!r} is the target of {version.ref}")
    if options.features is not None:
        chosen = [c.name for c in version.schema if c.name in set(options.features)]
    else:
        chosen = list(version.feature_columns)
    features = [c for c in chosen if c not in set(options.exclude)]
    if not features:
        raise InvalidInputError(
            f"the run would have no feature column left (dataset {version.ref}, "
            f"excluded: {', '.join(options.exclude) or 'none'})"
        )
    return features
