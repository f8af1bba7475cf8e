"""Limits on the JSON documents kept with a run: its config and environment.

Every runs listing returns them, and a JSON encoder recurses once per level, so both
how deep they nest and how large they are stay bounded, for template and tracked runs.
"""

from __future__ import annotations

import json
from typing import Any

from modellab.errors import InvalidInputError

#: A run's config and environment: how deep they may nest and how large they may
#: be. Every runs listing returns them, and a JSON encoder recurses once per level.
DOC_MAX_DEPTH = 32
DOC_MAX_BYTES = 256 * 1024


def check_document(value: Any, what: str) -> None:
    """Refuse a JSON document nested deeper than DOC_MAX_DEPTH or over DOC_MAX_BYTES.

    :raises InvalidInputError: naming ``what`` and the limit it breaks.
    """
    stack = [(value, 1)]
    while stack:  # iterative: a deep document must not exhaust the stack checking it
        item, depth = stack.pop()
        if isinstance(item, dict | list) and depth > DOC_MAX_DEPTH:
            raise InvalidInputError(f"{what} nests more than {DOC_MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    size = len(json.dumps(value))
    if size > DOC_MAX_BYTES:
        raise InvalidInputError(
            f"{what} is {size:,} bytes as JSON; at most {DOC_MAX_BYTES:,} are kept with a run"
        )
