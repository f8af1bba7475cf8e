"""run role and run key

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), server_default="candidate", nullable=False)
        )
        batch_op.add_column(
            sa.Column("run_key", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.create_index(
            "ix_runs_baseline_lookup",
            ["dataset_version_id", "split_checksum", "role", "status"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_baseline_lookup")
        batch_op.drop_column("run_key")
        batch_op.drop_column("role")
