"""Parts of a report computed on a thread beside the caller.

NumPy's kernels release the GIL, so the bootstrap can use the second core while the
slice search and the stress tests run on the caller's thread. Results never depend on
which part finishes first: every part has its own seeded generators.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# Shared by every evaluation in the process; threads are created on demand.
_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="evalharness")


def in_background(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
    """Start ``fn(*args, **kwargs)`` on a background thread and return its future."""
    return _THREADS.submit(fn, *args, **kwargs)
