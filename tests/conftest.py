"""Shared fixtures: an isolated ModelLab home and a CLI runner bound to it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from modellab.cli import cli
from modellab.settings import normalize_database_url
from modellab.store.database import open_database

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Env:
    """An isolated MODELLAB_HOME + artifact root, and a way to run the CLI in it."""

    home: Path
    artifacts: Path
    env: dict[str, str]

    def run(self, *args: str, ok: bool = True) -> Result:
        """Run ``modellab ARGS``; with ``ok`` assert it exited 0."""
        result = CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}"
        return result

    def json(self, *args: str) -> Any:
        """Run a ``--json`` command and decode its output."""
        return json.loads(self.run(*args, "--json").stdout)

    def train(
        self,
        dataset: str,
        model: str,
        *extra: str,
        template: str = "tabular-classification",
        n_bootstrap: int = 50,
    ) -> Any:
        """``modellab run`` of ``model`` on ``dataset`` of project ``p``: the run as JSON
        (a failed run too; its exit code is the run's business)."""
        args = ["-p", "p", "-d", dataset, "-t", template, "-m", model]
        result = self.run(
            "run", *args, "--n-bootstrap", str(n_bootstrap), *extra, "--json", ok=False
        )
        return json.loads(result.stdout)

    def stored_files(self) -> list[Path]:
        """Every file under the artifact root (directories do not count)."""
        if not self.artifacts.exists():
            return []
        return sorted(p for p in self.artifacts.rglob("*") if p.is_file())


@pytest.fixture
def ml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """A fresh ModelLab home with project ``p`` created."""
    home = tmp_path / "home"
    artifacts = tmp_path / "artifacts"
    env = {
        "MODELLAB_HOME": str(home),
        "MODELLAB_ARTIFACT_ROOT": str(artifacts),
        "MODELLAB_DATABASE_URL": "",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MODELLAB_PLUGINS", raising=False)
    e = Env(home, artifacts, env)
    e.run("project", "create", "p")
    yield e


def write(path: Path, text: str | bytes) -> Path:
    """Write ``text`` (or bytes) to ``path`` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _postgres_admin_url() -> str | None:
    url = os.environ.get("MODELLAB_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "CI=true but MODELLAB_TEST_POSTGRES_URL is not set: .ci/run starts PostgreSQL"
            )
        pytest.skip("PostgreSQL not configured: set MODELLAB_TEST_POSTGRES_URL (see .ci/run)")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import asyncpg

    admin = _postgres_admin_url()
    assert admin is not None
    name = f"modellab_test_{uuid.uuid4().hex[:12]}"

    async def admin_exec(sql: str) -> None:
        try:
            conn = await asyncpg.connect(admin)
        except (OSError, asyncpg.PostgresError) as exc:
            if os.environ.get("CI") == "true":
                raise
            pytest.skip(f"PostgreSQL at MODELLAB_TEST_POSTGRES_URL is not reachable: {exc}")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def drop_database(name: str) -> None:
        # FORCE terminates the database's other sessions. An autovacuum worker still
        # attached to it belongs to no role we may signal, so wait for it and retry.
        for attempt in range(40):
            try:
                await admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
                if attempt == 39:
                    raise
                await asyncio.sleep(0.25)

    asyncio.run(admin_exec(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(drop_database(name))


#: The role the app and the workers connect as in the PostgreSQL tests: it owns no table,
#: is no superuser and cannot bypass row-level security, as in production. The test role
#: (MODELLAB_TEST_POSTGRES_URL) owns the tables and runs the migrations.
APP_ROLE = "modellab_app_test"


@pytest.fixture
def app_role_url(postgres_url: str) -> str:
    """``postgres_url``'s database, reached as the app role (created once per cluster)."""
    import asyncpg

    async def ensure_role() -> None:
        conn = await asyncpg.connect(postgres_url)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE)
            if not exists:
                # Another test process may make it first.
                with contextlib.suppress(asyncpg.DuplicateObjectError):
                    await conn.execute(
                        f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_ROLE}' "
                        "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
                    )
        finally:
            await conn.close()

    asyncio.run(ensure_role())
    scheme, _, rest = postgres_url.partition("://")
    host = rest.partition("@")[2]
    return f"{scheme}://{APP_ROLE}:{APP_ROLE}@{host}"


#: app-role URL -> the tables' owner's URL, for the PostgreSQL databases of this run
OWNER_OF: dict[str, str] = {}


def owner_env(database_url: str) -> dict[str, str]:
    """``MODELLAB_MIGRATION_DATABASE_URL`` for a process on ``database_url``, as in
    production: on PostgreSQL a process needs the owner's URL to read the key that
    signs its database context."""
    owner = OWNER_OF.get(database_url)
    return {"MODELLAB_MIGRATION_DATABASE_URL": owner} if owner else {}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on a real PostgreSQL.

    On PostgreSQL the database is migrated by the tables' owner and the URL returned is
    the app role's, so every test there runs under row-level security.
    """
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'modellab.db'}"
    owner = normalize_database_url(request.getfixturevalue("postgres_url"))
    app = normalize_database_url(request.getfixturevalue("app_role_url"))

    async def migrate() -> None:
        async with open_database(app, owner):
            pass

    asyncio.run(migrate())
    OWNER_OF[app] = owner
    return app
