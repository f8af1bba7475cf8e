"""Row-level security on PostgreSQL: the database itself keeps projects apart.

Everything here runs as the app role of the PostgreSQL tests (see ``APP_ROLE``): it owns
no table and cannot bypass row-level security. Two users each own a project holding a
row in every project-scoped table; each test then tries to reach the other's rows
without the repositories' scoping, with SQL of its own, as an injected query would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from modellab.access.actor import Actor
from modellab.access.secrets import digest, new_secret
from modellab.access.users import User
from modellab.errors import InvalidInputError
from modellab.server.auth.magic_link import CONFIRM_PATH
from modellab.server.auth.sessions import COOKIE, create_session
from modellab.settings import normalize_database_url
from modellab.store import database
from modellab.store.database import Database, alembic_config, context_signature, open_database
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
    key: bytes  # the key that signs contexts, read as the owner
    users: dict[str, str]  # email -> user id
    projects: dict[str, str]  # slug -> project id
    runs: dict[str, str]  # slug -> a run id of that project


def _asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _sign(conn: asyncpg.Connection, key: bytes, user: str | None) -> None:
    """Sign the current transaction for ``user`` (None: the system), as the app does."""
    nonce = await conn.fetchval("SELECT modellab_context_nonce()")
    signature = context_signature(key, nonce, user)
    if user is None:
        await conn.execute("SELECT set_config('modellab.system', $1, true)", signature)
    else:
        await conn.execute(
            "SELECT set_config('modellab.user_id', $1, true), "
            "set_config('modellab.user_sig', $2, true)",
            user,
            signature,
        )


@asynccontextmanager
async def _transaction(
    url: str, key: bytes | None = None, user: str | None = None
) -> AsyncIterator[asyncpg.Connection]:
    """A connection in one transaction; with ``key`` signed for ``user`` (None: the
    system), else with no context at all."""
    conn = await asyncpg.connect(_asyncpg_url(url))
    try:
        async with conn.transaction():
            if key is not None:
                await _sign(conn, key, user)
            yield conn
    finally:
        await conn.close()


async def _fetch(url: str, sql: str, *args: Any) -> list[Any]:
    """Run one query in its own transaction, with no context."""
    async with _transaction(url) as conn:
        return list(await conn.fetch(sql, *args))


async def _fetch_as(world: World, user: str, sql: str, *args: Any) -> list[Any]:
    """Run one query as the app role in a transaction properly signed for ``user``."""
    async with _transaction(world.app_url, world.key, user) as conn:
        return list(await conn.fetch(sql, *args))


async def _project_tables(url: str) -> list[str]:
    rows = await _fetch(
        url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    return [r["tablename"] for r in rows if r["tablename"] not in IDENTITY_TABLES]


async def _read_key(owner_url: str) -> bytes:
    conn = await asyncpg.connect(_asyncpg_url(owner_url))
    try:
        return bytes.fromhex(await conn.fetchval("SELECT secret FROM modellab_private.context_key"))
    finally:
        await conn.close()


def _fill(who: As, slug: str) -> str:
    """A project with a noted dataset, a queued run, a tracked run with params, metrics,
    a tag and a note, and an MLflow experiment; returns the tracked run's id."""
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
    who.ok(
        "POST",
        f"/api/runs/{run_id}/log",
        json={"params": {"lr": 0.1}, "metrics": metrics, "tags": {"owner": slug}},
    )
    who.ok("POST", f"/api/runs/{run_id}/notes", 201, json={"text": f"{slug} run note"})
    who.ok(
        "POST",
        f"/mlflow/{slug}/api/2.0/mlflow/experiments/create",
        json={"name": f"{slug}-sweep"},
    )
    return run_id


@pytest.fixture
def world(api_factory: Callable[..., Api], database_url: str, postgres_url: str) -> World:
    api = api_factory(QueueOnly, public_url=PUBLIC_URL)
    alice = As(api, token_for(api.settings, "alice@example.com"))
    bob = As(api, token_for(api.settings, "bob@example.com"))
    runs = {"a": _fill(alice, "a"), "b": _fill(bob, "b")}
    key = asyncio.run(_read_key(postgres_url))
    # The owner role in the signed system context sees everything: the raw truth.
    users, projects = asyncio.run(_system_ids(postgres_url, key))
    owner_url = normalize_database_url(postgres_url)
    return World(api, owner_url, database_url, key, users, projects, runs)


async def _system_ids(url: str, key: bytes) -> tuple[dict[str, str], dict[str, str]]:
    async with _transaction(url, key) as conn:
        users = {r["email"]: r["id"] for r in await conn.fetch("SELECT email, id FROM users")}
        projects = {r["slug"]: r["id"] for r in await conn.fetch("SELECT slug, id FROM projects")}
    return users, projects


async def _counts_as_system(world: World, tables: list[str]) -> dict[str, int]:
    async with _transaction(world.owner_url, world.key) as conn:
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
    counts = await _counts_as_system(world, tables)
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
    assert await _fetch_as(world, alice, "SELECT id FROM runs WHERE project_id = $1", b) == []
    assert await _fetch_as(world, alice, "SELECT * FROM projects WHERE id = $1", b) == []
    assert (
        await _fetch_as(
            world,
            alice,
            "SELECT m.* FROM run_metrics m JOIN runs r ON r.id = m.run_id WHERE r.project_id = $1",
            b,
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
            ("experiments", "project_id"),
        ):
            rows = await _fetch_as(world, user, f"SELECT {column} AS p FROM {table}")
            assert rows and {r["p"] for r in rows} == {own}, (slug, table)
        for table in ("run_notes", "run_params", "run_metrics", "run_tags"):
            rows = await _fetch_as(
                world,
                user,
                f"SELECT r.project_id AS p FROM {table} t JOIN runs r ON r.id = t.run_id",
            )
            assert rows and {r["p"] for r in rows} == {own}, (slug, table)


async def test_writes_to_another_project_change_nothing(world: World) -> None:
    alice = world.users["alice@example.com"]
    b, bob_run = world.projects["b"], world.runs["b"]
    tables = await _project_tables(world.owner_url)
    before = await _counts_as_system(world, tables)

    async def as_alice(sql: str, *args: Any) -> str:
        async with _transaction(world.app_url, world.key, alice) as conn:
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
    assert await _counts_as_system(world, tables) == before


@pytest.fixture
async def one_connection(world: World) -> AsyncIterator[Database]:
    """The app's Database with a pool of exactly one connection, so users share it."""
    db = Database(world.app_url)  # this process has read the key: the fixture migrated
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


# What arbitrary SQL as the app role could do before revision 0010, and no longer can:
# name the system or any user itself.


async def _seen_with(world: World, *settings: tuple[str, str]) -> dict[str, int]:
    """Rows of every project table seen as the app role with ``settings`` set by hand."""
    tables = await _project_tables(world.owner_url)
    async with _transaction(world.app_url) as conn:
        for name, value in settings:
            await conn.execute("SELECT set_config($1, $2, true)", name, value)
        return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in tables}


async def _captured(view: Database, *names: str) -> list[str]:
    """The settings a session of ``view`` carries, as a query inside it could read them."""
    async with view.session() as s:
        return [
            str((await s.execute(text("SELECT current_setting(:n)"), {"n": n})).scalar_one())
            for n in names
        ]


async def test_setting_the_system_on_as_the_app_role_shows_nothing(world: World) -> None:
    seen = await _seen_with(world, ("modellab.system", "on"))
    assert seen and set(seen.values()) == {0}, seen
    async with _transaction(world.app_url) as conn:
        await conn.execute("SELECT set_config('modellab.system', 'on', true)")
        assert await conn.execute("UPDATE runs SET status = 'failed'") == "UPDATE 0"
        assert await conn.fetchval("SELECT modellab_system()") is False


async def test_naming_a_user_without_a_signature_of_this_transaction_shows_nothing(
    world: World,
) -> None:
    alice, bob = world.users["alice@example.com"], world.users["bob@example.com"]
    db = Database(world.app_url)
    try:
        # Real signatures, read from inside the app's own transactions by a query there.
        (alice_sig,) = await _captured(
            db.as_actor(Actor(alice, "alice@example.com", "token")), "modellab.user_sig"
        )
        (system_sig,) = await _captured(db, "modellab.system")
    finally:
        await db.close()
    attempts = {
        "no signature": [("modellab.user_id", bob)],
        "a made-up signature": [("modellab.user_id", bob), ("modellab.user_sig", "0" * 64)],
        "Alice's signature for Bob": [("modellab.user_id", bob), ("modellab.user_sig", alice_sig)],
        "Alice's signature, replayed": [
            ("modellab.user_id", alice),
            ("modellab.user_sig", alice_sig),
        ],
        "the system's signature, replayed": [("modellab.system", system_sig)],
        "a user's signature as the system's": [("modellab.system", alice_sig)],
    }
    for attempt, settings in attempts.items():
        seen = await _seen_with(world, *settings)
        assert set(seen.values()) == {0}, (attempt, seen)


async def test_the_app_role_cannot_read_or_use_the_key(world: World) -> None:
    for sql in (
        "SELECT secret FROM modellab_private.context_key",
        "SELECT modellab_private.signature('modellab.system|1-1')",
        "CREATE OR REPLACE FUNCTION modellab_system() RETURNS boolean "
        "LANGUAGE sql AS 'SELECT true'",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await _fetch(world.app_url, sql)
    privileges = await _fetch(
        world.owner_url,
        """
        SELECT has_schema_privilege($1, 'modellab_private', 'USAGE') AS schema_usage,
               has_table_privilege($1, 'modellab_private.context_key', 'SELECT') AS key_select
        """,
        APP_ROLE,
    )
    assert dict(privileges[0]) == {"schema_usage": False, "key_select": False}


async def test_the_apps_own_sessions_still_see_what_they_should(world: World) -> None:
    alice = world.users["alice@example.com"]
    async with open_database(world.app_url, world.owner_url) as db:
        as_alice = db.as_actor(Actor(alice, "alice@example.com", "token"))
        for view, slugs in ((as_alice, ["a"]), (db, ["a", "b"])):
            async with view.session() as s:
                seen = (await s.execute(text("SELECT slug FROM projects ORDER BY slug"))).scalars()
                assert list(seen) == slugs


async def test_a_process_without_the_key_cannot_open_a_session(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "_KEYS", {})
    db = Database(world.app_url)  # the app role alone: it may not read the key
    try:
        with pytest.raises(InvalidInputError, match="MODELLAB_MIGRATION_DATABASE_URL"):
            await db.migrate()
        with pytest.raises(InvalidInputError, match="MODELLAB_MIGRATION_DATABASE_URL"):
            async with db.session():
                pass
        await db.migrate(world.owner_url)
        async with db.session() as s:
            assert (await s.execute(text("SELECT count(*) FROM projects"))).scalar_one() == 2
    finally:
        await db.close()


async def test_downgrading_below_0010_reopens_the_hole_and_upgrading_closes_it(
    world: World,
) -> None:
    def downgrade(conn: Connection) -> None:
        command.downgrade(alembic_config(conn), "0009")

    owner = create_async_engine(world.owner_url)
    try:
        async with owner.begin() as conn:
            await conn.run_sync(downgrade)
    finally:
        await owner.dispose()
    # Revision 0009's policies, as the security issue found them.
    bob = world.users["bob@example.com"]
    assert min((await _seen_with(world, ("modellab.system", "on"))).values()) > 0
    assert (await _seen_with(world, ("modellab.user_id", bob)))["projects"] == 1

    async with open_database(world.app_url, world.owner_url) as db:
        as_bob = db.as_actor(Actor(bob, "bob@example.com", "token"))
        async with as_bob.session() as s:
            seen = (await s.execute(text("SELECT slug FROM projects"))).scalars()
            assert list(seen) == ["b"]
    assert set((await _seen_with(world, ("modellab.system", "on"))).values()) == {0}
    assert set((await _seen_with(world, ("modellab.user_id", bob))).values()) == {0}


# The sign-in tables (revision 0011): only the system reads or writes sessions, magic
# links and sign-in states; a user reads the users sharing a project with them, and
# writes no user at all.

SIGN_IN_TABLES = ("users", "sessions", "magic_links", "sign_in_states")


@dataclass
class SignIn:
    """The world, plus live sign-in state: a session each for Alice and Bob, a magic
    link for Bob and a Google sign-in under way."""

    world: World
    cookies: dict[str, str]  # email -> the secret of a live session
    bob_link: str  # the secret of Bob's unused magic link


@pytest.fixture
def sign_in(world: World) -> SignIn:
    async def make() -> SignIn:
        db = Database(world.app_url)  # the app role, as the server's system_db
        try:
            cookies = {
                email: await create_session(db, User(world.users[email], email))
                for email in ("alice@example.com", "bob@example.com")
            }
        finally:
            await db.close()
        link = new_secret()
        # The app role in the signed system context may write them: the server does.
        async with _transaction(world.app_url, world.key) as conn:
            await conn.execute(
                "INSERT INTO magic_links (token_hash, email, created_at, expires_at) "
                "VALUES ($1, 'bob@example.com', now(), now() + interval '10 minutes')",
                digest(link),
            )
            await conn.execute(
                "INSERT INTO sign_in_states (state_hash, nonce, code_verifier, created_at) "
                "VALUES ($1, 'n', 'v', now())",
                digest(new_secret()),
            )
        return SignIn(world, cookies, link)

    return asyncio.run(make())


async def _sign_in_snapshot(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the sign-in tables, as the system sees them."""
    async with _transaction(world.owner_url, world.key) as conn:
        return {
            t: sorted(tuple(r) for r in await conn.fetch(f"SELECT * FROM {t}"))
            for t in SIGN_IN_TABLES
        }


def _me(api: Api, cookie: str) -> Any:
    """``/api/auth/me`` with session cookie ``cookie``."""
    api.client.cookies.clear()
    return api.client.get("/api/auth/me", headers={"Cookie": f"{COOKIE}={cookie}"})


async def test_the_sign_in_tables_have_row_level_security_enabled_and_forced(
    world: World,
) -> None:
    rows = await _fetch(
        world.owner_url,
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
        "WHERE relname = ANY($1::text[]) AND relkind = 'r'",
        list(SIGN_IN_TABLES),
    )
    assert {r["relname"]: (r["relrowsecurity"], r["relforcerowsecurity"]) for r in rows} == {
        t: (True, True) for t in SIGN_IN_TABLES
    }
    policies = await _fetch(
        world.owner_url,
        "SELECT tablename, policyname, cmd, qual FROM pg_policies "
        "WHERE tablename = ANY($1::text[])",
        [*SIGN_IN_TABLES, "api_tokens"],
    )
    assert sorted((p["tablename"], p["policyname"], p["cmd"]) for p in policies) == [
        ("api_tokens", "members", "ALL"),
        ("api_tokens", "system", "ALL"),
        ("magic_links", "system", "ALL"),
        ("sessions", "system", "ALL"),
        ("sign_in_states", "system", "ALL"),
        ("users", "co_members_read", "SELECT"),
        ("users", "system", "ALL"),
    ]
    # Every system policy trusts only the signed context; api_tokens stays as 0010 left
    # it: a user's own tokens.
    quals = {(p["tablename"], p["policyname"]): p["qual"] for p in policies}
    for table in (*SIGN_IN_TABLES, "api_tokens"):
        assert "modellab_system()" in quals[table, "system"], table
    assert "user_id" in quals["api_tokens", "members"]
    assert "modellab_user()" in quals["api_tokens", "members"]


async def test_without_a_signed_context_the_app_role_sees_and_writes_no_sign_in_row(
    sign_in: SignIn,
) -> None:
    world = sign_in.world
    before = await _sign_in_snapshot(world)
    assert all(before[t] for t in SIGN_IN_TABLES), before
    for settings in ((), (("modellab.system", "on"),)):
        async with _transaction(world.app_url) as conn:
            for name, value in settings:
                await conn.execute("SELECT set_config($1, $2, true)", name, value)
            for table in SIGN_IN_TABLES:
                assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
            assert await conn.execute("UPDATE users SET email = 'x@example.com'") == "UPDATE 0"
            assert await conn.execute("DELETE FROM sessions") == "DELETE 0"
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        await _fetch(
            world.app_url,
            "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) "
            "VALUES ('x', $1, now(), now() + interval '1 day')",
            world.users["bob@example.com"],
        )
    assert await _sign_in_snapshot(world) == before


def test_a_user_sees_only_the_users_sharing_a_project(sign_in: SignIn) -> None:
    world = sign_in.world
    alice, bob = world.users["alice@example.com"], world.users["bob@example.com"]
    as_alice = As(world.api, token_for(world.api.settings, "alice@example.com"))
    # Dave has an account and shares no project with anyone.
    token_for(world.api.settings, "dave@example.com")

    def emails(user: str) -> list[str]:
        rows = asyncio.run(_fetch_as(world, user, "SELECT email FROM users ORDER BY email"))
        return [r["email"] for r in rows]

    assert emails(alice) == ["alice@example.com"]
    assert emails(bob) == ["bob@example.com"]
    # Adding members finds an account Alice cannot see (Bob's) and makes a new one
    # (Carol's): that runs as the system, not in Alice's context.
    for email in ("bob@example.com", "carol@example.com"):
        as_alice.ok("PUT", "/api/projects/a/members", json={"email": email, "role": "viewer"})
    members = as_alice.ok("GET", "/api/projects/a/members")
    assert [m["email"] for m in members] == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    shared = ["alice@example.com", "bob@example.com", "carol@example.com"]
    assert emails(alice) == shared
    assert emails(bob) == shared  # through project a, not through his own project b
    assert asyncio.run(_system_ids(world.owner_url, world.key))[0]["bob@example.com"] == bob
    # Nobody in a user's context, Alice included, sees the secrets behind sign-in.
    for user in (alice, bob):
        for table in ("sessions", "magic_links", "sign_in_states"):
            assert asyncio.run(_fetch_as(world, user, f"SELECT * FROM {table}")) == [], table


async def test_a_user_cannot_forge_a_session_or_take_over_an_account(sign_in: SignIn) -> None:
    world = sign_in.world
    alice, bob = world.users["alice@example.com"], world.users["bob@example.com"]
    # Bob shares project a with Alice, so his row is one she may read: still not write.
    async with _transaction(world.owner_url, world.key) as conn:
        await conn.execute(
            "INSERT INTO project_members (project_id, user_id, role, created_at) "
            "VALUES ($1, $2, 'viewer', now())",
            world.projects["a"],
            bob,
        )
    assert len(await _fetch_as(world, alice, "SELECT id FROM users WHERE id = $1", bob)) == 1
    before = await _sign_in_snapshot(world)

    async def as_alice(sql: str, *args: Any) -> str:
        async with _transaction(world.app_url, world.key, alice) as conn:
            return str(await conn.execute(sql, *args))

    changed_nothing = [
        ("UPDATE users SET email = 'mallory@example.com' WHERE id = $1", bob),
        ("UPDATE users SET email = 'mallory@example.com' WHERE id = $1", alice),
        ("DELETE FROM users WHERE id = $1", bob),
        ("UPDATE sessions SET expires_at = now() + interval '1 year'",),
        ("DELETE FROM sessions",),
        ("UPDATE magic_links SET email = 'mallory@example.com'",),
        ("DELETE FROM sign_in_states",),
    ]
    for sql, *args in changed_nothing:
        assert (await as_alice(sql, *args)).endswith(" 0"), sql
    refused = [
        (
            "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) "
            "VALUES ($1, $2, now(), now() + interval '1 day')",
            digest(new_secret()),
            bob,
        ),
        (
            "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) "
            "VALUES ($1, $2, now(), now() + interval '1 day')",
            digest(new_secret()),
            alice,
        ),
        (
            "INSERT INTO magic_links (token_hash, email, created_at, expires_at) "
            "VALUES ($1, 'bob@example.com', now(), now() + interval '10 minutes')",
            digest(new_secret()),
        ),
        (
            "INSERT INTO users (id, email, created_at) VALUES ($1, 'mallory@example.com', now())",
            "00000000-0000-7000-8000-0000000000ff",
        ),
        (
            "INSERT INTO sign_in_states (state_hash, nonce, code_verifier, created_at) "
            "VALUES ($1, 'n', 'v', now())",
            digest(new_secret()),
        ),
    ]
    for sql, *args in refused:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await as_alice(sql, *args)
    assert await _sign_in_snapshot(world) == before


def test_sql_injected_into_a_request_cannot_sign_in_as_another_user(sign_in: SignIn) -> None:
    world = sign_in.world
    alice, bob = world.users["alice@example.com"], world.users["bob@example.com"]
    secret = new_secret()

    async def inject() -> None:
        db = Database(world.app_url)
        try:
            # The statement a request of Alice's would run, had it been injected into one.
            async with db.as_actor(Actor(alice, "alice@example.com", "session")).session() as s:
                await s.execute(
                    text(
                        "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) "
                        "VALUES (:hash, :user, now(), now() + interval '1 day')"
                    ),
                    {"hash": digest(secret), "user": bob},
                )
        finally:
            await db.close()

    with pytest.raises(DBAPIError, match="row-level security"):
        asyncio.run(inject())
    assert _me(world.api, secret).status_code == 401
    # The server's own sign-in, in the system context, works as before: Bob's session
    # and his magic link are his.
    assert _me(world.api, sign_in.cookies["bob@example.com"]).json()["email"] == "bob@example.com"
    world.api.client.cookies.clear()
    redeemed = world.api.client.post(
        CONFIRM_PATH,
        data={"token": sign_in.bob_link},
        headers={"Origin": PUBLIC_URL},
        follow_redirects=False,
    )
    assert redeemed.status_code == 303, redeemed.text
    assert _me(world.api, redeemed.cookies[COOKIE]).json()["email"] == "bob@example.com"


async def test_revision_0011_downgrades_and_upgrades_cleanly(sign_in: SignIn) -> None:
    world = sign_in.world

    async def protected() -> dict[str, tuple[bool, bool, int]]:
        rows = await _fetch(
            world.owner_url,
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
            FROM pg_class c WHERE c.relname = ANY($1::text[]) AND c.relkind = 'r'
            """,
            list(SIGN_IN_TABLES),
        )
        return {r["relname"]: tuple(r)[1:] for r in rows}

    before = await _sign_in_snapshot(world)
    owner = create_async_engine(world.owner_url)
    try:
        async with owner.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0010"))
    finally:
        await owner.dispose()
    assert set((await protected()).values()) == {(False, False, 0)}
    async with open_database(world.app_url, world.owner_url):
        pass
    assert (await protected())["users"] == (True, True, 2)
    assert (await protected())["sessions"] == (True, True, 1)
    assert await _sign_in_snapshot(world) == before
    assert _me(world.api, sign_in.cookies["alice@example.com"]).json()["email"] == (
        "alice@example.com"
    )
