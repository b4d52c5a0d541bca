"""indexes whose leading columns match the dashboard's filters

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 05:00:00

Read from PostgreSQL's plans of the dashboard (`python -m benchmarks run --plans FILE`): with
one reason code or one moderator chosen, `ix_action_log_decisions` (kind, state, at, ...)
holds the column but not first, and lacks the entry id the outcomes are joined on, so the
planner read the whole of `action_log` instead. Each index here leads with the decisions
(kind, state), then the filtered column, then the time, so a filtered dashboard reads only
the decisions it shows.

On PostgreSQL only, so outside the models (`tests/test_schema.py` names them): SQLite reads
the decisions from the covering `ix_action_log_decisions` and filters within it, never a
row; with these it took the narrower indexes for their order (GROUP BY actor, ORDER BY
department) and read every decision's row, slower by half.
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_action_log_decisions_department": ["kind", "state", "department_id", "at"],
    "ix_action_log_decisions_code": ["kind", "state", "reason_code", "at"],
    "ix_action_log_decisions_actor": ["kind", "state", "actor", "at"],
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, columns in INDEXES.items():
            op.create_index(name, "action_log", columns)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in INDEXES:
            op.drop_index(name, table_name="action_log")
