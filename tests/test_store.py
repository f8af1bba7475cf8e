"""The store: migrations match the models, constraints hold, times stay UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from modellab.settings import Settings
from modellab.store.database import open_database
from modellab.store.models import Base, ProjectRow, RunRow


async def test_migrations_create_exactly_the_models(database_url: str) -> None:
    async with open_database(database_url) as db:

        def diff(conn: Connection) -> list[object]:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))

        def tables(conn: Connection) -> list[str]:
            return sorted(inspect(conn).get_table_names())

        async with db.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
            assert await conn.run_sync(tables) == [
                "alembic_version",
                "api_tokens",
                "dataset_notes",
                "dataset_versions",
                "magic_links",
                "project_members",
                "projects",
                "run_latest_metrics",
                "run_metrics",
                "run_notes",
                "run_params",
                "runs",
                "sessions",
                "sign_in_states",
                "users",
            ]


async def test_opening_twice_is_idempotent(database_url: str) -> None:
    url = database_url
    async with open_database(url):
        pass
    async with open_database(url) as db, db.session() as s:
        s.add(ProjectRow(id="p1", slug="p", name="P", created_at=datetime.now(UTC)))


async def test_a_run_without_seed_or_code_version_is_refused(database_url: str) -> None:
    async with open_database(database_url) as db:
        async with db.session() as s:
            s.add(ProjectRow(id="p1", slug="p", name="P", created_at=datetime.now(UTC)))
        with pytest.raises(
            IntegrityError,
            match=r"NOT NULL constraint failed: runs\.seed|null value in column \"seed\"",
        ):
            async with db.session() as s:
                s.add(
                    RunRow(
                        id="r1",
                        project_id="p1",
                        dataset_version_id="nope",
                        dataset_checksum="x",
                        split_checksum="y",
                        kind="train",
                        template="t",
                        model="m",
                        seed=None,
                        config={},
                        code_version=None,
                        environment={},
                        status="queued",
                        metrics={},
                        created_at=datetime.now(UTC),
                    )
                )


async def test_times_come_back_as_utc(database_url: str) -> None:
    async with open_database(database_url) as db:
        when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        async with db.session() as s:
            s.add(ProjectRow(id="p1", slug="p", name="P", created_at=when))
        async with db.session() as s:
            row = await s.get(ProjectRow, "p1")
            assert row is not None and row.created_at == when and row.created_at.tzinfo is UTC


def test_settings_defaults_and_overrides(tmp_path: Path) -> None:
    s = Settings.from_env({"MODELLAB_HOME": str(tmp_path)})
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'modellab.db'}"
    assert s.max_upload_bytes == 1024 * 1024 * 1024
    pg = Settings.from_env(
        {"MODELLAB_DATABASE_URL": "postgresql://u@h/db", "MODELLAB_MAX_UPLOAD_MB": "5"}
    )
    assert pg.database_url == "postgresql+asyncpg://u@h/db"
    assert pg.max_upload_bytes == 5 * 1024 * 1024
