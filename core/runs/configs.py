"""Model configs: msgspec Structs with defaults, overridden by ``--set key=value``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec

from modellab.errors import InvalidInputError


def parse_value(raw: str) -> Any:
    """A value as typed: JSON when it parses (numbers, true, null, lists), else a string."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def key_values(items: Sequence[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` items as a dict, each value as typed (:func:`parse_value`).

    :raises InvalidInputError: naming ``flag`` and the item that is not ``key=value``.
    """
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"{flag} takes key=value, got {item!r}")
        values[key.strip()] = parse_value(raw)
    return values


def build_config(
    config_type: type[msgspec.Struct], overrides: Sequence[str] | dict[str, Any], model: str
) -> msgspec.Struct:
    """The model's config with ``overrides`` applied and validated.

    :raises InvalidInputError: naming the unknown key (and the known ones) or the bad value.
    """
    values = dict(overrides) if isinstance(overrides, dict) else key_values(overrides, "--set")
    known = sorted(f.name for f in msgspec.structs.fields(config_type))
    for key in values:
        if key not in known:
            raise InvalidInputError(
                f"unknown config key {key!r} for model {model!r}; known keys: "
                f"{', '.join(known) or '(none: this model takes no config)'}"
            )
    try:
        return msgspec.convert(values, config_type, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidInputError(f"invalid config for model {model!r}: {exc}") from None


def config_dict(config: msgspec.Struct) -> dict[str, Any]:
    """The config as plain JSON values, keys sorted."""
    return dict(sorted(msgspec.to_builtins(config).items()))


def config_schema(config_type: type[msgspec.Struct]) -> dict[str, Any]:
    """The JSON Schema of a config type (for forms in clients)."""
    return msgspec.json.schema(config_type)
