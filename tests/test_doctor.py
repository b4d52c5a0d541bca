"""`hsm-console doctor` against real databases (SQLite and PostgreSQL) and the sandbox."""

from __future__ import annotations

import socket
from pathlib import Path

import keyring
import keyring.backend
import pytest
from alembic.script import ScriptDirectory
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring
from sqlalchemy import text

from hsm_console.db.engine import Database
from hsm_console.rules.domain import Platform
from hsm_console.services import admin
from hsm_console.services.doctor import Finding, Verdict, diagnose
from hsm_console.services.seals import SealService
from tests.cli_process import hsm
from tests.conftest import World

ROOT = Path(__file__).resolve().parents[1]


def _by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_healthy_demo_database_passes(world: World, tmp_path: Path) -> None:
    world.app("alice").sync.sync()
    SealService(world.db, "ada", tmp_path / "seals").seal()
    findings = diagnose(world.db, "ada", tmp_path / "logs")
    assert [f for f in findings if f.verdict is not Verdict.OK] == []
    checks = _by_check(findings)
    assert {"database", "append-only triggers", "log", "keyring", "debug log folder"} <= set(checks)
    assert "newest seal" in checks["log"].words
    # Both demo sites: the platform answers, and the sandbox needs no sign-in.
    platforms = [f for f in findings if f.check.endswith(" platform")]
    assert len(platforms) == 2
    assert sum(f.check.endswith(" sign-in") for f in findings) == 2


def test_a_moderator_sees_only_the_sites_of_their_department(world: World, tmp_path: Path) -> None:
    checks = [f.check for f in diagnose(world.db, "carol", tmp_path / "logs")]
    assert [c for c in checks if c.endswith(" platform")] == [
        f"site {world.police_site} Highland Police Department (facebook) platform"
    ]


def test_a_database_behind_on_migrations_fails_naming_db_upgrade(
    db: Database, tmp_path: Path
) -> None:
    head = db.head_revision()
    script = ScriptDirectory.from_config(db._alembic_config())
    previous = script.get_revision(head).down_revision
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": previous})
    findings = diagnose(db, "ada", tmp_path / "logs")
    database = _by_check(findings)["database"]
    assert database.verdict is Verdict.FAIL
    assert f"at {previous}" in database.words
    assert head in database.words
    assert "hsm-console db upgrade" in database.todo
    assert "append-only triggers" not in _by_check(findings)  # not read from a wrong schema


def test_an_unreachable_database_fails_and_the_computer_is_still_checked(tmp_path: Path) -> None:
    db = Database(f"postgresql://nobody:secret-word@127.0.0.1:{_closed_port()}/hsm")
    findings = diagnose(db, "ada", tmp_path / "logs")
    db.dispose()
    assert [(f.check, f.verdict) for f in findings] == [
        ("database", Verdict.FAIL),
        ("keyring", Verdict.OK),
        ("debug log folder", Verdict.OK),
    ]
    assert findings[0].words == "cannot be reached (OperationalError)"
    assert "secret-word" not in repr(findings)


def test_a_dropped_trigger_fails_naming_it(world: World, tmp_path: Path) -> None:
    dropped = "action_log_no_delete" if world.db.is_sqlite else "action_log_no_truncate"
    on = "" if world.db.is_sqlite else " ON action_log"
    with world.db.engine.begin() as connection:
        connection.execute(text(f"DROP TRIGGER {dropped}{on}"))
    triggers = _by_check(diagnose(world.db, "ada", tmp_path / "logs"))["append-only triggers"]
    assert triggers.verdict is Verdict.FAIL
    assert triggers.words == f"missing or disabled: {dropped}"
    assert "verify-log" in triggers.todo


@pytest.mark.parametrize(
    ("dropped", "table"),
    [("action_log_decided", "action_log"), ("comments_counted_update", "comments")],
)
def test_a_dropped_dashboard_trigger_warns(
    world: World, tmp_path: Path, dropped: str, table: str
) -> None:
    found = _by_check(diagnose(world.db, "ada", tmp_path / "logs"))["dashboard triggers"]
    assert found.verdict is Verdict.OK
    on = "" if world.db.is_sqlite else f" ON {table}"
    with world.db.engine.begin() as connection:
        connection.execute(text(f"DROP TRIGGER {dropped}{on}"))
    found = _by_check(diagnose(world.db, "ada", tmp_path / "logs"))["dashboard triggers"]
    assert found.verdict is Verdict.WARN
    assert found.words == f"missing or disabled: {dropped}"
    assert "the log and the comments themselves are whole" in found.todo


@pytest.mark.usefixtures("file_keyring")
def test_an_unreachable_platform_and_a_site_never_connected_fail(
    world: World, tmp_path: Path
) -> None:
    address = f"http://127.0.0.1:{_closed_port()}"
    with world.db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        site = admin.ensure_site(session, parks, Platform.TIKTOK, "Parks TikTok", "t1", address)
        site_id = site.id
    findings = diagnose(world.db, "ada", tmp_path / "logs")
    checks = _by_check(findings)
    platform = checks[f"site {site_id} Parks TikTok (tiktok) platform"]
    assert platform.verdict is Verdict.FAIL
    assert platform.words == f"{address} cannot be reached"
    assert "could not reach" in platform.todo
    sign_in = checks[f"site {site_id} Parks TikTok (tiktok) sign-in"]
    assert (sign_in.verdict, sign_in.words) == (Verdict.FAIL, "not connected on this computer")
    assert sign_in.todo == f"An administrator runs: hsm-console admin connect {site_id}"
    # The demo sites are still fine.
    assert (
        checks[f"site {world.parks_site} Highland Parks & Recreation (facebook) platform"].verdict
        is Verdict.OK
    )


@pytest.mark.parametrize("broken", ["none", "unwritable"])
def test_a_keyring_that_cannot_be_used_fails(world: World, tmp_path: Path, broken: str) -> None:
    ring: keyring.backend.KeyringBackend = fail.Keyring()  # type: ignore[no-untyped-call]
    if broken == "unwritable":
        (tmp_path / "file").write_text("a file where the keyring's folder should be")
        plain = PlaintextKeyring()
        plain.file_path = str(tmp_path / "file" / "x" / "keyring.cfg")
        ring = plain
    previous = keyring.get_keyring()
    keyring.set_keyring(ring)
    try:
        found = _by_check(diagnose(world.db, "ada", tmp_path / "logs"))["keyring"]
    finally:
        keyring.set_keyring(previous)
    assert found.verdict is Verdict.FAIL
    assert "keyring" in found.todo
    assert "IT" in found.todo


def test_the_command_prints_each_check_and_exits_1_on_a_fail(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.sqlite3'}"
    db = Database(url)
    db.upgrade()
    db.dispose()
    env = {"PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
           "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}  # fmt: skip
    done = hsm("--database", url, "doctor", env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "OK    database: reachable (sqlite)" in done.stdout
    assert "0 FAIL" in done.stdout
    with Database(url).engine.begin() as connection:
        connection.execute(text("DROP TRIGGER retained_records_no_update"))
    done = hsm("--database", url, "doctor", env=env)
    assert done.returncode == 1
    assert (
        "FAIL  append-only triggers: missing or disabled: retained_records_no_update" in done.stdout
    )
