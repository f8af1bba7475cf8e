"""run cancel requests, timeouts and delivery attempts; index for filtered run listings

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("timeout_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(
            "ix_runs_project_status_created", ["project_id", "status", "created_at", "id"]
        )
        batch_op.create_index("ix_runs_status_heartbeat", ["status", "heartbeat_at"])


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_status_heartbeat")
        batch_op.drop_index("ix_runs_project_status_created")
        batch_op.drop_column("attempts")
        batch_op.drop_column("timeout_seconds")
        batch_op.drop_column("cancel_requested_at")
