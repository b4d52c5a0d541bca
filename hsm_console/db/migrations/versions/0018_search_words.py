"""full-text search over the program's own words, alike on SQLite and PostgreSQL

Revision ID: 0018
Revises: 0013
Create Date: 2026-12-02 02:30:00

Migrations 0002 and 0013 indexed `author_name || ' ' || text` as each database's parser split
it, and the two split differently (PostgreSQL by URLs, hosts, paths, and by its locale's
letters), so a search found a comment's own words on one and not on the other. Now the
program splits: each of comments, retained_records and comment_versions gets `search_words`
(rules/search_words.py), filled here for the rows already there, and the indexes are built
over those words as they are (db/search_index.py). On PostgreSQL `hsm_dispose` blanks the
words with the text. The record tables are append-only: their guard triggers are switched
off for the fill alone, inside this migration's transaction.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from hsm_console.db import disposal, search_index
from hsm_console.rules.search_words import document

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_BATCH = 5000
# The guards of the append-only tables (db/append_only.py, db/disposal.py) on each database.
_SQLITE_GUARDS = ("retained_records_no_update", "comment_versions_no_update")
_PG_GUARDS = {"retained_records": "retained_records_append_only",
              "comment_versions": "comment_versions_append_only"}  # fmt: skip
# The indexes of 0002 and 0013, for the downgrade.
_OLD_SQLITE = (
    "CREATE VIRTUAL TABLE {t}_fts USING fts5(author_name, text, content='{t}', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
)
_OLD_PG = (
    "CREATE INDEX ix_{t}_fulltext ON {t} USING gin "
    "(to_tsvector('simple', author_name || ' ' || text))"
)


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    for name in search_index.TABLES:
        op.add_column(name, sa.Column("search_words", sa.Text(), nullable=False,
                                      server_default=""))  # fmt: skip
        if dialect == "sqlite":
            for statement in search_index.sqlite_drop(name):
                op.execute(statement)
        else:
            op.execute(f"DROP INDEX IF EXISTS ix_{name}_fulltext")
    guards = _switch_guards_off(bind, dialect)
    for name in search_index.TABLES:
        _fill(bind, name)
    _switch_guards_on(bind, dialect, guards)
    for name in search_index.TABLES:
        if dialect == "sqlite":
            for statement in search_index.sqlite_ddl(name):
                op.execute(statement)
        else:
            op.execute(search_index.postgresql_ddl(name))
    if dialect == "postgresql":
        for statement in disposal.postgresql_dispose_words():
            op.execute(statement)


def _fill(bind: Any, name: str) -> None:
    """Each row's words, a batch of rows at a time (ids ascending)."""
    rows = sa.table(name, sa.column("id"), sa.column("author_name"), sa.column("text"),
                    sa.column("search_words"))  # fmt: skip
    update = (
        sa.update(rows)
        .where(rows.c.id == sa.bindparam("row_id"))
        .values(search_words=sa.bindparam("words"))
    )
    last = 0
    while True:
        batch = bind.execute(
            sa.select(rows.c.id, rows.c.author_name, rows.c.text)
            .where(rows.c.id > last).order_by(rows.c.id).limit(_BATCH)
        ).all()  # fmt: skip
        if not batch:
            return
        values = [{"row_id": i, "words": document(a, t)} for i, a, t in batch]
        changed = [v for v in values if v["words"]]  # '' is the column's default
        if changed:
            bind.execute(update, changed)
        last = batch[-1][0]


def _switch_guards_off(bind: Any, dialect: str) -> list[str]:
    """The guards' own DDL, to put them back as they were (SQLite's), after the fill."""
    if dialect == "postgresql":
        for name, trigger in _PG_GUARDS.items():
            op.execute(f"ALTER TABLE {name} DISABLE TRIGGER {trigger}")
        return []
    found = bind.execute(
        sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN "
                "(:a, :b)"), {"a": _SQLITE_GUARDS[0], "b": _SQLITE_GUARDS[1]},
    ).all()  # fmt: skip
    for trigger, _ in found:
        op.execute(f"DROP TRIGGER {trigger}")
    return [sql for _, sql in found]


def _switch_guards_on(bind: Any, dialect: str, guards: list[str]) -> None:
    if dialect == "postgresql":
        for name, trigger in _PG_GUARDS.items():
            op.execute(f"ALTER TABLE {name} ENABLE TRIGGER {trigger}")
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for statement in disposal.postgresql_dispose_words(blank_words=False):
            op.execute(statement)
    for name in search_index.TABLES:
        if dialect == "sqlite":
            for statement in search_index.sqlite_drop(name):
                op.execute(statement)
        else:
            op.execute(f"DROP INDEX IF EXISTS ix_{name}_fulltext")
        op.drop_column(name, "search_words")
        if dialect == "sqlite":
            fts = f"{name}_fts"
            insert_new = (f"INSERT INTO {fts}(rowid, author_name, text) "
                          "VALUES (new.id, new.author_name, new.text);")  # fmt: skip
            delete_old = (f"INSERT INTO {fts}({fts}, rowid, author_name, text) "
                          "VALUES ('delete', old.id, old.author_name, old.text);")  # fmt: skip
            for statement in (
                _OLD_SQLITE.format(t=name),
                f"CREATE TRIGGER {fts}_after_insert AFTER INSERT ON {name} BEGIN {insert_new} END",
                f"CREATE TRIGGER {fts}_after_delete AFTER DELETE ON {name} BEGIN {delete_old} END",
                f"CREATE TRIGGER {fts}_after_update AFTER UPDATE OF author_name, text ON {name} "
                f"BEGIN {delete_old} {insert_new} END",
                f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
            ):
                op.execute(statement)
        else:
            op.execute(_OLD_PG.format(t=name))
