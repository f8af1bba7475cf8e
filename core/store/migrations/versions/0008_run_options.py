"""run options: the columns a run's model sees and the thresholds of its leakage rules

A run's options sit beside its model config: they change what it computes, so they are
part of the run key, config.json, the reproduce command and compare's config diff. Runs
that existed before hold the defaults (an empty object).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTERs, no batch copy of the table: see downgrade().
    op.add_column(
        "runs",
        sa.Column(
            "options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    # A plain ALTER (SQLite 3.35+ drops columns): a batch copy of the table would drop the
    # old one, and with it, through ON DELETE CASCADE, every row that refers to a run.
    op.drop_column("runs", "options")
