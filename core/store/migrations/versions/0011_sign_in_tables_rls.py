"""row-level security on the sign-in tables: users, sessions, magic links, sign-in states

Up to revision 0010 these tables had none, so SQL run as the app role (a query injected
into a request) could add a session for another user and act as them through the API,
change another user's email to its own and sign in as them by magic link, or read
magic-link and session hashes. From this revision on they are forced like the project
tables, and admit:

* the signed system context, for everything: signing in, resolving sessions and tokens,
  inviting (``modellab.access.users.ensure_user``) all run as the system;
* a signed user, only reading the users that share a project with them, and their own
  row: listing a project's members needs the co-members' emails, nothing on the request
  path needs more. No user context writes ``users``, and none reads or writes
  ``sessions``, ``magic_links`` or ``sign_in_states`` at all.

``api_tokens`` keeps the policies of 0010: a user sees and changes only their own tokens.

SQLite has no row-level security: there, scoping in the repositories is the only guard.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# As in 0010: the verified contexts, as scalar subqueries so that each check runs once
# per statement, not once per row.
SYSTEM = "(SELECT modellab_system())"
USER = "(SELECT modellab_user())"
MEMBER_OF = "((SELECT modellab_member_projects())::text[])"

# The membership is asked of project_members explicitly, not left to that table's own
# policy: that policy admits the tables' owner to every row, which would show a
# single-role setup every user.
CO_MEMBER = (
    f"id = {USER} OR EXISTS (SELECT 1 FROM project_members m "
    f"WHERE m.user_id = users.id AND m.project_id = ANY {MEMBER_OF})"
)

TABLES = ("users", "sessions", "magic_links", "sign_in_states")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY system ON {table} USING ({SYSTEM})")
    # Read only: with no INSERT, UPDATE or DELETE policy a user's context can neither
    # invite (that is the system's) nor change anyone's email, its own included.
    op.execute(f"CREATE POLICY co_members_read ON users FOR SELECT USING ({CO_MEMBER})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP POLICY IF EXISTS co_members_read ON users")
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS system ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
