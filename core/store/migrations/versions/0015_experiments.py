"""experiments, imported runs and run inputs: what the MLflow endpoint and import need

An experiment is a named group of a project's tracked runs, numbered per project as
MLflow numbers them ("0" is the project's Default experiment, made on first use). A run
may name the MLflow run it was imported from (``imported_from``, unique per project, so
importing twice creates nothing twice) and keeps the dataset inputs its code declared
(MLflow's ``log_inputs``) as a JSON list. On PostgreSQL ``experiments`` is forced under
row-level security like the other project tables.

``runs.experiment_id`` has no foreign key: on SQLite adding one rebuilds the runs table,
and the rebuild's DROP TABLE would cascade to every run's metrics and notes.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SYSTEM = "(SELECT modellab_system())"
MEMBER = "project_id = ANY ((SELECT modellab_member_projects())::text[])"


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "project_id",
            sa.String(36),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project_id", "number", name="uq_experiments_number"),
        sa.UniqueConstraint("project_id", "name", name="uq_experiments_name"),
    )
    # Plain ALTERs, not a batch: SQLite adds and drops these in place.
    op.add_column("runs", sa.Column("experiment_id", sa.String(36), nullable=True))
    op.add_column("runs", sa.Column("imported_from", sa.String(200), nullable=True))
    op.add_column(
        "runs",
        sa.Column(
            "inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            server_default=sa.text("'[]'"),
        ),
    )
    op.create_index("ix_runs_experiment", "runs", ["experiment_id"])
    op.create_index("uq_runs_imported_from", "runs", ["project_id", "imported_from"], unique=True)
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE experiments ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE experiments FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY system ON experiments USING ({SYSTEM})")
    op.execute(f"CREATE POLICY members ON experiments USING ({MEMBER})")


def downgrade() -> None:
    op.drop_index("uq_runs_imported_from", table_name="runs")
    op.drop_index("ix_runs_experiment", table_name="runs")
    op.drop_column("runs", "inputs")
    op.drop_column("runs", "imported_from")
    op.drop_column("runs", "experiment_id")
    op.drop_table("experiments")
