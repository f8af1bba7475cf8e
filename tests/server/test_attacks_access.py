"""Attacks on access: DNS rebinding, secrets in logs and diffs, sign-in, tokens, defaults."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import update

from modellab.access.actor import LOCAL_EMAIL
from modellab.access.secrets import digest
from modellab.cli import cli
from modellab.errors import InvalidInputError
from modellab.runs.artifacts import run_dir
from modellab.server.access_log import ACCESS_LOGGER, redact
from modellab.server.app import create_app
from modellab.server.auth import mail
from modellab.settings import Settings
from modellab.store.database import open_database
from modellab.store.models import ApiTokenRow, MagicLinkRow, utcnow
from tests.conftest import owner_env
from tests.server.conftest import PENGUINS, Api, QueueOnly, make_settings, serve
from tests.server.test_access import PUBLIC_URL, As, signed_in, token_for  # noqa: F401
from tests.server.test_attacks import _refused, _snapshot
from tests.server.test_magic_link import Inbox, smtp  # noqa: F401  (a fixture)

Signed = tuple[Api, As, As]


# --- DNS rebinding: the Host header -----------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["rebind.attacker.test", "rebind.attacker.test:8000", "127.0.0.1.attacker.test", "", "[::2]"],
)
def test_a_page_on_another_name_cannot_reach_a_local_server(api: Api, host: str) -> None:
    before = _snapshot(api)
    origin = {"Origin": f"http://{host}"} if host else {}
    for method, url, body in (
        ("POST", "/api/tokens", {"name": "stolen"}),
        ("GET", "/api/tokens", None),
        ("GET", "/api/projects", None),
        ("GET", "/api/auth/methods", None),  # public routes too
        ("GET", "/", None),  # and the web UI
    ):
        response = api.client.request(method, url, json=body, headers={"Host": host, **origin})
        problem = _refused(response, 400)
        assert "MODELLAB_ALLOWED_HOSTS" in problem["detail"]
    assert _snapshot(api) == before
    # The loopback names, with or without a port, are the local server's own.
    for own in ("localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST."):
        assert api.client.get("/api/projects", headers={"Host": own}).status_code == 200


def test_with_sign_in_only_the_public_host_and_the_allowed_names_are_answered(
    api_factory: Callable[..., Api],
) -> None:
    api = api_factory(QueueOnly, public_url=PUBLIC_URL)
    assert api.client.get("/api/auth/methods").status_code == 200
    _refused(api.client.get("/api/auth/methods", headers={"Host": "localhost"}), 400)
    extra = api_factory(
        QueueOnly, public_url=PUBLIC_URL, allowed_hosts=("modellab.internal", "testserver.local")
    )
    assert extra.client.get("/api/auth/methods", headers={"Host": "modellab.internal"}).is_success
    settings = Settings.from_env({"MODELLAB_ALLOWED_HOSTS": " Modellab.Internal ,x.test"})
    assert settings.allowed_hosts == ("modellab.internal", "x.test")
    with pytest.raises(InvalidInputError, match="MODELLAB_ALLOWED_HOSTS"):
        Settings.from_env({"MODELLAB_ALLOWED_HOSTS": "a b/c"})


def test_a_local_mode_token_stops_working_once_sign_in_is_on(
    api_factory: Callable[..., Api],
) -> None:
    local = api_factory()
    local.ok("POST", "/api/projects", 201, json={"name": "mine"})
    secret = local.ok("POST", "/api/tokens", 201, json={"name": "laptop"})["secret"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert local.client.get("/api/projects", headers=headers).status_code == 200
    # The same home, restarted with sign-in: the token no longer reaches anything.
    signed = api_factory(QueueOnly, public_url=PUBLIC_URL)
    for url in ("/api/projects", "/api/projects/mine/runs", "/api/tokens"):
        problem = _refused(signed.client.get(url, headers=headers), 401)
        assert "local mode" in problem["detail"]


# --- secrets in logs --------------------------------------------------------------------


def _served_with_mail(tmp_path: Path, database_url: str, smtp_port: int, *hosts: str) -> Settings:
    """Sign-in by magic link for example.com, served on 127.0.0.1 (and ``hosts``)."""
    return make_settings(
        tmp_path,
        database_url,
        public_url=PUBLIC_URL,
        allowed_hosts=("127.0.0.1", *hosts),
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        sign_up_domains=("example.com",),
    )


def test_sign_in_secrets_never_reach_the_access_log(
    tmp_path: Path,
    database_url: str,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox, port = smtp
    settings = _served_with_mail(tmp_path, database_url, port, "testserver.local")
    lines: list[str] = []
    collect = logging.Handler()
    collect.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    with serve(create_app(settings, executor=QueueOnly), log_level="info") as url:
        logging.getLogger(ACCESS_LOGGER).addHandler(collect)
        httpx.post(f"{url}/api/auth/magic-link", json={"email": "ida@example.com"})
        link, token = inbox.link("ida@example.com")
        # The mailed link is opened as a browser would: the fragment stays in the browser.
        path = link.removeprefix(PUBLIC_URL)
        assert httpx.get(f"{url}{path}").status_code == 200
        # Old-style links and a provider's redirect carry secrets in the query.
        httpx.get(f"{url}/auth/magic-link", params={"token": token})
        httpx.get(f"{url}/auth/google/callback", params={"code": "code-secret", "state": "s-s"})
        deadline = time.monotonic() + 5
        while len(lines) < 4:
            assert time.monotonic() < deadline, lines
            time.sleep(0.05)
    logging.getLogger(ACCESS_LOGGER).removeHandler(collect)
    assert any("/auth/magic-link?[redacted]" in line for line in lines), lines
    text = "\n".join(lines)
    for secret in (token, "code-secret", "s-s"):
        assert secret not in text
    assert redact("/api/runs?project=p") == "/api/runs?project=p"


def test_smtp_credentials_are_checked_at_start_and_never_printed(tmp_path: Path) -> None:
    bad = "smtp://bob:hunter2@mail.example.com:notaport"
    for url in (bad, "http://bob:hunter2@mail.example.com", "smtp://bob:hunter2@"):
        with pytest.raises(InvalidInputError) as refused:
            Settings.from_env({"MODELLAB_SMTP_URL": url})
        assert "hunter2" not in refused.value.message and "***" in refused.value.message
    # The server refuses to start, saying why, without the password.
    env = {"MODELLAB_HOME": str(tmp_path / "h"), "MODELLAB_SMTP_URL": bad}
    result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code == 2 and "MODELLAB_SMTP_URL" in result.output
    assert "hunter2" not in result.output
    # A send with an unusable URL (settings built by hand) does not print it either.
    message = mail.compose("a@example.com", "b@example.com", "https://x/")
    with pytest.raises(InvalidInputError) as refused:
        mail.send("ftp://bob:hunter2@x", message, tmp_path / "outbox")
    assert "hunter2" not in refused.value.message


# --- the server's working tree ----------------------------------------------------------


def _dirty_checkout(folder: Path) -> Path:
    """A git repository whose uncommitted change holds a secret."""
    folder.mkdir()
    git = ["git", "-C", str(folder), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (folder / "settings.py").write_text("KEY = 'public'\n")
    subprocess.run([*git, "add", "settings.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    (folder / "settings.py").write_text("KEY = 'sk-operator-secret'\n")
    return folder


def test_the_servers_uncommitted_diff_is_never_recorded_or_served(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_dirty_checkout(tmp_path / "checkout"))
    api.upload("p", "penguins", PENGUINS, target="sex")
    body = {"project": "p", "dataset": "penguins", "template": "tabular-classification"}
    run = api.ok("POST", "/api/runs", 202, json=body | {"model": "most_frequent"})
    # Through the API the code version is the installed ModelLab, not the server's tree.
    assert run["code_version"]["git_commit"] is None
    assert run["code_version"]["git_dirty"] is False
    folder = run_dir(api.settings.artifact_root, "p", run["id"])
    assert (folder / "run.json").is_file() and not (folder / "code.diff").exists()
    # A CLI run in the same tree records its diff (its own code), and the API never serves it.
    env = {
        "MODELLAB_HOME": str(api.settings.home),
        "MODELLAB_ARTIFACT_ROOT": str(api.settings.artifact_root),
        "MODELLAB_DATABASE_URL": api.settings.database_url,
        # The run's training process is a process of its own: on PostgreSQL it reads the
        # key that signs its database context as the tables' owner, like any process.
        **owner_env(api.settings.database_url),
    }
    args = [
        "run",
        "-p",
        "p",
        "-d",
        "penguins",
        "-t",
        "tabular-classification",
        "-m",
        "most_frequent",
    ]
    result = CliRunner().invoke(cli, [*args, "--n-bootstrap", "10"], env=env)
    assert result.exit_code == 0, result.output
    runs = api.ok("GET", "/api/projects/p/runs")
    cli_run = next(r for r in runs["items"] if r["code_version"]["git_dirty"])
    cli_folder = run_dir(api.settings.artifact_root, "p", cli_run["id"])
    assert b"sk-operator-secret" in (cli_folder / "code.diff").read_bytes()
    listed = api.ok("GET", f"/api/runs/{cli_run['id']}/artifacts")
    assert "code.diff" not in {f["path"] for f in listed}
    _refused(api.client.get(f"/api/runs/{cli_run['id']}/artifacts/code.diff"), 404)
    pack = api.client.get(f"/api/runs/{cli_run['id']}/repro")
    assert pack.status_code == 200 and b"sk-operator-secret" not in pack.content


# --- sign-in ----------------------------------------------------------------------------


@pytest.fixture
def mail_server(
    api_factory: Callable[..., Api],
    smtp: tuple[Inbox, int],  # noqa: F811
) -> Callable[..., tuple[Api, Inbox]]:
    """A server with sign-in by magic link; keyword arguments override its settings."""
    inbox, port = smtp

    def start(**overrides: Any) -> tuple[Api, Inbox]:
        api = api_factory(
            QueueOnly, public_url=PUBLIC_URL, smtp_url=f"smtp://127.0.0.1:{port}", **overrides
        )
        return api, inbox

    return start


def _mails_to(inbox: Inbox, address: str) -> int:
    return sum(1 for m in inbox.messages if m["To"] == address)


def _redeem(api: Api, email: str) -> int:
    """Plant a valid link for ``email`` in the store and press its button."""

    async def plant() -> None:
        async with open_database(api.settings.database_url) as db, db.session() as s:
            now = utcnow()
            s.add(
                MagicLinkRow(
                    token_hash=digest("planted"),
                    email=email,
                    created_at=now,
                    expires_at=now + timedelta(minutes=5),
                )
            )

    asyncio.run(plant())
    response = api.client.post(
        "/auth/magic-link",
        data={"token": "planted"},
        headers={"Origin": PUBLIC_URL},
        follow_redirects=False,
    )
    return response.status_code


def test_the_local_user_cannot_be_signed_into(
    mail_server: Callable[..., tuple[Api, Inbox]],
) -> None:
    api, inbox = mail_server(sign_up_domains=("*",))
    for address in (LOCAL_EMAIL, "Local@LocalHost"):
        api.ok("POST", "/api/auth/magic-link", 202, json={"email": address})
    api.ok("POST", "/api/auth/magic-link", 202, json={"email": "ok@example.com"})
    inbox.link("ok@example.com")  # the background sends ran
    assert _mails_to(inbox, LOCAL_EMAIL) == 0
    # Even a link for it in the store (as old servers sent them) signs nobody in.
    assert _redeem(api, LOCAL_EMAIL) == 401
    assert "modellab_session" not in api.client.cookies


def test_sign_up_is_invite_only_unless_a_domain_is_allowed(
    mail_server: Callable[..., tuple[Api, Inbox]],
) -> None:
    api, inbox = mail_server()
    owner = As(api, token_for(api.settings, "owner@example.com"))
    owner.ok("POST", "/api/projects", 201, json={"name": "team"})
    api.ok("POST", "/api/auth/magic-link", 202, json={"email": "stranger@example.com"})
    # An invited address (a new member) signs in; a stranger gets nothing.
    owner.ok(
        "PUT", "/api/projects/team/members", json={"email": "new@example.com", "role": "viewer"}
    )
    api.ok("POST", "/api/auth/magic-link", 202, json={"email": "new@example.com"})
    inbox.link("new@example.com")
    assert _mails_to(inbox, "stranger@example.com") == 0
    assert _redeem(api, "stranger@example.com") == 401
    # With an allowed domain, its addresses sign up; others still need an invitation.
    open_api, inbox = mail_server(sign_up_domains=("example.org",))
    before = len(inbox.messages)
    for address in ("x@example.org", "y@example.net"):
        open_api.ok("POST", "/api/auth/magic-link", 202, json={"email": address})
    inbox.link("x@example.org", after=before)
    assert _mails_to(inbox, "y@example.net") == 0
    settings = Settings.from_env({"MODELLAB_SIGN_UP_DOMAINS": "Example.org, *"})
    assert settings.sign_up_domains == ("*", "example.org")
    assert Settings.from_env({}).sign_up_domains == ()


def test_a_stranger_cannot_lock_someone_out_of_sign_in(
    tmp_path: Path,
    database_url: str,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    settings = _served_with_mail(tmp_path, database_url, smtp[1], "127.0.0.2")
    with serve(create_app(settings, executor=QueueOnly)) as url:
        stranger = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        with stranger:
            codes = [
                stranger.post(f"{url}/api/auth/magic-link", json={"email": "vic@example.com"})
                for _ in range(7)
            ]
        assert [c.status_code for c in codes] == [202] * 5 + [429] * 2
        assert codes[-1].headers["retry-after"]
        # The person, from their own client, still gets a link.
        mine = httpx.post(f"{url}/api/auth/magic-link", json={"email": "vic@example.com"})
        assert mine.status_code == 202


# --- API tokens -------------------------------------------------------------------------


def test_a_project_limited_token_manages_only_its_projects_tokens(signed_in: Signed) -> None:  # noqa: F811
    api, alice, _ = signed_in
    full_id = alice.ok("GET", "/api/tokens")[0]["id"]
    limited = As(api, alice.ok("POST", "/api/tokens", 201, json={"project": "a"})["secret"])
    before = _snapshot(api)
    seen = limited.ok("GET", "/api/tokens")
    assert {t["project"] for t in seen} == {"a"} and full_id not in {t["id"] for t in seen}
    _refused(limited.call("DELETE", f"/api/tokens/{full_id}"), 404)
    _refused(limited.call("POST", "/api/tokens", json={"name": "more"}), 403)
    assert _snapshot(api) == before
    assert alice.ok("GET", "/api/auth/me")["via"] == "token"  # the full token still works
    reader = As(api, alice.ok("POST", "/api/tokens", 201, json={"read_only": True})["secret"])
    _refused(reader.call("DELETE", f"/api/tokens/{full_id}"), 403)


def test_tokens_expire_and_show_their_last_use(signed_in: Signed) -> None:  # noqa: F811
    api, alice, _ = signed_in
    made = alice.ok("POST", "/api/tokens", 201, json={"name": "ci", "expires_in_days": 30})
    expiring = As(api, made["secret"])
    assert made["token"]["expires_at"] is not None
    expiring.ok("GET", "/api/projects")
    listed = {t["id"]: t for t in alice.ok("GET", "/api/tokens")}
    assert listed[made["token"]["id"]]["last_used_at"] is not None
    for days in (0, 3651, -1):
        _refused(alice.call("POST", "/api/tokens", json={"expires_in_days": days}), 400)

    async def expire() -> None:
        async with open_database(api.settings.database_url) as db, db.session() as s:
            await s.execute(
                update(ApiTokenRow)
                .where(ApiTokenRow.id == made["token"]["id"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )

    asyncio.run(expire())
    problem = _refused(expiring.call("GET", "/api/projects"), 401)
    assert "expired" in problem["detail"]
    env = {
        "MODELLAB_HOME": str(api.settings.home),
        "MODELLAB_DATABASE_URL": api.settings.database_url,
        "MODELLAB_ARTIFACT_ROOT": str(api.settings.artifact_root),
    }
    created = CliRunner().invoke(cli, ["token", "create", "--expires-days", "7"], env=env)
    assert created.exit_code == 0 and "expires" in created.output
    shown = CliRunner().invoke(cli, ["token", "list"], env=env)
    assert "active until" in shown.output and "never used" in shown.output


def test_the_server_can_give_every_token_a_lifetime(api_factory: Callable[..., Api]) -> None:
    api = api_factory(QueueOnly, public_url=PUBLIC_URL, token_days=30)
    owner = As(api, token_for(api.settings, "tess@example.com"))
    made = owner.ok("POST", "/api/tokens", 201, json={"name": "default"})["token"]
    lifetime = datetime.fromisoformat(made["expires_at"]) - datetime.fromisoformat(
        made["created_at"]
    )
    assert lifetime == timedelta(days=30)
    problem = _refused(owner.call("POST", "/api/tokens", json={"expires_in_days": 31}), 400)
    assert "MODELLAB_TOKEN_DAYS" in problem["detail"]
    assert Settings.from_env({"MODELLAB_TOKEN_DAYS": "7"}).token_days == 7
    with pytest.raises(InvalidInputError, match="MODELLAB_TOKEN_DAYS"):
        Settings.from_env({"MODELLAB_TOKEN_DAYS": "forever"})


# --- what a fresh installation creates ----------------------------------------------------


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mode & 0o777 for p in root.rglob("*")}


def test_the_database_and_artifacts_are_owner_only(api: Api, tmp_path: Path) -> None:
    api.upload("p", "penguins", PENGUINS, target="sex")
    if api.settings.database_url.startswith("sqlite"):
        db_file = Path(api.settings.database_url.split(":///", 1)[1])
        assert db_file.stat().st_mode & 0o777 == 0o600
    modes = _modes(api.settings.artifact_root)
    assert modes, "nothing was stored"
    for name, mode in modes.items():
        # Nobody but the owner may read, write or enter anything stored.
        assert mode & 0o077 == 0, (name, oct(mode))
    # The CLI creates its files owner-only too.
    home = tmp_path / "cli-home"
    env = {"MODELLAB_HOME": str(home), "MODELLAB_ARTIFACT_ROOT": str(tmp_path / "cli-art")}
    result = CliRunner().invoke(cli, ["project", "create", "solo"], env=env)
    assert result.exit_code == 0, result.output
    assert (home / "modellab.db").stat().st_mode & 0o777 == 0o600
    assert os.umask(0o077) == 0o077
