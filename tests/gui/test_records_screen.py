"""The Records tab driven as a records officer would: the band naming overdue and due-soon
requests when the window opens, the register coloured by urgency with untrusted text shown
plainly, a draft handed over from the queue accepted, the extension and withdrawal dialogs,
and *Search and export…* asking for the selected request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from PySide6.QtCore import QDateTime, Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QInputDialog,
    QLabel,
    QPushButton,
    QTableWidgetItem,
)
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from hsm_console.db.models import Comment
from hsm_console.display import CITY_TZ
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.records_screen import (
    DUE_SOON_BACKGROUND,
    OVERDUE_BACKGROUND,
    ExtensionDialog,
    NewRequestDialog,
    RecordsScreen,
    Step,
)
from hsm_console.gui.settings import GuiSettings
from hsm_console.rules.domain import Action, Role
from hsm_console.rules.policy import load_policy
from hsm_console.rules.records_requests import ExtensionReason, RequestState
from hsm_console.services import admin
from hsm_console.services.records_requests import RecordsRequests, calendar_of
from tests.conftest import World
from tests.gui.conftest import started
from tests.gui.helpers import WAIT_MS

HOSTILE = "<b>Ann</b> <img src=x onerror=alert(1)> \u202eevil =SUM(A1)"


def due_soon_receipt(today: date) -> datetime:
    """A receipt time whose request is due within two business days from `today`."""
    calendar = calendar_of(load_policy())
    day = today
    while calendar.days_left(today, calendar.due_on(_noon(day))) > 2:
        day -= timedelta(days=1)
    return _noon(day)


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=CITY_TZ)


@pytest.fixture
def register(gui_world: World) -> dict[str, int]:
    """rita keeps Parks' records; an overdue, a due-soon and a fresh request with hostile text."""
    with gui_world.db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        rita = admin.ensure_person(session, "rita", "Rita Records")
        admin.grant(session, rita, Role.RECORDS_OFFICER, parks)
    service = RecordsRequests(gui_world.db, load_policy(), "rita")
    now = datetime.now(UTC)
    return {
        "overdue": service.register(now - timedelta(days=30), "Bo", "Old request.", "PARKS"),
        "soon": service.register(due_soon_receipt(service.today()), "Cy", "Soon.", "PARKS"),
        "fresh": service.register(now, HOSTILE, HOSTILE + "\nline two", "PARKS"),
    }


OpenRecords = Callable[[str], tuple[MainWindow, RecordsScreen]]


@pytest.fixture
def open_records(
    qtbot: QtBot, gui_world: World, gui_settings: GuiSettings
) -> Iterator[OpenRecords]:
    opened: list[MainWindow] = []

    def open_for(username: str) -> tuple[MainWindow, RecordsScreen]:
        window = started(qtbot, MainWindow(gui_world.app(username), gui_settings))
        opened.append(window)
        screen = window.show_records()
        assert screen is not None
        qtbot.waitUntil(lambda: not screen.loading and bool(screen.rows), timeout=WAIT_MS)
        return window, screen

    yield open_for
    for window in opened:
        window.close()


def cell(screen: RecordsScreen, row: int, column: int) -> QTableWidgetItem:
    item = screen.table.item(row, column)
    assert item is not None
    return item


def select_request(qtbot: QtBot, screen: RecordsScreen, request_id: int) -> None:
    row = [r.id for r in screen.rows].index(request_id)
    screen.table.setCurrentCell(row, 0)
    qtbot.waitUntil(
        lambda: screen.detail is not None and screen.detail.request.id == request_id,
        timeout=WAIT_MS,
    )


def answer_dialog(fill: Callable[[object], None]) -> None:
    """Fill the dialog that the next click opens, then press OK."""

    def act() -> None:
        dialog = QApplication.activeModalWidget()
        assert dialog is not None
        fill(dialog)
        dialog.accept()  # type: ignore[attr-defined]

    QTimer.singleShot(0, act)


def test_band_and_register_show_what_is_due(
    qtbot: QtBot, register: dict[str, int], open_records: OpenRecords
) -> None:
    window, screen = open_records("rita")
    banner = screen.banner
    qtbot.waitUntil(banner.isVisible, timeout=WAIT_MS)
    said = banner.label.text()
    lines = said.splitlines()
    assert lines[0].startswith(f"⚠ Request #{register['overdue']} from Bo (PARKS), due ")
    assert ": overdue by " in lines[0]
    assert lines[0].endswith(" business days, not assigned.")
    assert lines[1].startswith(f"Request #{register['soon']} from Cy (PARKS), due ")
    assert lines[1].endswith((" left, not assigned.", ": due today, not assigned."))
    assert f"#{register['fresh']}" not in said
    assert [r.id for r in screen.rows][:2] == [register["overdue"], register["soon"]]
    ids = [r.id for r in screen.rows]
    overdue_cell = cell(screen, ids.index(register["overdue"]), 6)
    assert overdue_cell.background().color() == OVERDUE_BACKGROUND
    assert "(overdue)" in overdue_cell.text()  # said in words, not by colour alone
    soon_cell = cell(screen, ids.index(register["soon"]), 0)
    assert soon_cell.background().color() == DUE_SOON_BACKGROUND
    fresh = ids.index(register["fresh"])
    assert cell(screen, fresh, 0).background().style() == Qt.BrushStyle.NoBrush
    # Hostile text: the cell shows it with the override made visible, the pane exactly.
    assert cell(screen, fresh, 2).text().startswith("<b>Ann</b> <img")
    tip = cell(screen, fresh, 2).toolTip()  # the words, escaped for the rich tooltip
    assert "&lt;b&gt;Ann&lt;/b&gt;" in tip
    assert "\\u202e" in tip
    select_request(qtbot, screen, register["overdue"])
    extend = screen.buttons[Step.EXTEND]
    assert not extend.isEnabled()  # past its due date: 3(f)
    assert "3(f)" in extend.toolTip()
    assert "overdue by" in screen.summary.text()
    select_request(qtbot, screen, register["fresh"])
    assert screen.words.toPlainText() == HOSTILE + "\nline two"
    assert screen.summary.textFormat() == Qt.TextFormat.PlainText
    assert HOSTILE in screen.summary.text()
    # The band's button brings the tab forward.
    assert window.pages is not None
    window.pages.setCurrentIndex(0)
    banner.button.click()
    assert window.pages.currentWidget() is screen


def test_steps_through_the_dialogs_and_search_asks_for_the_request(
    qtbot: QtBot, register: dict[str, int], open_records: OpenRecords
) -> None:
    _, screen = open_records("rita")
    request_id = register["fresh"]
    select_request(qtbot, screen, request_id)
    assert not screen.buttons[Step.ACCEPT].isEnabled()  # open, not a draft
    with qtbot.waitSignal(screen.search_requested, timeout=WAIT_MS) as asked:
        screen.search_button.click()
    assert asked.args == [request_id]

    def handler(dialog: object) -> None:
        assert isinstance(dialog, QInputDialog)
        assert dialog.comboBoxItems() == ["rita"]  # the records officers of Parks
        dialog.setTextValue("rita")

    answer_dialog(handler)
    screen.buttons[Step.ASSIGN].click()
    qtbot.waitUntil(
        lambda: screen.detail is not None and screen.detail.request.handler == "rita",
        timeout=WAIT_MS,
    )

    def extension(dialog: object) -> None:
        assert isinstance(dialog, ExtensionDialog)
        dialog.reasons.setCurrentIndex(dialog.reasons.findData(ExtensionReason.CONSULTATION.value))
        dialog.note.setPlainText("The Police hold some of them.")

    answer_dialog(extension)
    screen.buttons[Step.EXTEND].click()
    qtbot.waitUntil(
        lambda: screen.detail is not None and screen.detail.request.state is RequestState.EXTENDED,
        timeout=WAIT_MS,
    )
    assert not screen.buttons[Step.EXTEND].isEnabled()  # one extension only
    assert "3(e)(vii)" in screen.history.toPlainText()

    def withdrawal(dialog: object) -> None:
        assert isinstance(dialog, QInputDialog)
        dialog.setTextValue("Withdrawn by the requester by phone.")

    answer_dialog(withdrawal)
    screen.buttons[Step.WITHDRAW].click()
    qtbot.waitUntil(
        lambda: screen.detail is not None and screen.detail.request.state is RequestState.WITHDRAWN,
        timeout=WAIT_MS,
    )
    assert not any(button.isEnabled() for button in screen.buttons.values())
    assert not screen.search_button.isEnabled()
    assert "Withdrawn by the requester by phone." in screen.history.toPlainText()


def test_a_new_request_is_registered_through_its_dialog(
    qtbot: QtBot, gui_world: World, register: dict[str, int], open_records: OpenRecords
) -> None:
    _, screen = open_records("rita")
    assert screen.departments == ["PARKS"]

    def new(dialog: object) -> None:
        assert isinstance(dialog, NewRequestDialog)
        dialog.requester.setText(HOSTILE)
        dialog.words.setPlainText("  Emails about the dog park.\n")
        dialog.received.setDateTime(QDateTime(2026, 2, 9, 23, 30, 0))

    answer_dialog(new)
    screen.new_button.click()
    qtbot.waitUntil(lambda: len(screen.rows) == len(register) + 1, timeout=WAIT_MS)
    (added,) = [r for r in screen.rows if r.id not in register.values()]
    assert (added.requester, added.words) == (HOSTILE, "  Emails about the dog park.\n")
    assert added.received_at == datetime(2026, 2, 10, 5, 30, tzinfo=UTC)  # 23:30 in Chicago
    assert added.due_on == date(2026, 2, 18)
    qtbot.waitUntil(lambda: screen.detail is not None, timeout=WAIT_MS)
    assert "Registering the request: recorded in the log." in screen.status.text()


def test_a_draft_from_the_queue_is_accepted(
    qtbot: QtBot, gui_world: World, register: dict[str, int], open_records: OpenRecords
) -> None:
    with gui_world.db.session() as session:
        first = session.scalars(
            select(Comment).where(Comment.site_id == gui_world.parks_site).order_by(Comment.id)
        ).first()
    assert first is not None
    assert gui_world.app("alice").moderation.act(first.id, Action.FLAG, "FOI").ok
    _, screen = open_records("rita")
    (draft,) = [r for r in screen.rows if r.state is RequestState.DRAFT]
    assert (draft.comment_id, draft.requester) == (first.id, first.author_name)
    select_request(qtbot, screen, draft.id)
    assert "Handed over from comment" in screen.summary.text()
    assert not screen.buttons[Step.ANSWER].isEnabled()
    screen.buttons[Step.ACCEPT].click()
    qtbot.waitUntil(
        lambda: screen.detail is not None and screen.detail.request.state is RequestState.OPEN,
        timeout=WAIT_MS,
    )
    assert "accept by rita" in screen.history.toPlainText()


def test_the_band_shows_at_start_and_the_tab_is_built_when_first_shown(
    qtbot: QtBot, gui_world: World, gui_settings: GuiSettings, register: dict[str, int]
) -> None:
    window = started(qtbot, MainWindow(gui_world.app("rita"), gui_settings))
    banner = window.records_banner
    assert banner is not None
    qtbot.waitUntil(banner.isVisible, timeout=WAIT_MS)
    assert f"Request #{register['overdue']} from Bo (PARKS)" in banner.label.text()
    assert window.records_screen is None  # nothing of the tab but its band at start
    assert window.pages is not None
    banner.button.click()
    screen = window.records_screen
    assert screen is not None
    assert window.pages.currentWidget() is screen
    assert screen.banner is banner
    qtbot.waitUntil(lambda: not screen.loading and bool(screen.rows), timeout=WAIT_MS)
    window.close()


def test_only_records_officers_have_the_tab(
    qtbot: QtBot, gui_world: World, gui_settings: GuiSettings, register: dict[str, int]
) -> None:
    for username in ("alice", "sam"):
        window = started(qtbot, MainWindow(gui_world.app(username), gui_settings))
        assert window.records_screen is None
        assert window.show_records() is None
        assert not window.findChildren(QLabel, "recordsBanner")
        assert all(b.text() != "Open the Records tab" for b in window.findChildren(QPushButton))
        window.close()
