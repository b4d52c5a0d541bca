"""The full-text indexes over the words the program stores (migration 0018), and the
conditions that use them (docs/design.md, "Full-text search").

Each searchable table keeps `search_words`: its author name's and text's words as
`rules.search_words.document` made them. The databases index those words as they are,
splitting on nothing but the single spaces between them:
- SQLite: an FTS5 table `<table>_fts` over `search_words` (external content, so the words
  are stored once) with the `ascii` tokenizer (our words hold only letters and digits, and it
  splits only on ASCII punctuation and spaces), kept in step by triggers;
- PostgreSQL: a GIN index `ix_<table>_fulltext` over `array_to_tsvector(string_to_array(
  search_words, ' '))`, which takes each word as a lexeme without parsing it.
A search's words (the same function) are each matched as the start of a stored word, all of
them required, and only ever as quoted words: no query syntax reaches either database.

On PostgreSQL a word can also be tested on a row already read without its tsvector
(`starts_a_word`, on SQLite too): the same answer, for a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, table
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import TableClause, TextClause

from hsm_console.errors import ConfigurationError

TABLES = ("comments", "retained_records", "comment_versions")
# Must be the GIN indexes' expression exactly, or PostgreSQL will not use them.
POSTGRESQL_DOCUMENT = "array_to_tsvector(string_to_array({table}.search_words, ' '))"


def sqlite_ddl(name: str) -> list[str]:
    """The FTS5 table over `name`'s words and the triggers that keep it in step, then a
    rebuild that indexes the rows already there. Idempotent."""
    fts = f"{name}_fts"
    insert_new = f"INSERT INTO {fts}(rowid, search_words) VALUES (new.id, new.search_words);"
    delete_old = (
        f"INSERT INTO {fts}({fts}, rowid, search_words) VALUES ('delete', old.id, "
        "old.search_words);"
    )
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(search_words, content='{name}', "
        "content_rowid='id', tokenize='ascii')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_after_insert AFTER INSERT ON {name} "
        f"BEGIN {insert_new} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_after_delete AFTER DELETE ON {name} "
        f"BEGIN {delete_old} END",
        # A comment's edit, and a lawful disposal blanking a record: old words leave.
        f"CREATE TRIGGER IF NOT EXISTS {fts}_after_update AFTER UPDATE OF search_words "
        f"ON {name} BEGIN {delete_old} {insert_new} END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def sqlite_drop(name: str) -> list[str]:
    fts = f"{name}_fts"
    return [
        *(f"DROP TRIGGER IF EXISTS {fts}_{when}" for when in ("after_insert", "after_delete",
                                                              "after_update")),
        f"DROP TABLE IF EXISTS {fts}",
    ]  # fmt: skip


def postgresql_ddl(name: str) -> str:
    document = POSTGRESQL_DOCUMENT.format(table=name)
    return f"CREATE INDEX ix_{name}_fulltext ON {name} USING gin ({document})"


def fts_table(name: str) -> TableClause:
    """SQLite's FTS5 table over `name`'s words: `rowid` is the row's id."""
    return table(f"{name}_fts", column("rowid"), column(f"{name}_fts"))


def fts5_query(terms: Sequence[str]) -> str:
    """Every term as the start of a word, each a quoted string (words hold no quote)."""
    return " ".join(f'"{term}"*' for term in terms)


def postgresql_match(name: str, terms: Sequence[str]) -> TextClause:
    """The condition on `name`'s rows, over the GIN index's expression. The query is cast,
    not parsed by `to_tsquery`, whose parser would split the words again (words hold no
    quote or backslash)."""
    query = " & ".join(f"'{term}':*" for term in terms)
    document = POSTGRESQL_DOCUMENT.format(table=name)
    return sql_text(f"{document} @@ CAST(:search_query AS tsquery)").bindparams(search_query=query)


def starts_a_word(dialect: str, name: str, term: str) -> ColumnElement[bool]:
    """Whether one of the words of `name`'s row starts with `term`: the index's match of the
    term alone, tested on a row already read (PostgreSQL: without making the row's tsvector,
    8 µs a row at a million comments, this a fraction of one), so never as a search of its
    own. The same answer because the stored words are separated by single spaces (PostgreSQL:
    `array_to_tsvector` refuses an empty word, so the GIN index admits no other
    `search_words`; SQLite: FTS5's `ascii` tokenizer splits them there and nowhere else, as
    they hold only letters and digits) and a term holds no space. `strpos` and `instr` have
    no pattern syntax."""
    words: ColumnElement[str] = literal_column(f"' ' || {name}.search_words")
    if dialect == "postgresql":
        return func.strpos(words, f" {term}") > 0
    return func.instr(words, f" {term}") > 0


def comments_there_are(session: Session) -> float:
    """About how many comments there are, for `index_is_cheaper`: PostgreSQL's estimate, or
    SQLite's highest id (comments are never deleted, so near enough)."""
    if session.get_bind().dialect.name == "postgresql":
        found = session.scalar(
            sql_text("SELECT reltuples FROM pg_class WHERE oid = 'comments'::regclass")
        )
    else:
        found = session.scalar(sql_text("SELECT max(id) FROM comments"))
    return float(found or 0)


def index_is_cheaper(share: float, needed: int, rows: float, cost: float) -> bool:
    """A walk newest first that tests each row (PostgreSQL) against the full-text index:
    whether the `needed` matches left cost less read from the index (every match of the
    words: some `share` of the `rows`) than walked (`needed / share` more rows, each `cost`
    times a match read from the index): below a share of (cost * needed / rows)^0.5, 3 % for
    a window of 500 among a million at a cost of 2, more further down."""
    return share * share * rows < cost * needed


def rows_matching(dialect: str, name: str, terms: Sequence[str]) -> Select[tuple[int]]:
    """The ids of the rows of `name` whose words hold every term, from its index."""
    if dialect == "sqlite":
        fts = fts_table(name)
        return select(fts.c.rowid).where(fts.c[f"{name}_fts"].match(fts5_query(terms)))
    if dialect == "postgresql":
        rows = table(name, column("id"))
        return select(rows.c.id).where(postgresql_match(name, terms))
    raise ConfigurationError(f"Full-text search is not available on {dialect}.")
