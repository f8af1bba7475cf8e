"""docs/access.md: its commands run, tokens work from the CLI, its PostgreSQL setup works."""

from __future__ import annotations

import asyncio
import re
import shlex
import uuid

from sqlalchemy import text

from modellab.access.actor import Actor
from modellab.access.users import ensure_user
from modellab.store.database import open_database
from modellab.store.projects import insert_project
from tests.conftest import REPO, Env

DOC = REPO / "docs" / "access.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_every_command_in_the_access_guide_runs(ml: Env) -> None:
    commands = [ln.strip() for b in _blocks("bash") for ln in b.splitlines() if ln.strip()]
    assert len(commands) >= 5
    for command in commands:
        argv = shlex.split(command)
        assert argv[:3] == ["uv", "run", "modellab"], command
        result = ml.run(*argv[3:])
        assert result.output.strip(), f"{command} printed nothing"
    tokens = ml.json("token", "list")
    assert sorted((t["name"], t["project"], t["read_only"]) for t in tokens) == [
        ("ci-reader", "team", True),
        ("laptop", None, False),
        ("nightly", None, False),
    ]
    (nightly,) = (t for t in tokens if t["name"] == "nightly")
    assert nightly["expires_at"] is not None


def test_the_cli_acts_as_the_token_user(ml: Env) -> None:
    ml.run("project", "create", "team")
    reader = ml.json("token", "create", "--name", "r", "--project", "team", "--read-only")
    secret = reader["secret"]
    assert secret.startswith("mlt_")
    as_reader = Env(ml.home, ml.artifacts, ml.env | {"MODELLAB_TOKEN": secret})
    assert "No runs yet" in as_reader.run("runs", "--project", "team").output
    refused = as_reader.run("project", "create", "other", ok=False)
    assert refused.exit_code != 0
    assert "cannot create projects" in refused.output and "Traceback" not in refused.output

    listed = ml.run("token", "list").output
    assert reader["token"]["id"] in listed and secret not in listed
    ml.run("token", "revoke", reader["token"]["id"])
    revoked = as_reader.run("runs", "--project", "team", ok=False)
    assert revoked.exit_code != 0
    assert "MODELLAB_TOKEN" in revoked.output and "Traceback" not in revoked.output


def test_the_postgres_role_setup_in_the_guide_works(postgres_url: str) -> None:
    import asyncpg

    (sql,) = _blocks("sql")
    suffix = uuid.uuid4().hex[:8]
    owner, app, database = f"ml_owner_{suffix}", f"ml_app_{suffix}", f"ml_db_{suffix}"
    sql = (
        sql.replace("modellab_owner", owner)
        .replace("modellab_app", app)
        .replace("DATABASE modellab ", f"DATABASE {database} ")
    )
    admin = postgres_url
    scheme_host = admin.split("@", 1)[1].rsplit("/", 1)[0]

    async def admin_exec(statements: list[str]) -> None:
        conn = await asyncpg.connect(admin)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    statements = [s.strip() for s in sql.split(";") if s.strip()]
    create_db = [s for s in statements if s.startswith("CREATE DATABASE")]
    # The guide runs as a superuser; the test role may only create databases for roles
    # it belongs to.
    asyncio.run(admin_exec([s for s in statements if s not in create_db]))
    try:
        asyncio.run(admin_exec([f"GRANT {owner} TO CURRENT_USER", *create_db]))
        app_url = f"postgresql+asyncpg://{app}:change-me-app@{scheme_host}/{database}"
        owner_url = f"postgresql+asyncpg://{owner}:change-me-owner@{scheme_host}/{database}"

        async def use() -> tuple[list[str], int, str]:
            async with open_database(app_url, owner_url) as db:
                user = await ensure_user(db, "ada@example.com")
                as_ada = db.as_actor(Actor(user.id, user.email, "token"))
                async with as_ada.session() as s:
                    await insert_project(s, "lab", "Lab")
                async with as_ada.session() as s:
                    seen = list((await s.execute(text("SELECT slug FROM projects"))).scalars())
                async with db.engine.connect() as conn:
                    unscoped = (await conn.execute(text("SELECT count(*) FROM projects"))).scalar()
                    table_owner = (
                        await conn.execute(
                            text("SELECT tableowner FROM pg_tables WHERE tablename = 'runs'")
                        )
                    ).scalar()
                return seen, int(unscoped or 0), str(table_owner)

        seen, unscoped, table_owner = asyncio.run(use())
        assert seen == ["lab"]
        assert unscoped == 0
        assert table_owner == owner
    finally:
        asyncio.run(
            admin_exec(
                [
                    f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
                    f"DROP ROLE IF EXISTS {app}",
                    f"DROP ROLE IF EXISTS {owner}",
                ]
            )
        )


def test_the_readme_points_to_the_access_guide() -> None:
    readme = (REPO / "README.md").read_text()
    assert "docs/access.md" in readme
    for name in ("MODELLAB_PUBLIC_URL", "MODELLAB_TOKEN", "MODELLAB_MIGRATION_DATABASE_URL"):
        assert name in readme, name
