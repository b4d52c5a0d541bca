"""`db backup` / `db restore` on both databases: the restored log verifies and ends where the
backup's sidecar says; a cut or altered file and a non-empty target are refused."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hsm_console.db.engine import Database
from hsm_console.db.models import Comment
from hsm_console.errors import ConfigurationError, InvalidInput
from hsm_console.host import config
from hsm_console.rules.domain import Action
from hsm_console.services.backup import backup, read_sidecar, restore, sidecar
from tests.cli_process import hsm
from tests.conftest import World, _postgres_copy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def empty_url(db: Database, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the same kind as `db`."""
    if db.is_sqlite:
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    else:
        yield from _postgres_copy(None)


def _acted_on(synced: World) -> World:
    with synced.db.session() as session:
        first = session.scalars(select(Comment.id).order_by(Comment.id)).first()
    assert first is not None
    assert synced.app("alice").moderation.act(first, Action.HIDE, "SPM").ok
    return synced


def test_a_restored_backup_verifies_and_ends_at_the_same_head(
    synced: World, tmp_path: Path, empty_url: str
) -> None:
    world = _acted_on(synced)
    file = tmp_path / "hsm.backup"
    steps: list[tuple[int, int]] = []
    info = backup(world.db, file, progress=lambda done, total: steps.append((done, total)))
    assert info.entries > 1
    assert info.head_id > 0
    assert read_sidecar(file) == info
    if world.db.is_sqlite:
        assert steps[-1][0] == steps[-1][1] > 0  # the copy reached its last page
    done = restore(file, empty_url)
    assert done.report.ok
    assert (done.report.head_id, done.report.head_hash) == (info.head_id, info.head_hash)
    assert done.report.entries_checked == info.entries
    restored = Database(empty_url)
    try:
        assert restored.current_revision() == restored.head_revision()
    finally:
        restored.dispose()
    with pytest.raises(InvalidInput, match="exists already"):
        backup(world.db, file)


def test_a_cut_or_altered_backup_is_refused(synced: World, tmp_path: Path, empty_url: str) -> None:
    file = tmp_path / "hsm.backup"
    backup(synced.db, file)
    whole = file.read_bytes()
    file.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InvalidInput, match="cut short or altered"):
        restore(file, empty_url)
    file.write_bytes(whole[:-1] + bytes([whole[-1] ^ 1]))
    with pytest.raises(InvalidInput, match="cut short or altered"):
        restore(file, empty_url)
    file.write_bytes(whole)
    sidecar(file).write_text("{not json")
    with pytest.raises(InvalidInput, match="not a backup's sidecar"):
        restore(file, empty_url)
    sidecar(file).unlink()
    with pytest.raises(InvalidInput, match="is missing"):
        restore(file, empty_url)


def test_restore_onto_a_database_with_tables_is_refused(world: World, tmp_path: Path) -> None:
    file = tmp_path / "hsm.backup"
    info = backup(world.db, file)
    url = world.db.url.render_as_string(hide_password=False)
    with pytest.raises(InvalidInput, match="already holds tables"):
        restore(file, url)
    with world.db.session() as session:  # nothing changed in it
        from hsm_console.db.chain import chain_head

        assert chain_head(session) == (info.head_id, info.head_hash)


def test_the_commands_back_up_and_restore(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    env = {"PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
           "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return hsm("--database", source, *args, env=env)

    assert run("db", "upgrade").returncode == 0
    file = tmp_path / "b" / "live.backup"
    file.parent.mkdir()
    made = run("db", "backup", str(file))
    assert made.returncode == 0, made.stderr
    assert "the log's head is entry 0 of 0" in made.stdout
    assert json.loads(sidecar(file).read_text())["kind"] == "sqlite"
    target = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    back = run("db", "restore", str(file), "--to", target)
    assert back.returncode == 0, back.stderr
    assert "proved its log: 0 entries" in back.stdout
    again = run("db", "restore", str(file), "--to", target)
    assert again.returncode == 1
    assert "already holds tables" in again.stderr


def test_missing_postgresql_tools_are_named(postgres_db: Database, tmp_path: Path) -> None:
    file = tmp_path / "hsm.backup"
    with pytest.raises(ConfigurationError, match=r"pg_dump was not found in .*pg_tools_folder"):
        backup(postgres_db, file, pg_tools=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no partial file, no sidecar


def test_the_postgresql_tools_folder_is_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "hsm-console.toml"
    monkeypatch.setattr(config, "config_file", lambda: settings)
    assert config.load_settings("sqlite://").pg_tools_folder is None
    settings.write_text(f"pg_tools_folder = {json.dumps(str(tmp_path / 'pg'))}\n", "utf-8")
    assert config.load_settings("sqlite://").pg_tools_folder == tmp_path / "pg"
    settings.write_text('pg_tools_folder = "bin"\n', "utf-8")
    with pytest.raises(ConfigurationError, match="pg_tools_folder must be a folder's full path"):
        config.load_settings("sqlite://")


def test_a_sqlite_backup_runs_beside_an_open_write_and_holds_only_what_was_committed(
    tmp_path: Path,
) -> None:
    import sqlite3

    live = tmp_path / "50% of #1" / "live.sqlite3"  # what a URI would otherwise misread
    db = Database(f"sqlite:///{live}")
    db.upgrade()
    writer = sqlite3.connect(live, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # the console mid-action, holding the write lock
        writer.execute(
            "INSERT INTO departments (code, name, created_at) VALUES ('OPEN', 'Open', '2026-01-01')"
        )
        backup(db, tmp_path / "live.backup")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        db.dispose()
    copy = sqlite3.connect(tmp_path / "live.backup")
    try:
        assert copy.execute("SELECT count(*) FROM departments WHERE code = 'OPEN'").fetchone() == (
            0,
        )
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        copy.close()
