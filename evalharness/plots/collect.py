"""The plots of one report, keyed by their path in the report folder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class PlotSet:
    """Plots keyed by their path in the report folder (``plots/<name>.<fmt>``)."""

    def __init__(self, formats: Sequence[str]) -> None:
        self.formats = tuple(formats)
        self.paths: dict[str, str] = {}
        self._bytes: dict[str, bytes] = {}

    def add(self, name: str, draw: Callable[..., bytes], *args: Any) -> str:
        """Draw ``draw(*args, fmt)`` in every format; return the path of the first format."""
        for fmt in self.formats:
            rel = f"plots/{name}.{fmt}"
            self._bytes[rel] = draw(*args, fmt)
            self.paths[name if fmt == self.formats[0] else f"{name}_{fmt}"] = rel
        return f"plots/{name}.{self.formats[0]}"

    def rendered(self) -> dict[str, bytes]:
        """Every plot's bytes by path."""
        return dict(sorted(self._bytes.items()))
