"""The administration screens, driven like an administrator would, on a real database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu, QPushButton, QTableWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from hsm_console.db.engine import Database
from hsm_console.gui.admin import ALL_DEPARTMENTS, SITE_HEADERS, AdminDialog
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.settings import GuiSettings
from hsm_console.services.access import resolve_actor
from hsm_sandbox.server import SandboxServer
from tests.conftest import World, build_world
from tests.gui.conftest import OpenWindow, started
from tests.gui.helpers import WAIT_MS, count
from tests.test_db_roles import logins

__all__ = ["logins"]  # a fixture, used by name

STATE, ADDRESS = SITE_HEADERS.index("State"), SITE_HEADERS.index("API address")
GOOD_CHANNEL = "UC" + "a1B2c3D4e5F6g7H8i9J0k_"  # 'UC' and 22 characters


@pytest.fixture
def admin_window(qtbot: QtBot, gui_world: World, gui_settings: GuiSettings) -> Iterator[MainWindow]:
    window = started(qtbot, MainWindow(gui_world.app("ada"), gui_settings))
    yield window
    window.close()


def _open(qtbot: QtBot, window: MainWindow) -> AdminDialog:
    assert window.admin_action is not None
    window.admin_action.trigger()
    dialog = window.admin_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.department_table.rowCount() == 2, timeout=WAIT_MS)
    return dialog


def _click(qtbot: QtBot, dialog: AdminDialog, name: str) -> None:
    button = dialog.findChild(QPushButton, name)
    assert button is not None
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _row_of(table: QTableWidget, text: str, column: int = 0) -> int:
    for row in range(table.rowCount()):
        item = table.item(row, column)
        if item is not None and item.text() == text:
            return row
    return -1


def _cell(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text() if item is not None else ""


def _entries(world: World) -> int:
    return count(world, "SELECT COUNT(*) FROM action_log")


def test_an_administrator_sets_up_a_department_a_person_and_sites(
    qtbot: QtBot, admin_window: MainWindow, gui_world: World
) -> None:
    dialog = _open(qtbot, admin_window)

    qtbot.keyClicks(dialog.department_code, "LIB")
    qtbot.keyClicks(dialog.department_name, "Highland Public Library")
    _click(qtbot, dialog, "addDepartmentButton")
    qtbot.waitUntil(lambda: _row_of(dialog.department_table, "LIB") >= 0, timeout=WAIT_MS)
    assert "Log entry" in dialog.result_label.text()
    assert count(gui_world, "SELECT COUNT(*) FROM departments WHERE code = 'LIB'") == 1

    assert dialog.person_login.isHidden()  # a file has no logins: nothing to give
    qtbot.keyClicks(dialog.person_account, "CITY\\dana")
    qtbot.keyClicks(dialog.person_name, "Dana Librarian")
    _click(qtbot, dialog, "addPersonButton")
    qtbot.waitUntil(lambda: _row_of(dialog.person_table, "CITY\\dana") >= 0, timeout=WAIT_MS)
    dialog.person_table.selectRow(_row_of(dialog.person_table, "CITY\\dana"))
    dialog.role_choice.setCurrentIndex(dialog.role_choice.findData("moderator"))
    dialog.role_department.setCurrentIndex(dialog.role_department.findData("LIB"))
    _click(qtbot, dialog, "grantButton")

    def dana_roles() -> str:
        return _cell(dialog.person_table, _row_of(dialog.person_table, "CITY\\dana"), 2)

    qtbot.waitUntil(lambda: "moderator of LIB" in dana_roles(), timeout=WAIT_MS)

    # A YouTube @handle is not a channel id: refused in plain words, nothing written.
    dialog.site_platform.setCurrentIndex(dialog.site_platform.findData("youtube"))
    assert "UC" in dialog.site_id_hint.text()
    assert dialog.site_address.placeholderText() == "https://youtube.googleapis.com"
    described = [dialog.site_settings.item(r, 0).text() for r in range(3)]  # type: ignore[union-attr]
    assert described == sorted(described)
    qtbot.keyClicks(dialog.site_external_id, "@highlandlibrary")
    qtbot.keyClicks(dialog.site_name, "Library videos")
    dialog.site_department.setCurrentIndex(dialog.site_department.findData("LIB"))
    sites, entries = count(gui_world, "SELECT COUNT(*) FROM sites"), _entries(gui_world)
    _click(qtbot, dialog, "addSiteButton")
    qtbot.waitUntil(lambda: dialog.problems.current is not None, timeout=WAIT_MS)
    shown = dialog.problems.current
    assert shown is not None
    assert shown.problem.title == "Please check what you entered"
    assert "'@highlandlibrary' is not a YouTube site id" in shown.problem.message
    assert "Traceback" not in shown.message_label.text()
    shown.reject()
    assert count(gui_world, "SELECT COUNT(*) FROM sites") == sites
    assert _entries(gui_world) == entries

    dialog.site_external_id.clear()
    qtbot.keyClicks(dialog.site_external_id, GOOD_CHANNEL)
    settings = dialog.site_settings
    value = settings.item(_row_of(settings, "active_days"), 1)
    assert value is not None
    value.setText("30")
    _click(qtbot, dialog, "addSiteButton")
    qtbot.waitUntil(lambda: _row_of(dialog.site_table, "Library videos", 2) >= 0, timeout=WAIT_MS)
    row = _row_of(dialog.site_table, "Library videos", 2)
    assert _cell(dialog.site_table, row, ADDRESS) == "https://youtube.googleapis.com"
    assert _cell(dialog.site_table, row, STATE) == "active"
    assert _entries(gui_world) == entries + 1
    [site] = gui_world.app("ada").admin.sites()[-1:]
    assert (site.external_id, site.settings) == (GOOD_CHANNEL, {"active_days": 30})

    # Selected, it fills the form; a change keeps the platform and id, with its log entry.
    dialog.site_table.selectRow(row)
    assert dialog.site_external_id.text() == GOOD_CHANNEL
    assert _cell(settings, _row_of(settings, "active_days"), 1) == "30"
    dialog.site_name.setText("Library on YouTube")
    value = settings.item(_row_of(settings, "active_days"), 1)
    assert value is not None
    value.setText("")
    _click(qtbot, dialog, "changeSiteButton")
    renamed = "Library on YouTube"
    qtbot.waitUntil(lambda: _row_of(dialog.site_table, renamed, 2) >= 0, timeout=WAIT_MS)
    [site] = gui_world.app("ada").admin.sites()[-1:]
    assert (site.name, site.settings, site.external_id) == ("Library on YouTube", {}, GOOD_CHANNEL)
    assert _entries(gui_world) == entries + 2
    row = _row_of(dialog.site_table, "Library on YouTube", 2)

    # Deactivated, never deleted. Connect is offered for it (tests/gui/test_connect_screen.py).
    dialog.site_table.selectRow(row)
    assert dialog.connect_button.isEnabled()
    _click(qtbot, dialog, "deactivateSiteButton")

    def state() -> str:
        return _cell(dialog.site_table, _row_of(dialog.site_table, "Library on YouTube", 2), STATE)

    qtbot.waitUntil(lambda: state() == "deactivated", timeout=WAIT_MS)
    inactive = "SELECT COUNT(*) FROM sites WHERE name = :n AND NOT active"
    assert count(gui_world, inactive, n=renamed) == 1
    assert _entries(gui_world) == entries + 3


def test_a_supervisor_for_all_departments_is_granted_from_the_list(
    qtbot: QtBot, admin_window: MainWindow, gui_world: World
) -> None:
    dialog = _open(qtbot, admin_window)
    dialog.person_table.selectRow(_row_of(dialog.person_table, "carol"))
    dialog.role_choice.setCurrentIndex(dialog.role_choice.findData("supervisor"))
    dialog.role_department.setCurrentIndex(dialog.role_department.findText(ALL_DEPARTMENTS))
    _click(qtbot, dialog, "grantButton")
    qtbot.waitUntil(lambda: "all departments" in dialog.result_label.text(), timeout=WAIT_MS)
    with gui_world.db.session() as session:
        assert resolve_actor(session, "carol").supervises is None


def test_a_moderator_does_not_see_the_administration(open_window: OpenWindow) -> None:
    window = open_window("alice")
    assert window.admin_action is None
    menus = [action.menu() for action in window.menuBar().actions()]
    menu_texts = [a.text() for m in menus if isinstance(m, QMenu) for a in m.actions()]
    assert "&Quit" in menu_texts  # the menus were read
    assert not any("Administration" in text for text in menu_texts)


@pytest.mark.postgres
def test_a_person_added_in_the_window_gets_the_login_given(
    qtbot: QtBot, postgres_db: Database, sandbox: SandboxServer, gui_settings: GuiSettings,
    logins: Callable[[str], str],
) -> None:  # fmt: skip
    """On the shared PostgreSQL, the window's Database login field is the CLI's --login: a
    person of another domain, whose account's name is taken, signs in as the login given."""
    world = build_world(postgres_db, sandbox)
    window = started(qtbot, MainWindow(world.app("ada"), gui_settings))  # as the owner
    try:
        dialog = _open(qtbot, window)
        assert not dialog.person_login.isHidden()
        login = logins("mark.smith")
        qtbot.keyClicks(dialog.person_account, "PD\\msmith")
        qtbot.keyClicks(dialog.person_name, "Mark Smith")
        qtbot.keyClicks(dialog.person_login, login)
        _click(qtbot, dialog, "addPersonButton")
        qtbot.waitUntil(lambda: _row_of(dialog.person_table, "PD\\msmith") >= 0, timeout=WAIT_MS)
        assert f"signing in to the database as {login} (a new login)" in (
            dialog.result_label.text()
        )
        with postgres_db.engine.connect() as connection:
            assert connection.execute(
                text("SELECT l.login FROM person_logins l JOIN people p ON p.id = l.person_id "
                     "WHERE p.username = 'PD\\msmith'")
            ).scalar_one() == login  # fmt: skip
            assert connection.execute(
                text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :l"), {"l": login}
            ).scalar_one()
    finally:
        window.close()
