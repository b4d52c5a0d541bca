"""indexes for the queue's walks by status and its counts, read from the plans

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 05:00:00

Read from the plans of the benchmark's queue figures (EXPLAIN QUERY PLAN on SQLite,
EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL), with a million comments:
- `ix_comments_status_queue` (status, created_at, id, site_id, suggested_code) replaces
  `ix_comments_queue` (status, created_at): a queue over many sites is walked one branch per
  status (services/queue_view.py, `_by_status`), the site and "any suggestion" tested inside
  the index, without reading the table's rows.
- `ix_comments_site_queue` gains `suggested_code`: the per-site walks with "any suggestion"
  and the counts per site and status read the index alone, in its order.
- `ix_comment_suggestions_status_queue` (code, status, created_at, comment_id, site_id): one
  code's suggestions walked by status over many sites.
Plain index operations (no batch mode): on SQLite a batch rebuild of `comments` would drop
its full-text triggers.
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

SITE_QUEUE = "ix_comments_site_queue"


def upgrade() -> None:
    op.drop_index("ix_comments_queue", table_name="comments")
    op.create_index(
        "ix_comments_status_queue",
        "comments",
        ["status", "created_at", "id", "site_id", "suggested_code"],
    )
    op.drop_index(SITE_QUEUE, table_name="comments")
    op.create_index(
        SITE_QUEUE, "comments", ["site_id", "status", "created_at", "id", "suggested_code"]
    )
    op.create_index(
        "ix_comment_suggestions_status_queue",
        "comment_suggestions",
        ["code", "status", "created_at", "comment_id", "site_id"],
    )
    if op.get_bind().dialect.name == "postgresql":
        # The planner's statistics, so that it sees the new indexes at once.
        op.execute("ANALYZE comments")
        op.execute("ANALYZE comment_suggestions")


def downgrade() -> None:
    op.drop_index("ix_comment_suggestions_status_queue", table_name="comment_suggestions")
    op.drop_index(SITE_QUEUE, table_name="comments")
    op.create_index(SITE_QUEUE, "comments", ["site_id", "status", "created_at", "id"])
    op.drop_index("ix_comments_status_queue", table_name="comments")
    op.create_index("ix_comments_queue", "comments", ["status", "created_at"])
