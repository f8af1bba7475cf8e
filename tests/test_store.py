"""The store: migrations match the models, constraints hold, times stay UTC."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from modellab.domain import RunStatus
from modellab.runs import service as run_service
from modellab.settings import Settings, normalize_database_url
from modellab.store import runs as runs_repo
from modellab.store.database import Database, alembic_config, head_revision, open_database
from modellab.store.models import (
    Base,
    DatasetVersionRow,
    ProjectRow,
    RunLatestMetricRow,
    RunRow,
)


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
                "experiments",
                "magic_links",
                "project_members",
                "projects",
                "run_latest_metrics",
                "run_metrics",
                "run_notes",
                "run_params",
                "run_tags",
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


def test_head_revision_is_alembics_head() -> None:
    # Opening a database skips Alembic when it is at this revision: it must be the head
    # Alembic itself would upgrade to.
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_a_database_behind_head_is_still_upgraded(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0009"))
    finally:
        await engine.dispose()
    async with open_database(url) as db, db.engine.connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        assert version == head_revision()


async def test_a_run_without_seed_or_code_version_is_refused(database_url: str) -> None:
    async with open_database(database_url) as db:
        async with db.session() as s:
            s.add(ProjectRow(id="p1", slug="p", name="P", created_at=datetime.now(UTC)))
        with pytest.raises(
            IntegrityError,
            match=r"NOT NULL constraint failed: runs\.seed|null value in column \"seed\"",
        ):
            async with db.session() as s:
                s.add(_run_row("r1", dataset_version_id="nope", seed=None, code_version=None))


def _run_row(run_id: str, **fields: object) -> RunRow:
    """A run row of project p1 on dataset version d1; ``fields`` override the defaults."""
    values: dict[str, object] = {
        "project_id": "p1",
        "dataset_version_id": "d1",
        "dataset_checksum": "c",
        "split_checksum": "s",
        "kind": "train",
        "template": "tabular",
        "model": "m",
        "seed": 0,
        "config": {},
        "code_version": {"modellab_version": "0", "git_commit": None, "git_dirty": False},
        "environment": {},
        "status": "queued",
        "metrics": {},
        "created_at": datetime.now(UTC),
    }
    return RunRow(id=run_id, **(values | fields))


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


def _owner_url(database_url: str, request: pytest.FixtureRequest) -> str:
    """Who may migrate ``database_url``: on PostgreSQL the tables' owner, not the app."""
    if database_url.startswith("sqlite"):
        return database_url
    return normalize_database_url(request.getfixturevalue("postgres_url"))


async def _project_with_runs(db: Database, n: int) -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    async with db.session() as s:
        s.add(ProjectRow(id="p1", slug="p", name="P", created_at=when))
        await s.flush()
        s.add(
            DatasetVersionRow(
                id="d1",
                project_id="p1",
                name="d",
                version=1,
                checksum="c",
                task="t",
                target="y",
                rows=1,
                n_columns=1,
                feature_columns=[],
                schema=[],
                profile={},
                split={},
                provenance={},
                created_at=when,
            )
        )
        await s.flush()
        for i in range(n):
            s.add(_run_row(f"r{i}", model=f"m{i % 2}", status="running", created_at=when))


def _ended(accuracy: float) -> dict[str, object]:
    return {
        "primary_metric": "accuracy",
        "headline": {
            "accuracy": {"value": accuracy, "ci_low": accuracy - 0.1, "ci_high": accuracy + 0.1},
            "log_loss": {"value": None},  # not computed: not indexed
        },
    }


async def test_trained_runs_are_filtered_by_their_headline_metrics(database_url: str) -> None:
    """Runs end with an eval report, not logged metrics; the metric filters still see them."""
    async with open_database(database_url) as db:
        await _project_with_runs(db, 3)
        async with db.session() as s:
            for i, accuracy in enumerate((0.6, 0.8, 0.9)):
                assert await runs_repo.finish(
                    s, f"r{i}", RunStatus.SUCCEEDED, None, _ended(accuracy)
                )
            # A run that already ended is not indexed twice.
            assert not await runs_repo.finish(s, "r0", RunStatus.FAILED, None, _ended(0.1))
        page = await run_service.list_runs_page(
            db, "p", run_service.RunFilter(metric="accuracy", metric_min=0.7)
        )
        assert sorted(r.id for r in page.items) == ["r1", "r2"]
        page = await run_service.list_runs_page(
            db, "p", run_service.RunFilter(metric="accuracy", metric_max=0.85, model="m0")
        )
        assert [r.id for r in page.items] == ["r0"]
        facets = await run_service.run_facets(db, "p")
        assert facets == run_service.RunFacets(
            statuses=["succeeded"],
            templates=["tabular"],
            models=["m0", "m1"],
            dataset_versions=["d1"],
            metrics=["accuracy"],
        )


async def test_migration_0007_indexes_runs_that_ended_before_it(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    owner = _owner_url(database_url, request)
    async with open_database(database_url, owner if owner != database_url else None) as db:
        await _project_with_runs(db, 2)
        async with db.session() as s:
            await s.execute(
                update(RunRow).values(status="succeeded", metrics=_ended(0.75))
            )  # as the code before 0007 left them: no run_latest_metrics rows
            s.add(
                RunLatestMetricRow(run_id="r1", project_id="p1", key="accuracy", step=9, value=0.5)
            )

    def back_to_0006(conn: Connection) -> None:
        command.downgrade(alembic_config(conn), "0006")

    engine = create_async_engine(owner)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(back_to_0006)
    finally:
        await engine.dispose()
    async with open_database(database_url, owner if owner != database_url else None) as db:
        async with db.session() as s:
            rows = (
                await s.scalars(select(RunLatestMetricRow).order_by(RunLatestMetricRow.run_id))
            ).all()
        # r0 gets its headline value; r1's logged value stays.
        assert [(r.run_id, r.key, r.step, r.value) for r in rows] == [
            ("r0", "accuracy", 0, 0.75),
            ("r1", "accuracy", 9, 0.5),
        ]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_processes_that_start_at_once_all_migrate_and_sign(database_url: str) -> None:
    """Workers and training processes start together: their grants are serialized (they
    would fail with "tuple concurrently updated"), and a training process only reads
    the key."""
    from tests.conftest import owner_env

    owner = owner_env(database_url)["MODELLAB_MIGRATION_DATABASE_URL"]

    async def start(migrate: bool) -> bool:
        async with (
            open_database(database_url, owner, migrate=migrate) as db,
            db.as_system().session() as session,
        ):
            # A signed system context: row-level security admits it to every table.
            return bool(await session.scalar(text("SELECT count(*) FROM projects")) == 0)

    async def all_at_once() -> list[bool]:
        return list(await asyncio.gather(*(start(i % 2 == 0) for i in range(8))))

    assert asyncio.run(all_at_once()) == [True] * 8
