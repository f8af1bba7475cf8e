"""The one job entry point: claim a run, train it in its own process, watch it.

Every caller executes runs through :func:`run_job`: ``modellab run``, ``modellab demo`` and
``modellab reproduce`` (through a one-slot :class:`~modellab.runs.executors.LocalExecutor`),
the server's embedded executor, and ``modellab worker`` (arq). The claim is a
compare-and-set, so a job delivered twice executes once, and a run that waits on its
baseline is not claimed before that one succeeded.

Training happens in a process of its own (``python -m modellab.runs.training_process``),
so that it can be stopped: a cancel request ends the run as ``cancelled``, its timeout as
``timed_out``; a process that dies without recording an outcome ends the run as
``failed`` with the reason. :class:`TrainingProcesses` starts these processes ahead of
time, so a run does not wait for the imports of scikit-learn and friends. While training
runs, the watcher heartbeats the run; the reaper fails (or re-queues) runs whose
heartbeat stopped because the watching process itself was lost.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from modellab.domain import Run, RunStatus
from modellab.runs.artifacts import run_dir
from modellab.runs.lifecycle import claim_run, end_run, load_run, remove_partial_outputs
from modellab.runs.reasons import reason_from_output
from modellab.settings import Settings
from modellab.store import runs as repo
from modellab.store.database import Database
from modellab.store.models import utcnow

log = logging.getLogger("modellab.jobs")


@dataclass(frozen=True)
class JobTiming:
    """How often the watcher looks at its child and heartbeats the run."""

    poll_seconds: float = 0.5
    heartbeat_seconds: float = 2.0
    # Time a stopped child gets to exit after SIGTERM before it is killed.
    grace_seconds: float = 5.0
    #: the time limit of runs that set none (`modellab worker --timeout`)
    default_timeout_seconds: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings, default_timeout: float | None = None) -> JobTiming:
        """The settings' heartbeat period, and a time limit for runs that set none."""
        return cls(
            heartbeat_seconds=settings.heartbeat_seconds, default_timeout_seconds=default_timeout
        )


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment of a training process: this one's, with the settings pinned."""
    env = dict(os.environ)
    env["MODELLAB_HOME"] = str(settings.home)
    env["MODELLAB_DATABASE_URL"] = settings.database_url
    # The owner's URL lets the child read the key that signs its database context (on
    # PostgreSQL row-level security admits nothing without it).
    env.pop("MODELLAB_MIGRATION_DATABASE_URL", None)
    if settings.migration_database_url:
        env["MODELLAB_MIGRATION_DATABASE_URL"] = settings.migration_database_url
    env["MODELLAB_ARTIFACT_ROOT"] = str(settings.artifact_root)
    # The child exits when this process is gone, so no training outlives its watcher.
    env["MODELLAB_WATCHER_PID"] = str(os.getpid())
    return env


async def _stop(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it lingers."""
    if proc.returncode is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.wait_for(proc.wait(), timeout=wait)
            return
        except TimeoutError:
            continue


async def _drain(stream: asyncio.StreamReader | None, tail: collections.deque[str]) -> None:
    # A child that writes much to stderr would block on a full pipe: read it all,
    # keep the last lines for the failure reason.
    if stream is None:
        return
    while line := await stream.readline():
        tail.append(line.decode("utf-8", "replace").rstrip())


#: where the runs that waited on a run go once it succeeded (an executor's submit)
Submit = Callable[[str], Awaitable[None]]


class TrainingProcesses:
    """Starts training processes for one executor, keeping ``spares`` of them ready.

    A spare has imported the plugins and their libraries and opened the database, and
    waits on its stdin for the id of the one run it is to train; it trains that run and
    exits. Every run still gets a fresh process (isolated, killable, its memory returned
    when it ends) but none waits for imports. Nothing is forked: a spare is a new
    interpreter, so no thread pool (OpenMP in XGBoost, BLAS) is copied half-started.

    A spare that was used is replaced once its run has ended (:meth:`replace_spent`),
    not while the run trains: its imports would take CPU from the training. ``budget``
    caps how many processes are ever started (a CLI command knows how many runs it
    executes, and starts that many at once); None for no cap. With ``spares=0`` each
    run starts its process when it is claimed (a cold start).
    """

    def __init__(self, settings: Settings, spares: int = 1, budget: int | None = None) -> None:
        self.settings = settings
        self.spares = spares
        self.budget = budget
        self.started = 0
        self._ready: collections.deque[asyncio.subprocess.Process] = collections.deque()

    async def start(self) -> None:
        """Start the spares."""
        await self._refill()

    async def _spawn(self, *args: str) -> asyncio.subprocess.Process:
        self.started += 1
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "modellab.runs.training_process",
            *args,
            env=child_environment(self.settings),
            stdin=asyncio.subprocess.PIPE if not args else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            # Its own process group: stopping a run stops what its training started.
            start_new_session=True,
        )

    async def _refill(self) -> None:
        while len(self._ready) < self.spares and (
            self.budget is None or self.started < self.budget
        ):
            self._ready.append(await self._spawn())

    async def take(self, run_id: str) -> asyncio.subprocess.Process:
        """A process training ``run_id``: a spare when one is ready, else a new one."""
        proc = None
        while self._ready:
            spare = self._ready.popleft()
            if spare.returncode is None and spare.stdin is not None:
                proc = spare
                break
            log.warning("a spare training process exited (code %s)", spare.returncode)
        if proc is None or proc.stdin is None:
            proc = await self._spawn(run_id)
        else:
            try:
                proc.stdin.write(f"{run_id}\n".encode())
                await proc.stdin.drain()
                proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                # It died between the check and the hand-over: its exit ends the run
                # as failed with what it printed, like any training process that dies.
                log.warning("the spare training process for run %s died", run_id)
        return proc

    async def replace_spent(self) -> None:
        """Start spares for those used, now that their runs ended."""
        await self._refill()

    async def close(self) -> None:
        """Stop the spares: they hold nothing but imports and a database connection."""
        spares, self._ready = list(self._ready), collections.deque()
        for spare in spares:
            await _stop(spare, grace=1.0)


async def run_job(
    db: Database,
    settings: Settings,
    run_id: str,
    timing: JobTiming | None = None,
    processes: TrainingProcesses | None = None,
    submit: Submit | None = None,
) -> Run:
    """Execute ``run_id`` if this delivery claims it; return the run as it ended.

    The run trains in a process from ``processes`` (a cold one when None). When it
    succeeded, the runs that waited on it go to ``submit``; a run that still waits on
    another is not claimed and is returned queued.
    """
    timing = timing or JobTiming.from_settings(settings)
    run, _ = await load_run(db, run_id)
    if not await claim_run(db, run.id):
        if run.status is RunStatus.QUEUED and run.waits_on is not None:
            log.info("run %s waits on run %s", run.id, run.waits_on)
        else:
            log.info("run %s was already claimed (%s): nothing to do", run.id, run.status.value)
        return run
    ended = await _train(db, settings, run, timing, processes or TrainingProcesses(settings, 0))
    if ended.status is RunStatus.SUCCEEDED and submit is not None:
        async with db.session() as session:
            waiting = await repo.waiting_on(session, ended.id)
        for waiting_id in waiting:
            await submit(waiting_id)
    return ended


async def _train(
    db: Database, settings: Settings, run: Run, timing: JobTiming, processes: TrainingProcesses
) -> Run:
    """Train a claimed run in a training process, watch it, and record how it ended."""
    folder = run_dir(settings.artifact_root, run.project, run.id)
    folder.mkdir(parents=True, exist_ok=True)
    proc = await processes.take(run.id)
    tail: collections.deque[str] = collections.deque(maxlen=20)
    drain = asyncio.create_task(_drain(proc.stderr, tail))
    started = time.monotonic()
    last_beat = started
    try:
        outcome = await _watch(db, run, proc, timing, started, last_beat)
    except BaseException:
        # The watcher itself is going away (shutdown, cancelled task): take the child
        # with it, so no training process outlives the process responsible for it.
        await _stop(proc, timing.grace_seconds)
        raise
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(drain, timeout=5)
    await processes.replace_spent()
    if outcome is not None:
        status, reason = outcome
        remove_partial_outputs(folder)
        return await end_run(db, settings, run.id, status, reason)
    ended, _ = await load_run(db, run.id)
    if ended.status in repo.FINAL:
        return ended
    # The child exited without recording an outcome: it crashed or was killed.
    remove_partial_outputs(folder)
    code = proc.returncode
    how = (
        f"was killed by signal {-code}"
        if code is not None and code < 0
        else f"exited with code {code}"
    )
    # Its last words, cut to the line that says what happened (a traceback's exception,
    # a native abort's message), without paths.
    detail = reason_from_output(tail)
    reason = f"training process {how}" + (f": {detail}" if detail else "")
    return await end_run(db, settings, run.id, RunStatus.FAILED, reason)


async def _watch(
    db: Database,
    run: Run,
    proc: asyncio.subprocess.Process,
    timing: JobTiming,
    started: float,
    last_beat: float,
) -> tuple[RunStatus, str] | None:
    """Wait for the child; stop it on cancel or timeout and say how the run ended.

    None when the child exited by itself.
    """
    while True:
        try:
            await asyncio.wait_for(proc.wait(), timeout=timing.poll_seconds)
            return None
        except TimeoutError:
            pass
        now = time.monotonic()
        async with db.session() as session:
            if now - last_beat >= timing.heartbeat_seconds:
                await repo.heartbeat(session, run.id, utcnow())
                last_beat = now
            status, cancel_requested = await repo.watch_state(session, run.id)
        if cancel_requested is not None:
            await _stop(proc, timing.grace_seconds)
            return RunStatus.CANCELLED, "cancelled while running"
        if status != RunStatus.RUNNING.value:
            # Someone else ended the run (the reaper, after a lost heartbeat).
            await _stop(proc, timing.grace_seconds)
            return None
        limit = run.timeout_seconds or timing.default_timeout_seconds
        if limit is not None and now - started > limit:
            await _stop(proc, timing.grace_seconds)
            return RunStatus.TIMED_OUT, f"timed out after {limit:g} s"


@dataclass(frozen=True)
class Reaped:
    """What the reaper did with a run whose heartbeat stopped."""

    run_id: str
    action: str  # "requeued" or "failed"


async def reap_lost_runs(db: Database, settings: Settings, stale_after: float) -> list[Reaped]:
    """End or re-queue running runs whose watcher stopped heartbeating.

    A run that had not started training (no logs.txt yet) goes back to the queue once;
    any other is marked failed with the reason. Re-queued runs must be submitted again
    by the caller's executor.
    """
    now = utcnow()
    cutoff = now.timestamp() - stale_after
    async with db.session() as session:
        stale = await repo.stale_runs(session, datetime.fromtimestamp(cutoff, UTC))
    done = []
    for row in stale:
        run, _ = await load_run(db, row.id)
        folder = run_dir(settings.artifact_root, run.project, run.id)
        seen = run.heartbeat_at.isoformat() if run.heartbeat_at else "never"
        if row.attempts <= 1 and not (folder / "logs.txt").exists():
            async with db.session() as session:
                requeued = await repo.requeue(session, run.id, datetime.fromtimestamp(cutoff, UTC))
            if requeued:
                log.warning("run %s lost its worker before training; re-queued", run.id)
                done.append(Reaped(run.id, "requeued"))
            continue
        remove_partial_outputs(folder)
        ended = await end_run(
            db,
            settings,
            run.id,
            RunStatus.FAILED,
            f"the process running it stopped responding (last heartbeat {seen}); "
            "its worker was killed or its machine lost",
        )
        if ended.status == RunStatus.FAILED:
            log.warning("run %s lost its worker; marked failed", run.id)
            done.append(Reaped(run.id, "failed"))
    return done
