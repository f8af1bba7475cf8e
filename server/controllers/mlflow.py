"""An MLflow-compatible tracking endpoint per project: ``/mlflow/<project>``.

An unchanged ``mlflow`` client with ``MLFLOW_TRACKING_URI=http://host:port/mlflow/<project>``
(and ``MLFLOW_TRACKING_TOKEN``, a ModelLab API token, where sign-in is on) logs tracked
runs through the same service functions, store and roles as ``/api``. Answers use
MLflow's JSON shapes, and errors its ``{"error_code", "message"}`` (a problem document
would reach the client as INTERNAL_ERROR); see docs/mlflow.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, Response, Router, get, post, put
from litestar.exceptions import NotFoundException
from litestar.response import File, Redirect
from litestar.status_codes import HTTP_200_OK

from modellab.errors import InvalidInputError, NotFoundError
from modellab.mlflow import artifacts, experiments, runs, search
from modellab.mlflow.experiments import Experiment
from modellab.mlflow.runs import Metric, MlflowRun, RunInfo
from modellab.nonfinite import NonFinite
from modellab.runs import tracking
from modellab.runs.tracking import MetricPoint
from modellab.server.auth.middleware import PUBLIC
from modellab.server.controllers.artifacts import MEDIA, resolve_artifact
from modellab.server.problems import EXCEPTION_HANDLERS, Problem
from modellab.server.schemas import JSON_BODY_LIMIT
from modellab.server.services import Services
from modellab.server.uploads import scratch, spool_stream
from modellab.store.projects import get_project_row

T = TypeVar("T")


class Empty(msgspec.Struct):
    """MLflow's answer to a call that returns nothing."""


def read(data: Any, kind: type[T]) -> T:
    """A request's JSON (or query) as ``kind``, numbers given as text accepted (MLflow's
    clients send int64 fields either way); an error names the field."""
    try:
        return msgspec.convert(data, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidInputError(f"invalid request: {exc}") from None


class _Tag(msgspec.Struct):
    key: str
    value: str = ""


class _Metric(msgspec.Struct):
    key: str
    value: float | NonFinite
    timestamp: int | None = None
    step: int = 0


class _Param(msgspec.Struct):
    key: str
    value: str = ""


class CreateExperiment(msgspec.Struct):
    """``experiments/create``"""

    name: str


class CreateRun(msgspec.Struct):
    """``runs/create``"""

    experiment_id: str = "0"
    start_time: int | None = None
    run_name: str | None = None
    tags: list[_Tag] = []


class UpdateRun(msgspec.Struct):
    """``runs/update``"""

    run_id: str = ""
    run_uuid: str = ""
    status: str | None = None
    end_time: int | None = None
    run_name: str | None = None


class LogMetric(_Metric):
    """``runs/log-metric``"""

    run_id: str = ""
    run_uuid: str = ""


class LogParam(_Param):
    """``runs/log-parameter``"""

    run_id: str = ""
    run_uuid: str = ""


class SetTag(_Tag):
    """``runs/set-tag``"""

    run_id: str = ""
    run_uuid: str = ""


class LogBatch(msgspec.Struct):
    """``runs/log-batch``"""

    run_id: str
    metrics: list[_Metric] = []
    params: list[_Param] = []
    tags: list[_Tag] = []


class LogInputs(msgspec.Struct):
    """``runs/log-inputs``"""

    run_id: str
    datasets: list[Any] = []


class SearchRuns(msgspec.Struct):
    """``runs/search``"""

    experiment_ids: list[str] = []
    filter: str | None = None
    max_results: int = search.DEFAULT_MAX_RESULTS
    order_by: list[str] = []
    page_token: str | None = None
    run_view_type: str = "ACTIVE_ONLY"


class ExperimentOut(msgspec.Struct):
    """``{"experiment": ...}``"""

    experiment: Experiment


class ExperimentsOut(msgspec.Struct):
    """``experiments/search``"""

    experiments: list[Experiment]


class ExperimentId(msgspec.Struct):
    """``experiments/create``'s answer."""

    experiment_id: str


class RunOut(msgspec.Struct):
    """``{"run": ...}``"""

    run: MlflowRun


class RunInfoOut(msgspec.Struct):
    """``runs/update``'s answer."""

    run_info: RunInfo


class RunsOut(msgspec.Struct, omit_defaults=True):
    """A page of ``runs/search``."""

    runs: list[MlflowRun]
    next_page_token: str | None = None


class HistoryOut(msgspec.Struct, omit_defaults=True):
    """A page of ``metrics/get-history``."""

    metrics: list[Metric]
    next_page_token: str | None = None


class LoggedModelsOut(msgspec.Struct):
    """``logged-models/search``: always empty here."""

    models: list[dict[str, Any]]


class FilesOut(msgspec.Struct):
    """An artifact folder's entries."""

    files: list[artifacts.FileInfo]


def _run_id(run_id: str, run_uuid: str) -> str:
    found = run_id or run_uuid
    if not found:
        raise InvalidInputError("run_id is required")
    return found


def _point(m: _Metric) -> MetricPoint:
    return MetricPoint(m.key, m.value, m.step, m.timestamp)


HISTORY_PAGE = 25_000


class MlflowController(Controller):
    """``/mlflow/<project>/api/2.0/mlflow/...``: experiments, runs and metric histories."""

    path = "/api/2.0/mlflow"
    tags = ("mlflow",)
    request_max_body_size = JSON_BODY_LIMIT

    @get("/experiments/get-by-name")
    async def experiment_by_name(
        self, project: str, experiment_name: str, services: Services
    ) -> ExperimentOut:
        """The experiment of that name (404 RESOURCE_DOES_NOT_EXIST: create it)."""
        return ExperimentOut(
            await experiments.experiment_by_name(services.db, project, experiment_name)
        )

    @get("/experiments/get")
    async def get_experiment(
        self, project: str, experiment_id: str, services: Services
    ) -> ExperimentOut:
        """One experiment by its number."""
        return ExperimentOut(await experiments.get_experiment(services.db, project, experiment_id))

    @post("/experiments/create", status_code=HTTP_200_OK)
    async def create_experiment(
        self, project: str, data: dict[str, Any], services: Services
    ) -> ExperimentId:
        """A new experiment in the project (editors)."""
        body = read(data, CreateExperiment)
        made = await experiments.create_experiment(services.db, project, body.name)
        return ExperimentId(made.experiment_id)

    @post("/experiments/search", status_code=HTTP_200_OK)
    async def search_experiments(
        self, project: str, data: dict[str, Any], services: Services
    ) -> ExperimentsOut:
        """Every experiment of the project (no filter: a project holds a few)."""
        if str(data.get("filter") or "").strip():
            raise InvalidInputError("experiments/search: filters are not supported here")
        return ExperimentsOut(await experiments.list_experiments(services.db, project))

    @post("/runs/create", status_code=HTTP_200_OK)
    async def create_run(self, project: str, data: dict[str, Any], services: Services) -> RunOut:
        """Start a tracked run; refused without dataset version, seed and commit tags."""
        body = read(data, CreateRun)
        made = await runs.create_run(
            services.db,
            services.settings,
            project,
            body.experiment_id,
            {t.key: t.value for t in body.tags},
            body.start_time,
            body.run_name,
        )
        return RunOut(made)

    @get("/runs/get")
    async def get_run(
        self, project: str, services: Services, run_id: str = "", run_uuid: str = ""
    ) -> RunOut:
        """One run: info, newest metrics, params, tags and inputs."""
        return RunOut(await runs.get_run(services.db, project, _run_id(run_id, run_uuid)))

    @post("/runs/update", status_code=HTTP_200_OK)
    async def update_run(
        self, project: str, data: dict[str, Any], services: Services
    ) -> RunInfoOut:
        """Rename or end a run (FINISHED, FAILED, KILLED: cancelled)."""
        body = read(data, UpdateRun)
        info = await runs.update_run(
            services.db,
            services.settings,
            project,
            _run_id(body.run_id, body.run_uuid),
            body.status,
            body.end_time,
            body.run_name,
        )
        return RunInfoOut(info)

    @post("/runs/log-metric", status_code=HTTP_200_OK)
    async def log_metric(self, project: str, data: dict[str, Any], services: Services) -> Empty:
        """One metric point (NaN and infinities kept, negative steps too)."""
        body = read(data, LogMetric)
        run_id = _run_id(body.run_id, body.run_uuid)
        await runs.log_batch(services.db, project, run_id, {}, [_point(body)], {})
        return Empty()

    @post("/runs/log-parameter", status_code=HTTP_200_OK)
    async def log_param(self, project: str, data: dict[str, Any], services: Services) -> Empty:
        """One param (set once; the same value again is fine)."""
        body = read(data, LogParam)
        run_id = _run_id(body.run_id, body.run_uuid)
        await runs.log_batch(services.db, project, run_id, {body.key: body.value}, [], {})
        return Empty()

    @post("/runs/set-tag", status_code=HTTP_200_OK)
    async def set_tag(self, project: str, data: dict[str, Any], services: Services) -> Empty:
        """One tag (set again at will)."""
        body = read(data, SetTag)
        run_id = _run_id(body.run_id, body.run_uuid)
        await runs.log_batch(services.db, project, run_id, {}, [], {body.key: body.value})
        return Empty()

    @post("/runs/log-batch", status_code=HTTP_200_OK)
    async def log_batch(self, project: str, data: dict[str, Any], services: Services) -> Empty:
        """Params, metric points and tags in one transaction."""
        body = read(data, LogBatch)
        await runs.log_batch(
            services.db,
            project,
            body.run_id,
            {p.key: p.value for p in body.params},
            [_point(m) for m in body.metrics],
            {t.key: t.value for t in body.tags},
        )
        return Empty()

    @post("/runs/log-inputs", status_code=HTTP_200_OK)
    async def log_inputs(self, project: str, data: dict[str, Any], services: Services) -> Empty:
        """The datasets the run's code declared (kept with the run, shown by runs/get)."""
        body = read(data, LogInputs)
        await runs.log_inputs(services.db, project, body.run_id, body.datasets)
        return Empty()

    @post("/runs/search", status_code=HTTP_200_OK)
    async def search_runs(self, project: str, data: dict[str, Any], services: Services) -> RunsOut:
        """The project's tracked runs by MLflow's filter grammar, ordered, a page at a time."""
        body = read(data, SearchRuns)
        if body.run_view_type == "DELETED_ONLY":  # ModelLab deletes no run
            return RunsOut([])
        found, token = await search.search_runs(
            services.db,
            project,
            body.experiment_ids,
            body.filter,
            body.order_by,
            body.max_results,
            body.page_token,
        )
        return RunsOut(found, token)

    @post("/logged-models/search", status_code=HTTP_200_OK)
    async def search_logged_models(self, project: str, services: Services) -> LoggedModelsOut:
        """None: ModelLab keeps a run's model as its files, not as MLflow logged models
        (mlflow 3 asks before it lists a run's subfolders)."""
        async with services.db.session() as session:
            await get_project_row(session, project)
        return LoggedModelsOut([])

    @get("/metrics/get-history")
    async def metric_history(
        self,
        project: str,
        metric_key: str,
        services: Services,
        run_id: str = "",
        run_uuid: str = "",
        max_results: int = HISTORY_PAGE,
        page_token: str | None = None,
    ) -> HistoryOut:
        """Every point of one metric, by step, a page at a time."""
        offset = search.read_page_token(page_token)
        limit = max(1, min(max_results, HISTORY_PAGE))
        points, more = await runs.metric_history(
            services.db, project, _run_id(run_id, run_uuid), metric_key, offset, limit
        )
        return HistoryOut(points, search.page_token(offset + limit) if more else None)


class MlflowArtifactController(Controller):
    """``/mlflow/<project>/api/2.0/mlflow-artifacts/artifacts``: a run's files by raw PUT
    and GET, under the artifact URI ``mlflow-artifacts:/<run id>``."""

    path = "/api/2.0/mlflow-artifacts/artifacts"
    tags = ("mlflow",)

    @put("/{file_path:path}", status_code=HTTP_200_OK)
    async def upload(
        self, project: str, file_path: str, request: Request[Any, Any, Any], services: Services
    ) -> Empty:
        """Keep the body as the run's ``files/<path>`` (the run must be running)."""
        run_id, rel = artifacts.split_artifact_path(file_path)
        if not rel:
            raise InvalidInputError("an artifact upload names a file under the run id")
        async with services.db.session() as session:
            await runs.project_run(session, project, run_id)
        with scratch(services.settings) as tmp:
            source = tmp / "upload"
            limit = services.settings.max_upload_bytes
            await spool_stream(request.stream(), source, limit, f"artifact {rel!r}")
            await tracking.add_artifact(services.db, services.settings, run_id, rel, source)
        return Empty()

    @get("/")
    async def list_files(self, project: str, services: Services, path: str = "") -> FilesOut:
        """The entries of ``RUN_ID[/FOLDER]`` in the run's files."""
        run_id, rel = artifacts.split_artifact_path(path)
        return FilesOut(
            await artifacts.list_artifacts(services.db, services.settings, project, run_id, rel)
        )

    @get("/{file_path:path}")
    async def download(
        self, project: str, file_path: str, request: Request[Any, Any, Any], services: Services
    ) -> File:
        """One logged file, as an attachment."""
        run_id, rel = artifacts.split_artifact_path(file_path)
        folder = await artifacts.files_folder(services.db, services.settings, project, run_id)
        found: Path = resolve_artifact(folder, rel, request.scope.get("raw_path") or b"")
        return File(
            found,
            filename=found.name,
            media_type=MEDIA.get(found.suffix.lower(), "application/octet-stream"),
            content_disposition_type="attachment",
            headers={"X-Content-Type-Options": "nosniff"},
        )


class MlflowError(msgspec.Struct):
    """An error as MLflow's clients read it."""

    error_code: str
    message: str


_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    405: "ENDPOINT_NOT_FOUND",
    409: "INVALID_PARAMETER_VALUE",
    413: "INVALID_PARAMETER_VALUE",
    415: "INVALID_PARAMETER_VALUE",
    429: "REQUEST_LIMIT_EXCEEDED",
    507: "RESOURCE_EXHAUSTED",
}


PREFIX = "/mlflow/"


def _problem_handler(exc: Exception) -> Any:
    for kind in type(exc).__mro__:
        if kind in EXCEPTION_HANDLERS:
            return EXCEPTION_HANDLERS[kind]
    return EXCEPTION_HANDLERS[Exception]


def mlflow_error(request: Request[Any, Any, Any], exc: Exception) -> Response[MlflowError]:
    """The API's own answer to ``exc`` (status, scrubbed detail), in MLflow's shape."""
    answer: Response[Any] = _problem_handler(exc)(request, exc)
    problem = answer.content
    status = answer.status_code
    message = problem.detail if isinstance(problem, Problem) else str(exc)
    code = _CODES.get(status or 500, "INTERNAL_ERROR")
    if isinstance(exc, experiments.ExperimentExistsError):
        code = "RESOURCE_ALREADY_EXISTS"
    elif status == 405 or (
        isinstance(exc, NotFoundException) and not isinstance(exc, NotFoundError)
    ):
        call = request.url.path.split("/", 3)[-1]
        code = "ENDPOINT_NOT_FOUND"
        message = (
            f"ModelLab's MLflow endpoint does not serve {request.method} /{call} "
            "(see docs/mlflow.md for the calls it serves)"
        )
    headers = {k: v for k, v in answer.headers.items() if k.lower() == "retry-after"}
    return Response(MlflowError(code, message), status_code=status, headers=headers)


@get("/", opt={PUBLIC: True}, include_in_schema=False, status_code=302)
async def mlflow_ui(project: str) -> Redirect:
    """The web UI, for the links the mlflow client prints (``/mlflow/<project>/#/...``):
    the browser keeps the #part, which the UI's router reads."""
    return Redirect(f"/?mlflow={quote(project, safe='')}")


def mlflow_router(upload_limit: int) -> Router:
    """Everything under ``/mlflow/<project>``; artifact uploads may be ``upload_limit``
    bytes, the JSON calls keep the JSON limit. Its errors: :func:`in_mlflow_shape`."""
    return Router(
        f"{PREFIX}{{project:str}}",
        route_handlers=[MlflowController, MlflowArtifactController, mlflow_ui],
        request_max_body_size=upload_limit,
        # MLflow's protocol, not ModelLab's API: docs/mlflow.md describes it.
        include_in_schema=False,
    )


def in_mlflow_shape(handler: Any) -> Any:
    """The app's error ``handler``, answering in MLflow's shape under ``/mlflow/``.

    At the app, not the router: a path that leaves the router's routes part way (an
    MLflow call ModelLab does not serve) is refused before any router is chosen.
    """

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        if request.url.path.startswith(PREFIX):
            return mlflow_error(request, exc)
        response: Response[Any] = handler(request, exc)
        return response

    return handle
