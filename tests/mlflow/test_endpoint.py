"""The MLflow endpoint's rules: auth and roles, projects kept apart, experiments, and
every refusal in MLflow's error shape with a 4xx (a 5xx would be retried for minutes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.server.conftest import Api, QueueOnly
from tests.server.test_access import PUBLIC_URL, As, token_for

PROVENANCE = [
    {"key": "modellab.dataset", "value": "penguins@1"},
    {"key": "modellab.seed", "value": "3"},
    {"key": "mlflow.source.git.commit", "value": "0123abcd"},
]


def base(project: str) -> str:
    return f"/mlflow/{project}/api/2.0/mlflow"


def refused(who: As, method: str, url: str, status: int, code: str, **kw: Any) -> str:
    """Call ``url``; assert the MLflow-shaped refusal; return its message."""
    response = who.call(method, url, **kw)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    return str(body["message"])


@pytest.fixture
def two(api_factory: Callable[..., Api]) -> tuple[Api, As, As]:
    """Sign-in on; alice owns ``a`` and bob ``b``, each with penguins@1."""
    api = api_factory(QueueOnly, public_url=PUBLIC_URL)
    alice = As(api, token_for(api.settings, "alice@example.com"))
    bob = As(api, token_for(api.settings, "bob@example.com"))
    for who, slug in ((alice, "a"), (bob, "b")):
        who.ok("POST", "/api/projects", 201, json={"name": slug})
        who.upload_penguins(slug)
    return api, alice, bob


def _start(who: As, project: str, **extra: Any) -> str:
    body = {"experiment_id": "0", "tags": PROVENANCE} | extra
    run_id: str = who.ok("POST", f"{base(project)}/runs/create", json=body)["run"]["info"]["run_id"]
    return run_id


def test_tokens_and_roles_apply(two: tuple[Api, As, As]) -> None:
    api, alice, bob = two
    nobody = As(api, "not-a-token")
    refused(nobody, "POST", f"{base('a')}/runs/create", 401, "UNAUTHENTICATED", json={})
    anonymous = api.client.get(f"{base('a')}/experiments/get", params={"experiment_id": "0"})
    assert anonymous.status_code == 401 and anonymous.json()["error_code"] == "UNAUTHENTICATED"
    # Bob is no member of a: its runs and experiments do not exist for him.
    run_id = _start(alice, "a")
    refused(
        bob,
        "GET",
        f"{base('a')}/runs/get",
        404,
        "RESOURCE_DOES_NOT_EXIST",
        params={"run_id": run_id},
    )
    # Through his own project's URI the run is not found either: a run belongs to one.
    refused(
        bob,
        "GET",
        f"{base('b')}/runs/get",
        404,
        "RESOURCE_DOES_NOT_EXIST",
        params={"run_id": run_id},
    )
    refused(
        alice,
        "GET",
        f"{base('b')}/runs/get",
        404,
        "RESOURCE_DOES_NOT_EXIST",
        params={"run_id": run_id},
    )
    # A viewer reads, and is refused a new run or a log.
    alice.ok("PUT", "/api/projects/a/members", json={"email": "bob@example.com", "role": "viewer"})
    assert (
        bob.ok("GET", f"{base('a')}/runs/get", params={"run_id": run_id})["run"]["info"]["run_id"]
        == run_id
    )
    body = {"experiment_id": "0", "tags": PROVENANCE}
    refused(bob, "POST", f"{base('a')}/runs/create", 403, "PERMISSION_DENIED", json=body)
    metric = {"run_id": run_id, "key": "loss", "value": 1.0, "timestamp": 1, "step": 0}
    refused(bob, "POST", f"{base('a')}/runs/log-metric", 403, "PERMISSION_DENIED", json=metric)


def test_experiments_are_numbered_per_project(two: tuple[Api, As, As]) -> None:
    _, alice, bob = two
    message = refused(
        alice,
        "GET",
        f"{base('a')}/experiments/get-by-name",
        404,
        "RESOURCE_DOES_NOT_EXIST",
        params={"experiment_name": "sweep"},
    )
    assert "sweep" in message
    assert alice.ok("POST", f"{base('a')}/experiments/create", json={"name": "sweep"}) == {
        "experiment_id": "1"
    }
    assert alice.ok("POST", f"{base('a')}/experiments/create", json={"name": "grid"}) == {
        "experiment_id": "2"
    }
    # Numbers are the project's own: bob's first experiment is 1 too.
    assert bob.ok("POST", f"{base('b')}/experiments/create", json={"name": "sweep"}) == {
        "experiment_id": "1"
    }
    refused(
        alice,
        "POST",
        f"{base('a')}/experiments/create",
        409,
        "RESOURCE_ALREADY_EXISTS",
        json={"name": "sweep"},
    )
    found = alice.ok(
        "GET", f"{base('a')}/experiments/get-by-name", params={"experiment_name": "sweep"}
    )
    assert found["experiment"]["experiment_id"] == "1"
    listed = alice.ok("POST", f"{base('a')}/experiments/search", json={"max_results": 10})
    assert [(e["experiment_id"], e["name"]) for e in listed["experiments"]] == [
        ("0", "Default"),
        ("1", "sweep"),
        ("2", "grid"),
    ]
    refused(
        alice,
        "GET",
        f"{base('a')}/experiments/get",
        404,
        "RESOURCE_DOES_NOT_EXIST",
        params={"experiment_id": "9"},
    )
    refused(
        alice,
        "GET",
        f"{base('a')}/experiments/get",
        400,
        "INVALID_PARAMETER_VALUE",
        params={"experiment_id": "x"},
    )
    # A run in experiment 2 says so; runs without one are the Default's.
    run_id = _start(alice, "a", experiment_id="2")
    got = alice.ok("GET", f"{base('a')}/runs/get", params={"run_id": run_id})
    assert got["run"]["info"]["experiment_id"] == "2"


def test_provenance_is_checked_before_any_run_exists(two: tuple[Api, As, As]) -> None:
    _, alice, _ = two
    url = f"{base('a')}/runs/create"
    only_commit = [PROVENANCE[2]]
    message = refused(
        alice, "POST", url, 400, "INVALID_PARAMETER_VALUE", json={"tags": only_commit}
    )
    assert "modellab.dataset" in message and "modellab.seed" in message
    assert "MLFLOW_RUN_CONTEXT" in message
    bad_seed = [PROVENANCE[0], {"key": "modellab.seed", "value": "seven"}, PROVENANCE[2]]
    assert "'seven'" in refused(
        alice, "POST", url, 400, "INVALID_PARAMETER_VALUE", json={"tags": bad_seed}
    )
    no_commit = PROVENANCE[:2]
    assert "mlflow.source.git.commit" in refused(
        alice, "POST", url, 400, "INVALID_PARAMETER_VALUE", json={"tags": no_commit}
    )
    # A dataset version that is not stored is not found, never invented.
    unknown = [{"key": "modellab.dataset", "value": "penguins@9"}, *PROVENANCE[1:]]
    assert "penguins" in refused(
        alice, "POST", url, 404, "RESOURCE_DOES_NOT_EXIST", json={"tags": unknown}
    )
    assert alice.ok("GET", "/api/projects/a/runs")["items"] == []


def test_bad_calls_are_4xx_in_mlflow_shape(two: tuple[Api, As, As]) -> None:
    _, alice, _ = two
    run_id = _start(alice, "a")
    b = base("a")
    refused(
        alice, "POST", f"{b}/runs/log-metric", 400, "INVALID_PARAMETER_VALUE", content=b"{not json"
    )
    refused(
        alice,
        "POST",
        f"{b}/runs/log-metric",
        400,
        "INVALID_PARAMETER_VALUE",
        json={"run_id": run_id, "key": "loss", "value": "high"},
    )
    refused(
        alice,
        "POST",
        f"{b}/runs/log-batch",
        400,
        "INVALID_PARAMETER_VALUE",
        json={"run_id": run_id, "metrics": [{"key": "", "value": 1, "timestamp": 1, "step": 0}]},
    )
    refused(
        alice,
        "POST",
        f"{b}/runs/update",
        400,
        "INVALID_PARAMETER_VALUE",
        json={"run_id": run_id, "status": "DONE"},
    )
    # MLflow calls ModelLab does not serve say so (3.x log_model's logged models).
    message = refused(alice, "POST", f"{b}/logged-models", 404, "ENDPOINT_NOT_FOUND", json={})
    assert "logged-models" in message
    refused(
        alice,
        "GET",
        "/mlflow/a/api/2.0/preview/mlflow/model-versions/get",
        404,
        "ENDPOINT_NOT_FOUND",
    )
    refused(alice, "DELETE", f"{b}/runs/create", 405, "ENDPOINT_NOT_FOUND")
    # No search of logged models finds any: ModelLab keeps a model as the run's files.
    assert alice.ok("POST", f"{b}/logged-models/search", json={}) == {"models": []}
    # Artifact paths stay inside the run's files.
    art = "/mlflow/a/api/2.0/mlflow-artifacts/artifacts"
    refused(
        alice,
        "PUT",
        f"{art}/{run_id}/..%2F..%2Frun.json",
        400,
        "INVALID_PARAMETER_VALUE",
        content=b"x",
    )
    refused(alice, "GET", f"{art}/{run_id}/..%2Frun.json", 404, "RESOURCE_DOES_NOT_EXIST")
    # Once ended, the run takes no more logs, params, tags or files.
    alice.ok(
        "POST",
        f"{b}/runs/update",
        json={"run_id": run_id, "status": "FINISHED", "end_time": 1_700_000_000_000},
    )
    got = alice.ok("GET", f"{b}/runs/get", params={"run_id": run_id})["run"]["info"]
    assert got["status"] == "FINISHED" and got["end_time"] == 1_700_000_000_000
    for call, body in (
        ("runs/log-metric", {"run_id": run_id, "key": "loss", "value": 1.0, "timestamp": 1}),
        ("runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "1"}),
        ("runs/set-tag", {"run_id": run_id, "key": "t", "value": "1"}),
        ("runs/update", {"run_id": run_id, "status": "FAILED"}),
    ):
        assert "succeeded" in refused(
            alice, "POST", f"{b}/{call}", 409, "INVALID_PARAMETER_VALUE", json=body
        )
    refused(alice, "PUT", f"{art}/{run_id}/late.txt", 409, "INVALID_PARAMETER_VALUE", content=b"x")


def test_runs_create_answers_what_runs_get_reads(two: tuple[Api, As, As]) -> None:
    _, alice, _ = two
    for extra in ({}, {"run_name": "sgd", "start_time": 1_700_000_000_000}):
        body = {"experiment_id": "0", "tags": PROVENANCE} | extra
        created = alice.ok("POST", f"{base('a')}/runs/create", json=body)["run"]
        run_id = created["info"]["run_id"]
        assert alice.ok("GET", f"{base('a')}/runs/get", params={"run_id": run_id})["run"] == created


def test_a_run_name_tag_renames_the_run(two: tuple[Api, As, As]) -> None:
    _, alice, _ = two
    run_id = _start(alice, "a")
    info = alice.ok("GET", f"{base('a')}/runs/get", params={"run_id": run_id})["run"]["info"]
    assert info["run_name"] == f"run-{run_id[-12:]}"  # given no name, named by its id
    alice.ok(
        "POST",
        f"{base('a')}/runs/set-tag",
        json={"run_id": run_id, "key": "mlflow.runName", "value": "sgd"},
    )
    assert alice.ok("GET", f"/api/runs/{run_id}")["model"] == "sgd"
    alice.ok("POST", f"{base('a')}/runs/update", json={"run_id": run_id, "run_name": "adam"})
    tags = alice.ok("GET", f"{base('a')}/runs/get", params={"run_id": run_id})["run"]["data"][
        "tags"
    ]
    assert {"key": "mlflow.runName", "value": "adam"} in tags
