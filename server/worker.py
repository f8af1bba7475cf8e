"""Distributed execution on arq: ``modellab worker`` and the API's enqueueing side.

Jobs travel as JSON (never pickle). The job function :func:`run_from_queue` calls the
same :func:`modellab.runs.job.run_job` as every other executor: a job delivered twice
claims the run once, and each worker keeps training processes started ahead. Every
worker, and the API, also reaps runs whose heartbeat stopped (their worker was killed)
and re-enqueues the ones it puts back in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.cron import cron
from arq.worker import Worker, func
from redis.exceptions import RedisError

from modellab.runs.executors import Reaper
from modellab.runs.job import JobTiming, TrainingProcesses, reap_lost_runs, run_job
from modellab.settings import Settings
from modellab.store import runs as repo
from modellab.store.database import Database

log = logging.getLogger("modellab.worker")

JOB = "run_job"


def serialize(obj: dict[str, Any]) -> bytes:
    """arq job payloads as JSON: a worker never unpickles what is on the queue."""
    return json.dumps(obj, separators=(",", ":")).encode()


def deserialize(data: bytes) -> dict[str, Any]:
    """The inverse of :func:`serialize`."""
    loaded: dict[str, Any] = json.loads(data)
    return loaded


def redis_settings(url: str) -> RedisSettings:
    """arq's connection settings for ``url``, retrying while Redis restarts."""
    settings = RedisSettings.from_dsn(url)
    settings.conn_retries = 30
    settings.conn_retry_delay = 1
    settings.retry_on_timeout = True
    return settings


async def run_from_queue(ctx: dict[str, Any], run_id: str) -> str:
    """arq job: :func:`run_job` for ``run_id`` (a second delivery finds it claimed).

    Runs that waited on this one (candidates queued with it) are enqueued when it
    succeeded.
    """

    async def submit(waiting_id: str) -> None:
        await ctx["redis"].enqueue_job(JOB, waiting_id)

    ended = await run_job(
        ctx["db"], ctx["settings"], run_id, ctx.get("timing"), ctx.get("processes"), submit
    )
    return ended.status.value


async def reap(ctx: dict[str, Any]) -> None:
    """arq cron job: fail or re-queue runs whose worker stopped heartbeating."""
    settings: Settings = ctx["settings"]
    for reaped in await reap_lost_runs(ctx["db"], settings, settings.stale_after_seconds):
        if reaped.action == "requeued":
            await ctx["redis"].enqueue_job(JOB, reaped.run_id)


async def startup(ctx: dict[str, Any]) -> None:
    """Open (and migrate) the shared database; start the spare training processes."""
    settings: Settings = ctx.get("settings") or Settings.from_env()
    db = Database(settings.database_url)
    await db.migrate(settings.migration_database_url)
    ctx["settings"], ctx["db"] = settings, db
    processes = TrainingProcesses(settings, ctx.get("spares", 1))
    await processes.start()
    ctx["processes"] = processes
    log.info(
        "worker ready: database %s, artifacts %s", db.engine.dialect.name, settings.artifact_root
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    """Stop the spare training processes; close the database pool (none when start-up
    failed before opening it)."""
    # A KeyError here would hide why start-up failed.
    processes: TrainingProcesses | None = ctx.get("processes")
    if processes is not None:
        await processes.close()
    db: Database | None = ctx.get("db")
    if db is not None:
        await db.close()


class ResilientWorker(Worker):
    """An arq worker that waits out a Redis outage instead of exiting.

    Runs in progress go on (they need only the database); polling resumes when Redis
    answers again, and runs whose queue entries a restart lost are enqueued again by
    the API's executor.
    """

    redis_down = False

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except (RedisError, OSError) as exc:
            if not self.redis_down:
                log.warning("lost Redis (%s); retrying every second", exc)
            self.redis_down = True
            await asyncio.sleep(1.0)
            return
        if self.redis_down:
            log.info("Redis is back")
            self.redis_down = False


def make_worker(
    settings: Settings,
    *,
    burst: bool = False,
    max_jobs: int = 2,
    timing: JobTiming | None = None,
    spares: int | None = None,
) -> Worker:
    """An arq worker executing ModelLab runs from ``settings.redis_url``, with
    ``spares`` training processes started ahead (default: one per job slot)."""
    spares = max_jobs if spares is None else spares
    if not settings.redis_url:
        raise ValueError("a worker needs MODELLAB_REDIS_URL")
    return ResilientWorker(
        functions=[func(run_from_queue, name=JOB, max_tries=1, timeout=None)],
        cron_jobs=[cron(reap, second=set(range(0, 60, 5)), run_at_startup=True)],
        redis_settings=redis_settings(settings.redis_url),
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        max_jobs=max_jobs,
        # run_job watches its own time limit (the run's timeout); arq's would cancel
        # the watcher and leave the decision to the reaper.
        job_timeout=7 * 24 * 3600,
        keep_result=60,
        poll_delay=0.2,
        ctx={"settings": settings, "timing": timing, "spares": spares},
        job_serializer=serialize,
        job_deserializer=deserialize,
    )


class ArqExecutor:
    """The API side of distributed execution: enqueue runs for ``modellab worker``.

    A run is recorded as queued before it is enqueued, so nothing is lost when Redis is
    down or restarts without its data: every ``resubmit_every`` seconds, runs still
    queued after that long are enqueued again (a second delivery is harmless).

    The API reaps as well as the workers: a run whose worker was killed fails within
    about the stale period even when no worker is left to notice.
    """

    name = "arq"

    def __init__(
        self,
        db: Database,
        settings: Settings,
        resubmit_every: float = 15.0,
        reap_every: float | None = None,
    ) -> None:
        assert settings.redis_url
        self.db, self.settings = db, settings
        self.pool: ArqRedis | None = None
        self.resubmit_every = resubmit_every
        self._loop: asyncio.Task[None] | None = None
        self.reaper = Reaper(db, settings, self.submit, reap_every)

    async def start(self) -> None:
        assert self.settings.redis_url
        self.pool = await create_pool(
            redis_settings(self.settings.redis_url),
            job_serializer=serialize,
            job_deserializer=deserialize,
        )
        await self._resubmit(older_than=0.0)
        self._loop = asyncio.create_task(self._resubmit_forever())
        self.reaper.start()

    async def submit(self, run_id: str) -> None:
        assert self.pool is not None, "start() the executor first"
        try:
            await self.pool.enqueue_job(JOB, run_id)
        except (RedisError, OSError) as exc:
            # The run is queued in the database; the resubmit loop sends it later.
            log.warning("could not enqueue run %s (%s); will retry", run_id, exc)

    async def _resubmit(self, older_than: float) -> None:
        async with self.db.session() as session:
            queued = await repo.queued_run_ids(session, older_than_seconds=older_than)
        for run_id in queued:
            await self.submit(run_id)

    async def _resubmit_forever(self) -> None:
        while True:
            await asyncio.sleep(self.resubmit_every)
            try:
                await self._resubmit(older_than=self.resubmit_every)
            except Exception:
                log.exception("re-enqueueing queued runs failed; trying again later")

    async def stop(self) -> None:
        await self.reaper.stop()
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        if self.pool is not None:
            await self.pool.aclose()
