"""The schema: migrations match the models, SQLite is set up safely, records are append-only."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from hsm_console.db.engine import Database
from hsm_console.db.models import Base
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
