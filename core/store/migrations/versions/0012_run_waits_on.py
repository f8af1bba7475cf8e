"""run dependencies: a candidate queued with its baseline waits for that run

``waits_on`` names the run that must succeed before this one may be claimed; when that
run ends any other way, the waiting run ends too, with that run's reason. Runs that
existed before wait on nothing.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain column, no foreign key: SQLite would need a batch copy of the table to add
    # one (see 0008's downgrade for why that copy is dangerous), and the service writes
    # the id of a run it has just inserted.
    op.add_column("runs", sa.Column("waits_on", sa.String(36), nullable=True))
    op.create_index("ix_runs_waits_on", "runs", ["waits_on"])


def downgrade() -> None:
    op.drop_index("ix_runs_waits_on", table_name="runs")
    op.drop_column("runs", "waits_on")
