"""The action log view and its exports, on SQLite and PostgreSQL, over a log the sandbox made."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from hsm_console.db.models import Comment, LogEntry, Site
from hsm_console.display import CITY_TZ
from hsm_console.errors import NotFound, PermissionDenied, UserError
from hsm_console.rules.domain import Action, Role
from hsm_console.services import admin, log_export, log_view
from hsm_console.services.log_export import (
    CSV_COLUMNS,
    FORMULA_STARTS,
    ExportFormat,
    ExportProgress,
    export_log,
    safe_cell,
)
from hsm_console.services.log_view import LogFilter, LogView
from tests.conftest import World

PARKS_POST = "1000000000001_122100000000000"
HOSTILE = ["=HYPERLINK(\"http://x.test\",\"click\")", "+1 call me", "-2+3", "@SUM(A1)",
           "\tTabbed", "\rReturn", "\uff1dcmd|' /C calc'!A0"]  # fmt: skip


@dataclass
class Log:
    world: World
    hidden: int  # a Parks comment hidden under PRF, with a word no other comment has
    flagged: int  # a Parks comment flagged under OFT, with a note
    police: int  # a Police comment flagged under SPM
    admin_entry: int  # ada made bob a supervisor of Police


def _comment_with(world: World, words: str) -> int:
    with world.db.session() as session:
        return session.scalars(select(Comment.id).where(Comment.text == words)).one()


@pytest.fixture
def log(world: World) -> Log:
    fb = world.sandbox.state.facebook
    fb.add_comment(PARKS_POST, "The zanzibarquux fountain is broken", author_name="Quinn Public")
    for text in HOSTILE:
        fb.add_comment(PARKS_POST, text, author_name="=Formula Author")
    world.app("alice").sync.sync()
    world.app("carol").sync.sync()
    alice, carol = world.app("alice").moderation, world.app("carol").moderation
    hidden = _comment_with(world, "The zanzibarquux fountain is broken")
    alice.act(hidden, Action.HIDE, "PRF")
    for text in HOSTILE:
        alice.act(_comment_with(world, text), Action.FLAG, "SPM", note="=1+1")
    with world.db.session() as session:
        parks = session.scalars(
            select(Comment.id).where(Comment.site_id == world.parks_site).order_by(Comment.id)
        ).all()
        police = session.scalars(
            select(Comment.id).where(Comment.site_id == world.police_site).order_by(Comment.id)
        ).first()
    assert police is not None
    flagged = parks[0]
    alice.act(flagged, Action.FLAG, "OFT", note="about the library, not the pool")
    carol.act(police, Action.FLAG, "SPM")
    change = world.app("ada").admin.grant("bob", "supervisor", "POLICE")
    assert change.entry_id is not None
    with world.db.transaction() as session:
        parks_department = session.get(Site, world.parks_site)
        assert parks_department is not None
        pat = admin.ensure_person(session, "pat", "Pat Parks Director")
        admin.grant(session, pat, Role.SUPERVISOR, parks_department.department)
    return Log(world, hidden, flagged, police, change.entry_id)


EVERYTHING = LogFilter()


def all_ids(view: LogView, log_filter: LogFilter = EVERYTHING, size: int = 3) -> list[int]:
    ids: list[int] = []
    after: int | None = None
    while True:
        page = view.page(log_filter, after, size)
        ids += page.ids
        if page.next is None:
            return ids
        after = page.next


# --- who may read what ------------------------------------------------------------------


def test_a_moderator_is_refused_with_the_role_named(log: Log) -> None:
    with pytest.raises(PermissionDenied) as refused:
        LogView(log.world.db, "alice")
    assert "read by supervisors" in refused.value.message
    assert "admin role grant alice supervisor --department CODE" in refused.value.message


def test_the_oversight_group_reads_every_entry(log: Log) -> None:
    sam = LogView(log.world.db, "sam")
    ids = all_ids(sam)
    total = sam.count(LogFilter())
    assert len(ids) == total == 2 + 2 * len(HOSTILE) + 2 + 2 + 1
    assert ids == sorted(ids, reverse=True)  # newest first
    assert {row.kind for row in sam.rows(ids)} == {"action", "admin"}


def test_a_department_supervisor_reads_only_their_departments(log: Log) -> None:
    pat = LogView(log.world.db, "pat")
    rows = pat.rows(all_ids(pat))
    assert rows
    assert {row.department for row in rows} == {"PARKS"}
    assert log.police not in {row.comment_id for row in rows}
    police = LogView(log.world.db, "sam").page(LogFilter(comment_id=log.police)).ids
    assert pat.rows(police) == []  # asked by id, still out of reach
    with pytest.raises(PermissionDenied, match="does not supervise"):
        pat.entry(police[0])
    police_department = LogView(log.world.db, "sam").departments
    police_id = next(d for d, code in police_department.items() if code == "POLICE")
    with pytest.raises(PermissionDenied, match="does not supervise department"):
        pat.page(LogFilter(department_ids=frozenset({police_id})))
    with pytest.raises(PermissionDenied, match="is not a site"):
        pat.page(LogFilter(site_ids=frozenset({log.world.police_site})))


def test_supervising_police_does_not_open_the_parks_log_of_its_moderator(log: Log) -> None:
    bob = LogView(log.world.db, "bob")  # moderates Parks, supervises Police
    rows = bob.rows(all_ids(bob))
    assert {row.department for row in rows} == {"POLICE"}
    assert {row.comment_id for row in rows if row.kind == "action"} == {log.police}


def test_an_administrator_reads_the_administrative_entries(log: Log) -> None:
    ada = LogView(log.world.db, "ada")
    rows = ada.rows(all_ids(ada))
    assert [row.id for row in rows] == [log.admin_entry]
    assert rows[0].subject == "person:bob"
    assert rows[0].after is not None
    assert "POLICE" in rows[0].after
    with pytest.raises(PermissionDenied):
        ada.entry(LogView(log.world.db, "sam").page(LogFilter(comment_id=log.hidden)).ids[0])


def test_a_role_taken_back_applies_to_an_open_view(log: Log) -> None:
    bob = LogView(log.world.db, "bob")
    assert bob.count(LogFilter()) > 0
    log.world.app("ada").admin.revoke("bob", "supervisor", "POLICE")
    with pytest.raises(PermissionDenied, match="read by supervisors"):
        bob.page(LogFilter())
    with pytest.raises(PermissionDenied, match="read by supervisors"):
        bob.entry(log.admin_entry)


def test_someone_not_registered_is_refused(log: Log) -> None:
    with pytest.raises(PermissionDenied, match="not an active user"):
        LogView(log.world.db, "mallory")


# --- filters, search and paging ---------------------------------------------------------


def test_each_filter_narrows_the_log(log: Log) -> None:
    sam = LogView(log.world.db, "sam")

    def comments(**narrowed: object) -> set[int | None]:
        return {row.comment_id for row in sam.rows(all_ids(sam, LogFilter(**narrowed)))}  # type: ignore[arg-type]

    assert comments(actions=frozenset({"hide"})) == {log.hidden}
    assert comments(reason_codes=frozenset({"OFT"})) == {log.flagged}
    assert comments(actors=frozenset({"carol"})) == {log.police}
    assert comments(site_ids=frozenset({log.world.police_site})) == {log.police}
    assert comments(kinds=frozenset({"admin"})) == {None}
    facebook = frozenset({"facebook"})
    assert log.police not in comments(platforms=facebook, actors=frozenset({"alice"}))
    assert comments(platforms=frozenset({"youtube"})) == set()
    parks = next(d for d, code in sam.departments.items() if code == "PARKS")
    assert log.police not in comments(department_ids=frozenset({parks}))
    pending = sam.rows(all_ids(sam, LogFilter(states=frozenset({"pending"}))))
    assert pending
    assert all(row.state == "pending" and row.outcome_of is None for row in pending)
    applied = sam.rows(
        all_ids(sam, LogFilter(states=frozenset({"applied"}), kinds=frozenset({"action"})))
    )
    assert {row.outcome_of for row in applied} == {row.id for row in pending}


def test_dates_are_the_citys_days(log: Log) -> None:
    sam = LogView(log.world.db, "sam")
    today = date.today()
    newest = sam.rows(sam.page(LogFilter(), limit=1).ids)[0]
    day = newest.at.astimezone(CITY_TZ).date()
    assert sam.count(LogFilter(on_from=day, on_to=day)) >= 1
    assert sam.count(LogFilter(on_to=day - timedelta(days=1))) == 0
    assert sam.count(LogFilter(on_from=today + timedelta(days=2))) == 0


def test_search_finds_the_entries_of_comments_holding_the_words(log: Log) -> None:
    sam = LogView(log.world.db, "sam")
    found = sam.rows(all_ids(sam, LogFilter(search="Zanzibarq fountain")))
    assert {row.comment_id for row in found} == {log.hidden}
    assert [row.state for row in found] == ["applied", "pending"]
    assert sam.count(LogFilter(search="zanzibarquux", actions=frozenset({"flag"}))) == 0
    assert sam.count(LogFilter(search="\"'); DROP TABLE action_log; --")) == 0
    assert sam.count(LogFilter()) > 0  # the table is still there


@pytest.mark.parametrize("walk", ["walked whole", "walked in steps", "from the index"])
def test_a_word_search_pages_the_same_however_postgresql_reads_it(
    log: Log, walk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL walks the log testing each entry's comment, or reads the rest through the
    comments the full-text index finds (`_walked_words`): pages in either order hold exactly
    the entries whose comment has every word, however the walk went (SQLite: its one query)."""
    db = log.world.db
    sam = LogView(db, "sam")
    with db.transaction() as session:  # a word in every other comment, as the words are stored
        session.execute(
            update(Comment)
            .where(Comment.id % 2 == 0)
            .values(search_words=func.ltrim(Comment.search_words + " halves"))
        )
        entries = session.execute(
            select(LogEntry.id, LogEntry.action, Comment.search_words).join(
                Comment, Comment.id == LogEntry.comment_id
            )
        ).all()
    flag = frozenset({"flag"})
    filters = [
        LogFilter(search="halves"), LogFilter(search="halves fount"),
        LogFilter(search="zanzibarquux"), LogFilter(search="qwertynone"),
        LogFilter(search="halves", actions=flag),
    ]  # fmt: skip

    def holds(words: str, f: LogFilter) -> bool:
        stored = words.split(" ")
        return all(any(w.startswith(t) for w in stored) for t in f.search.split())

    expected = [
        sorted(
            (
                i
                for i, action, words in entries
                if holds(words, f) and action in (f.actions or {action})
            ),
            reverse=newest,
        )
        for f in filters
        for newest in (True, False)
    ]
    assert expected[0]  # halves
    assert expected[4]  # zanzibarquux
    assert not expected[6]  # no comment's
    if walk == "walked in steps":
        monkeypatch.setattr(log_view, "WALK_FIRST", 1)
        monkeypatch.setattr(log_view, "WALK_MOST", 1)
        monkeypatch.setattr(log_view.search_index, "index_is_cheaper", lambda share, *_: not share)
    elif walk == "from the index":
        monkeypatch.setattr(log_view, "WALK_FIRST", 1)
        monkeypatch.setattr(log_view.search_index, "index_is_cheaper", lambda *_: True)

    def pages(f: LogFilter, newest: bool) -> list[int]:
        ids: list[int] = []
        after: int | None = None
        while True:
            page = sam.page(f, after, 2, newest_first=newest)
            ids += page.ids
            if page.next is None:
                return ids
            after = page.next

    assert [pages(f, newest) for f in filters for newest in (True, False)] == expected


def test_keyset_pages_cover_the_log_once_in_either_order(log: Log) -> None:
    sam = LogView(log.world.db, "sam")
    everything = sam.page(LogFilter(), limit=10_000).ids
    assert all_ids(sam, size=1) == all_ids(sam, size=4) == everything
    oldest: list[int] = []
    after = None
    while True:
        page = sam.page(LogFilter(), after, 5, newest_first=False)
        oldest += page.ids
        if page.next is None:
            break
        after = page.next
    assert oldest == sorted(everything)
    assert sam.page(LogFilter(), limit=0).ids == []


# --- one entry ----------------------------------------------------------------------------


def test_an_entry_opens_its_record_the_comment_now_its_versions_and_history(log: Log) -> None:
    world = log.world
    with world.db.session() as session:
        comment = session.get(Comment, log.hidden)
        assert comment is not None
        external = comment.external_id
    world.sandbox.state.facebook.edit_comment(external, "Edited after the hide")
    with world.db.transaction() as session:
        site = session.get(Site, world.parks_site)
        assert site is not None
        site.settings = {**site.settings, "full_days": 60}
    world.app("alice").sync.sync()
    sam = LogView(world.db, "sam")
    pending = sam.page(LogFilter(comment_id=log.hidden, states=frozenset({"pending"}))).ids[0]
    detail = sam.entry(pending)
    assert detail.record is not None
    assert detail.record.text == "The zanzibarquux fountain is broken"
    assert detail.record.author_name == "Quinn Public"
    assert detail.record_sha256 == detail.record.sha256
    assert detail.comment is not None
    assert detail.comment.status == "hidden"
    assert [v.text for v in detail.versions] == ["The zanzibarquux fountain is broken"]
    assert detail.comment.text == "Edited after the hide"
    history = [(h.action, h.state) for h in detail.history]
    assert history == [("hide", "pending"), ("hide", "applied")]
    assert detail.row.excerpt == "The zanzibarquux fountain is broken"  # as retained
    assert len(detail.entry_hash) == 64
    assert detail.policy_version
    with pytest.raises(NotFound, match="no log entry 999999"):
        sam.entry(999_999)


def test_an_administrative_entry_opens_without_a_comment(log: Log) -> None:
    detail = LogView(log.world.db, "sam").entry(log.admin_entry)
    assert detail.record is None
    assert detail.comment is None
    assert detail.history == []
    assert detail.row.action == "grant"
    assert detail.row.before is None
    assert detail.row.after == '{"department":"POLICE","role":"supervisor"}'


# --- exports ------------------------------------------------------------------------------


def test_csv_export_has_no_cell_a_spreadsheet_would_run(log: Log, tmp_path: Path) -> None:
    sam = LogView(log.world.db, "sam")
    steps: list[ExportProgress] = []
    path = tmp_path / "log.csv"
    result = export_log(sam, LogFilter(), path, ExportFormat.CSV, steps.append)
    assert result.entries == sam.count(LogFilter())
    assert not result.cancelled
    assert steps[-1] == ExportProgress(result.entries, result.entries)
    with path.open(encoding="utf-8", newline="") as stream:
        table = list(csv.reader(stream))
    assert tuple(table[0]) == CSV_COLUMNS
    assert len(table) == result.entries + 1
    cells = [cell for row in table for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    texts = {row[CSV_COLUMNS.index("text")] for row in table[1:]}
    assert {"'" + text for text in HOSTILE} <= texts  # shown as text, every character kept
    assert "'=1+1" in {row[CSV_COLUMNS.index("note")] for row in table[1:]}
    assert "'=Formula Author" in {row[CSV_COLUMNS.index("author_name")] for row in table[1:]}


def test_safe_cell_leaves_ordinary_values_alone() -> None:
    assert safe_cell("Parks") == "Parks"
    assert safe_cell(None) == ""
    assert safe_cell(12) == "12"
    assert safe_cell("-12") == "'-12"
    assert safe_cell("a=b") == "a=b"


def test_jsonl_export_round_trips_every_field(log: Log, tmp_path: Path) -> None:
    pat = LogView(log.world.db, "pat")
    path = tmp_path / "parks.jsonl"
    result = export_log(pat, LogFilter(), path, ExportFormat.JSONL)
    lines = [json.loads(line) for line in path.read_text(encoding="ascii").splitlines()]
    expected = pat.export_records(all_ids(pat))
    assert len(lines) == result.entries == len(expected)
    for line, record in zip(lines, expected, strict=True):
        assert line == {
            key: value.isoformat() if hasattr(value, "isoformat") else value
            for key, value in record.items()
        }
    fields = set(lines[0])
    assert {"prev_hash", "entry_hash", "record_sha256", "policy_version", "before"} <= fields
    assert {line["text"] for line in lines} >= set(HOSTILE)  # exactly, no prefix
    assert {line["department"] for line in lines} == {"PARKS"}


def test_a_cancelled_export_leaves_no_file(
    log: Log, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_export, "PAGE_SIZE", 2)  # several pages, so it stops midway
    sam = LogView(log.world.db, "sam")
    steps: list[ExportProgress] = []
    out = tmp_path / "out"
    out.mkdir()
    result = export_log(
        sam, LogFilter(), out / "log.csv", ExportFormat.CSV, steps.append, lambda: len(steps) >= 2
    )
    assert result.cancelled
    assert result.entries == 4
    assert list(out.iterdir()) == []


def test_an_export_into_a_missing_folder_says_so(log: Log, tmp_path: Path) -> None:
    sam = LogView(log.world.db, "sam")
    with pytest.raises(UserError, match="Cannot write in"):
        export_log(sam, LogFilter(), tmp_path / "nowhere" / "log.csv", ExportFormat.CSV)
    assert not (tmp_path / "nowhere").exists()


def test_an_export_replaces_an_earlier_file_only_when_complete(
    log: Log, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "out").mkdir()
    path = tmp_path / "out" / "log.jsonl"
    path.write_text("the earlier export\n")
    sam = LogView(log.world.db, "sam")

    def broken(ids: object) -> list[dict[str, object]]:
        raise OSError("disk full")

    monkeypatch.setattr(sam, "export_records", broken)
    with pytest.raises(OSError, match="disk full"):
        export_log(sam, LogFilter(), path, ExportFormat.JSONL)
    assert path.read_text() == "the earlier export\n"
    assert list(path.parent.iterdir()) == [path]
