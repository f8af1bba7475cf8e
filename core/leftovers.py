"""What killed processes leave half-written, found by name and removed once stale.

Uploads are spooled under ``MODELLAB_HOME/uploads/tmp*``, dataset versions staged in
``<project>/datasets/.staging-*``, and a run's files written to hidden temporary names
beside their final ones (``.run.json.tmp-<pid>``, ``.model.tmp``, ``.eval-*``,
``files/.x.bin.<uuid>.tmp``, ...). A live request renames or removes its own; one still
there after :data:`LEFTOVER_AGE_SECONDS` without a write belongs to a process that
died. Several servers (and the CLI) may share an artifact root, so the age decides,
never which process is starting: a young one may be another server's upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

from modellab.runs.artifacts import RUN_ID
from modellab.settings import Settings

log = logging.getLogger("modellab.leftovers")

#: Untouched this long, a leftover is no live request's: far longer than the quiet part
#: of the slowest request (parsing and profiling a file at the upload limit), while the
#: upload itself keeps its file fresh.
LEFTOVER_AGE_SECONDS = 3600.0
#: How often a running server looks again, so leftovers of a crash go without a restart.
SWEEP_EVERY_SECONDS = 600.0

# Hidden names ModelLab and EvalHarness write before a rename: ".x.tmp", ".x.tmp-<id>",
# ".x.old-<id>" (the folder being replaced) and ".eval-<random>" (an uploaded eval).
_TEMPORARY = re.compile(r"^\.(?:.+\.(?:tmp|tmp-[\w-]+|old-[\w-]+)|eval-\w+)\Z")


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:  # missing, or removed meanwhile
        return []


def _folders(folder: Path) -> list[Path]:
    return [p for p in _entries(folder) if p.is_dir() and not p.is_symlink()]


def candidates(settings: Settings) -> Iterator[Path]:
    """Every temporary file or folder that may be left over, young ones included."""
    # Everything here is a spooled upload of a request.
    yield from _entries(settings.home / "uploads")
    for project in _folders(settings.artifact_root):
        datasets = project / "datasets"
        yield from (p for p in _entries(datasets) if p.name.startswith(".staging-"))
        for run in _folders(project):
            if not RUN_ID.match(run.name):
                continue
            for folder in (run, run / "compare"):
                yield from (p for p in _entries(folder) if _TEMPORARY.match(p.name))
            files = run / "files"
            if files.is_dir() and not files.is_symlink():
                # A tracked run's own names are never hidden: every hidden one is ours.
                for parent, _dirs, names in os.walk(files):
                    yield from (Path(parent) / n for n in names if _TEMPORARY.match(n))


def last_written(path: Path) -> float:
    """The newest modification time of ``path`` and everything under it."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for parent, dirs, names in os.walk(path):
            for name in dirs + names:
                try:
                    newest = max(newest, (Path(parent) / name).lstat().st_mtime)
                except FileNotFoundError:
                    continue
    return newest


def sweep(settings: Settings, older_than: float = LEFTOVER_AGE_SECONDS) -> list[Path]:
    """Remove the leftovers nobody wrote to for ``older_than`` seconds; return them."""
    cutoff = time.time() - older_than
    removed = []
    for path in candidates(settings):
        try:
            if last_written(path) >= cutoff:
                continue
        except FileNotFoundError:  # its request finished meanwhile
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    if removed:
        log.info("removed %d leftover(s) of interrupted requests and runs", len(removed))
    return removed


async def sweep_forever(settings: Settings, every: float = SWEEP_EVERY_SECONDS) -> None:
    """Sweep every ``every`` seconds, in a thread, until cancelled."""
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(sweep, settings)
        except Exception:
            log.exception("removing leftovers failed; trying again in %s s", every)


@asynccontextmanager
async def removing_leftovers(
    settings: Settings, every: float = SWEEP_EVERY_SECONDS
) -> AsyncIterator[None]:
    """Sweep once now, then every ``every`` seconds while the block runs (a server)."""
    await asyncio.to_thread(sweep, settings)
    task = asyncio.create_task(sweep_forever(settings, every))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
