"""disposal blanks the first suggestion's why too: it quotes the comment

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 08:00:00

A suggestion's words name what matched, quoting the comment ('Profanity: "…"'). Disposal
blanked the comment, its records and (by 0019's trigger) `comment_suggestions.why`, but left
the first suggestion's copy in `comments.suggestion_why`, so a disposed comment's words
survived there. From here `hsm_dispose` (PostgreSQL) and the SQLite path blank it too
(db/disposal.py), and the comments already disposed of lose it now. The codes stay: a code
names what the content was, as the log's reason codes do, and is not the content.
"""

from __future__ import annotations

from alembic import op

from hsm_console.db import disposal

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE comments SET suggestion_why = '' WHERE status = 'disposed'")
    if op.get_bind().dialect.name == "postgresql":
        for statement in disposal.postgresql_dispose_suggestions():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # the words blanked stay blank
        for statement in disposal.postgresql_dispose_suggestions(blank_suggestions=False):
            op.execute(statement)
