"""Engine, sessions and migrations.

The database is migrated to the newest Alembic revision when it is opened, so a
fresh ``MODELLAB_HOME`` works without a separate setup step.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from modellab.access.actor import Actor

MIGRATIONS = "modellab.store:migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the server read while a worker writes, and with synchronous=NORMAL a
    # commit no longer waits for the disk (a power cut may lose the last commits, never
    # corrupt the file).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """One engine plus a session factory; ``open()`` migrates to head.

    A plain Database is the system's (executors, reapers, migrations) and sees every
    project; :meth:`as_actor` gives the view of one user, whose sessions are scoped to
    that user's projects.
    """

    #: the user whose sessions these are; None for the system
    actor: Actor | None = None

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine: AsyncEngine = create_async_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _configure_sqlite)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        #: lookups of immutable rows (dataset versions), kept for this database's lifetime
        self.cache: dict[str, Any] = {}

    async def migrate(self) -> None:
        """Upgrade the schema to the newest migration."""

        def upgrade(conn: Connection) -> None:
            command.upgrade(alembic_config(conn), "head")

        async with self.engine.begin() as conn:
            await conn.run_sync(upgrade)

    def as_actor(self, actor: Actor) -> Database:
        """The same database (engine, pool, cache) seen as ``actor``."""
        view = copy.copy(self)
        view.actor = actor
        return view

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.

        The session carries the actor for the repositories' scoping; on PostgreSQL the
        user id also goes into a transaction-local setting that row-level security reads.
        """
        async with self.sessions() as session, session.begin():
            session.info["actor"] = self.actor
            if self.actor is not None and self.engine.dialect.name == "postgresql":
                await session.execute(
                    text("SELECT set_config('modellab.user_id', :user_id, true)"),
                    {"user_id": self.actor.user_id},
                )
            yield session

    async def close(self) -> None:
        """Dispose of the connection pool."""
        await self.engine.dispose()


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Database]:
    """Open (and migrate) the database at ``url`` for the duration of the block."""
    db = Database(url)
    try:
        await db.migrate()
        yield db
    finally:
        await db.close()
