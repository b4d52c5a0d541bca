"""Live queues and presence in the real window on PostgreSQL (issue 11, item 3): rows that
change elsewhere, "Open by Name", the question before acting, the paused state."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel, QMessageBox
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from hsm_console.db.engine import Database
from hsm_console.gui.id_model import IdWindowModel
from hsm_console.gui.live import paused_words
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.queue_model import Column
from hsm_console.gui.settings import GuiSettings
from hsm_console.gui.workers import TaskRunner
from hsm_console.rules.domain import Action, Role
from hsm_console.services import admin
from hsm_console.services.live import LOST
from hsm_console.services.presence import PresenceService
from hsm_console.services.queue_view import QueueFilter, QueueView
from hsm_sandbox.server import SandboxServer
from tests.conftest import PARKS_PAGE, World, build_world
from tests.gui.conftest import started
from tests.gui.helpers import WAIT_MS, log_entries
from tests.gui.test_triage import open_dialog

pytestmark = pytest.mark.gui

POST = f"{PARKS_PAGE}_122100000000000"
HOSTILE = "<b>Mal</b> <img src=x onerror=alert(1)>\u202eevil"

OpenWindow = Callable[[str], MainWindow]


@pytest.fixture
def pg_world(postgres_db: Database, sandbox: SandboxServer) -> World:
    world = build_world(postgres_db, sandbox)
    world.app("alice").sync.sync()
    return world


@pytest.fixture
def open_pg(qtbot: QtBot, pg_world: World, tmp_path: Path) -> Iterator[OpenWindow]:
    """The console for a person on the shared PostgreSQL, listening, its first comment shown."""
    opened: list[MainWindow] = []

    def open_for(username: str) -> MainWindow:
        settings = GuiSettings(
            QSettings(str(tmp_path / f"{username}.ini"), QSettings.Format.IniFormat)
        )
        settings.auto_sync_minutes = 0
        window = started(qtbot, MainWindow(pg_world.app(username), settings))
        opened.append(window)
        live = window.live
        assert live is not None
        qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.detail.comment_id is not None, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: live.updates.listener.live, timeout=WAIT_MS)
        return window

    yield open_for
    for window in opened:
        window.close()


def status_of(window: MainWindow, comment_id: int) -> str | None:
    row = window.model.row_of(comment_id)
    shown = window.model.queue_row(row) if row is not None else None
    return shown.status if shown is not None else None


def open_by(window: MainWindow, comment_id: int) -> str | None:
    row = window.model.row_of(comment_id)
    shown = window.model.queue_row(row) if row is not None else None
    return shown.open_by if shown is not None else None


class ReadSpy:
    """Which ids the queue model reads rows for (its loader, through `QueueView.rows`)."""

    def __init__(self, window: MainWindow) -> None:
        self.asked: list[int] = []
        self.resets = 0
        model = window.model
        inner = model._load_rows

        def load(ids: Sequence[int]) -> list[object]:
            self.asked += ids
            return list(inner(ids))

        model._load_rows = load  # type: ignore[assignment]
        model.modelReset.connect(self._reset)

    def _reset(self) -> None:
        self.resets += 1


def test_a_change_elsewhere_updates_only_its_rows(
    qtbot: QtBot, open_pg: OpenWindow, pg_world: World
) -> None:
    bob = open_pg("bob")
    shown, below = bob.model.comment_id(0), bob.model.comment_id(2)
    rows = bob.model.rowCount()
    read_before = {row.id for row in bob.model.cached_rows()}
    assert len(read_before) > 5
    spy = ReadSpy(bob)
    alice = pg_world.app("alice").moderation

    assert alice.act(below, Action.HIDE, "PRF").ok  # leaves his queue of new comments
    qtbot.waitUntil(lambda: bob.model.row_of(below) is None, timeout=WAIT_MS)
    assert bob.model.rowCount() == rows - 1
    assert alice.act(shown, Action.HIDE, "PRF").ok  # the one in his view stays, as it is now
    qtbot.waitUntil(lambda: status_of(bob, shown) == "hidden", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "hidden" in bob.detail.state_label.text(), timeout=WAIT_MS)

    external = pg_world.sandbox.state.facebook.add_comment(POST, "Is the splash pad open?")
    pg_world.app("alice").sync.sync()
    qtbot.waitUntil(lambda: bob.model.rowCount() == rows, timeout=WAIT_MS)
    with pg_world.db.engine.connect() as connection:
        new = connection.execute(
            text("SELECT id FROM comments WHERE external_id = :e"), {"e": external}
        ).scalar_one()
    assert bob.model.comment_id(0) == new  # the newest, at the top
    assert spy.resets == 0
    # No row read before was read again but the one that changed (rows coming into view are
    # read as they show).
    assert set(spy.asked) & read_before == {shown}
    assert bob.current_comment_id() == shown


def test_who_has_a_comment_open_shows_and_acting_on_it_asks_first(
    qtbot: QtBot, open_pg: OpenWindow, pg_world: World
) -> None:
    alice = open_pg("alice")
    bob = open_pg("bob")
    first = alice.current_comment_id()
    assert first is not None
    assert bob.current_comment_id() == first
    qtbot.waitUntil(lambda: open_by(bob, first) == "Open by Alice Moderator", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: open_by(alice, first) == "Open by Bob Moderator", timeout=WAIT_MS)
    assert bob.detail.presence_label.text() == "Open by Alice Moderator"
    assert "Open by Alice Moderator" in bob.model.data(
        bob.model.index(0, Column.STATUS), Qt.ItemDataRole.DisplayRole
    )

    for answer in ("cancel", "act"):
        bob.activateWindow()  # the one-key shortcuts work in the active window
        qtbot.waitUntil(bob.isActiveWindow, timeout=WAIT_MS)
        dialog = open_dialog(qtbot, bob, Qt.Key.Key_H)
        qtbot.keyClicks(dialog.code_search, "PRF")
        qtbot.keyClick(dialog.code_search, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: bob.triage.presence_question is not None, timeout=WAIT_MS)
        box = bob.triage.presence_question
        assert box is not None
        assert box.textFormat() == Qt.TextFormat.PlainText
        assert box.text().startswith("Open by Alice Moderator (since ")
        assert "Nothing has been recorded yet" in box.text()
        assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
        assert log_entries(pg_world, first) == []  # asked before anything is recorded
        if answer == "cancel":
            qtbot.keyClick(box, Qt.Key.Key_Escape)
            qtbot.waitUntil(lambda: bob.triage.presence_question is None, timeout=WAIT_MS)
            assert log_entries(pg_world, first) == []
        else:
            (go_on,) = [b for b in box.buttons() if b.text() == "Hide &anyway"]
            go_on.click()
            qtbot.waitUntil(lambda: len(log_entries(pg_world, first)) == 2, timeout=WAIT_MS)
    # Alice's window learns it at once: the row in her view stays and says so.
    qtbot.waitUntil(lambda: status_of(alice, first) == "hidden", timeout=WAIT_MS)

    # She moves on: "Open by" leaves Bob's row of that comment.
    alice.select_row(1)
    qtbot.waitUntil(lambda: open_by(bob, first) == "", timeout=WAIT_MS)


def test_a_hostile_name_is_shown_as_plain_text(
    qtbot: QtBot, open_pg: OpenWindow, pg_world: World
) -> None:
    with pg_world.db.transaction() as session:
        person = admin.ensure_person(session, "mallory", HOSTILE)
        department = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        admin.grant(session, person, Role.MODERATOR, department)
    bob = open_pg("bob")
    first = bob.current_comment_id()
    assert first is not None
    PresenceService(pg_world.db, "mallory").open(first)

    qtbot.waitUntil(lambda: open_by(bob, first) == f"Open by {HOSTILE}", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: bob.detail.presence_label.isVisible(), timeout=WAIT_MS)
    label = bob.detail.presence_label
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert "<b>Mal</b>" in label.text()
    index = bob.model.index(0, Column.STATUS)
    assert "<b>Mal</b>" in bob.model.data(index, Qt.ItemDataRole.DisplayRole)
    tip = bob.model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert "&lt;b&gt;Mal&lt;/b&gt;" in tip
    assert "<b>" not in tip


@pytest.mark.expected_log("live updates paused")
def test_the_window_says_when_live_updates_pause_and_resume(
    qtbot: QtBot, open_pg: OpenWindow, pg_world: World
) -> None:
    bob = open_pg("bob")
    live = bob.live
    assert live is not None
    label = bob.findChild(QLabel, "liveStatus")
    assert label is live.label
    assert not label.isVisible()
    # What the window showed at each change of state (it may pause and resume between two
    # looks of a busy test, so each is noted as it happens, after the window's own slot).
    seen: list[tuple[bool, str, bool]] = []
    live.updates.state.connect(lambda up, _: seen.append((up, label.text(), label.isVisible())))
    pid = live.updates.listener.backend_pid
    with pg_world.db.engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})

    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=WAIT_MS)  # paused, then reconnected
    assert seen[0] == (False, paused_words(LOST), True)
    assert paused_words(LOST) == (
        "Live updates paused: the connection to the database was lost; the queue refreshes "
        "when you reload."
    )
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert seen[1][0]
    assert not live.paused
    assert not label.isVisible()
    assert "Live updates resumed" in bob.statusBar().currentMessage()
    # And it works again: a comment hidden elsewhere leaves the queue.
    below = bob.model.comment_id(1)
    assert pg_world.app("alice").moderation.act(below, Action.HIDE, "PRF").ok
    qtbot.waitUntil(lambda: bob.model.row_of(below) is None, timeout=WAIT_MS)


def test_a_window_on_sqlite_has_no_live_updates(window: MainWindow) -> None:
    assert window.live is None
    assert window.findChild(QLabel, "liveStatus") is None
    assert not window.presence.enabled
    assert not window.detail.presence_label.isVisible()


def supervisor_window(qtbot: QtBot, pg_world: World, tmp_path: Path) -> MainWindow:
    """sam's console (the oversight group: no queue of their own), started, not synced."""
    settings = GuiSettings(QSettings(str(tmp_path / "sam.ini"), QSettings.Format.IniFormat))
    settings.auto_sync_minutes = 0
    return started(qtbot, MainWindow(pg_world.app("sam"), settings))


def test_the_log_tab_gains_new_entries_at_the_top(
    qtbot: QtBot, pg_world: World, tmp_path: Path
) -> None:
    sam = supervisor_window(qtbot, pg_world, tmp_path)
    try:
        screen = sam.show_log()
        assert screen is not None
        assert sam.live is not None
        qtbot.waitUntil(lambda: sam.live is not None and sam.live.updates.listener.live)
        qtbot.waitUntil(lambda: not screen.loading, timeout=WAIT_MS)
        before = screen.model.ids()
        resets: list[int] = []
        screen.model.modelReset.connect(lambda: resets.append(1))
        comment = QueueView(pg_world.db, "alice").newest(QueueFilter(), 1)[0].id

        done = pg_world.app("alice").moderation.act(comment, Action.FLAG, "PRF")

        new = [done.outcome_entry_id, done.pending_entry_id]
        qtbot.waitUntil(lambda: screen.model.ids()[:2] == new, timeout=WAIT_MS)
        assert screen.model.ids()[2:] == before
        assert resets == []
    finally:
        sam.close()


def test_the_review_tab_gains_a_new_action_that_needs_review(
    qtbot: QtBot, pg_world: World, tmp_path: Path
) -> None:
    sam = supervisor_window(qtbot, pg_world, tmp_path)
    try:
        comments = QueueView(pg_world.db, "alice").newest(QueueFilter(), 2)
        alice = pg_world.app("alice").moderation
        first = alice.act(comments[0].id, Action.HIDE, "OFT").pending_entry_id
        screen = sam.show_review()
        assert screen is not None
        qtbot.waitUntil(lambda: sam.live is not None and sam.live.updates.listener.live)
        qtbot.waitUntil(lambda: [i.entry_id for i in screen.waiting] == [first], timeout=WAIT_MS)
        screen.waiting_table.setCurrentCell(0, 0)
        qtbot.waitUntil(lambda: screen.item is not None, timeout=WAIT_MS)

        second = alice.act(comments[1].id, Action.HIDE, "OFT").pending_entry_id

        qtbot.waitUntil(lambda: len(screen.waiting) == 2, timeout=WAIT_MS)
        assert [i.entry_id for i in screen.waiting] == [first, second]
        assert screen.waiting_table.currentRow() == 0  # the action in view stays chosen
        assert screen.waiting_label.text() == "Needs review (oldest first): 2"
    finally:
        sam.close()


@dataclass(frozen=True)
class Line:
    id: int


class Lines(IdWindowModel[Line]):
    def texts(self, row: Line) -> tuple[int]:
        return (row.id,)


def test_rows_leave_and_arrive_in_their_places(qtbot: QtBot, qtmodeltester: ModelTester) -> None:
    read: list[int] = []

    def load(ids: Sequence[int]) -> list[Line]:
        read.extend(ids)
        return [Line(i) for i in ids]

    runner = TaskRunner()
    model = Lines(load, ["id"], runner)
    model.reset_ids([90, 80, 70, 60, 50, 40], has_more=True)
    qtmodeltester.check(model)
    removed: list[tuple[int, int]] = []
    model.rowsRemoved.connect(lambda _, first, last: removed.append((first, last)))

    model.remove_ids([80, 70, 40, 999])

    assert model.ids() == [90, 60, 50]
    assert removed == [(5, 5), (1, 2)]  # each run at once, from the bottom
    assert model.row_of(50) == 2
    # 95 is newest, 55 falls between 60 and 50, 10 is past the loaded rows while more are
    # to come: paging will bring it.
    assert model.merge_first_page([95, 90, 60, 55, 50, 10]) == [95, 55]
    assert model.ids() == [95, 90, 60, 55, 50]
    assert [model.row_of(i) for i in (95, 55, 50)] == [0, 3, 4]
    model.append_ids([10], has_more=False)
    assert model.merge_first_page([95, 90, 60, 55, 50, 10, 5]) == [5]
    assert model.ids()[-1] == 5
    model.index(3, 0).data()  # painted: read on a worker
    qtbot.waitUntil(lambda: model.index(3, 0).data() == 55, timeout=WAIT_MS)
    assert 55 in read  # a new row is read when it is first shown
    qtmodeltester.check(model)
    runner.shutdown()
