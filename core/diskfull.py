"""Telling a full disk from other failures, so that it is answered as one.

A full disk (or a full quota) reaches ModelLab as an ``OSError`` with ``ENOSPC`` or
``EDQUOT`` from Python's own writes, and as text from native libraries: polars says
"No space left on device (os error 28)", XGBoost "FileStream.Write incomplete" (its
short write), SQLite "database or disk is full", PostgreSQL SQLSTATE 53100.
:func:`disk_full_as` turns any of these into a :class:`DiskFullError` with a message of
one line that names what could not be stored.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from modellab.errors import DiskFullError, ModelLabError

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: how libraries that raise no OSError say it (lower case)
_MARKERS = (
    "no space left on device",
    "disk quota exceeded",
    "os error 28)",
    "os error 122)",
    "filestream.write incomplete",
    "database or disk is full",  # SQLite's SQLITE_FULL
    "could not extend file",  # PostgreSQL's data directory (SQLSTATE 53100)
)
#: PostgreSQL's "disk full" and "insufficient resources" states
DISK_FULL_SQLSTATES = frozenset({"53100"})


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from, says the disk is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        if getattr(current, "sqlstate", None) in DISK_FULL_SQLSTATES:
            return True
        if text_says_disk_full(str(current)):
            return True
        # "raise ... from None" says the context is not the reason.
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return False


def text_says_disk_full(text: str) -> bool:
    """Whether an error message (or a process's output) says the disk is full."""
    lowered = text.lower()
    return any(marker in lowered for marker in _MARKERS)


@contextmanager
def disk_full_as(what: str) -> Iterator[None]:
    """Raise :class:`DiskFullError` saying ``what`` could not be stored when the disk
    fills up inside the block; other errors (and ModelLab's own) pass unchanged."""
    try:
        yield
    except ModelLabError:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFullError(
                f"the disk is full: {what} could not be stored; free some space and try again"
            ) from exc
        raise
