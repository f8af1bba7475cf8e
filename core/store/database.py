"""Engine, sessions and migrations.

The database is migrated to the newest Alembic revision when it is opened, so a
fresh ``MODELLAB_HOME`` works without a separate setup step. Alembic is imported only
when there is something to upgrade: a database already at the packaged head (every open
but the first) costs one query.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from modellab.access.actor import Actor
from modellab.errors import InvalidInputError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = "modellab.store:migrations"
#: the first revision whose row-level security wants a signed context (see that migration)
SIGNED_CONTEXT_REVISION = "0010"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    from alembic.config import Config

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


def _create_owner_only(path: Path) -> None:
    """Create the SQLite file 0600 in a 0700 folder before SQLite opens it.

    SQLite gives its -wal and -shm files the database file's permissions.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


#: the keys that sign row-level security contexts, by database (not by role): every
#: Database of this process on the same database uses the key one of them read as the
#: tables' owner (the CLI and the tests open several on one database). A database gets a
#: new key only when revision 0010 is undone and done again; processes started before
#: that must be restarted.
_KEYS: dict[str, bytes] = {}

# No row: the database has no key yet (it is older than SIGNED_CONTEXT_REVISION). By oid,
# because naming a schema this role may not use would be an error, not a false.
_KEY_READABLE = text(
    """
    SELECT has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'modellab_private' AND c.relname = 'context_key'
    """
)


def _database_id(url: URL) -> str:
    return url.set(drivername="postgresql", username=None, password=None).render_as_string()


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
                _create_owner_only(Path(path))
        self.engine: AsyncEngine = create_async_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _configure_sqlite)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        #: lookups of immutable rows (dataset versions), kept for this database's lifetime
        self.cache: dict[str, Any] = {}
        self._database = _database_id(self.engine.url)

    async def migrate(self, owner_url: str | None = None, upgrade: bool = True) -> None:
        """Upgrade the schema to the newest migration.

        With ``owner_url`` the migrations run as that role (the tables' owner), and this
        database's own role is granted what it needs to read and write rows, and no
        more: on PostgreSQL the app and the workers then own no table, so row-level
        security binds them. The owner's connection also reads the key that signs the
        contexts row-level security trusts. With ``upgrade=False`` (a training process,
        whose starter migrated) it only reads that key.

        On PostgreSQL the work is serialized by an advisory lock: processes that start at
        once (workers, a server's training processes) would otherwise grant on the same
        tables at once, and one of them fail with "tuple concurrently updated".
        """
        owner = create_async_engine(owner_url) if owner_url else self.engine
        key: bytes | None = None
        try:
            async with owner.begin() as conn:
                if owner.dialect.name == "postgresql" and not upgrade:
                    key = (await _read_context_key(conn))[1]
                elif owner.dialect.name == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK}
                    )
                    # Migrations may move rows; they act for the system. The revisions
                    # before SIGNED_CONTEXT_REVISION admit it on 'on'; that one makes the
                    # key, and the policies from then on want the system context signed.
                    exists, key = await _read_context_key(conn)
                    if not exists:
                        await conn.execute(text("SELECT set_config('modellab.system', 'on', true)"))
                        await conn.run_sync(_upgrade, SIGNED_CONTEXT_REVISION)
                        exists, key = await _read_context_key(conn)
                    # Without the key (a role that is not the owner) nothing is signed:
                    # such a role cannot run migrations anyway.
                    if key is not None:
                        await sign_context(conn, key, None)
                if upgrade:
                    await conn.run_sync(_upgrade, "head")
                if upgrade and owner is not self.engine and owner.dialect.name == "postgresql":
                    await _grant_rows(conn, self.engine.url.username or "")
        finally:
            if owner is not self.engine:
                await owner.dispose()
        if key is not None:
            _KEYS[self._database] = key
        elif owner.dialect.name == "postgresql" and self._database not in _KEYS:
            # Fail when the process starts rather than on its first request.
            raise self._no_key()

    def as_actor(self, actor: Actor) -> Database:
        """The same database (engine, pool, cache, key) seen as ``actor``."""
        view = copy.copy(self)
        view.actor = actor
        return view

    def as_system(self) -> Database:
        """The same database seen as the system (every project): for work no user's
        view may do, such as finding an account by its address. Callers check first
        that the user they act for may have it done."""
        view = copy.copy(self)
        view.actor = None
        return view

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.

        The session carries the actor for the repositories' scoping; on PostgreSQL the
        transaction is also signed for that user (or the system), which row-level
        security checks.
        """
        async with self.sessions() as session, session.begin():
            session.info["actor"] = self.actor
            if self.engine.dialect.name == "postgresql":
                key = _KEYS.get(self._database) or await self._own_key(session)
                user_id = None if self.actor is None else self.actor.user_id
                await sign_context(session, key, user_id)
            yield session

    async def _own_key(self, session: AsyncSession) -> bytes:
        """The key read with this database's own role: it may when it owns the tables."""
        _, key = await _read_context_key(session)
        if key is None:
            raise self._no_key()
        _KEYS[self._database] = key
        return key

    def _no_key(self) -> InvalidInputError:
        return InvalidInputError(
            f"cannot sign sessions on {self.engine.url.render_as_string()}: this process "
            "has not read the key that signs row-level security contexts, and the role "
            f"{self.engine.url.username!r} may not read it; set "
            "MODELLAB_MIGRATION_DATABASE_URL to the tables' owner, which migrates the "
            "database and reads the key when the process starts (see docs/access.md)"
        )

    async def close(self) -> None:
        """Dispose of the connection pool."""
        await self.engine.dispose()


#: ``revision = "0011"`` and ``down_revision = "0010"`` (or None) lines of a migration
_REVISION_LINE = re.compile(
    r"""^(down_revision|revision)\s*(?::[^=\n]*)?=\s*(?:(["'])([^"'\n]*)\2|None)\s*$""", re.M
)


@cache
def head_revision() -> str | None:
    """The packaged migrations' single head, read from their files without Alembic.

    None when the files do not form one plain chain (a merge, branches, a revision
    this reader does not understand): callers then leave the decision to Alembic.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (Path(__file__).parent / "migrations" / "versions").glob("[!_]*.py"):
        found = {key: value or None for key, _, value in _REVISION_LINE.findall(path.read_text())}
        if not found.get("revision") or "down_revision" not in found:
            return None
        revisions.add(str(found["revision"]))
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_head(conn: Connection) -> bool:
    """Whether the database's Alembic version is the packaged head (one query)."""
    head = head_revision()
    if head is None or not inspect(conn).has_table("alembic_version"):
        return False
    current = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return list(current) == [head]


def _upgrade(conn: Connection, revision: str) -> None:
    # Alembic's command machinery (and every migration module) takes longer to import
    # than most commands take to run: load it only when there is something to upgrade.
    if revision == "head" and _at_head(conn):
        return
    from alembic import command

    command.upgrade(alembic_config(conn), revision)


async def _read_context_key(conn: AsyncConnection | AsyncSession) -> tuple[bool, bytes | None]:
    """Whether the database has a signing key, and the key if this role may read it."""
    readable = (await conn.execute(_KEY_READABLE)).scalar_one_or_none()
    if not readable:
        return readable is not None, None
    secret = await conn.scalar(text("SELECT secret FROM modellab_private.context_key"))
    return True, bytes.fromhex(secret)


def context_signature(key: bytes, nonce: str, user_id: str | None = None) -> str:
    """The signature row-level security accepts in the transaction ``nonce`` names,
    for ``user_id`` or, without one, for the system (see migration 0010)."""
    message = f"modellab.system|{nonce}" if user_id is None else f"modellab.user|{nonce}|{user_id}"
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


async def sign_context(
    conn: AsyncConnection | AsyncSession, key: bytes, user_id: str | None
) -> None:
    """Put the current transaction in ``user_id``'s context, or the system's (None).

    The settings are transaction-local (the third argument), so a pooled connection
    carries nothing over to the next user, and the signature names this transaction.
    """
    nonce = str(await conn.scalar(text("SELECT modellab_context_nonce()")))
    signature = context_signature(key, nonce, user_id)
    if user_id is None:
        await conn.execute(
            text("SELECT set_config('modellab.system', :signature, true)"),
            {"signature": signature},
        )
    else:
        await conn.execute(
            text(
                "SELECT set_config('modellab.user_id', :user_id, true), "
                "set_config('modellab.user_sig', :signature, true)"
            ),
            {"user_id": user_id, "signature": signature},
        )


async def _grant_rows(conn: AsyncConnection, role: str) -> None:
    """Let ``role`` read and write rows (under row-level security), and nothing else.

    In particular not the signing key: ``role`` may not use ``modellab_private``.
    """
    if not role:
        raise ValueError("the database URL names no user to grant access to")
    if role == await conn.scalar(text("SELECT current_user")):
        return  # one role for both URLs: it owns everything, and revoking would lock it out
    name = conn.dialect.identifier_preparer.quote(role)
    for statement in (
        f"GRANT USAGE ON SCHEMA public TO {name}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}",
        f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {name}",
        # Nothing above reaches this schema; these undo a grant made by hand.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA modellab_private FROM {name}",
        f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA modellab_private FROM {name}",
        f"REVOKE ALL ON SCHEMA modellab_private FROM {name}",
    ):
        await conn.execute(text(statement))


#: the advisory lock key :meth:`Database.migrate` holds on PostgreSQL ("modellab")
_MIGRATE_LOCK = int.from_bytes(b"modellab", "big") & 0x7FFFFFFFFFFFFFFF


@asynccontextmanager
async def open_database(
    url: str, owner_url: str | None = None, migrate: bool = True
) -> AsyncIterator[Database]:
    """Open (and migrate, as ``owner_url`` when given) the database at ``url``; with
    ``migrate=False`` only read the signing key (see :meth:`Database.migrate`)."""
    db = Database(url)
    try:
        await db.migrate(owner_url, upgrade=migrate)
        yield db
    finally:
        await db.close()
