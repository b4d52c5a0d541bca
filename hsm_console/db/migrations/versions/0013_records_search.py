"""full-text search over retained records and comment versions, for records requests

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 23:00:00

A records request asks for words wherever the City kept them: the comment now (migration
0002), the retained records (the comment as it stood when acted on) and the text an author
replaced by editing (`comment_versions`). Same rules as 0002 (author name and text, no
stemming), same two forms:
- SQLite: an FTS5 table over each (external content), kept in step by triggers on insert,
  delete and update: both tables are append-only, but a lawful disposal blanks a record, and
  its words must leave the index with it;
- PostgreSQL: a GIN index over the `to_tsvector` expression the search queries use.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("retained_records", "comment_versions")
# Must match hsm_console.services.queue_view.rows_matching, or PostgreSQL will not use it.
POSTGRESQL_DOCUMENT = "to_tsvector('simple', author_name || ' ' || text)"


def _sqlite_ddl(table: str) -> list[str]:
    fts = f"{table}_fts"
    insert_new = (
        f"INSERT INTO {fts}(rowid, author_name, text) VALUES (new.id, new.author_name, new.text);"
    )
    delete_old = (
        f"INSERT INTO {fts}({fts}, rowid, author_name, text) "
        "VALUES ('delete', old.id, old.author_name, old.text);"
    )
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5("
        f"author_name, text, content='{table}', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_after_insert AFTER INSERT ON {table} BEGIN "
        f"{insert_new} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_after_delete AFTER DELETE ON {table} BEGIN "
        f"{delete_old} END",
        # Only a lawful disposal changes a record (blanking it): its words must go with it.
        f"CREATE TRIGGER IF NOT EXISTS {fts}_after_update AFTER UPDATE OF author_name, text "
        f"ON {table} BEGIN {delete_old} {insert_new} END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        if dialect == "sqlite":
            for statement in _sqlite_ddl(table):
                op.execute(statement)
        elif dialect == "postgresql":
            op.execute(
                f"CREATE INDEX ix_{table}_fulltext ON {table} USING gin ({POSTGRESQL_DOCUMENT})"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        if dialect == "sqlite":
            for trigger in ("after_insert", "after_delete", "after_update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{trigger}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
        elif dialect == "postgresql":
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_fulltext")
