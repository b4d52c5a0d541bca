"""Every model and proxy of the window passes Qt's model tester."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot
from sqlalchemy import event, text

from hsm_console.display import local_minute
from hsm_console.gui.history_model import HistoryModel
from hsm_console.gui.id_model import READ_AHEAD, IdWindowModel
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.queue_loader import QueueLoader
from hsm_console.gui.queue_model import ID_ROLE, ROW_ROLE, Column, QueueModel, status_text
from hsm_console.gui.reason_codes import CODE_ROLE, ReasonCodeFilter, ReasonCodeModel
from hsm_console.gui.workers import TaskRunner
from hsm_console.rules.policy import load_policy
from hsm_console.services.comment_detail import HistoryItem
from hsm_console.services.queue_view import QueueFilter, QueueView
from tests.conftest import World
from tests.gui.helpers import WAIT_MS, all_read, fresh_row

pytestmark = pytest.mark.gui


def test_the_queue_model_of_the_window(qtmodeltester: ModelTester, window: MainWindow) -> None:
    qtmodeltester.check(window.model)
    row = window.model.queue_row(0)
    assert row is not None
    assert window.model.index(0, Column.AUTHOR).data() == row.author_name
    assert window.model.index(0, Column.SITE).data() == row.site_name
    assert window.model.index(0, Column.RECEIVED).data() == local_minute(row.created_at)
    assert window.model.index(0, Column.STATUS).data() == status_text(row)
    assert window.model.index(0, 0).data(ID_ROLE) == row.id
    assert window.model.index(0, 0).data(ROW_ROLE) == row


def test_the_queue_model_fetches_more_pages_as_asked(
    qtbot: QtBot, qtmodeltester: ModelTester, gui_world: World
) -> None:
    view = QueueView(gui_world.db, "alice")
    runner = TaskRunner()
    model = QueueModel(view.rows, runner)
    loader = QueueLoader(view, runner, model, page_size=10)
    everything = view.page(QueueFilter(), None, 1000).ids
    try:
        loader.load(QueueFilter())
        qtbot.waitUntil(lambda: model.rowCount() == 10, timeout=WAIT_MS)
        assert model.canFetchMore(QModelIndex())

        qtmodeltester.check(model)  # fetches more while it checks
        for _ in range(len(everything)):  # a bound, in case fetching stalled
            if model.rowCount() == len(everything):
                break
            model.fetchMore(QModelIndex())
            qtbot.waitUntil(lambda: not runner.busy(), timeout=WAIT_MS)

        assert model.ids() == everything
        assert not model.canFetchMore(QModelIndex())
        qtmodeltester.check(model)
    finally:
        runner.shutdown()


def test_the_queue_model_marks_rows_stale_instead_of_resetting(
    qtbot: QtBot, window: MainWindow, gui_world: World
) -> None:
    resets: list[int] = []
    changed: list[int] = []
    window.model.modelReset.connect(lambda: resets.append(1))
    window.model.dataChanged.connect(lambda first, last, roles=(): changed.append(first.row()))
    comment_id = window.model.comment_id(2)
    with gui_world.db.transaction() as session:
        session.execute(
            text("UPDATE comments SET author_name = 'Renamed' WHERE id = :c"),
            {"c": comment_id},
        )

    window.model.refresh([comment_id])

    assert window.model.index(2, Column.AUTHOR).data() != "Renamed"  # painted as it stood
    fresh_row(qtbot, window.model, 2)
    assert changed == [2]
    assert resets == []
    assert window.model.index(2, Column.AUTHOR).data() == "Renamed"


def test_painting_the_queue_never_reads_the_database_on_the_gui_thread(
    qtbot: QtBot, window: MainWindow, gui_world: World
) -> None:
    """Rows are read on worker threads and painted as placeholders until they arrive;
    screening ran at ingest. So every cell, tooltip and icon is painting alone."""
    model, gui_thread = window.model, threading.get_ident()
    statements: list[tuple[int, str]] = []

    def executed(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append((threading.get_ident(), statement))

    roles = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
             Qt.ItemDataRole.DecorationRole, ROW_ROLE)  # fmt: skip
    event.listen(window.app.db.engine, "before_cursor_execute", executed)
    try:
        model.reset_ids(model.ids(), False)  # forget every row read so far
        placeholders = [model.index(r, Column.COMMENT).data() for r in range(model.rowCount())]
        for row in range(model.rowCount()):
            for column in range(model.columnCount()):
                for role in roles:
                    model.index(row, column).data(role)
        window.table.scrollToBottom()
        window.table.viewport().repaint()
        qtbot.waitUntil(lambda: all_read(model), timeout=WAIT_MS)
        window.table.scrollToTop()
        window.table.viewport().repaint()
        suggestions = [model.index(r, Column.SUGGESTION).data() for r in range(model.rowCount())]
    finally:
        event.remove(window.app.db.engine, "before_cursor_execute", executed)

    assert [statement for thread, statement in statements if thread == gui_thread] == []
    assert any("FROM comments" in s for thread, s in statements if thread != gui_thread)
    assert "Loading…" in placeholders
    assert any(suggestions)  # the rows arrived, suggestions and all


def test_painting_a_row_read_makes_no_text_on_the_gui_thread(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, window: MainWindow
) -> None:
    """Each row's display texts (made safe, cut, dates formatted) are made once, on the
    worker thread that read it: a paint only looks them up."""
    model, gui_thread = window.model, threading.get_ident()
    made: list[int] = []
    texts = model.texts

    def counted(row: Any) -> tuple[str, ...]:
        made.append(threading.get_ident())
        return texts(row)

    monkeypatch.setattr(model, "texts", counted)
    model.reset_ids(model.ids(), False)
    qtbot.waitUntil(lambda: all_read(model), timeout=WAIT_MS)
    window.table.viewport().repaint()
    shown = [model.index(r, Column.COMMENT).data() for r in range(model.rowCount())]

    assert made
    assert gui_thread not in made
    rows = [fresh_row(qtbot, model, r) for r in range(model.rowCount())]
    assert shown == [texts(row)[Column.COMMENT] for row in rows]
    assert "Loading…" not in shown


def test_the_reason_code_model_and_its_filter(qtmodeltester: ModelTester) -> None:
    codes = ReasonCodeModel(list(load_policy().codes.values()))
    filtered = ReasonCodeFilter()
    filtered.setSourceModel(codes)
    qtmodeltester.check(codes)
    qtmodeltester.check(filtered)

    filtered.set_search("personal phone")

    assert [filtered.index(r, 0).data(CODE_ROLE) for r in range(filtered.rowCount())] == ["PII"]
    qtmodeltester.check(filtered)
    filtered.set_search("")
    assert filtered.rowCount() == codes.rowCount()


def test_the_history_model(qtmodeltester: ModelTester) -> None:
    at = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
    model = HistoryModel()
    qtmodeltester.check(model)
    model.set_items(
        [
            HistoryItem(1, at, "alice", "hide", "pending", "PRF", "second line", "", None, 7),
            HistoryItem(2, at, "alice", "hide", "applied", "PRF", "", "", 1, 7),
        ]
    )
    qtmodeltester.check(model)
    assert model.index(0, 0).data() == "2026-03-02 08:05:00 CST"
    assert model.index(1, 3).data() == "applied"
    assert model.index(1, 5).data() == "(outcome of entry 1)"
    assert "Note: second line" in model.index(0, 5).data(Qt.ItemDataRole.ToolTipRole)


@dataclass(frozen=True)
class _Row:
    id: int
    value: str


class _ValueModel(IdWindowModel[_Row]):
    def texts(self, row: _Row) -> tuple[str]:
        return (row.value,)


def test_a_row_refreshed_while_it_is_read_is_read_again(qtbot: QtBot) -> None:
    """A read under way may have started before the change the refresh is for: its answer
    is painted, then the row is read again, so it never stays fresh with the old state."""
    value, reads, release = ["before"], [], threading.Event()

    def load(ids: Sequence[int]) -> list[_Row]:
        seen = value[0]
        reads.append(seen)
        release.wait(WAIT_MS / 1000)
        return [_Row(item_id, seen) for item_id in ids]

    runner = TaskRunner()
    model = _ValueModel(load, ["value"], runner)
    try:
        model.reset_ids([1], False)  # reads row 1: held until released
        qtbot.waitUntil(lambda: len(reads) == 1, timeout=WAIT_MS)
        value[0] = "after"
        model.refresh([1])
        release.set()
        qtbot.waitUntil(lambda: model.is_fresh(0) and len(reads) == 2, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: not runner.busy(), timeout=WAIT_MS)
        assert reads == ["before", "after"]
        assert model.index(0, 0).data() == "after"
    finally:
        runner.shutdown()


def test_rows_and_ids_are_read_before_scrolling_shows_them(qtbot: QtBot) -> None:
    """A row painted reads the rows `READ_AHEAD` on (and asks for the next page of ids near
    the end), so a screen scrolled into view shows rows read, not placeholders."""
    reads: list[list[int]] = []

    def load(ids: Sequence[int]) -> list[_Row]:
        reads.append(list(ids))
        return [_Row(item_id, str(item_id)) for item_id in ids]

    runner = TaskRunner()
    model = _ValueModel(load, ["value"], runner)
    wanted: list[int] = []
    model.more_wanted.connect(lambda: wanted.append(1))
    try:
        model.reset_ids(range(1000), True)  # reads the first screen
        qtbot.waitUntil(lambda: not model.reading(), timeout=WAIT_MS)
        assert model.is_loaded(0)
        assert not model.is_loaded(READ_AHEAD + 30)

        assert model.index(30, 0).data() == "30"  # painted: what is `READ_AHEAD` on is read
        qtbot.waitUntil(lambda: not model.reading(), timeout=WAIT_MS)
        assert model.is_loaded(30 + READ_AHEAD)
        assert all(item_id not in reads[0] for item_id in reads[1])  # nothing read twice
        assert wanted == []
        for row in range(31, 60):  # the rest of a screen painted, a row at a time
            model.index(row, 0).data()
        qtbot.waitUntil(lambda: not model.reading(), timeout=WAIT_MS)
        # Every row up to the furthest read ahead: none left to be read only when shown.
        assert all(model.is_loaded(row) for row in range(59 + READ_AHEAD))

        for row in range(30, 961, 20):  # scrolled towards the end, to row 950
            model.index(row, 0).data()
            qtbot.waitUntil(lambda: not model.reading(), timeout=WAIT_MS)
        assert wanted == [1]  # the next page, before the last row loaded is shown
        assert model.is_loaded(999)
    finally:
        runner.shutdown()


def test_scrolling_up_from_a_jump_reads_the_rows_above_without_a_gap(qtbot: QtBot) -> None:
    runner = TaskRunner()
    model = _ValueModel(lambda ids: [_Row(i, str(i)) for i in ids], ["value"], runner)
    try:
        model.reset_ids(range(2000), False)
        qtbot.waitUntil(lambda: not model.reading(), timeout=WAIT_MS)
        model.index(1500, 0).data()  # a jump: the rows around it are read as shown
        qtbot.waitUntil(lambda: not model.reading(), timeout=WAIT_MS)
        for _ in range(3):  # a screen painted, then painted again as each read arrives
            for row in range(1509, 1479, -1):
                model.index(row, 0).data()
            qtbot.waitUntil(lambda: not model.reading(), timeout=WAIT_MS)
        assert [r for r in range(1480 - READ_AHEAD, 1510) if not model.is_loaded(r)] == []
        assert not model.is_loaded(1000)  # read ahead, not everything
    finally:
        runner.shutdown()


def test_a_read_asked_for_while_painting_starts_after_the_paint(qtbot: QtBot) -> None:
    """Starting a worker lets go of the GIL, and taking it back can wait for another worker
    running Python: the read a paint asks for starts once the paint is over."""
    runner = TaskRunner()
    model = _ValueModel(lambda ids: [_Row(i, str(i)) for i in ids], ["value"], runner)
    try:
        model.reset_ids(range(500), False)
        qtbot.waitUntil(lambda: not model.reading(), timeout=WAIT_MS)
        assert not model.is_loaded(300)

        assert model.index(300, 0).data() is None  # painted: a placeholder, a read asked for
        assert model.reading()
        assert not runner.busy()  # not started inside the paint
        qtbot.waitUntil(lambda: not model.reading(), timeout=WAIT_MS)
        assert model.index(300, 0).data() == "300"
    finally:
        runner.shutdown()


def test_a_row_on_screen_is_read_before_rows_read_ahead(qtbot: QtBot) -> None:
    """One window is read at a time: while one is under way, a row painted goes next, and a
    read ahead asked for after it does not take its place."""
    reads: list[list[int]] = []
    release = threading.Event()

    def load(ids: Sequence[int]) -> list[_Row]:
        reads.append(list(ids))
        release.wait(WAIT_MS / 1000)
        return [_Row(item_id, str(item_id)) for item_id in ids]

    runner = TaskRunner()
    model = _ValueModel(load, ["value"], runner)
    try:
        model.reset_ids(range(1000), False)  # the first screen's read: held
        qtbot.waitUntil(lambda: len(reads) == 1, timeout=WAIT_MS)
        model.index(500, 0).data()  # on screen, not read: waits for the read under way
        model._read_window(900, is_ahead=True)  # as `_read_ahead` asks, after it
        release.set()
        qtbot.waitUntil(lambda: not model.reading(), timeout=WAIT_MS)
        assert model.is_loaded(500)
        assert not model.is_loaded(900)
    finally:
        release.set()
        runner.shutdown()
