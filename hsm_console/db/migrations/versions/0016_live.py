"""live queues and presence: notifications on PostgreSQL, and who has which comment open

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-02 01:30:00

`presence` is working state, never a record: a row per open window that shows a comment
(its holder, a random id), refreshed by a heartbeat and deleted when the window leaves the
comment; readers ignore rows whose heartbeat is older than a minute. Made on both databases
(one schema), written only on PostgreSQL.

On PostgreSQL, triggers `pg_notify` the channel `hsm_live` (services/live.py reads it) after
comments are added or changed (sync, actions), log entries are written (actions, outcomes an
agent writes from another process, reviews, notes) and presence changes. Payloads hold kinds
and ids only, never text, and stay far below NOTIFY's 8,000 bytes: a statement touching more
rows than a payload names says "these sites changed" (or every site) or "the log grew"
instead. Statement
triggers with transition tables send one notification per statement, so a sync page of
hundreds of comments is one message; PostgreSQL delivers them at commit and folds identical
ones within a transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Ids a payload names at most (10 digits and a comma each: some 4,400 bytes at worst).
MAX_IDS = 400

_POSTGRESQL = [
    f"""
    CREATE FUNCTION hsm_live_comments() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        n integer;
        ids integer[];
        sites integer[];
    BEGIN
        SELECT count(*), array_agg(id ORDER BY id), array_agg(DISTINCT site_id)
          INTO n, ids, sites FROM changed;
        IF n = 0 THEN
            RETURN NULL;
        ELSIF n <= {MAX_IDS} THEN
            PERFORM pg_notify('hsm_live', json_build_object('t', 'comments', 'ids', ids)::text);
        ELSIF cardinality(sites) <= {MAX_IDS} THEN
            PERFORM pg_notify('hsm_live', json_build_object('t', 'sites', 'ids', sites)::text);
        ELSE  -- more sites than a payload names: every site changed
            PERFORM pg_notify('hsm_live', json_build_object('t', 'sites')::text);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    "CREATE TRIGGER comments_live_insert AFTER INSERT ON comments "
    "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION hsm_live_comments()",
    "CREATE TRIGGER comments_live_update AFTER UPDATE ON comments "
    "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION hsm_live_comments()",
    f"""
    CREATE FUNCTION hsm_live_log() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        n integer;
        ids integer[];
        comments integer[];
    BEGIN
        SELECT count(*), array_agg(id ORDER BY id),
               array_agg(DISTINCT comment_id) FILTER (WHERE comment_id IS NOT NULL)
          INTO n, ids, comments FROM added;
        IF n = 0 THEN
            RETURN NULL;
        ELSIF n <= {MAX_IDS // 2} THEN
            PERFORM pg_notify('hsm_live', json_build_object(
                't', 'entries', 'ids', ids, 'comments', coalesce(comments, '{{}}'))::text);
        ELSE
            PERFORM pg_notify('hsm_live', json_build_object('t', 'log')::text);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    "CREATE TRIGGER action_log_live AFTER INSERT ON action_log "
    "REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION hsm_live_log()",
    """
    CREATE FUNCTION hsm_live_presence() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM pg_notify('hsm_live', json_build_object(
                't', 'presence', 'ids', json_build_array(NEW.comment_id))::text);
        ELSIF TG_OP = 'DELETE' THEN
            PERFORM pg_notify('hsm_live', json_build_object(
                't', 'presence', 'ids', json_build_array(OLD.comment_id))::text);
        ELSIF NEW.comment_id IS DISTINCT FROM OLD.comment_id THEN
            PERFORM pg_notify('hsm_live', json_build_object(
                't', 'presence', 'ids', json_build_array(OLD.comment_id, NEW.comment_id))::text);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    # A heartbeat changes only heartbeat_at: it fires nothing.
    "CREATE TRIGGER presence_live AFTER INSERT OR DELETE OR UPDATE OF comment_id ON presence "
    "FOR EACH ROW EXECUTE FUNCTION hsm_live_presence()",
]

_POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS presence_live ON presence",
    "DROP TRIGGER IF EXISTS action_log_live ON action_log",
    "DROP TRIGGER IF EXISTS comments_live_update ON comments",
    "DROP TRIGGER IF EXISTS comments_live_insert ON comments",
    "DROP FUNCTION IF EXISTS hsm_live_presence()",
    "DROP FUNCTION IF EXISTS hsm_live_log()",
    "DROP FUNCTION IF EXISTS hsm_live_comments()",
]


def upgrade() -> None:
    op.create_table(
        "presence",
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_presence_comment_id_comments")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_presence_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("holder", name=op.f("pk_presence")),
    )
    op.create_index(op.f("ix_presence_comment_id"), "presence", ["comment_id"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in _POSTGRESQL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _POSTGRESQL_DOWN:
            op.execute(statement)
    op.drop_index(op.f("ix_presence_comment_id"), table_name="presence")
    op.drop_table("presence")
