"""Alembic environment: runs on the connection ModelLab hands over."""

from __future__ import annotations

from alembic import context

from modellab.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "ModelLab migrations run through modellab.store.database.Database.migrate(), "
        "which passes a connection"
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
