"""the review list's candidates, found by a partial index

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-02 14:30:00

The list of actions needing a second review (services/review.py, `needs_review`) had no
index of its own. SQLite, planning without statistics, walked every action entry of the
log through `ix_action_log_decisions` (`kind = 'action'`), probed each for its review and
outcome and sorted them for the page: 0.14 s of CPU at a million comments (200,000 log
entries), whatever the page's length. PostgreSQL walked the primary key from the page's
start, reading every entry until the page was full, so a short list, or one department's,
read the rest of the log. `ix_action_log_second_review` holds only the hides and removals
under judgement codes (about 5 % of the log) in log order, with their department, so a
page reads about as many entries as it shows and a supervisor's departments are told apart
inside the index. `kind` leads its keys although the predicate fixes it: SQLite ranks an
index by its equality terms, and without it preferred `ix_action_log_decisions`. Plain index
operations (no batch mode), like 0028.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

SECOND_REVIEW_ACTIONS = (
    "kind = 'action' AND outcome_of IS NULL AND second_review IS true "
    "AND action IN ('hide', 'remove')"
)


def upgrade() -> None:
    op.create_index(
        "ix_action_log_second_review", "action_log", ["kind", "id", "department_id"],
        sqlite_where=sa.text(SECOND_REVIEW_ACTIONS),
        postgresql_where=sa.text(SECOND_REVIEW_ACTIONS),
    )  # fmt: skip
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE action_log")  # the planner sees the new index at once


def downgrade() -> None:
    op.drop_index("ix_action_log_second_review", table_name="action_log")
