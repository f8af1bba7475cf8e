"""row-level security on PostgreSQL: project data is visible to the project's members only

Every table that holds project data gets row-level security, enabled and forced (so the
table owner is held to it too), with policies that read the user from the
transaction-local setting ``modellab.user_id``. A session without that setting sees
no rows. The system's own work (executors, reapers, sign-in lookups, migrations) sets
``modellab.system`` instead; request handlers never do.

``modellab_member_projects()`` lists the current user's projects. It reads
``project_members``, whose own policy asks the same question; to read it without recursing
into itself the function runs as the tables' owner (SECURITY DEFINER), and the policy on
``project_members`` admits that role before it asks the function. (A SET clause of
``modellab.system`` on the function would be simpler, but PostgreSQL lets only superusers
put custom settings there.) The function still returns only the current user's
memberships. Policies call it inside a scalar subquery so that it runs once per
statement, not once per row.

SQLite has no row-level security: there, scoping in the repositories is the only guard.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SYSTEM = "coalesce(current_setting('modellab.system', true), '') = 'on'"
USER = "nullif(current_setting('modellab.user_id', true), '')"
OWNER = (
    "current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class "
    "WHERE oid = 'public.project_members'::regclass)"
)
# The cast makes ANY range over the array the subquery returns, not over its rows.
MEMBER_OF = "((SELECT modellab_member_projects())::text[])"

#: table -> the condition a row must meet to be seen or written by a user
POLICIES: dict[str, str] = {
    "projects": f"id = ANY {MEMBER_OF}",
    # The owner test comes first and an OR stops at the first true operand, so the
    # membership functions (which run as the owner) never call themselves.
    "project_members": f"{OWNER} OR project_id = ANY {MEMBER_OF}",
    "dataset_versions": f"project_id = ANY {MEMBER_OF}",
    "dataset_notes": (
        "EXISTS (SELECT 1 FROM dataset_versions v WHERE v.id = dataset_notes.dataset_version_id)"
    ),
    "runs": f"project_id = ANY {MEMBER_OF}",
    "run_notes": "EXISTS (SELECT 1 FROM runs r WHERE r.id = run_notes.run_id)",
    "run_params": "EXISTS (SELECT 1 FROM runs r WHERE r.id = run_params.run_id)",
    "run_metrics": "EXISTS (SELECT 1 FROM runs r WHERE r.id = run_metrics.run_id)",
    "run_latest_metrics": f"project_id = ANY {MEMBER_OF}",
    # A token belongs to its user; its project only narrows what the token may reach.
    "api_tokens": f"user_id = {USER}",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION modellab_member_projects() RETURNS text[]
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, public
        AS $$
            SELECT coalesce(array_agg(project_id), '{{}}')
            FROM public.project_members WHERE user_id = {USER}
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION modellab_project_unclaimed(project text) RETURNS boolean
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, public
        AS $$
            SELECT NOT EXISTS (SELECT 1 FROM public.project_members WHERE project_id = project)
        $$
        """
    )
    for table, condition in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY system ON {table} USING ({SYSTEM})")
        if table == "projects":
            # A new project has no members yet: any signed-in user may insert one (the
            # repository adds its owner in the same transaction); reading, changing and
            # deleting it take membership.
            op.execute(f"CREATE POLICY members_read ON {table} FOR SELECT USING ({condition})")
            op.execute(
                f"CREATE POLICY members_update ON {table} FOR UPDATE "
                f"USING ({condition}) WITH CHECK ({condition})"
            )
            op.execute(f"CREATE POLICY members_delete ON {table} FOR DELETE USING ({condition})")
            op.execute(
                f"CREATE POLICY signed_in_insert ON {table} FOR INSERT "
                f"WITH CHECK ({USER} IS NOT NULL)"
            )
        else:
            op.execute(f"CREATE POLICY members ON {table} USING ({condition})")
        if table == "project_members":
            # The creator of a new project becomes its first member (its owner); nobody
            # can join a project that already has members without being let in.
            op.execute(
                f"CREATE POLICY first_owner ON {table} FOR INSERT WITH CHECK "
                f"(user_id = {USER} AND modellab_project_unclaimed(project_id))"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS system ON {table}")
        for name in ("members", "members_read", "members_update", "members_delete"):
            op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")
        op.execute(f"DROP POLICY IF EXISTS signed_in_insert ON {table}")
        op.execute(f"DROP POLICY IF EXISTS first_owner ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION modellab_project_unclaimed(text)")
    op.execute("DROP FUNCTION modellab_member_projects()")
