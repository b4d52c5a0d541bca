"""the consistency dashboard's indexes on the action log

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 20:30:00

The dashboard counts decisions (pending action entries) whose outcome was applied, per week
and per reason, place or person, over hundreds of thousands of entries. Without these it
reads every whole entry (hashes, notes, before and after) on each question:
- `ix_action_log_decisions` holds every column it groups by, so a pass over the decisions
  reads the index alone;
- `ix_action_log_outcomes` finds an applied outcome by state, comment and the entry it
  completes, for the join from a decision and for each comment's first decision.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DECISIONS = ["kind", "state", "at", "action", "reason_code", "department_id", "site_id",
             "actor", "second_review", "comment_id"]  # fmt: skip
OUTCOMES = ["state", "comment_id", "outcome_of"]


def upgrade() -> None:
    with op.batch_alter_table("action_log") as batch_op:
        batch_op.create_index("ix_action_log_decisions", DECISIONS, unique=False)
        batch_op.create_index("ix_action_log_outcomes", OUTCOMES, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("action_log") as batch_op:
        batch_op.drop_index("ix_action_log_outcomes")
        batch_op.drop_index("ix_action_log_decisions")
