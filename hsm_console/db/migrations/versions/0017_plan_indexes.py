"""indexes whose order the queue's pages read, as the plans showed them

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-02 02:00:00

Read from PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of every query of the benchmark
(`python -m benchmarks run --plans FILE`):
- `ix_comments_site_queue` gains `id`: a queue page is ordered by (`created_at`, `id`), and
  without the tiebreak PostgreSQL sorted each (site, status) branch on the fly. SQLite keeps
  the rowid at the end of every index anyway; stating it costs little there.
Plain index operations (no batch mode): on SQLite a batch rebuild of `comments` would drop
its full-text triggers.
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SITE_QUEUE = "ix_comments_site_queue"


def upgrade() -> None:
    op.drop_index(SITE_QUEUE, table_name="comments")
    op.create_index(SITE_QUEUE, "comments", ["site_id", "status", "created_at", "id"])


def downgrade() -> None:
    op.drop_index(SITE_QUEUE, table_name="comments")
    op.create_index(SITE_QUEUE, "comments", ["site_id", "status", "created_at"])
