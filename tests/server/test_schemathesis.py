"""Generated requests against the OpenAPI schema: no 5xx, responses match the schema.

The app runs in this process under uvicorn on a loopback port. The log stream is left
out: it answers for as long as its run goes, and runs here stay queued.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from modellab.server.app import create_app
from tests.server.conftest import QueueOnly, make_settings, seed_project, serve


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API on a loopback port, with a project and a dataset to find."""
    tmp = tmp_path_factory.mktemp("schemathesis")
    app_settings = make_settings(tmp, f"sqlite+aiosqlite:///{tmp / 'modellab.db'}")
    with serve(create_app(app_settings, executor=QueueOnly)) as url:
        seed_project(url)
        yield url


def test_generated_requests(live_url: str) -> None:
    """Every operation, with hypothesis-generated parameters and bodies."""
    api_schema = schemathesis.openapi.from_url(f"{live_url}/schema/openapi.json")
    checks = [not_a_server_error, response_schema_conformance]
    tested = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an invalid operation: {result.err()}"
        operation = result.ok()
        if operation.path.endswith("/logs/stream"):
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            case.call_and_validate(base_url=live_url, checks=checks)

        check()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert len(tested) >= 15, tested


def test_the_schema_names_every_route(live_url: str) -> None:
    paths = httpx.get(f"{live_url}/schema/openapi.json").json()["paths"]
    for route in (
        "/api/projects",
        "/api/projects/{slug}/datasets",
        "/api/runs",
        "/api/projects/{slug}/runs",
        "/api/runs/{run_id}/artifacts/{file_path}",
        "/api/compare",
        "/api/plugins",
    ):
        assert route in paths, route
