"""Where queued runs execute: the :class:`Executor` interface and its local kind.

:class:`LocalExecutor` runs jobs in this process: inside ``modellab serve`` (the embedded
default, several slots) and in ``modellab run``, ``demo`` and ``reproduce`` (one slot).
The arq executor (:mod:`modellab.server.worker`) sends them to ``modellab worker``
processes instead. Every one of them executes a run through
:func:`modellab.runs.job.run_job`, which claims it with a compare-and-set and trains it
in a training process of its own, so the API never trains in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from modellab.domain import Run, RunStatus
from modellab.errors import ConflictError
from modellab.runs.job import JobTiming, TrainingProcesses, reap_lost_runs, run_job
from modellab.settings import Settings
from modellab.store import runs as repo
from modellab.store.database import Database
from modellab.store.runs import FINAL

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
    """Runs jobs in this process: up to ``parallel`` at once, each training in a process
    of its own, with ``spares`` training processes started ahead (default: one per slot).

    ``budget`` caps the training processes ever started (a CLI command that knows how
    many runs it executes). With ``serve_queue`` (a server) it takes the runs queued
    before it started, and its :class:`Reaper` fails (or re-queues once) runs whose
    heartbeat stopped, which happens when a process executing runs on this database was
    killed; without (a CLI command) it executes only the runs submitted to it.
    """

    name = "embedded"

    def __init__(
        self,
        db: Database,
        settings: Settings,
        parallel: int = 2,
        timing: JobTiming | None = None,
        reap_every: float | None = None,
        spares: int | None = None,
        budget: int | None = None,
        serve_queue: bool = True,
    ) -> None:
        self.db, self.settings = db, settings
        self.timing = timing or JobTiming.from_settings(settings)
        self.slots = asyncio.Semaphore(parallel)
        self.tasks: set[asyncio.Task[None]] = set()
        self.reaper = Reaper(db, settings, self.submit, reap_every)
        self.processes = TrainingProcesses(settings, parallel if spares is None else spares, budget)
        self.serve_queue = serve_queue

    async def start(self) -> None:
        await self.processes.start()
        if not self.serve_queue:
            return
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
                ended = await run_job(
                    self.db, self.settings, run_id, self.timing, self.processes, self.submit
                )
                log.info("run %s ended %s", run_id, ended.status.value)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("run %s: the executor failed", run_id)

    async def drain(self) -> None:
        """Wait until every submitted run (and every run they released) has ended."""
        while self.tasks:
            # wait(), not gather(): a caller that is cancelled while it waits (Ctrl-C)
            # must not cancel the jobs, which still have to record how their runs end.
            await asyncio.wait(list(self.tasks))

    async def stop(self) -> None:
        await self.reaper.stop()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)
        await self.processes.close()


@contextlib.asynccontextmanager
async def command_executor(
    db: Database, settings: Settings, runs: int, timing: JobTiming | None = None
) -> AsyncIterator[LocalExecutor]:
    """The executor of a CLI command that executes ``runs`` runs of its own.

    One slot, and a training process per run started at once, so that they import
    while the command checks and queues its runs; it takes no other queued run and
    reaps none.
    """
    executor = LocalExecutor(
        db, settings, parallel=1, timing=timing, spares=runs, budget=runs, serve_queue=False
    )
    await executor.start()
    try:
        yield executor
    finally:
        await executor.stop()


async def run_and_wait(executor: LocalExecutor, run_ids: list[str]) -> list[Run]:
    """Execute ``run_ids`` on ``executor`` and wait until they ended; return them so.

    What ``modellab run``, ``demo`` and ``reproduce`` do: the runs train exactly as a
    server's do (a training process each, started ahead; the run's time limit; cancel
    requests from anywhere). A run another process executes is waited for. Interrupted
    (Ctrl-C), it cancels the runs and waits until they ended before it lets the
    interruption through.
    """
    from modellab.runs.service import cancel_run, get_run

    db, settings = executor.db, executor.settings
    try:
        for run_id in run_ids:
            await executor.submit(run_id)
        while True:
            await executor.drain()
            runs = [await get_run(db, i) for i in run_ids]
            left = [r for r in runs if r.status not in FINAL]
            if not left:
                return runs
            # A run another process executes (a baseline a server trains), or one that
            # waits on it: look again, and take the waiting one once it may start.
            await asyncio.sleep(executor.timing.poll_seconds)
            for r in left:
                if r.status is RunStatus.QUEUED:
                    await executor.submit(r.id)
    except asyncio.CancelledError:
        for run_id in run_ids:
            with contextlib.suppress(ConflictError):
                await cancel_run(db, settings, run_id)
        await executor.drain()
        raise
