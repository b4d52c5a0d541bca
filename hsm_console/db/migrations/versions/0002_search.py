"""full-text search over comments; screening suggestion columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:00:00

Full-text search indexes a comment's author name and text:
- SQLite: an FTS5 table over `comments` (external content, so the text is stored once),
  kept in step by triggers on insert, delete and on update of either column.
- PostgreSQL: a GIN index over the same `to_tsvector` expression the queue queries use, so
  PostgreSQL keeps it current by itself.
Both use the language-neutral 'simple' / 'unicode61' rules (no stemming): comments arrive in
English, Spanish and more, and a moderator searching a word wants that word.

Neither object is in the ORM metadata. On SQLite, a later migration that rebuilds `comments`
in batch mode drops its triggers with the old table: such a migration must create them
again afterwards (the statements of `sqlite_search_ddl` below; they are idempotent).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_FTS_TABLE = "comments_fts"
POSTGRESQL_INDEX = "ix_comments_fulltext"
# Must match hsm_console.services.queue_view, or PostgreSQL will not use the index.
POSTGRESQL_DOCUMENT = "to_tsvector('simple', author_name || ' ' || text)"


def sqlite_search_ddl() -> list[str]:
    """The FTS5 table and the triggers that keep it in step with `comments`."""
    fts = SQLITE_FTS_TABLE
    insert_new = (
        f"INSERT INTO {fts}(rowid, author_name, text) VALUES (new.id, new.author_name, new.text);"
    )
    delete_old = (
        f"INSERT INTO {fts}({fts}, rowid, author_name, text) "
        "VALUES ('delete', old.id, old.author_name, old.text);"
    )
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5("
        "author_name, text, content='comments', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_after_insert AFTER INSERT ON comments "
        f"BEGIN {insert_new} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_after_delete AFTER DELETE ON comments "
        f"BEGIN {delete_old} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_after_update AFTER UPDATE OF author_name, text "
        f"ON comments BEGIN {delete_old} {insert_new} END",
        # Index the comments already there.
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def upgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suggested_code", sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column("suggestion_why", sa.Text(), nullable=False, server_default="")
        )
        batch_op.create_index(
            batch_op.f("ix_comments_suggested_code"), ["suggested_code"], unique=False
        )

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in sqlite_search_ddl():
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(f"CREATE INDEX {POSTGRESQL_INDEX} ON comments USING gin ({POSTGRESQL_DOCUMENT})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("after_insert", "after_delete", "after_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {SQLITE_FTS_TABLE}_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {SQLITE_FTS_TABLE}")
    elif dialect == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {POSTGRESQL_INDEX}")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comments_suggested_code"))
        batch_op.drop_column("suggestion_why")
        batch_op.drop_column("suggested_code")
