"""metric points as logged: the logger's timestamp, and NaN kept as NaN

``timestamp`` is the time (ms since the epoch) the logging code gave a point; points
logged before have none. ``nan`` marks a point whose value was NaN: SQLite cannot store a
NaN in a REAL column (it becomes NULL), so the value column holds 0 and the flag says what
it was; infinities are stored as they are. ``run_latest_metrics`` gets the same flag, so
that a listing's metric range never matches a NaN.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("run_metrics", sa.Column("timestamp", sa.BigInteger(), nullable=True))
    op.add_column("run_metrics", sa.Column("nan", sa.Boolean(), nullable=True))
    op.add_column("run_latest_metrics", sa.Column("nan", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("run_latest_metrics", "nan")
    op.drop_column("run_metrics", "nan")
    op.drop_column("run_metrics", "timestamp")
