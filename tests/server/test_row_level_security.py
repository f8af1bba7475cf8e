"""Row-level security on PostgreSQL: the database itself keeps projects apart.

Everything here runs as the app role of the PostgreSQL tests (see ``APP_ROLE``): it owns
no table and cannot bypass row-level security. Two users each own a project holding a
row in every project-scoped table; each test then tries to reach the other's rows
without the repositories' scoping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from modellab.access.actor import Actor
from modellab.store.database import Database
from modellab.store.models import RunMetricRow, RunRow
from tests.conftest import APP_ROLE
from tests.server.conftest import Api, QueueOnly
from tests.server.test_access import PUBLIC_URL, As, token_for

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

#: tables that hold people and sign-in state, not project data
IDENTITY_TABLES = {"alembic_version", "users", "sessions", "magic_links", "sign_in_states"}


@dataclass
class World:
    """Alice owns project ``a``, Bob project ``b``; both full of data."""

    api: Api
    owner_url: str
    app_url: str
    users: dict[str, str]  # email -> user id
    projects: dict[str, str]  # slug -> project id
    runs: dict[str, str]  # slug -> a run id of that project


def _asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@asynccontextmanager
async def _transaction(
    url: str, user: str | None = None, system: bool = False
) -> AsyncIterator[asyncpg.Connection]:
    """A connection in one transaction: as ``user``, as the system, or with neither set."""
    conn = await asyncpg.connect(_asyncpg_url(url))
    try:
        async with conn.transaction():
            if user is not None:
                await conn.execute("SELECT set_config('modellab.user_id', $1, true)", user)
            if system:
                await conn.execute("SELECT set_config('modellab.system', 'on', true)")
            yield conn
    finally:
        await conn.close()


async def _fetch(url: str, sql: str, *args: Any, user: str | None = None) -> list[Any]:
    """Run one query in its own transaction; as ``user`` when given, else with no user."""
    async with _transaction(url, user) as conn:
        return list(await conn.fetch(sql, *args))


async def _project_tables(url: str) -> list[str]:
    rows = await _fetch(
        url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    return [r["tablename"] for r in rows if r["tablename"] not in IDENTITY_TABLES]


def _fill(who: As, slug: str) -> str:
    """A project with a noted dataset, a queued run and a tracked run with params,
    metrics and a note; returns the tracked run's id."""
    who.ok("POST", "/api/projects", 201, json={"name": slug})
    who.upload_penguins(slug, notes=f"{slug}'s note")
    body = {
        "project": slug,
        "dataset": "penguins",
        "template": "tabular-classification",
        "model": "most_frequent",
    }
    who.ok("POST", "/api/runs", 202, json=body)
    run_id = who.track(slug, name="tracked")
    metrics = [{"key": "loss", "value": 1.0 / (step + 1), "step": step} for step in range(3)]
    who.ok("POST", f"/api/runs/{run_id}/log", json={"params": {"lr": 0.1}, "metrics": metrics})
    who.ok("POST", f"/api/runs/{run_id}/notes", 201, json={"text": f"{slug} run note"})
    return run_id


@pytest.fixture
def world(api_factory: Callable[..., Api], database_url: str, postgres_url: str) -> World:
    api = api_factory(QueueOnly, public_url=PUBLIC_URL)
    alice = As(api, token_for(api.settings, "alice@example.com"))
    bob = As(api, token_for(api.settings, "bob@example.com"))
    runs = {"a": _fill(alice, "a"), "b": _fill(bob, "b")}
    # The owner role with the system setting on sees everything: the raw truth.
    users, projects = asyncio.run(_system_ids(postgres_url))
    return World(api, postgres_url, database_url, users, projects, runs)


async def _system_ids(url: str) -> tuple[dict[str, str], dict[str, str]]:
    async with _transaction(url, system=True) as conn:
        users = {r["email"]: r["id"] for r in await conn.fetch("SELECT email, id FROM users")}
        projects = {r["slug"]: r["id"] for r in await conn.fetch("SELECT slug, id FROM projects")}
    return users, projects


async def _counts_as_system(url: str, tables: list[str]) -> dict[str, int]:
    async with _transaction(url, system=True) as conn:
        return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in tables}


async def test_every_project_table_has_row_level_security_enabled_and_forced(
    world: World,
) -> None:
    tables = await _project_tables(world.owner_url)
    assert {"projects", "project_members", "dataset_versions", "runs", "run_metrics"} <= set(tables)
    rows = await _fetch(
        world.owner_url,
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
               (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r'
        """,
    )
    by_table = {r["relname"]: r for r in rows}
    for table in tables:
        row = by_table[table]
        assert row["relrowsecurity"], f"{table}: row-level security is not enabled"
        assert row["relforcerowsecurity"], f"{table}: row-level security is not forced"
        assert row["policies"] > 0, f"{table}: no policy"
    # Every project table holds rows of both projects, so "sees nothing" below means something.
    counts = await _counts_as_system(world.owner_url, tables)
    assert all(n > 0 for n in counts.values()), counts


async def test_the_app_role_owns_nothing_and_cannot_bypass(world: World) -> None:
    role = (
        await _fetch(
            world.owner_url,
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1",
            APP_ROLE,
        )
    )[0]
    assert role["rolsuper"] is False and role["rolbypassrls"] is False
    owned = await _fetch(
        world.owner_url,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = $1",
        APP_ROLE,
    )
    assert owned == []
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await _fetch(world.app_url, "ALTER TABLE runs DISABLE ROW LEVEL SECURITY")


async def test_with_no_user_set_the_app_role_sees_no_rows(world: World) -> None:
    for table in await _project_tables(world.owner_url):
        rows = await _fetch(world.app_url, f"SELECT * FROM {table}")
        assert rows == [], f"{table}: {len(rows)} rows without a user"


async def test_unscoped_queries_reach_only_the_users_own_project(world: World) -> None:
    alice, bob = world.users["alice@example.com"], world.users["bob@example.com"]
    b = world.projects["b"]
    # Asking for Bob's project by id, as Alice: nothing.
    assert (
        await _fetch(world.app_url, "SELECT id FROM runs WHERE project_id = $1", b, user=alice)
        == []
    )
    assert await _fetch(world.app_url, "SELECT * FROM projects WHERE id = $1", b, user=alice) == []
    assert (
        await _fetch(
            world.app_url,
            "SELECT m.* FROM run_metrics m JOIN runs r ON r.id = m.run_id WHERE r.project_id = $1",
            b,
            user=alice,
        )
        == []
    )
    # Everything she sees without a filter is hers; the same for Bob.
    for user, slug in ((alice, "a"), (bob, "b")):
        own = world.projects[slug]
        for table, column in (
            ("projects", "id"),
            ("project_members", "project_id"),
            ("dataset_versions", "project_id"),
            ("runs", "project_id"),
            ("run_latest_metrics", "project_id"),
        ):
            rows = await _fetch(world.app_url, f"SELECT {column} AS p FROM {table}", user=user)
            assert rows and {r["p"] for r in rows} == {own}, (slug, table)
        for table in ("run_notes", "run_params", "run_metrics"):
            rows = await _fetch(
                world.app_url,
                f"SELECT r.project_id AS p FROM {table} t JOIN runs r ON r.id = t.run_id",
                user=user,
            )
            assert rows and {r["p"] for r in rows} == {own}, (slug, table)


async def test_writes_to_another_project_change_nothing(world: World) -> None:
    alice = world.users["alice@example.com"]
    b, bob_run = world.projects["b"], world.runs["b"]
    tables = await _project_tables(world.owner_url)
    before = await _counts_as_system(world.owner_url, tables)

    async def as_alice(sql: str, *args: Any) -> str:
        async with _transaction(world.app_url, alice) as conn:
            return str(await conn.execute(sql, *args))

    assert (
        await as_alice("UPDATE runs SET status = 'failed' WHERE project_id = $1", b) == "UPDATE 0"
    )
    assert await as_alice("DELETE FROM run_metrics WHERE run_id = $1", bob_run) == "DELETE 0"
    assert await as_alice("DELETE FROM projects WHERE id = $1", b) == "DELETE 0"
    refused = [
        (
            "INSERT INTO run_notes (run_id, text, created_at) VALUES ($1, 'sneaky', now())",
            bob_run,
        ),
        (
            "INSERT INTO project_members (project_id, user_id, role, created_at) "
            "VALUES ($1, $2, 'owner', now())",
            b,
            alice,
        ),
        (
            "INSERT INTO run_latest_metrics (run_id, project_id, key, value, step) "
            "VALUES ($1, $2, 'x', 1, 0)",
            world.runs["a"],
            b,
        ),
    ]
    for sql, *args in refused:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await as_alice(sql, *args)
    assert await _counts_as_system(world.owner_url, tables) == before


@pytest.fixture
async def one_connection(world: World) -> AsyncIterator[Database]:
    """The app's Database with a pool of exactly one connection, so users share it."""
    db = Database(world.app_url)
    await db.engine.dispose()
    db.engine = create_async_engine(world.app_url, pool_size=1, max_overflow=0)
    db.sessions = async_sessionmaker(db.engine, expire_on_commit=False)
    try:
        yield db
    finally:
        await db.close()


async def test_a_pooled_connection_reused_by_two_users_leaks_nothing(
    world: World, one_connection: Database
) -> None:
    db = one_connection
    alice = db.as_actor(Actor(world.users["alice@example.com"], "alice@example.com", "token"))
    bob = db.as_actor(Actor(world.users["bob@example.com"], "bob@example.com", "token"))

    async def seen(view: Database) -> tuple[int, set[str]]:
        async with view.session() as s:
            pid = int((await s.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            # Deliberately unscoped: no project filter at all.
            runs = {r.project_id for r in (await s.execute(select(RunRow))).scalars()}
            return pid, runs

    pid_a, runs_a = await seen(alice)
    pid_b, runs_b = await seen(bob)
    assert pid_a == pid_b
    assert runs_a == {world.projects["a"]} and runs_b == {world.projects["b"]}

    # A transaction of Alice's that fails half-way leaves nothing behind either.
    with pytest.raises(RuntimeError):
        async with alice.session() as s:
            await s.execute(select(RunMetricRow))
            raise RuntimeError("boom")
    assert (await seen(bob))[1] == {world.projects["b"]}

    # After both, the same connection outside any user's transaction sees nothing.
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() == pid_a
        setting = (
            await conn.execute(text("SELECT current_setting('modellab.user_id', true)"))
        ).scalar_one()
        assert setting in (None, "")
        assert (await conn.execute(text("SELECT count(*) FROM runs"))).scalar_one() == 0
