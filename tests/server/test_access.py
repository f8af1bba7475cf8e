"""Users, roles, tokens and isolation: one project's data never reaches a non-member."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from modellab.access.tokens import create_token
from modellab.access.users import actor_for, ensure_user
from modellab.settings import Settings
from modellab.store.database import open_database
from tests.server.conftest import PENGUINS, Api, QueueOnly

PUBLIC_URL = "http://testserver.local"
CODE = {"modellab_version": "0.1.0", "git_commit": "abc", "git_dirty": False}


def tracked_body(project: str, name: str = "t") -> dict[str, Any]:
    """A valid tracked-run request on ``project``'s penguins dataset."""
    return {
        "project": project,
        "dataset": "penguins",
        "name": name,
        "seed": 0,
        "code_version": CODE,
    }


def token_for(
    settings: Settings, email: str, project: str | None = None, read_only: bool = False
) -> str:
    """An API token of ``email`` (the user is created when new)."""

    async def make() -> str:
        async with open_database(settings.database_url) as db:
            user = await ensure_user(db, email)
            view = db.as_actor(actor_for(user, "session"))
            return (await create_token(view, "test", project, read_only)).secret

    return asyncio.run(make())


class As:
    """Requests as one user (a bearer token) against a shared app."""

    def __init__(self, api: Api, token: str) -> None:
        self.api = api
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.api.client.request(method, url, headers=headers, **kwargs)

    def ok(self, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, url, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def upload_penguins(self, slug: str, **form: str) -> Any:
        """Upload the penguins CSV to ``slug`` as dataset ``penguins`` (target ``sex``)."""
        with PENGUINS.open("rb") as f:
            return self.ok(
                "POST",
                f"/api/projects/{slug}/datasets",
                201,
                files={"file": ("penguins.csv", f, "text/csv")},
                data={"name": "penguins", "target": "sex", **form},
            )

    def track(self, project: str, **extra: Any) -> str:
        """Start a tracked run in ``project``; ``extra`` overrides fields of the request."""
        run_id: str = self.ok("POST", "/api/tracked-runs", 201, json=tracked_body(project) | extra)[
            "id"
        ]
        return run_id


@pytest.fixture
def signed_in(api_factory: Callable[..., Api]) -> tuple[Api, As, As]:
    """A server with sign-in on; alice owns project ``a`` (a dataset, a run), bob ``b``."""
    api = api_factory(QueueOnly, public_url=PUBLIC_URL)
    alice = As(api, token_for(api.settings, "alice@example.com"))
    bob = As(api, token_for(api.settings, "bob@example.com"))
    alice.ok("POST", "/api/projects", 201, json={"name": "a"})
    bob.ok("POST", "/api/projects", 201, json={"name": "b"})
    alice.upload_penguins("a")
    bob.upload_penguins("b")
    return api, alice, bob


def _run(who: As, project: str, model: str = "most_frequent") -> str:
    body = {
        "project": project,
        "dataset": "penguins",
        "template": "tabular-classification",
        "model": model,
    }
    run_id: str = who.ok("POST", "/api/runs", 202, json=body)["id"]
    return run_id


def test_requests_without_a_user_are_refused_when_sign_in_is_on(
    signed_in: tuple[Api, As, As],
) -> None:
    api, _, _ = signed_in
    response = api.client.get("/api/projects")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "sign in" in response.json()["detail"]
    forged = api.client.get("/api/projects", headers={"Authorization": "Bearer mlt_forged"})
    assert forged.status_code == 401
    assert api.client.get("/api/health").status_code == 200


def test_each_user_lists_only_their_projects(signed_in: tuple[Api, As, As]) -> None:
    _, alice, bob = signed_in
    assert [p["slug"] for p in alice.ok("GET", "/api/projects")] == ["a"]
    assert [p["slug"] for p in bob.ok("GET", "/api/projects")] == ["b"]


def test_another_projects_resources_look_exactly_like_missing_ones(
    signed_in: tuple[Api, As, As],
) -> None:
    _, alice, bob = signed_in
    run_id = _run(alice, "a")
    alice.ok("POST", f"/api/runs/{run_id}/notes", 201, json={"text": "mine"})
    other_run = _run(alice, "a", "logistic_regression")
    missing_run = run_id[:-4] + ("0000" if not run_id.endswith("0000") else "1111")
    missing_other = other_run[:-4] + ("0000" if not other_run.endswith("0000") else "1111")
    pairs: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/projects/{p}", {}),
        ("GET", "/api/projects/{p}/datasets", {}),
        ("GET", "/api/projects/{p}/datasets/penguins", {}),
        ("GET", "/api/projects/{p}/datasets/penguins/versions/1", {}),
        ("GET", "/api/projects/{p}/datasets/penguins/diff?before=1&after=1", {}),
        ("GET", "/api/projects/{p}/runs", {}),
        ("GET", "/api/projects/{p}/runs/facets", {}),
        ("GET", "/api/projects/{p}/runs.csv", {}),
        ("GET", "/api/projects/{p}/members", {}),
        ("PUT", "/api/projects/{p}/members", {"json": {"email": "x@y.z", "role": "viewer"}}),
        ("GET", "/api/runs/{r}", {}),
        ("GET", "/api/runs/{r}/logs", {}),
        ("GET", "/api/runs/{r}/artifacts", {}),
        ("GET", "/api/runs/{r}/artifacts/config.json", {}),
        ("GET", "/api/runs/{r}/eval", {}),
        ("GET", "/api/runs/{r}/repro", {}),
        ("GET", "/api/runs/{r}/params", {}),
        ("GET", "/api/runs/{r}/metrics/loss", {}),
        ("POST", "/api/runs/{r}/notes", {"json": {"text": "theirs"}}),
        ("POST", "/api/runs/{r}/cancel", {}),
        ("POST", "/api/runs/{r}/log", {"json": {"params": {"x": 1}}}),
        ("POST", "/api/runs/{r}/finish", {"json": {"status": "succeeded"}}),
        ("GET", "/api/compare?a={r}&b={o}", {}),
    ]
    for method, template, kwargs in pairs:
        theirs = bob.call(method, template.format(p="a", r=run_id, o=other_run), **kwargs)
        absent = bob.call(
            method, template.format(p="nope", r=missing_run, o=missing_other), **kwargs
        )
        assert theirs.status_code == absent.status_code == 404, (template, theirs.text)
        # The same words, but for the names in the request.
        expected = absent.json()["detail"].replace("nope", "a").replace(missing_run, run_id)
        assert theirs.json()["detail"] == expected, template
        assert theirs.json()["type"] == absent.json()["type"]
    # Nothing changed: alice's run has her one note and is still queued.
    run = alice.ok("GET", f"/api/runs/{run_id}")
    assert [n["text"] for n in run["notes"]] == ["mine"]
    assert run["status"] == "queued"


def test_a_non_member_cannot_create_in_another_project(signed_in: tuple[Api, As, As]) -> None:
    api, alice, bob = signed_in
    body = {
        "project": "a",
        "dataset": "penguins",
        "template": "tabular-classification",
        "model": "most_frequent",
    }
    assert bob.call("POST", "/api/runs", json=body).status_code == 404
    tracked = tracked_body("a", "x")
    assert bob.call("POST", "/api/tracked-runs", json=tracked).status_code == 404
    assert alice.ok("POST", "/api/tracked-runs", 201, json=tracked)["project"] == "a"
    with PENGUINS.open("rb") as f:
        upload = bob.call(
            "POST",
            "/api/projects/a/datasets",
            files={"file": ("penguins.csv", f, "text/csv")},
            data={"name": "sneaky", "target": "sex"},
        )
    assert upload.status_code == 404
    assert [d["name"] for d in alice.ok("GET", "/api/projects/a/datasets")] == ["penguins"]
    assert len(alice.ok("GET", "/api/projects/a/runs")["items"]) == 1
    assert not (api.settings.artifact_root / "a" / "datasets").joinpath("sneaky").exists()


def test_roles_viewer_reads_editor_writes_owner_manages(signed_in: tuple[Api, As, As]) -> None:
    _, alice, bob = signed_in
    run_id = _run(alice, "a")
    alice.ok("PUT", "/api/projects/a/members", json={"email": "bob@example.com", "role": "viewer"})
    assert bob.ok("GET", f"/api/runs/{run_id}")["id"] == run_id
    assert {p["slug"] for p in bob.ok("GET", "/api/projects")} == {"a", "b"}
    refused = bob.call("POST", f"/api/runs/{run_id}/notes", json={"text": "hi"})
    assert refused.status_code == 403
    assert "viewer" in refused.json()["detail"]
    assert bob.call("POST", "/api/runs", json=_body("a")).status_code == 403
    alice.ok("PUT", "/api/projects/a/members", json={"email": "bob@example.com", "role": "editor"})
    bob.ok("POST", f"/api/runs/{run_id}/notes", 201, json={"text": "hi"})
    # Only owners manage members; the last owner cannot leave.
    manage = {"email": "carol@example.com", "role": "viewer"}
    assert bob.call("PUT", "/api/projects/a/members", json=manage).status_code == 403
    assert alice.call("DELETE", "/api/projects/a/members/alice@example.com").status_code == 409
    alice.ok("DELETE", "/api/projects/a/members/bob@example.com", 204)
    assert bob.call("GET", f"/api/runs/{run_id}").status_code == 404
    members = alice.ok("GET", "/api/projects/a/members")
    assert [(m["email"], m["role"]) for m in members] == [("alice@example.com", "owner")]


def _body(project: str) -> dict[str, Any]:
    return {
        "project": project,
        "dataset": "penguins",
        "template": "tabular-classification",
        "model": "most_frequent",
    }


def test_read_only_and_project_limited_tokens(signed_in: tuple[Api, As, As]) -> None:
    api, alice, _ = signed_in
    reader = As(api, token_for(api.settings, "alice@example.com", read_only=True))
    assert [p["slug"] for p in reader.ok("GET", "/api/projects")] == ["a"]
    refused = reader.call("POST", "/api/runs", json=_body("a"))
    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]
    assert reader.call("POST", "/api/projects", json={"name": "c"}).status_code == 403

    alice.ok("POST", "/api/projects", 201, json={"name": "a2"})
    limited = As(api, token_for(api.settings, "alice@example.com", project="a"))
    assert [p["slug"] for p in limited.ok("GET", "/api/projects")] == ["a"]
    assert limited.call("GET", "/api/projects/a2").status_code == 404
    limited.ok("POST", "/api/runs", 202, json=_body("a"))


def test_tokens_are_listed_without_secrets_and_revoked(signed_in: tuple[Api, As, As]) -> None:
    api, alice, bob = signed_in
    created = alice.ok("POST", "/api/tokens", 201, json={"name": "ci", "read_only": True})
    secret = created["secret"]
    assert secret.startswith("mlt_")
    listed = alice.ok("GET", "/api/tokens")
    assert created["token"]["id"] in {t["id"] for t in listed}
    assert secret not in str(listed)
    # bob neither sees nor revokes alice's token
    assert created["token"]["id"] not in {t["id"] for t in bob.ok("GET", "/api/tokens")}
    assert bob.call("DELETE", f"/api/tokens/{created['token']['id']}").status_code == 404
    other = As(api, secret)
    assert other.ok("GET", "/api/auth/me")["read_only"] is True
    alice.ok("DELETE", f"/api/tokens/{created['token']['id']}", 204)
    assert other.call("GET", "/api/projects").status_code == 401


def test_mass_assignment_of_owner_project_or_status_is_refused(
    signed_in: tuple[Api, As, As],
) -> None:
    _, alice, bob = signed_in
    for body in (
        {"name": "c", "owner": "bob@example.com"},
        {"name": "c", "id": "00000000-0000-7000-8000-000000000009"},
    ):
        assert bob.call("POST", "/api/projects", json=body).status_code == 400
    run_id = _run(alice, "a")
    assert (
        alice.call("POST", "/api/runs", json={**_body("a"), "status": "succeeded"}).status_code
        == 400
    )
    assert (
        alice.call(
            "POST", f"/api/runs/{run_id}/notes", json={"text": "x", "run_id": "other"}
        ).status_code
        == 400
    )
    assert (
        alice.call("POST", "/api/tokens", json={"name": "x", "user_id": "someone"}).status_code
        == 400
    )
    assert alice.ok("GET", f"/api/runs/{run_id}")["status"] == "queued"
    assert [p["slug"] for p in bob.ok("GET", "/api/projects")] == ["b"]


PUBLIC_ROUTES = {
    # The UI's page and static files: they hold no data; their API calls need a user.
    "/",
    "/ui/{file_path:path}",
    "/api/health",
    "/api/auth/methods",
    "/api/auth/magic-link",
    "/auth/magic-link",
    "/auth/google/start",
    "/auth/google/callback",
    # A redirect to the UI for the links the mlflow client prints: no data.
    "/mlflow/{project:str}",
}


def _fill(path: str) -> str:
    for placeholder, value in (
        ("{slug:str}", "a"),
        ("{project:str}", "a"),
        ("{name:str}", "penguins"),
        ("{version:int}", "1"),
        ("{run_id:str}", "00000000-0000-7000-8000-000000000000"),
        ("{key:str}", "k"),
        ("{token_id:str}", "t"),
        ("{email:str}", "x@y.z"),
        ("{file_path:path}", "config.json"),
    ):
        path = path.replace(placeholder, value)
    assert "{" not in path, path
    return path


def test_every_route_requires_a_user_or_is_on_the_public_list(
    signed_in: tuple[Api, As, As],
) -> None:
    api, _, _ = signed_in
    app = api.client.app
    assert isinstance(app, Litestar)
    public: set[str] = set()
    checked = 0
    for route in app.routes:
        assert isinstance(route, HTTPRoute), route.path
        for handler in route.route_handlers:
            if route.path.startswith("/schema"):
                continue
            if handler.opt.get("public"):
                public.add(route.path)
                continue
            for method in sorted(handler.http_methods):
                if method in {"HEAD", "OPTIONS"}:
                    continue
                response = api.client.request(method, _fill(route.path))
                assert response.status_code == 401, (method, route.path, response.text)
                checked += 1
    assert public == PUBLIC_ROUTES
    assert checked > 25


def test_local_mode_runs_as_the_local_user_and_refuses_cross_site_posts(
    api_factory: Callable[..., Api],
) -> None:
    api = api_factory(QueueOnly)
    assert api.ok("GET", "/api/auth/me")["email"] == "local@localhost"
    api.ok("POST", "/api/projects", 201, json={"name": "mine"})
    evil = api.client.post(
        "/api/projects", json={"name": "evil"}, headers={"Origin": "https://evil.example"}
    )
    assert evil.status_code == 403
    assert "cross-site" in evil.json()["detail"]
    assert [p["slug"] for p in api.ok("GET", "/api/projects")] == ["mine"]
    methods = api.ok("GET", "/api/auth/methods")
    assert methods["sign_in_required"] is False


def test_serve_refuses_a_public_address_without_sign_in(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from modellab.cli import cli

    env = {"MODELLAB_HOME": str(tmp_path / "h"), "MODELLAB_PUBLIC_URL": ""}
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"], env=env)
    assert result.exit_code == 2
    assert "refusing to serve on 0.0.0.0" in result.output
    assert "MODELLAB_PUBLIC_URL" in result.output


def test_the_python_client_sends_its_token(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modellab.client import ApiError, Client
    from modellab.server.app import create_app
    from tests.server.conftest import make_settings, serve

    # The public URL's host, and the loopback address this test reaches the server by.
    settings = make_settings(
        tmp_path, database_url, public_url=PUBLIC_URL, allowed_hosts=("127.0.0.1",)
    )
    with serve(create_app(settings, executor=QueueOnly)) as url:
        token = token_for(settings, "carol@example.com")
        with Client(url, token=token) as client:
            assert client.request("GET", "/api/auth/me")["email"] == "carol@example.com"
        # Without a token argument the client reads MODELLAB_TOKEN, like the CLI.
        monkeypatch.setenv("MODELLAB_TOKEN", token)
        with Client(url) as client:
            assert client.request("GET", "/api/auth/me")["via"] == "token"
        monkeypatch.delenv("MODELLAB_TOKEN")
        with Client(url) as client, pytest.raises(ApiError) as refused:
            client.request("GET", "/api/projects")
        assert refused.value.status == 401
