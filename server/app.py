"""The Litestar application: ``create_app()`` builds it, ``modellab serve`` runs it.

The app is a thin layer: controllers validate requests into msgspec Structs and call the
same service functions the CLI calls. The lifespan opens (and migrates) the database,
starts the executor, and hands both, the settings and the plugin registry to the
handlers as :class:`~modellab.server.services.Services`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, cast

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig

from modellab import __version__
from modellab.leftovers import removing_leftovers
from modellab.permissions import restrict_new_files
from modellab.plugins import Registry, load_registry
from modellab.runs.executors import Executor, LocalExecutor
from modellab.server import access_log
from modellab.server.auth.hosts import HostGuard
from modellab.server.auth.middleware import AuthMiddleware
from modellab.server.controllers.access import MemberController, TokenController
from modellab.server.controllers.artifacts import ArtifactController, CompareController
from modellab.server.controllers.auth import AuthController
from modellab.server.controllers.datasets import DatasetController
from modellab.server.controllers.mlflow import in_mlflow_shape, mlflow_router
from modellab.server.controllers.plugins import PluginController
from modellab.server.controllers.projects import ProjectController
from modellab.server.controllers.runs import RunController
from modellab.server.controllers.tracking import TrackingController
from modellab.server.controllers.web import index, web_router
from modellab.server.input_guard import refuse_nul
from modellab.server.problems import EXCEPTION_HANDLERS
from modellab.server.schemas import JSON_BODY_LIMIT
from modellab.server.services import Services, services_of
from modellab.settings import Settings
from modellab.store.database import Database

if TYPE_CHECKING:
    from litestar.types import ExceptionHandlersMap

ExecutorFactory = Callable[[Database, Settings], Executor]
# Multipart framing and form fields on top of the file itself.
FORM_OVERHEAD = 1024 * 1024


def default_executor(db: Database, settings: Settings) -> Executor:
    """arq workers when ``MODELLAB_REDIS_URL`` is set, else the embedded executor."""
    if settings.redis_url:
        from modellab.server.worker import ArqExecutor

        return ArqExecutor(db, settings)
    return LocalExecutor(db, settings)


def create_app(
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    executor: ExecutorFactory | None = None,
) -> Litestar:
    """The ModelLab API: JSON under ``/api``, OpenAPI under ``/schema``."""
    settings = settings or Settings.from_env()
    registry = registry or load_registry()
    make_executor = executor or default_executor

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # After the server configured its logging, which may replace the loggers.
        access_log.install()
        restrict_new_files()
        db = Database(settings.database_url)
        await db.migrate(settings.migration_database_url)
        runner = make_executor(db, settings)
        app.state["services"] = Services(db, settings, registry, runner, system_db=db)
        # Spooled uploads, staged datasets and temporary files of killed processes go
        # before the first request, and then every few minutes.
        async with removing_leftovers(settings):
            await runner.start()
            try:
                yield
            finally:
                await runner.stop()
                await db.close()

    return Litestar(
        route_handlers=[
            ProjectController,
            # The controllers that take file uploads, under the upload limit; everything
            # else reads at most JSON_BODY_LIMIT bytes.
            Router(
                "/",
                route_handlers=[DatasetController, ArtifactController, TrackingController],
                request_max_body_size=settings.max_upload_bytes + FORM_OVERHEAD,
            ),
            mlflow_router(settings.max_upload_bytes + FORM_OVERHEAD),
            RunController,
            CompareController,
            PluginController,
            AuthController,
            index,
            web_router(),
            TokenController,
            MemberController,
        ],
        middleware=[HostGuard(), DefineMiddleware(AuthMiddleware)],
        before_request=refuse_nul,
        lifespan=[lifespan],
        dependencies={"services": Provide(services_of, sync_to_thread=False)},
        exception_handlers=cast(
            "ExceptionHandlersMap",
            {kind: in_mlflow_shape(h) for kind, h in EXCEPTION_HANDLERS.items()},
        ),
        openapi_config=OpenAPIConfig(title="ModelLab", version=__version__, path="/schema"),
        request_max_body_size=JSON_BODY_LIMIT,
    )
