"""the comments with an action in progress, found by a partial index

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02 11:30:00

The window's start reconciles (services/moderation.py, `reconcile`): it looked for pending
entries without an outcome by testing every pending entry of the log for one, about 97,000
at a million comments, 0.15-0.2 s of CPU on one core while the window was being shown. A
pending action entry without an outcome is its comment's `pending_entry_id` (set in the
entry's commit, cleared in its outcome's), so `ix_comments_pending`, over the few comments
that have one, finds them at once. Plain index operations (no batch mode): on SQLite a batch
rebuild of `comments` would drop its full-text triggers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

PENDING = "pending_entry_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_comments_pending", "comments", ["pending_entry_id"],
        sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING),
    )  # fmt: skip
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE comments")  # the planner sees the new index at once


def downgrade() -> None:
    op.drop_index("ix_comments_pending", table_name="comments")
