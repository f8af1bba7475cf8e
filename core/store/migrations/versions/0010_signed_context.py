"""row-level security trusts only a signed context: the app role cannot name a user itself

Revision 0006 read the user from ``modellab.user_id`` and the system from
``modellab.system = 'on'``. Any SQL run as the app role could set those itself, so an
injected query could read every project. From this revision on, the policies trust a
setting only with a signature beside it:

* ``modellab.user_id`` holds the user and ``modellab.user_sig`` its signature,
* ``modellab.system`` holds the signature of the system context.

A signature is HMAC-SHA256, under a random key, of a message naming the context and the
current transaction (``modellab_context_nonce()``: the backend's pid and the
transaction's start time), so one seen in a log or read in one transaction is worthless
in the next. The key sits in the schema ``modellab_private``, which only the tables'
owner may use; the server reads it with the owner's connection when it migrates.
``modellab_user()`` and ``modellab_system()`` check the settings against the key as the
owner (SECURITY DEFINER) and return only the verified user or a yes/no: nothing the app
role may execute returns the key or signs a message.

SQLite has no row-level security: there, scoping in the repositories is the only guard.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: HMAC-SHA256 works on 64-byte blocks; a key no longer than that is zero-padded to one.
BLOCK = 64

OWNER = (
    "current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class "
    "WHERE oid = 'public.project_members'::regclass)"
)
MEMBER_OF = "((SELECT modellab_member_projects())::text[])"

# The contexts as each revision reads them. Verified ones are scalar subqueries, so the
# check runs once per statement, not once per row.
SIGNED = {"system": "(SELECT modellab_system())", "user": "(SELECT modellab_user())"}
UNSIGNED = {
    "system": "coalesce(current_setting('modellab.system', true), '') = 'on'",
    "user": "nullif(current_setting('modellab.user_id', true), '')",
}

#: table -> the condition a row must meet to be seen or written by a user (as in 0006)
POLICIES: dict[str, str] = {
    "projects": f"id = ANY {MEMBER_OF}",
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
    "api_tokens": "user_id = {user}",
}

POLICY_NAMES = (
    "system",
    "members",
    "members_read",
    "members_update",
    "members_delete",
    "signed_in_insert",
    "first_owner",
)


def _member_projects(user: str) -> str:
    return f"""
        CREATE OR REPLACE FUNCTION modellab_member_projects() RETURNS text[]
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, public
        AS $$
            SELECT coalesce(array_agg(project_id), '{{}}')
            FROM public.project_members WHERE user_id = {user}
        $$
        """


def _replace_policies(context: dict[str, str]) -> None:
    """Drop the policies of 0006 (or of this revision) and create them reading ``context``."""
    system, user = context["system"], context["user"]
    for table, template in POLICIES.items():
        condition = template.format(user=user)
        for name in POLICY_NAMES:
            op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")
        op.execute(f"CREATE POLICY system ON {table} USING ({system})")
        if table == "projects":
            op.execute(f"CREATE POLICY members_read ON {table} FOR SELECT USING ({condition})")
            op.execute(
                f"CREATE POLICY members_update ON {table} FOR UPDATE "
                f"USING ({condition}) WITH CHECK ({condition})"
            )
            op.execute(f"CREATE POLICY members_delete ON {table} FOR DELETE USING ({condition})")
            op.execute(
                f"CREATE POLICY signed_in_insert ON {table} FOR INSERT "
                f"WITH CHECK ({user} IS NOT NULL)"
            )
        else:
            op.execute(f"CREATE POLICY members ON {table} USING ({condition})")
        if table == "project_members":
            op.execute(
                f"CREATE POLICY first_owner ON {table} FOR INSERT WITH CHECK "
                f"(user_id = {user} AND modellab_project_unclaimed(project_id))"
            )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE SCHEMA modellab_private")
    op.execute("REVOKE ALL ON SCHEMA modellab_private FROM PUBLIC")
    op.execute(
        """
        CREATE TABLE modellab_private.context_key (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            secret text NOT NULL,
            inner_pad bytea NOT NULL,
            outer_pad bytea NOT NULL
        )
        """
    )
    op.execute("REVOKE ALL ON modellab_private.context_key FROM PUBLIC")
    # SQL has no XOR on bytea, so HMAC's two padded keys are worked out here, once.
    secret = secrets.token_hex(32)
    block = bytes.fromhex(secret).ljust(BLOCK, b"\0")
    op.execute(
        sa.text(
            "INSERT INTO modellab_private.context_key (secret, inner_pad, outer_pad) "
            "VALUES (:secret, decode(:inner, 'hex'), decode(:outer, 'hex'))"
        ).bindparams(
            secret=secret,
            inner=bytes(b ^ 0x36 for b in block).hex(),
            outer=bytes(b ^ 0x5C for b in block).hex(),
        )
    )
    # The signing function stays private and runs with its caller's rights, so even a
    # stray EXECUTE grant would not let the app role read the key through it.
    op.execute(
        """
        CREATE FUNCTION modellab_private.signature(message text) RETURNS text
        LANGUAGE sql STABLE
        SET search_path = pg_catalog
        AS $$
            SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(message, 'UTF8'))),
                          'hex')
            FROM modellab_private.context_key k
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION modellab_private.signature(text) FROM PUBLIC")
    # Epoch microseconds, not the timestamp's text, which TimeZone and DateStyle change.
    op.execute(
        """
        CREATE FUNCTION modellab_context_nonce() RETURNS text
        LANGUAGE sql STABLE
        SET search_path = pg_catalog
        AS $$
            SELECT pg_backend_pid()::text || '-'
                || (extract(epoch FROM transaction_timestamp()) * 1000000)::bigint::text
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION modellab_system() RETURNS boolean
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, public
        AS $$
            SELECT coalesce(
                current_setting('modellab.system', true)
                    = modellab_private.signature(
                        'modellab.system|' || public.modellab_context_nonce()),
                false)
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION modellab_user() RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, public
        AS $$
            SELECT s.user_id
            FROM (SELECT nullif(current_setting('modellab.user_id', true), '') AS user_id) s
            WHERE current_setting('modellab.user_sig', true)
                = modellab_private.signature(
                    'modellab.user|' || public.modellab_context_nonce() || '|' || s.user_id)
        $$
        """
    )
    op.execute(_member_projects("(SELECT public.modellab_user())"))
    _replace_policies(SIGNED)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace_policies(UNSIGNED)
    op.execute(_member_projects(UNSIGNED["user"]))
    op.execute("DROP FUNCTION modellab_user()")
    op.execute("DROP FUNCTION modellab_system()")
    op.execute("DROP FUNCTION modellab_context_nonce()")
    op.execute("DROP SCHEMA modellab_private CASCADE")
