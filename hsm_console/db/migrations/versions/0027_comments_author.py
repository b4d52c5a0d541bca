"""the author's other comments read by author, newest first

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02 08:00:00

Every comment the window shows reads its author's other comments (services/notes.py,
`author_history`: same platform and author id, newest first, at most 50). With no index on
the author, SQLite walked every comment of the sites of the platform and sorted the matches:
about 130 ms of CPU a comment at a million comments, on the way to the window's first comment
and on every move to the next. `ix_comments_author` (author_id, created_at, id) finds the
author's comments in order: 0.2 ms. Plain index operations (no batch mode): on SQLite a batch
rebuild of `comments` would drop its full-text triggers.
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_comments_author", "comments", ["author_id", "created_at", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE comments")  # the planner sees the new index at once


def downgrade() -> None:
    op.drop_index("ix_comments_author", table_name="comments")
