"""ModelLab: an ML experiment command center.

Plugins implement the hooks in :mod:`modellab.hookspecs` with the ``hookimpl``
marker exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modellab.hookspecs import hookimpl

    __version__: str

__all__ = ["__version__", "hookimpl"]


def __getattr__(name: str) -> object:
    # Both are resolved on first use: every `modellab.*` import runs this file, and
    # pluggy and importlib.metadata are a third of what `modellab --help` would import.
    if name == "hookimpl":
        from modellab.hookspecs import hookimpl

        return hookimpl
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("modellab")
        except PackageNotFoundError:  # running from a source tree that was never installed
            found = "0.0.0+unknown"
        globals()["__version__"] = found
        return found
    raise AttributeError(f"module 'modellab' has no attribute {name!r}")
