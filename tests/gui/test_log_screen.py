"""The Log screen driven as a supervisor would: filter, open an entry, export, verify."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QPlainTextEdit, QTabWidget
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot
from sqlalchemy import select, text

from hsm_console.db.models import Comment, Site
from hsm_console.display import CITY_TZ
from hsm_console.gui.filter_bar import chosen_day
from hsm_console.gui.log_screen import LogModel, LogScreen
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.page_loader import PageLoader
from hsm_console.gui.settings import GuiSettings
from hsm_console.gui.workers import TaskRunner
from hsm_console.rules.domain import Action, Role
from hsm_console.services import admin, log_export
from hsm_console.services.log_export import FORMULA_STARTS, ExportFormat
from hsm_console.services.log_view import LogFilter, LogView
from tests.conftest import World
from tests.gui.conftest import started
from tests.gui.helpers import WAIT_MS, count, read_rows

PARKS_POST = "1000000000001_122100000000000"
HOSTILE = '=HYPERLINK("http://evil.test") <b>bold</b> \u202eevil'


@dataclass
class Acted:
    world: World
    hidden: int  # hidden under PRF: a word nothing else has, and a formula-looking start


@pytest.fixture
def acted(gui_world: World) -> Acted:
    world = gui_world
    world.sandbox.state.facebook.add_comment(PARKS_POST, f"{HOSTILE} quetzalcoatlus")
    world.app("alice").sync.sync()
    with world.db.session() as session:
        hidden = session.scalars(select(Comment.id).where(Comment.text.contains("quetzal"))).one()
        parks = session.scalars(
            select(Comment.id).where(Comment.site_id == world.parks_site).order_by(Comment.id)
        ).all()
        police = session.scalars(
            select(Comment.id).where(Comment.site_id == world.police_site).order_by(Comment.id)
        ).first()
    assert police is not None
    alice = world.app("alice").moderation
    alice.act(hidden, Action.HIDE, "PRF", note="=cmd|' /C calc'!A0")
    for comment_id in parks[:3]:
        alice.act(comment_id, Action.FLAG, "OFT")
    world.app("carol").moderation.act(police, Action.FLAG, "SPM")
    with world.db.transaction() as session:
        site = session.get(Site, world.parks_site)
        assert site is not None
        pat = admin.ensure_person(session, "pat", "Pat Parks Director")
        admin.grant(session, pat, Role.SUPERVISOR, site.department)
    return Acted(world, hidden)


OpenLog = Callable[[str], tuple[MainWindow, LogScreen]]


@pytest.fixture
def open_log(qtbot: QtBot, acted: Acted, gui_settings: GuiSettings) -> Iterator[OpenLog]:
    opened: list[MainWindow] = []

    def open_for(username: str) -> tuple[MainWindow, LogScreen]:
        window = started(qtbot, MainWindow(acted.world.app(username), gui_settings))
        opened.append(window)
        screen = window.show_log()
        assert screen is not None
        qtbot.waitUntil(lambda: screen.model.rowCount() > 0, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: screen.entry is not None, timeout=WAIT_MS)
        return window, screen

    yield open_for
    for window in opened:
        window.close()


def choose(qtbot: QtBot, screen: LogScreen, combo: QComboBox, value: object) -> None:
    before = screen.model.ids()
    # The people's list is read on a worker after the tab is built.
    qtbot.waitUntil(lambda: combo.findData(value) >= 0, timeout=WAIT_MS)
    combo.setCurrentIndex(combo.findData(value))
    qtbot.waitUntil(lambda: screen.model.ids() != before and not screen.loading, timeout=WAIT_MS)


def entries(world: World) -> int:
    return count(world, "SELECT count(*) FROM action_log")


def test_a_moderator_has_no_log_screen(
    qtbot: QtBot, acted: Acted, gui_settings: GuiSettings
) -> None:
    window = MainWindow(acted.world.app("alice"), gui_settings)
    qtbot.addWidget(window)
    assert window.log_screen is None
    assert window.show_log() is None
    assert window.findChild(QTabWidget, "pages") is None
    window.close()


def test_a_supervisors_tabs_are_built_when_first_shown(
    qtbot: QtBot, acted: Acted, gui_settings: GuiSettings
) -> None:
    with acted.world.db.transaction() as session:  # a queue to show first, then the tabs
        site = session.get(Site, acted.world.parks_site)
        assert site is not None
        pat = admin.ensure_person(session, "pat")
        admin.grant(session, pat, Role.MODERATOR, site.department)
    window = started(qtbot, MainWindow(acted.world.app("pat"), gui_settings))
    qtbot.waitUntil(lambda: window.detail.comment_id is not None, timeout=WAIT_MS)
    pages = window.pages
    assert pages is not None
    titles = [pages.tabText(index) for index in range(pages.count())]
    assert titles == ["&Queue", "&Log", "&Review", "&Dashboard"]
    assert (window.log_screen, window.review_screen, window.dashboard_screen) == (None,) * 3
    pages.setCurrentIndex(1)  # as a click on the tab
    screen = window.log_screen
    assert isinstance(screen, LogScreen)
    assert pages.currentWidget() is screen
    assert pages.tabText(1) == "&Log"
    qtbot.waitUntil(lambda: screen.model.rowCount() > 0, timeout=WAIT_MS)
    assert (window.review_screen, window.dashboard_screen) == (None, None)
    window.close()


def test_the_oversight_group_filters_the_log_and_opens_an_entry(
    qtbot: QtBot, open_log: OpenLog, acted: Acted
) -> None:
    window, screen = open_log("sam")  # supervises everything, moderates nothing
    assert window.pages is not None
    assert window.pages.currentWidget() is screen  # no queue, so the log comes first
    assert screen.model.rowCount() == entries(acted.world)
    qtbot.waitUntil(lambda: screen.count_label.text().startswith("10 entries"), timeout=WAIT_MS)

    choose(qtbot, screen, screen.reason, "PRF")
    rows = read_rows(qtbot, screen.model)
    assert [(r.action, r.state) for r in rows] == [("hide", "applied"), ("hide", "pending")]
    screen.select_row(1)
    qtbot.waitUntil(
        lambda: screen.entry is not None and screen.entry.row.state == "pending", timeout=WAIT_MS
    )
    record = screen.record_text.toPlainText()
    assert f"{HOSTILE} quetzalcoatlus" in record  # the text itself, nothing interpreted
    assert "Retained record #" in record
    now = screen.now_text.toPlainText()
    assert "Status: hidden; on the platform: hidden" in now
    assert screen.history_text.toPlainText().count("\n") == 1  # pending and its outcome
    assert " hide recorded first reason PRF" in screen.history_text.toPlainText()
    assert " · hide · recorded first · reason PRF" in screen.summary.text()  # as the table says
    assert "Note: =cmd|' /C calc'!A0" in screen.summary.text()
    assert screen.summary.textFormat() == Qt.TextFormat.PlainText
    for name in ("recordText", "nowText", "historyText"):
        assert isinstance(screen.findChild(QPlainTextEdit, name), QPlainTextEdit)
    for label in screen.findChildren(QLabel):
        if label.objectName() in ("entrySummary", "logCount", "workStatus"):
            assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()

    choose(qtbot, screen, screen.reason, None)
    before = screen.model.ids()
    screen.search.setText("quetzalco")
    qtbot.waitUntil(lambda: screen.model.ids() != before and not screen.loading, timeout=WAIT_MS)
    assert screen.model.rowCount() == 2
    choose(qtbot, screen, screen.outcome, "applied")
    assert screen.model.rowCount() == 1


def test_a_department_supervisor_sees_their_department_only(
    qtbot: QtBot, open_log: OpenLog, acted: Acted
) -> None:
    _, screen = open_log("pat")
    departments = [screen.department.itemText(i) for i in range(screen.department.count())]
    assert departments == ["All my departments", "PARKS"]
    rows = read_rows(qtbot, screen.model)
    assert {r.department for r in rows} == {"PARKS"}
    assert screen.model.rowCount() == entries(acted.world) - 2  # not carol's flag


def test_the_view_is_exported_as_shown(
    qtbot: QtBot, open_log: OpenLog, acted: Acted, tmp_path: Path
) -> None:
    _, screen = open_log("sam")
    choose(qtbot, screen, screen.person, "alice")
    shown = screen.model.rowCount()
    assert shown == entries(acted.world) - 2

    csv_path = tmp_path / "out.csv"
    screen.export(ExportFormat.CSV, csv_path)
    qtbot.waitUntil(lambda: not screen.working, timeout=WAIT_MS)
    assert screen.work_status.text() == f"Exported {shown} entries to {csv_path}."
    with csv_path.open(encoding="utf-8", newline="") as stream:
        table = list(csv.reader(stream))
    assert len(table) == shown + 1
    assert not [cell for row in table for cell in row if cell.startswith(FORMULA_STARTS)]

    jsonl_path = tmp_path / "out.jsonl"
    screen.export_json.setEnabled(True)
    screen.export(ExportFormat.JSONL, jsonl_path)
    qtbot.waitUntil(lambda: not screen.working, timeout=WAIT_MS)
    lines = [json.loads(line) for line in jsonl_path.read_text().splitlines()]
    assert [line["id"] for line in lines] == screen.model.ids()
    assert {line["actor"] for line in lines} == {"alice"}


def test_an_export_can_be_cancelled_and_leaves_no_file(
    qtbot: QtBot, open_log: OpenLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, screen = open_log("sam")
    monkeypatch.setattr(log_export, "PAGE_SIZE", 1)
    release = threading.Event()
    real = screen.view.export_records

    def slow(ids: Sequence[int]) -> list[dict[str, Any]]:
        release.wait(WAIT_MS / 1000)
        return real(ids)

    monkeypatch.setattr(screen.view, "export_records", slow)
    out = tmp_path / "out"
    out.mkdir()
    screen.export(ExportFormat.CSV, out / "stopped.csv")
    assert screen.cancel.isVisible()
    assert screen.progress.isVisible()
    assert not screen.verify_button.isEnabled()
    qtbot.mouseClick(screen.cancel, Qt.MouseButton.LeftButton)
    release.set()
    qtbot.waitUntil(lambda: not screen.working, timeout=WAIT_MS)
    assert screen.last_export is not None
    assert screen.last_export.cancelled
    assert "no file was written" in screen.work_status.text()
    assert list(out.iterdir()) == []
    assert not screen.cancel.isVisible()


def test_verify_the_log_in_the_window(qtbot: QtBot, open_log: OpenLog, acted: Acted) -> None:
    _, screen = open_log("sam")
    total = entries(acted.world)
    qtbot.mouseClick(screen.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.last_report is not None, timeout=WAIT_MS)
    words = screen.work_status.text()
    assert words.startswith(f"The action log is intact. {total} log entries and ")
    assert f"Chain head: entry {total}, sha256 " in words
    assert (screen.progress.maximum(), screen.progress.value()) == (total, total)
    assert screen.verify_button.isEnabled()

    with acted.world.db.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER action_log_no_update"))
        conn.execute(text("UPDATE action_log SET note = 'nothing to see' WHERE id = 3"))
    screen.last_report = None
    qtbot.mouseClick(screen.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.last_report is not None, timeout=WAIT_MS)
    words = screen.work_status.text()
    assert words.startswith("VERIFICATION FAILED: entry 3 was altered")
    assert "First entry that does not match: 3." in words
    assert "2 log entries and 0 retained records checked" in words


def test_the_log_model_pages_by_id_and_passes_the_model_tester(
    qtbot: QtBot, qtmodeltester: ModelTester, acted: Acted
) -> None:
    view = LogView(acted.world.db, "sam")
    runner = TaskRunner()
    model = LogModel(view, runner)
    loader: PageLoader[LogFilter, int] = PageLoader(
        runner, model, view.page, view.count, LogFilter(), 3
    )
    everything = view.page(LogFilter(), None, 1000).ids
    try:
        loader.load(LogFilter())
        qtbot.waitUntil(lambda: model.rowCount() == 3, timeout=WAIT_MS)
        qtmodeltester.check(model)
        for _ in range(len(everything)):
            if model.rowCount() == len(everything):
                break
            model.fetchMore(QModelIndex())
            qtbot.waitUntil(lambda: not runner.busy(), timeout=WAIT_MS)
        assert model.ids() == everything
        qtmodeltester.check(model)
        # A newer filter wins even if the older answer arrives last.
        loader.load(LogFilter(actors=frozenset({"carol"})))
        loader.load(LogFilter(actors=frozenset({"alice"})))
        qtbot.waitUntil(lambda: not runner.busy(), timeout=WAIT_MS)
        actors = {row.actor for row in read_rows(qtbot, model)}
        assert actors == {"alice"}
    finally:
        runner.shutdown()


def test_the_log_follows_actions_taken_meanwhile_and_keeps_the_entry_in_view(
    qtbot: QtBot, open_log: OpenLog, acted: Acted
) -> None:
    window, screen = open_log("pat")
    assert window.pages is not None
    screen.select_row(2)
    qtbot.waitUntil(lambda: screen.entry is not None, timeout=WAIT_MS)
    kept = screen.current_entry_id()
    window.pages.setCurrentIndex(0)
    with acted.world.db.session() as session:
        last = session.scalars(
            select(Comment.id)
            .where(Comment.site_id == acted.world.parks_site)
            .order_by(Comment.id.desc())
        ).first()
    assert last is not None
    acted.world.app("alice").moderation.act(last, Action.KEEP)
    before = screen.model.rowCount()
    window.pages.setCurrentIndex(1)
    qtbot.waitUntil(lambda: screen.model.rowCount() == before + 2, timeout=WAIT_MS)
    assert screen.current_entry_id() == kept


def test_tab_reaches_every_control_of_the_log(qtbot: QtBot, open_log: OpenLog) -> None:
    _, screen = open_log("sam")
    screen.search.setFocus()
    visited = []
    for _ in range(40):
        focused = QApplication.focusWidget()
        assert focused is not None
        visited.append(focused)
        qtbot.keyClick(focused, Qt.Key.Key_Tab)
    names = {widget.objectName() for widget in visited}
    buttons = {"exportCsvButton", "exportJsonButton", "verifyButton"}  # named by their text
    expected = buttons | {
        "logSearch", "logDepartment", "logSite", "logPlatform", "logPerson", "logAction",
        "logReason", "logOutcome", "logKind", "logPeriod", "logFrom", "logTo", "logTable",
        "recordText",
        "nowText", "historyText",
    }  # fmt: skip
    assert expected <= names
    for widget in visited:
        if widget.objectName() in expected - buttons:  # each says what it is to a screen reader
            assert widget.accessibleName(), widget.objectName()


def test_a_span_in_words_sets_the_days_and_days_by_hand_say_so(
    qtbot: QtBot, open_log: OpenLog
) -> None:
    _, screen = open_log("sam")
    period, total = screen.filters.period, screen.model.rowCount()
    period.setFocus()
    qtbot.keyClick(period, Qt.Key.Key_Down)  # "Today": everything here was done today
    assert period.currentText() == "Today"
    today = datetime.now(CITY_TZ).date()
    assert (chosen_day(screen.on_from), chosen_day(screen.on_to)) == (today, today)
    qtbot.waitUntil(
        lambda: screen.current_filter() == screen.loader.current_filter, timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: not screen.loading, timeout=WAIT_MS)
    assert screen.model.rowCount() == total

    screen.on_from.setDate(screen.on_from.date().addDays(1))  # by hand: no longer "Today"
    assert period.currentText() == "Days chosen"
    qtbot.waitUntil(
        lambda: screen.current_filter() == screen.loader.current_filter and not screen.loading,
        timeout=WAIT_MS,
    )
    assert screen.model.rowCount() == 0  # from tomorrow

    period.setCurrentIndex(0)
    period.activated.emit(0)  # "Any day", as chosen from the list
    assert (chosen_day(screen.on_from), chosen_day(screen.on_to)) == (None, None)
    assert period.currentText() == "Any day"
