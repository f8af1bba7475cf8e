"""run tags: free-form labels a run's code sets and may set again (MLflow's tags)

Unlike a param, which is set once, a tag's value may change while the run is open: the
newest value is kept. On PostgreSQL the table is forced under row-level security like
``run_params``: the signed system context, or a member of the run's project.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SYSTEM = "(SELECT modellab_system())"
MEMBER = "EXISTS (SELECT 1 FROM runs r WHERE r.id = run_tags.run_id)"


def upgrade() -> None:
    op.create_table(
        "run_tags",
        sa.Column(
            "run_id",
            sa.String(36),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE run_tags ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE run_tags FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY system ON run_tags USING ({SYSTEM})")
    # The runs policy decides which runs a member sees; a tag follows its run.
    op.execute(f"CREATE POLICY members ON run_tags USING ({MEMBER})")


def downgrade() -> None:
    op.drop_table("run_tags")
