"""the dashboard's decisions: one derived row per applied decision, kept by a trigger

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 07:30:00

The dashboard counted each decision by reading the log's covering index, probing the
outcomes' index twice per decision (was it applied, was it its comment's first) and sorting
them three ways: at a million comments most of a second inside SQLite. `dashboard_decisions`
holds what it groups by, one small row per applied decision: its Chicago week, the seconds
the comment waited, whether it was its comment's first. The dashboard groups that table by
covering indexes in their order (docs/design.md, "The consistency dashboard").

Derived data, not a record: the database keeps it itself. A trigger AFTER INSERT on
`action_log` adds the decision when its `applied` outcome is recorded (a second applied
outcome is ignored), marks whether it is its comment's first applied decision, and unmarks a
later decision of the comment applied before it. The log itself is never changed. On
PostgreSQL the trigger's function is SECURITY DEFINER (the owner's, search_path fixed), so it
writes whoever records the outcome, while a person's login only reads its departments' rows
(db/roles.py). Filled here from the log as it stands.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

COLUMNS = ("id, at, week, comment_id, department_id, site_id, actor, action, reason_code, "
           "second_review, waited, first_of_comment")  # fmt: skip
# The Monday of a UTC time's week in America/Chicago. PostgreSQL knows the zone; SQLite has
# none, so there the US rule in force since 2007 (daylight time from the second Sunday of
# March, 2 am standard, to the first Sunday of November, 2 am daylight; tests/test_dashboard.py
# checks it against zoneinfo hour by hour): the dashboard groups by this column alone.
WEEK = {
    "postgresql": "(date_trunc('week', {at} AT TIME ZONE 'America/Chicago'))::date",
    "sqlite": (
        "date({at}, CASE WHEN {at} >= datetime(strftime('%Y', {at}) || '-03-08', 'weekday 0', "
        "'+8 hours') AND {at} < datetime(strftime('%Y', {at}) || '-11-01', 'weekday 0', "
        "'+7 hours') THEN '-5 hours' ELSE '-6 hours' END, '-6 days', 'weekday 1')"
    ),
}
# Seconds from the comment's time on the platform to the decision, as the dashboard read them.
WAITED = {
    "postgresql": "extract(epoch FROM p.at - c.created_at)::double precision",
    "sqlite": "(julianday(p.at) - julianday(c.created_at)) * 86400.0",
}
# The decision an applied outcome completes, as a row of the table (`first_of_comment` left
# to the caller): the pending action entry, and its comment's time on the platform.
_DECISION = """
    SELECT p.id, p.at, {week}, p.comment_id, p.department_id, p.site_id, p.actor, p.action,
           p.reason_code, p.second_review, {waited}, {first}
    FROM action_log p LEFT JOIN comments c ON c.id = p.comment_id
    WHERE p.kind = 'action' AND p.state = 'pending' AND {which}
"""
# First: no applied decision of the same comment with a lower id (none for no comment).
_FIRST = ("NOT EXISTS (SELECT 1 FROM dashboard_decisions d "
          "WHERE d.comment_id = p.comment_id AND d.id < p.id)")  # fmt: skip
# A decision applied after a later one of its comment (a reconciliation) takes over first.
_LATER = ("UPDATE dashboard_decisions SET first_of_comment = {false} WHERE first_of_comment "
          "AND id > NEW.outcome_of AND comment_id = (SELECT comment_id FROM action_log "
          "WHERE id = NEW.outcome_of)")  # fmt: skip
_REST = ("action", "second_review", "department_id", "site_id", "reason_code", "actor", "at",
         "comment_id")  # fmt: skip
INDEXES = {
    "ix_dashboard_decisions_reason": ("week", "reason_code"),
    "ix_dashboard_decisions_place": ("week", "department_id", "site_id"),
    "ix_dashboard_decisions_person": ("week", "actor"),
    "ix_dashboard_decisions_first": ("first_of_comment", "department_id", "waited"),
}


def _decision(dialect: str, first: str, which: str) -> str:
    week = WEEK[dialect].format(at="p.at")
    return _DECISION.format(week=week, waited=WAITED[dialect], first=first, which=which)


def _triggers(dialect: str) -> list[str]:
    decision = _decision(dialect, _FIRST, "p.id = NEW.outcome_of")
    if dialect == "sqlite":
        return [
            f"""CREATE TRIGGER action_log_decided AFTER INSERT ON action_log
            WHEN NEW.state = 'applied' AND NEW.outcome_of IS NOT NULL
            BEGIN
                INSERT OR IGNORE INTO dashboard_decisions ({COLUMNS}) {decision};
                {_LATER.format(false=0)};
            END"""
        ]
    return [
        f"""CREATE FUNCTION hsm_dashboard_decided() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER SET search_path = pg_catalog, public AS $$
        BEGIN
            INSERT INTO dashboard_decisions ({COLUMNS}) {decision}
            ON CONFLICT (id) DO NOTHING;
            IF FOUND THEN
                {_LATER.format(false="false")};
            END IF;
            RETURN NULL;
        END $$""",
        "REVOKE ALL ON FUNCTION hsm_dashboard_decided() FROM PUBLIC",
        "CREATE TRIGGER action_log_decided AFTER INSERT ON action_log FOR EACH ROW "
        "WHEN (NEW.state = 'applied' AND NEW.outcome_of IS NOT NULL) "
        "EXECUTE FUNCTION hsm_dashboard_decided()",
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "dashboard_decisions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=8), nullable=True),
        sa.Column("second_review", sa.Boolean(), nullable=False),
        sa.Column("waited", sa.Float(), nullable=True),
        sa.Column("first_of_comment", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_decisions")),
    )
    # Every applied decision already in the log (its applied outcome probed by the outcomes'
    # index, as the dashboard did), each comment's first found by a window in the same pass.
    first = "(p.comment_id IS NULL OR p.id = min(p.id) OVER (PARTITION BY p.comment_id))"
    applied = (
        "EXISTS (SELECT 1 FROM action_log o WHERE o.state = 'applied' "
        "AND o.comment_id = p.comment_id AND o.outcome_of = p.id)"
    )
    op.execute(f"INSERT INTO dashboard_decisions ({COLUMNS}) {_decision(dialect, first, applied)}")
    for name, keys in INDEXES.items():
        columns = [*keys, *(c for c in _REST if c not in keys)]
        op.create_index(name, "dashboard_decisions", columns)
    op.create_index("ix_dashboard_decisions_comment", "dashboard_decisions", ["comment_id", "id"])
    for statement in _triggers(dialect):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS action_log_decided ON action_log")
        op.execute("DROP FUNCTION IF EXISTS hsm_dashboard_decided()")
    else:
        op.execute("DROP TRIGGER IF EXISTS action_log_decided")
    op.drop_table("dashboard_decisions")
