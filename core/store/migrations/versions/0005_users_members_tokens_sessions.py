"""users, project members with roles, API tokens, sessions, magic links, sign-in states

Every project that existed before users gets the local user as its owner, so a
single-user installation keeps seeing its projects.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Kept equal to modellab.access.actor.LOCAL_USER_ID (a migration must not import app code
# that may change later).
LOCAL_USER_ID = "00000000-0000-7000-8000-000000000001"
LOCAL_EMAIL = "local@localhost"


def _when(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    users = op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=True),
        _when("created_at"),
    )
    op.create_table(
        "project_members",
        sa.Column("project_id", sa.String(36), sa.ForeignKey("projects.id", ondelete="CASCADE")),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("role", sa.String(16), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("project_id", "user_id"),
        sa.CheckConstraint("role in ('owner','editor','viewer')", name="ck_project_members_role"),
    )
    op.create_index("ix_project_members_user", "project_members", ["user_id", "project_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "project_id",
            sa.String(36),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        _when("created_at"),
        _when("last_used_at", nullable=True),
        _when("revoked_at", nullable=True),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        _when("created_at"),
        _when("expires_at"),
        _when("revoked_at", nullable=True),
    )
    op.create_table(
        "magic_links",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, index=True),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        _when("revoked_at", nullable=True),
    )
    op.create_table(
        "sign_in_states",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        _when("created_at"),
        _when("used_at", nullable=True),
    )
    now = datetime.now(UTC)
    op.bulk_insert(users, [{"id": LOCAL_USER_ID, "email": LOCAL_EMAIL, "created_at": now}])
    op.execute(
        sa.text(
            "INSERT INTO project_members (project_id, user_id, role, created_at) "
            "SELECT id, :user, 'owner', :now FROM projects"
        ).bindparams(user=LOCAL_USER_ID, now=now)
    )


def downgrade() -> None:
    op.drop_table("sign_in_states")
    op.drop_table("magic_links")
    op.drop_table("sessions")
    op.drop_table("api_tokens")
    op.drop_index("ix_project_members_user", "project_members")
    op.drop_table("project_members")
    op.drop_table("users")
