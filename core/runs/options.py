"""Run options: settings of a run that sit beside its model's config.

They change what a run computes (the columns its model sees, the threshold of a leakage
rule), so they are part of the run key, ``config.json``, the reproduce command and
compare's config diff, like the model config.
"""

from __future__ import annotations

from typing import Any

import msgspec

from modellab.domain import DatasetVersion
from modellab.errors import InvalidInputError


class RunOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a run takes beside its model config."""

    #: feature columns of the dataset version this run leaves out (``--exclude``)
    exclude: list[str] = msgspec.field(default_factory=list)
    #: the only feature columns this run uses (``--features``); None: the version's own
    features: list[str] | None = None
    #: the duplicate-records leakage rule fails a run whose test rows repeat train
    #: records more often than chance by more than this share (``--duplicate-excess``)
    duplicate_excess_error: float = 0.05

    def as_dict(self) -> dict[str, Any]:
        """The options as stored: JSON values, keys sorted."""
        return dict(sorted(msgspec.to_builtins(self).items()))


def parse_options(raw: dict[str, Any] | None) -> RunOptions:
    """Stored or requested options as a :class:`RunOptions`.

    :raises InvalidInputError: naming the unknown option or the bad value.
    """
    try:
        options = msgspec.convert(raw or {}, RunOptions)
    except msgspec.ValidationError as exc:
        raise InvalidInputError(f"invalid run options: {exc}") from None
    if not 0.0 <= options.duplicate_excess_error < 1.0:
        raise InvalidInputError(
            f"--duplicate-excess must be a share in [0, 1), got {options.duplicate_excess_error}"
        )
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
