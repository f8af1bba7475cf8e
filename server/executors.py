"""Where queued runs execute: in this server (embedded) or on arq workers.

Both call :func:`modellab.runs.job.run_job`, which claims the run with a
compare-and-set and trains it in a child process, so the API never trains in its own
process and stays responsive while runs train.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from modellab.runs.job import JobTiming, reap_lost_runs, run_job
from modellab.settings import Settings
from modellab.store import runs as repo
from modellab.store.database import Database

log = logging.getLogger("modellab.executor")


class Executor(Protocol):
    """Takes queued runs and sees that each executes once."""

    name: str

    async def start(self) -> None:
        """Begin taking runs (and pick up runs left queued by a previous server)."""

    async def submit(self, run_id: str) -> None:
        """Queue ``run_id`` for execution; returns at once."""

    async def stop(self) -> None:
        """Stop taking runs; stop the runs this process is executing."""


def reap_period(stale_after: float) -> float:
    """How often to look for lost runs: four times a stale period, at most every 5 s.

    A run whose heartbeat stopped is then failed within about ``stale_after`` seconds
    plus a quarter of that.
    """
    return max(0.1, min(5.0, stale_after / 4))


class Reaper:
    """Fails (or re-queues once) runs whose heartbeat stopped, every ``every`` seconds.

    The heartbeat stops when the process watching a run was killed. Every process that
    executes or enqueues runs reaps, the API included, so a lost run ends even when no
    worker is alive; re-queued runs go to ``resubmit``.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        resubmit: Callable[[str], Awaitable[None]],
        every: float | None = None,
    ) -> None:
        self.db, self.settings, self.resubmit = db, settings, resubmit
        self.every = every if every is not None else reap_period(settings.stale_after_seconds)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin reaping in the background."""
        self._task = asyncio.create_task(self._forever())

    async def reap(self) -> None:
        """Fail or re-queue every run whose heartbeat is older than the stale period."""
        stale_after = self.settings.stale_after_seconds
        for reaped in await reap_lost_runs(self.db, self.settings, stale_after):
            if reaped.action == "requeued":
                await self.resubmit(reaped.run_id)

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.reap()
            except Exception:
                log.exception("the reaper failed; trying again in %s s", self.every)

    async def stop(self) -> None:
        """Stop reaping."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class LocalExecutor:
    """The embedded default: up to ``parallel`` runs at once, each in a child process.

    Its :class:`Reaper` fails (or re-queues once) runs whose heartbeat stopped, which
    happens when a process executing runs on this database was killed.
    """

    name = "embedded"

    def __init__(
        self,
        db: Database,
        settings: Settings,
        parallel: int = 2,
        timing: JobTiming | None = None,
        reap_every: float | None = None,
    ) -> None:
        self.db, self.settings = db, settings
        self.timing = timing or JobTiming.from_settings(settings)
        self.slots = asyncio.Semaphore(parallel)
        self.tasks: set[asyncio.Task[None]] = set()
        self.reaper = Reaper(db, settings, self.submit, reap_every)

    async def start(self) -> None:
        async with self.db.session() as session:
            queued = await repo.queued_run_ids(session)
        for run_id in queued:
            await self.submit(run_id)
        self.reaper.start()

    async def submit(self, run_id: str) -> None:
        task = asyncio.create_task(self._execute(run_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _execute(self, run_id: str) -> None:
        async with self.slots:
            try:
                ended = await run_job(self.db, self.settings, run_id, self.timing)
                log.info("run %s ended %s", run_id, ended.status.value)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("run %s: the executor failed", run_id)

    async def drain(self) -> None:
        """Wait until every submitted run has ended (tests, orderly shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def stop(self) -> None:
        await self.reaper.stop()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)
