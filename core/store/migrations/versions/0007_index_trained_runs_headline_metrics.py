"""trained runs' headline metrics go into run_latest_metrics, so listings filter on them

From this revision on, a run that ends with an eval report has its headline metric values
written to ``run_latest_metrics`` (step 0), next to the values tracked runs log. This
migration does the same for the runs that ended before it. A value the run logged itself
is left as it is.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

runs = sa.table(
    "runs",
    sa.column("id", sa.String),
    sa.column("project_id", sa.String),
    sa.column("metrics", sa.JSON),
)
latest = sa.table(
    "run_latest_metrics",
    sa.column("run_id", sa.String),
    sa.column("project_id", sa.String),
    sa.column("key", sa.String),
    sa.column("step", sa.BigInteger),
    sa.column("value", sa.Float),
)


def _headline(metrics: Any) -> dict[str, float]:
    # Kept apart from modellab.store.runs.headline_values: a migration must not import app
    # code that may change later.
    headline = metrics.get("headline") if isinstance(metrics, dict) else None
    if not isinstance(headline, dict):
        return {}
    values = {}
    for name, estimate in headline.items():
        value = estimate.get("value") if isinstance(estimate, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[str(name)] = float(value)
    return values


def upgrade() -> None:
    conn = op.get_bind()
    logged = {(r, k) for r, k in conn.execute(sa.select(latest.c.run_id, latest.c.key))}
    rows = []
    for run_id, project_id, metrics in conn.execute(
        sa.select(runs.c.id, runs.c.project_id, runs.c.metrics).order_by(runs.c.id)
    ):
        for key, value in sorted(_headline(metrics).items()):
            if (run_id, key) not in logged:
                rows.append(
                    {
                        "run_id": run_id,
                        "project_id": project_id,
                        "key": key,
                        "step": 0,
                        "value": value,
                    }
                )
    if rows:
        op.bulk_insert(latest, rows)


def downgrade() -> None:
    # The step-0 rows this wrote cannot be told apart from logged step-0 values, and
    # leaving them is harmless: they only make listings filterable.
    pass
