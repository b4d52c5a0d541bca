"""Seals of the chain head: made on demand and daily, written outside the database, and a log
rewound or rewritten after a seal, or a seal file edited, named when verified against it."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, Department, LogEntry
from hsm_console.errors import ConfigurationError, InvalidInput, PermissionDenied, UserError
from hsm_console.host import config
from hsm_console.rules.domain import Action, EntryKind, Role
from hsm_console.rules.seals import SEAL_FORMAT, Seal, grouped_hash, read_seal, seal_problem
from hsm_console.services import admin
from hsm_console.services.log_view import LogFilter, LogView
from hsm_console.services.seals import SealService, latest_seal, printable, read_seal_file
from hsm_console.services.verify import verify_log
from hsm_sandbox.server import SandboxServer
from tests.conftest import World
from tests.test_cli import Cli
from tests.test_verify import act_on_some, behind_the_triggers

START = datetime(2026, 12, 1, 18, 30, 15, 123456, tzinfo=UTC)


class Clock:
    """The time a test says it is."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def officer(synced: World) -> World:
    """The synced world with rita, the City Clerk's records officer (every department)."""
    with synced.db.transaction() as session:
        rita = admin.ensure_person(session, "rita", "Rita Records")
        admin.grant(session, rita, Role.RECORDS_OFFICER, None)
    return synced


def flag_one(world: World) -> None:
    """One more action (two entries), on a Parks comment no one has acted on."""
    with world.db.session() as session:
        comment = session.scalar(
            select(Comment.id)
            .where(Comment.site_id == world.parks_site, Comment.status == "new")
            .order_by(Comment.id)
            .limit(1)
        )
    assert comment is not None
    world.app("alice").moderation.act(comment, Action.FLAG, "SPM")


def seals(db: Database) -> int:
    with db.session() as session:
        kind = LogEntry.kind == EntryKind.SEAL.value
        return session.scalar(select(func.count()).select_from(LogEntry).where(kind)) or 0


def entries(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(LogEntry)) or 0


def test_a_records_officer_seals_the_head_into_the_chain_and_a_file(
    officer: World, tmp_path: Path
) -> None:
    act_on_some(officer)  # entries 1 to 8
    made = SealService(officer.db, "rita", tmp_path / "seals", Clock()).seal()
    seal = made.seal
    with officer.db.session() as session:
        head = session.get(LogEntry, 8)
        entry = session.get(LogEntry, 9)
        assert head is not None
        assert entry is not None
        assert latest_seal(session) == seal
    assert (seal.entry_id, seal.entries, seal.entry_hash) == (8, 8, head.entry_hash)
    assert (seal.seal_entry_id, seal.seal_entry_hash) == (9, entry.entry_hash)
    assert (entry.kind, entry.action, entry.actor, entry.subject) == (
        "seal", "on_demand", "rita", "entry:8",
    )  # fmt: skip
    assert json.loads(entry.after or "") == {
        "entry_id": 8, "entry_hash": head.entry_hash, "entries": 8,
        "sealed_at": "2026-12-01T18:30:15+00:00",
    }  # fmt: skip
    assert made.json_path.name == "seal-00000008-20261201T183015Z.json"
    assert json.loads(made.json_path.read_text()) == {
        "format": SEAL_FORMAT, **seal.body(), "sealed_by": "rita", "seal_entry_id": 9,
        "seal_entry_hash": entry.entry_hash,
    }  # fmt: skip
    assert read_seal_file(made.json_path) == seal
    page = made.text_path.read_text()
    assert "Sealed:     2026-12-01 12:30:15 CST (America/Chicago)" in page
    assert "Log:        8 entries, up to entry 8, whose SHA-256 is:" in page
    assert "    " + grouped_hash(head.entry_hash).replace("\n", "\n    ") in page
    assert f"hsm-console verify-log --against {made.json_path.name}" in page
    report = verify_log(officer.db, against=read_seal_file(made.json_path))
    assert report.ok, report.problem
    assert (report.entries_checked, report.seal) == (9, seal)
    # A seal is no department's: a supervisor of one department sees it in the log too.
    with officer.db.transaction() as session:
        pat = admin.ensure_person(session, "pat", "Pat Parks Director")
        parks = session.scalars(select(Department).where(Department.code == "PARKS")).one()
        admin.grant(session, pat, Role.SUPERVISOR, parks)
    view = LogView(officer.db, "pat")
    assert view.page(LogFilter(kinds=frozenset({"seal"})), limit=5).ids == [9]
    assert [row.kind for row in view.rows([9])] == ["seal"]


def test_the_hash_reads_in_groups_of_four() -> None:
    assert grouped_hash("0123456789abcdef" * 4) == (
        "0123 4567 89ab cdef 0123 4567 89ab cdef\n0123 4567 89ab cdef 0123 4567 89ab cdef"
    )


def test_only_records_officers_and_administrators_seal_on_demand(
    officer: World, tmp_path: Path
) -> None:
    flag_one(officer)
    folder = tmp_path / "seals"
    with pytest.raises(PermissionDenied, match="Only a records officer may seal the log"):
        SealService(officer.db, "sam", folder).seal()
    assert (entries(officer.db), folder.exists()) == (2, False)  # nothing written anywhere
    assert SealService(officer.db, "ada", folder).seal().seal.seal_entry_id == 3


def test_the_daily_seal_is_made_once_in_24_hours(officer: World, tmp_path: Path) -> None:
    clock = Clock()
    service = SealService(officer.db, "alice", tmp_path / "seals", clock)
    assert service.seal_if_due() is None  # an empty log: nothing to seal
    with officer.db.session() as session:
        assert latest_seal(session) is None
    flag_one(officer)
    first = service.seal_if_due()
    assert first is not None
    assert (first.seal.entry_id, first.seal.sealed_by) == (2, "alice")
    clock.now += timedelta(hours=30)
    assert service.seal_if_due() is None  # nothing logged since: the head is the seal itself
    flag_one(officer)
    clock.now = START + timedelta(hours=23, minutes=59)
    assert service.seal_if_due() is None
    assert seals(officer.db) == 1
    clock.now = START + timedelta(hours=24)
    second = service.seal_if_due()
    assert second is not None
    assert (second.seal.entry_id, second.seal.seal_entry_id) == (5, 6)
    assert sorted(p.name for p in (tmp_path / "seals").iterdir()) == [
        "seal-00000002-20261201T183015Z.json", "seal-00000002-20261201T183015Z.txt",
        "seal-00000005-20261202T183015Z.json", "seal-00000005-20261202T183015Z.txt",
    ]  # fmt: skip


def test_an_account_that_is_no_person_makes_no_seal(officer: World, tmp_path: Path) -> None:
    flag_one(officer)
    folder = tmp_path / "seals"
    assert SealService(officer.db, "nobody", folder).seal_if_due() is None
    with pytest.raises(PermissionDenied, match="nobody is not an active user"):
        SealService(officer.db, "nobody", folder).seal()
    assert (seals(officer.db), folder.exists()) == (0, False)


def test_sync_makes_the_daily_seal_once(world: World, tmp_path: Path) -> None:
    app = world.app("alice")
    app.seals_folder = tmp_path
    assert app.sync.sync()  # reads the comments: nothing logged, nothing to seal
    assert seals(world.db) == 0
    flag_one(world)
    app.sync.sync()
    app.sync.sync()
    assert seals(world.db) == 1
    assert app.seal_if_due() is None
    assert len(list(tmp_path.glob("seal-*.json"))) == 1


def test_two_programs_due_at_once_make_one_seal(officer: World, tmp_path: Path) -> None:
    flag_one(officer)
    made: list[object] = []
    errors: list[BaseException] = []

    def seal() -> None:
        try:
            made.append(SealService(officer.db, "alice", tmp_path).seal_if_due())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=seal) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert seals(officer.db) == 1
    assert len([m for m in made if m is not None]) == 1
    assert verify_log(officer.db).ok


# --- a log compared with its seal -----------------------------------------------------------


@pytest.fixture
def sealed(officer: World, tmp_path: Path) -> tuple[World, Path]:
    """Entries 1-8, then the seal (entry 9) and its file."""
    act_on_some(officer)
    return officer, SealService(officer.db, "rita", tmp_path, Clock()).seal().json_path


def test_a_log_rewound_after_its_seal_fails_against_it(sealed: tuple[World, Path]) -> None:
    world, seal_file = sealed
    behind_the_triggers(world.db, "DELETE FROM action_log WHERE id >= 8")
    assert verify_log(world.db).ok  # without the seal, a shorter log proves itself
    report = verify_log(world.db, against=read_seal_file(seal_file))
    assert not report.ok
    assert report.problem == (
        "the log ends at entry 7, but the seal made 2026-12-01 12:30:15 CST sealed entry 8 "
        "and is entry 9 itself: entries 8 to 9 were removed after the seal (the log was "
        "rewound)"
    )
    assert report.head_id == 7
    # Rewound past an action's first entry, the log leaves its record uncited: named anyway.
    behind_the_triggers(world.db, "DELETE FROM action_log WHERE id = 7")
    assert "retained record 4 is cited by no log entry" in verify_log(world.db).problem


def test_a_log_rewound_and_written_on_fails_against_its_seal(sealed: tuple[World, Path]) -> None:
    world, seal_file = sealed
    behind_the_triggers(world.db, "DELETE FROM action_log WHERE id = 9")  # the seal entry
    flag_one(world)  # a new entry 9, lawfully chained to entry 8
    report = verify_log(world.db, against=read_seal_file(seal_file))
    assert verify_log(world.db).ok
    assert report.problem.startswith(
        "entry 9 is not the seal entry the seal made 2026-12-01 12:30:15 CST names (its hash "
        "differs)"
    )
    flag_one(world)  # what comes after a seal, the seal does not cover (the next one will)
    behind_the_triggers(world.db, "DELETE FROM action_log WHERE id = 12")
    assert verify_log(world.db).ok


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ({"entry_hash": "ab" * 32}, "the seal file was edited: it no longer matches its own "
         "seal entry 9 in the log"),
        ({"sealed_at": "2026-11-30T18:30:15+00:00"}, "the seal file was edited"),
        ({"sealed_by": "sam"}, "the seal file was edited"),
        ({"entries": 7}, "the seal file was edited: it no longer matches its own"),
        ({"entries": 7, "seal_entry_id": None, "seal_entry_hash": None},
         "the seal file was edited: it says 7 entries up to entry 8"),
        ({"entry_hash": "ab" * 32, "seal_entry_id": None, "seal_entry_hash": None},
         "entry 8 is not the one the seal made 2026-12-01 12:30:15 CST sealed"),
        ({"seal_entry_hash": "cd" * 32}, "entry 9 is not the seal entry"),
        ({"entry_id": 12, "entries": 12, "seal_entry_id": 13},
         "the log ends at entry 9, but the seal made"),
    ],
)  # fmt: skip
def test_an_edited_seal_file_is_named(
    sealed: tuple[World, Path], edit: dict[str, object], words: str
) -> None:
    world, seal_file = sealed
    fields = json.loads(seal_file.read_text())
    seal_file.write_text(json.dumps({**fields, **edit}))
    report = verify_log(world.db, against=read_seal_file(seal_file))
    assert words in report.problem
    assert not report.ok


def test_the_seal_of_an_empty_log_holds() -> None:
    empty = Seal(0, "0" * 64, 0, START)
    assert seal_problem(empty, 0, {}, "today") == ""


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"x" * 1_048_576, "it is far too large (1,048,576 bytes)"),
        (b"\x00\xff\xfe<script>", "it is not JSON text"),
        (b"<html><body>=HYPERLINK(1)</body></html>", "it is not JSON text"),
        (b"[1, 2]", "no 'hsm-console-seal-v1' format"),
        (json.dumps({"format": SEAL_FORMAT}).encode(), "is not a seal file"),
        (json.dumps({"format": SEAL_FORMAT, "entry_id": True}).encode(),
         "entry_id must be a whole number"),
        (json.dumps({"format": SEAL_FORMAT, "entry_id": 1, "entry_hash": "=1+1" * 16,
                     "entries": 1, "sealed_at": "2026-12-01T00:00:00+00:00"}).encode(),
         "entry_hash must be a SHA-256"),
        (json.dumps({"format": SEAL_FORMAT, "entry_id": 1, "entry_hash": "a" * 64,
                     "entries": 1, "sealed_at": "2026-12-01T00:00:00"}).encode(),
         "sealed_at must say its time zone"),
        (json.dumps({"format": SEAL_FORMAT, "entry_id": 5, "entry_hash": "a" * 64,
                     "entries": 5, "sealed_at": "2026-12-01T00:00:00Z",
                     "seal_entry_id": 3, "seal_entry_hash": "b" * 64}).encode(),
         "its seal entry must follow the entry it seals"),
    ],
)  # fmt: skip
def test_what_is_not_a_seal_file_is_refused_in_words(data: bytes, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        read_seal(data, "seal.json")
    assert refused.value.message.startswith("seal.json is not a seal file written by HSM Console")
    assert words in refused.value.message


def test_a_seal_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"The seal file .*missing\.json cannot be read"):
        read_seal_file(tmp_path / "missing.json")
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * 5_000_000)
    with pytest.raises(InvalidInput, match="far too large"):
        read_seal_file(huge)


def test_the_printable_page_shows_a_hostile_name_as_text() -> None:
    seal = Seal(3, "a" * 64, 3, START, "\u202eevil\x1b[2J<b>x</b>", 4, "b" * 64)
    page = printable(seal, "seal.json")
    assert "Sealed by:  \\u202eevil\\x1b[2J<b>x</b>" in page
    assert "\u202e" not in page
    assert "\x1b" not in page
    assert "The seal itself is log entry 4, whose SHA-256 is:" in page


def test_a_folder_that_cannot_be_written_keeps_the_seal_and_says_so(
    officer: World, tmp_path: Path
) -> None:
    flag_one(officer)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(UserError) as refused:
        SealService(officer.db, "rita", blocked / "seals").seal()
    assert refused.value.message.startswith("The seal is in the log (entry 3), but its files")
    assert "seals_folder in the settings file" in refused.value.message
    assert seals(officer.db) == 1  # recorded first; sealing again once the folder is fixed


@pytest.mark.expected_log("the daily seal: The seal is in the log (entry 3)")
def test_the_daily_seal_never_fails_the_sync_that_makes_it(officer: World, tmp_path: Path) -> None:
    flag_one(officer)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert SealService(officer.db, "alice", blocked).seal_if_due() is None
    assert seals(officer.db) == 1


@pytest.mark.parametrize(
    "line", ['seals_folder = "seals"', "seals_folder = 7", 'seals_folder = ""']
)
def test_the_seals_folder_must_be_a_full_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str
) -> None:
    settings = tmp_path / "hsm-console.toml"
    settings.write_text(line + "\n", encoding="utf-8")
    monkeypatch.setattr(config, "config_file", lambda: settings)
    with pytest.raises(ConfigurationError, match="seals_folder must be a folder's full path"):
        config.load_settings("sqlite://")


def test_the_seals_folder_is_a_setting_with_a_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "hsm-console.toml"
    monkeypatch.setattr(config, "config_file", lambda: settings)
    assert config.load_settings("sqlite://").seals_folder == config.default_seals_folder()
    assert config.default_seals_folder().name == "seals"
    settings.write_text(f"seals_folder = {json.dumps(str(tmp_path / 'clerk'))}\n", "utf-8")
    assert config.load_settings("sqlite://").seals_folder == tmp_path / "clerk"


# --- the command line ------------------------------------------------------------------------


def test_seal_and_verify_against_it_on_the_command_line(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    folder = tmp_path / "clerk's seals"
    settings = tmp_path / "config" / "HSM Console" / "hsm-console.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text(f"seals_folder = {json.dumps(str(folder))}\n")
    cli = Cli(
        f"sqlite:///{tmp_path / 'cli.sqlite3'}", {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    )
    cli("db", "upgrade")
    cli("demo", "--sandbox-url", sandbox.url)
    cli("sync")
    target = json.loads(cli("queue", "--json").stdout)[0]["id"]
    cli("act", str(target), "flag", "--reason", "SPM")  # entries 1 and 2
    db = Database(cli.database)  # the demo's person keeps Parks' records: they may seal
    made = cli("seal").stdout
    assert "Sealed the log: entry 2 of 2, sha256 " in made
    [seal_file] = folder.glob("seal-00000002-*.json")
    assert f"Written: {seal_file}" in made
    assert seal_file.with_suffix(".txt").exists()
    verified = cli("verify-log", "--against", str(seal_file)).stdout
    assert "Checked 3 log entries and 1 retained records." in verified
    assert "The action log is intact, and holds everything the seal sealed." in verified

    behind_the_triggers(db, "DELETE FROM action_log WHERE id >= 2")
    db.dispose()
    assert "The action log is intact." in cli("verify-log").stdout
    failed = cli("verify-log", "--against", str(seal_file), ok=False)
    assert failed.returncode == 1
    assert "VERIFICATION FAILED: the log ends at entry 1, but the seal made " in failed.stdout
    assert "entries 2 to 3 were removed after the seal (the log was rewound)." in failed.stdout
    hostile = tmp_path / "hostile.json"
    hostile.write_bytes(b"\x1b[2J=cmd|' /C calc'!A0 \xe2\x80\xae")
    refused = cli("verify-log", "--against", str(hostile), ok=False)
    assert "hsm-console: hostile.json is not a seal file written by HSM Console" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.expected_log("the daily seal: Log entry 3, the newest seal, does not hold a seal")
def test_a_forged_seal_entry_never_stops_a_sync(officer: World, tmp_path: Path) -> None:
    flag_one(officer)
    SealService(officer.db, "rita", tmp_path).seal()
    flag_one(officer)
    behind_the_triggers(officer.db, "UPDATE action_log SET after = '[]' WHERE id = 3")
    with officer.db.session() as session, pytest.raises(UserError, match="the log was altered"):
        latest_seal(session)
    app = officer.app("alice")
    app.seals_folder = tmp_path
    assert app.sync.sync()  # the sync itself goes on
    assert seals(officer.db) == 1
    assert (
        verify_log(officer.db).problem
        == "entry 3 was altered: its contents no longer match its hash"
    )
