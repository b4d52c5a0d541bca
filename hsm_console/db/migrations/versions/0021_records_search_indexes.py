"""indexes for the records officer's search: a window of the newest comments found

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 04:30:00

A records search lists the newest comments it finds, a window at a time
(services/records_search.py), and its filters on actions are met by one action entry of the
comment. The plans on a City's years of data (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's
EXPLAIN ANALYZE) read every comment of the reach and sorted them, and probed each comment's
entries through `ix_action_log_decisions` by kind alone (every action entry of the log, per
comment). Now:
- `ix_comments_newest` (created_at, id): the window walks the comments newest first and stops
  when it is full;
- `ix_action_log_comment_kind` (comment_id, kind, action, state, at): a comment's action
  entries, checked from the index alone.
Plain index operations (no batch mode): on SQLite a batch rebuild of `comments` would drop
its full-text triggers.
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_comments_newest", "comments", ["created_at", "id"])
    op.create_index(
        "ix_action_log_comment_kind", "action_log", ["comment_id", "kind", "action", "state", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_action_log_comment_kind", table_name="action_log")
    op.drop_index("ix_comments_newest", table_name="comments")
