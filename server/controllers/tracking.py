"""The tracking API: outside training code logs its runs into ModelLab."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from msgspec import Meta

from modellab.domain import MAX_SEED, CodeVersion, Run, RunStatus
from modellab.runs import file_eval, tracking
from modellab.runs.tracking import MetricPoint, MetricSeries
from modellab.server.schemas import JSON_BODY_LIMIT, Params
from modellab.server.services import Services
from modellab.server.uploads import scratch, spool_upload

ParamValue = str | int | float | bool


class TrackedRunCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A run that outside code is about to train: the same rules as every run."""

    project: str
    #: NAME or NAME@VERSION of a stored dataset version
    dataset: str
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    seed: Annotated[int, Meta(ge=0, le=MAX_SEED)]
    code_version: CodeVersion
    config: dict[str, Any] = {}
    environment: dict[str, Any] = {}
    #: a first batch of params and metric points, stored with the run in one call
    params: dict[str, ParamValue] = {}
    metrics: list[MetricPoint] = []


class LogBatch(msgspec.Struct, forbid_unknown_fields=True):
    """Params (set once each), metric points and tags (set again at will), stored in one
    transaction."""

    params: dict[str, ParamValue] = {}
    metrics: list[MetricPoint] = []
    tags: dict[str, str] = {}


class Tags(msgspec.Struct):
    """The tags of a run: each key's newest value."""

    tags: dict[str, str]


class Logged(msgspec.Struct):
    """How many metric points a batch stored."""

    metrics: int
    params: int


class Finish(msgspec.Struct, forbid_unknown_fields=True):
    """How a tracked run ended."""

    status: RunStatus = RunStatus.SUCCEEDED
    reason: str | None = None


class EvaluateFile(msgspec.Struct, forbid_unknown_fields=True):
    """Which uploaded file (its ``files/`` path, as the upload named it) to evaluate."""

    path: Annotated[str, Meta(min_length=1, max_length=1000)]


class StoredFile(msgspec.Struct):
    """Where an uploaded file now lives in the run's folder."""

    path: str


@dataclass
class FileUpload:
    """One file and the relative path to keep it under (``files/<path>``)."""

    file: UploadFile
    path: str


@dataclass
class EvalUpload:
    """An EvalHarness folder as a tar archive (``tar czf eval.tgz -C RUN eval``)."""

    file: UploadFile


class TrackingController(Controller):
    """``/api/tracked-runs`` and the logging endpoints of a tracked run.

    Served under the upload limit (see ``create_app``); its JSON endpoints keep the
    JSON limit.
    """

    tags = ("tracking",)

    @post("/api/tracked-runs", status_code=HTTP_201_CREATED, request_max_body_size=JSON_BODY_LIMIT)
    async def create_tracked_run(self, data: TrackedRunCreate, services: Services) -> Run:
        """Start a tracked run (status running) on a stored dataset version."""
        run = await tracking.create_tracked_run(
            services.db,
            services.settings,
            tracking.TrackedRunRequest(
                project=data.project,
                dataset=data.dataset,
                name=data.name,
                seed=data.seed,
                code_version=data.code_version,
                config=dict(data.config),
                environment=dict(data.environment),
            ),
            dict(data.params),
            data.metrics,
        )
        return run

    @post(
        "/api/runs/{run_id:str}/log", status_code=HTTP_200_OK, request_max_body_size=JSON_BODY_LIMIT
    )
    async def log_batch(self, run_id: str, data: LogBatch, services: Services) -> Logged:
        """Log params, metric points (at most 10,000 per batch) and tags."""
        n = await tracking.log_batch(
            services.db, run_id, dict(data.params), data.metrics, dict(data.tags)
        )
        return Logged(metrics=n, params=len(data.params))

    @get("/api/runs/{run_id:str}/tags")
    async def get_tags(self, run_id: str, services: Services) -> Tags:
        """The run's tags (each key's newest value)."""
        return Tags(await tracking.run_tags(services.db, run_id))

    @get("/api/runs/{run_id:str}/params")
    async def get_params(self, run_id: str, services: Services) -> Params:
        """The run's params (values as logged; numbers as JSON text)."""
        return Params(await tracking.run_params(services.db, run_id))

    @get("/api/runs/{run_id:str}/metrics")
    async def metric_series(self, run_id: str, services: Services) -> list[MetricSeries]:
        """The metrics the run logged by step: key, number of points, step range."""
        return await tracking.metric_series(services.db, run_id)

    @get("/api/runs/{run_id:str}/metrics/{key:str}")
    async def metric_history(self, run_id: str, key: str, services: Services) -> list[MetricPoint]:
        """Every value of one metric, by step."""
        return await tracking.metric_history(services.db, run_id, key)

    @post("/api/runs/{run_id:str}/files", status_code=HTTP_201_CREATED)
    async def upload_file(
        self,
        run_id: str,
        data: Annotated[FileUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        services: Services,
    ) -> StoredFile:
        """Keep a file of the run under ``files/<path>`` (streamed to disk)."""
        with scratch(services.settings) as tmp:
            source = tmp / "upload"
            await spool_upload(data.file, source, services.settings.max_upload_bytes)
            rel = await tracking.add_artifact(
                services.db, services.settings, run_id, data.path, source
            )
        return StoredFile(rel)

    @post(
        "/api/runs/{run_id:str}/evaluate-file",
        status_code=HTTP_200_OK,
        request_max_body_size=JSON_BODY_LIMIT,
    )
    async def evaluate_file(self, run_id: str, data: EvaluateFile, services: Services) -> Run:
        """Evaluate an uploaded output file of the run (a TREC run for a retrieval
        collection) into its report, against the dataset version's test units."""
        result = await file_eval.evaluate_file(
            services.db, services.settings, services.registry, run_id, data.path
        )
        return result.run

    @post(
        "/api/runs/{run_id:str}/finish",
        status_code=HTTP_200_OK,
        request_max_body_size=JSON_BODY_LIMIT,
    )
    async def finish(self, run_id: str, data: Finish, services: Services) -> Run:
        """End the run as succeeded, failed or cancelled."""
        return await tracking.finish_tracked(
            services.db, services.settings, run_id, data.status, data.reason
        )
