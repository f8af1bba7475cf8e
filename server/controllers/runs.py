"""Runs: queue (202), list with keyset pagination, get, cancel, notes, logs (live)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import Parameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from modellab.domain import Run, RunStatus
from modellab.runs import csv_export, service
from modellab.runs.artifacts import run_dir
from modellab.server.schemas import NoteCreate, RunCreate, RunPage
from modellab.server.services import Services
from modellab.store.runs import FINAL as FINAL_STATES

LOG_CHUNK = 256 * 1024


class RunController(Controller):
    """``/api/runs`` and ``/api/projects/{slug}/runs``"""

    tags = ("runs",)

    @post("/api/runs", status_code=HTTP_202_ACCEPTED)
    async def create_run(self, data: RunCreate, services: Services) -> Run:
        """Validate and queue a run (after its baseline, with ``with_baseline``); an
        executor trains them off the request path. The run returned is the one asked for;
        its ``waits_on`` names the baseline it waits on."""
        queued = await service.queue_run(
            services.db,
            services.settings,
            services.registry,
            service.RunRequest(
                project=data.project,
                dataset=data.dataset,
                template=data.template,
                model=data.model,
                seed=data.seed,
                overrides=dict(data.config),
                n_bootstrap=data.n_bootstrap,
                timeout_seconds=data.timeout_seconds,
                from_checkout=False,
                options={
                    "exclude": list(data.exclude),
                    "features": None if data.features is None else list(data.features),
                    "eval": dict(data.eval),
                },
            ),
            with_baseline=data.with_baseline,
        )
        for run_id in queued.ids:
            await services.executor.submit(run_id)
        return queued.run

    @get("/api/projects/{slug:str}/runs")
    async def list_runs(
        self,
        slug: str,
        services: Services,
        status: RunStatus | None = None,
        template: str | None = None,
        model: str | None = None,
        dataset_version: Annotated[str | None, Parameter(max_length=36)] = None,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Parameter(max_length=200)] = None,
        metric: Annotated[str | None, Parameter(max_length=250)] = None,
        metric_min: float | None = None,
        metric_max: float | None = None,
    ) -> RunPage:
        """Runs of a project, newest first; filters combine; ``next_cursor`` pages on."""
        page = await service.list_runs_page(
            services.db,
            slug,
            service.RunFilter(
                status=status.value if status else None,
                template=template,
                model=model,
                dataset_version_id=dataset_version,
                metric=metric,
                metric_min=metric_min,
                metric_max=metric_max,
            ),
            limit,
            cursor,
        )
        return RunPage(page.items, page.next_cursor)

    @get("/api/projects/{slug:str}/runs/facets")
    async def run_facets(self, slug: str, services: Services) -> service.RunFacets:
        """The values the runs listing can filter on (statuses, templates, models, ...)."""
        return await service.run_facets(services.db, slug)

    @get("/api/projects/{slug:str}/runs.csv", media_type="text/csv; charset=utf-8")
    async def export_runs(
        self,
        slug: str,
        services: Services,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 1000,
    ) -> Response[str]:
        """The project's newest runs as CSV (formula-like cells neutralized)."""
        runs = await service.list_runs(services.db, slug, limit=limit)
        return Response(
            csv_export.runs_csv(runs),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{slug}-runs.csv"',
                "X-Content-Type-Options": "nosniff",
            },
        )

    @get("/api/runs/{run_id:str}")
    async def get_run(self, run_id: str, services: Services) -> Run:
        """One run: config, seed, code version, environment, status, metrics, notes."""
        return await service.get_run(services.db, run_id)

    @post("/api/runs/{run_id:str}/cancel", status_code=HTTP_202_ACCEPTED)
    async def cancel_run(self, run_id: str, services: Services) -> Run:
        """Cancel a queued run now, or have a running one stopped (409 once it ended)."""
        return await service.cancel_run(services.db, services.settings, run_id)

    @post("/api/runs/{run_id:str}/notes", status_code=HTTP_201_CREATED)
    async def add_note(self, run_id: str, data: NoteCreate, services: Services) -> Run:
        """Append a timestamped note; notes are never edited or removed."""
        return await service.add_note(services.db, run_id, data.text)

    @get("/api/runs/{run_id:str}/logs", media_type="text/plain; charset=utf-8")
    async def logs(
        self,
        run_id: str,
        services: Services,
        # Bounded: a file offset beyond 2**53 means nothing here and overflows seek().
        offset: Annotated[int, Parameter(ge=0, le=2**53)] = 0,
    ) -> Response[bytes]:
        """The training log from byte ``offset``; ``X-Next-Offset`` says where to go on."""
        run = await service.get_run(services.db, run_id)
        data = _read_log(services, run, offset, LOG_CHUNK * 16)
        return Response(
            data,
            media_type="text/plain; charset=utf-8",
            headers={"X-Next-Offset": str(offset + len(data)), "X-Run-Status": run.status.value},
        )

    @get("/api/runs/{run_id:str}/logs/stream")
    async def stream_logs(self, run_id: str, services: Services) -> ServerSentEvent:
        """The log as server-sent events while the run goes; ends when the run ends."""
        run = await service.get_run(services.db, run_id)

        async def events() -> AsyncIterator[str]:
            offset = 0
            current = run
            while True:
                data = _read_log(services, current, offset, LOG_CHUNK)
                if data:
                    offset += len(data)
                    yield data.decode("utf-8", "replace")
                    continue
                if current.status in FINAL_STATES:
                    return
                await asyncio.sleep(0.5)
                current = await service.get_run(services.db, current.id)

        return ServerSentEvent(events(), event_type="log")


def _read_log(services: Services, run: Run, offset: int, limit: int) -> bytes:
    path = run_dir(services.settings.artifact_root, run.project, run.id) / "logs.txt"
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read(limit)
    except FileNotFoundError:
        return b""
