"""The schema: migrations match the models, SQLite is set up safely, records are append-only."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DatabaseError, IntegrityError

from hsm_console.db.engine import Database
from hsm_console.db.models import Base, utcnow
from hsm_console.errors import ConfigurationError
from hsm_console.rules.domain import Action
from hsm_sandbox.server import SandboxServer
from tests.conftest import World, build_world

# Full-text search lives outside the ORM (migration 0002): FTS5 tables on SQLite, a GIN
# expression index on PostgreSQL.
FULL_TEXT_OBJECTS = (
    "comments_fts", "ix_comments_fulltext",  # migration 0002
    "retained_records_fts", "ix_retained_records_fulltext",  # 0013
    "comment_versions_fts", "ix_comment_versions_fulltext",
)  # fmt: skip


# The dashboard's filter indexes, on PostgreSQL only (migration 0020 says why).
POSTGRESQL_ONLY = (
    "ix_action_log_decisions_department", "ix_action_log_decisions_code",
    "ix_action_log_decisions_actor",
)  # fmt: skip


def _outside_full_text(name: str | None, type_: str, parent_names: object) -> bool:
    return not (name or "").startswith(FULL_TEXT_OBJECTS + POSTGRESQL_ONLY)


def test_migrations_build_exactly_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": _outside_full_text})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert db.current_revision() == db.head_revision()


def test_sqlite_file_is_created_and_migrated_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "hsm.sqlite3"
    db = Database(f"sqlite:///{path}")
    assert db.current_revision() is None
    db.ensure_schema()
    assert path.is_file()
    assert db.current_revision() == db.head_revision()
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    db.dispose()


def test_postgresql_is_migrated_only_by_db_upgrade(postgres_db: Database) -> None:
    with postgres_db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(ConfigurationError, match="must run: hsm-console db upgrade"):
        postgres_db.ensure_schema()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE action_log SET note = 'tampered'",
        "DELETE FROM action_log",
        "UPDATE retained_records SET text = 'tampered'",
        "DELETE FROM retained_records",
    ],
)
def test_database_refuses_to_change_records(synced: World, statement: str) -> None:
    app = synced.app("alice")
    comment_id = _first_new_comment(synced)
    app.moderation.act(comment_id, Action.FLAG, "PRF")
    with pytest.raises(DatabaseError, match="append-only"), synced.db.engine.begin() as conn:
        conn.execute(text(statement))
    with synced.db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM action_log")).scalar() == 2
        assert conn.execute(text("SELECT count(*) FROM retained_records")).scalar() == 1
        assert (
            conn.execute(text("SELECT count(*) FROM action_log WHERE note = 'tampered'")).scalar()
            == 0
        )


def test_postgresql_refuses_truncate(postgres_db: Database, sandbox: SandboxServer) -> None:
    world = build_world(postgres_db, sandbox)
    world.app("alice").sync.sync()
    world.app("alice").moderation.act(_first_new_comment(world), Action.FLAG, "PRF")
    for table in ("action_log", "retained_records"):
        with pytest.raises(DatabaseError, match="append-only"), postgres_db.engine.begin() as c:
            c.execute(text(f"TRUNCATE {table} CASCADE"))


def _first_new_comment(world: World) -> int:
    with world.db.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM comments WHERE site_id = :s ORDER BY id LIMIT 1"),
                {"s": world.parks_site},
            ).scalar_one()
        )


# --- migration 0024: one outcome per pending entry --------------------------------------------


def _log_rows(connection: Connection, rows: list[tuple[int, int | None]]) -> None:
    """Bare log rows (id, outcome_of): what the index looks at; hashes are not checked here."""
    for row_id, outcome_of in rows:
        connection.execute(
            text(
                "INSERT INTO action_log (id, at, actor, state, action, note, second_review, "
                "outcome_of, detail, prev_hash, entry_hash, kind) VALUES (:id, :at, 'mo', "
                "'pending', 'flag', '', false, :of, '', :prev, :hash, 'action')"
            ),
            {"id": row_id, "at": utcnow(), "of": outcome_of, "prev": f"p{row_id}",
             "hash": f"h{row_id}"},
        )  # fmt: skip


def _indexes(db: Database) -> set[str]:
    return {str(index["name"]) for index in inspect(db.engine).get_indexes("action_log")}


@pytest.mark.parametrize("twice_before", [False, True])
def test_0024_makes_a_second_outcome_impossible_and_keeps_old_ones(
    unmigrated_url: str, twice_before: bool
) -> None:
    """Entries are never changed: two outcomes of one entry written before 0024 stay, and
    only entries after them are held to one."""
    db = Database(unmigrated_url)
    config = db._alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0023")
        _log_rows(connection, [(1, None), (2, 1)] + ([(3, 1)] if twice_before else []))
    db.upgrade()
    assert ("ix_action_log_outcome_of" in _indexes(db)) is twice_before  # look-ups of old rows
    with db.engine.begin() as connection:
        _log_rows(connection, [(10, None), (11, 10)])
    with pytest.raises(IntegrityError), db.engine.begin() as connection:
        _log_rows(connection, [(12, 10)])
    with db.engine.begin() as connection:
        assert connection.scalar(text("SELECT count(*) FROM action_log WHERE outcome_of = 1")) == (
            2 if twice_before else 1
        )
        config.attributes["connection"] = connection
        command.downgrade(config, "0023")
    assert "ix_action_log_outcome_of" in _indexes(db)
    assert "uq_action_log_outcome" not in _indexes(db)
    db.dispose()
