"""ModelLab: an ML experiment command center.

Plugins implement the hooks in :mod:`modellab.hookspecs` with the ``hookimpl``
marker exported here.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from modellab.hookspecs import hookimpl

try:
    __version__ = version("modellab")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "hookimpl"]
