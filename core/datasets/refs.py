"""Dataset references, ``PROJECT/NAME[@VERSION]``: light, for processes that only read runs."""

from __future__ import annotations

import re

from modellab.errors import InvalidInputError

REF = re.compile(r"^(?P<project>[^/@]+)/(?P<name>[^/@]+)(@(?P<version>\d+))?\Z")


def parse_ref(ref: str) -> tuple[str, str, int | None]:
    """Split ``project/name[@version]`` into its parts."""
    m = REF.match(ref)
    if not m:
        raise InvalidInputError(
            f"invalid dataset reference {ref!r}; expected PROJECT/NAME[@VERSION]"
        )
    version = int(m["version"]) if m["version"] else None
    return m["project"], m["name"], version
