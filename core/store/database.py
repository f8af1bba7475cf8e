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
    AsyncConnection,
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

    async def migrate(self, owner_url: str | None = None) -> None:
        """Upgrade the schema to the newest migration.

        With ``owner_url`` the migrations run as that role (the tables' owner), and this
        database's own role is granted what it needs to read and write rows, and no
        more: on PostgreSQL the app and the workers then own no table, so row-level
        security binds them.
        """

        def upgrade(conn: Connection) -> None:
            command.upgrade(alembic_config(conn), "head")

        owner = create_async_engine(owner_url) if owner_url else self.engine
        try:
            async with owner.begin() as conn:
                if owner.dialect.name == "postgresql":
                    # Migrations may move rows; they act for the system, not for a user.
                    await conn.execute(text("SELECT set_config('modellab.system', 'on', true)"))
                await conn.run_sync(upgrade)
                if owner is not self.engine and owner.dialect.name == "postgresql":
                    await _grant_rows(conn, self.engine.url.username or "")
        finally:
            if owner is not self.engine:
                await owner.dispose()

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
            if self.engine.dialect.name == "postgresql":
                # Transaction-local (the third argument), so a pooled connection carries
                # nothing over to the next user.
                if self.actor is None:
                    await session.execute(text("SELECT set_config('modellab.system', 'on', true)"))
                else:
                    await session.execute(
                        text("SELECT set_config('modellab.user_id', :user_id, true)"),
                        {"user_id": self.actor.user_id},
                    )
            yield session

    async def close(self) -> None:
        """Dispose of the connection pool."""
        await self.engine.dispose()


async def _grant_rows(conn: AsyncConnection, role: str) -> None:
    """Let ``role`` read and write rows (under row-level security), and nothing else."""
    if not role:
        raise ValueError("the database URL names no user to grant access to")
    name = conn.dialect.identifier_preparer.quote(role)
    for statement in (
        f"GRANT USAGE ON SCHEMA public TO {name}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}",
        f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {name}",
    ):
        await conn.execute(text(statement))


@asynccontextmanager
async def open_database(url: str, owner_url: str | None = None) -> AsyncIterator[Database]:
    """Open (and migrate, as ``owner_url`` when given) the database at ``url``."""
    db = Database(url)
    try:
        await db.migrate(owner_url)
        yield db
    finally:
        await db.close()
