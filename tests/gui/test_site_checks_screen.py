"""The site checks window (Policy, Section 2), driven as a supervisor or an administrator
would, on a real database synced from the sandbox."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.site_checks import SiteChecksDialog
from hsm_console.rules.domain import Role
from hsm_console.services import admin
from hsm_console.services.access import resolve_actor
from tests.conftest import PARKS_PAGE, World
from tests.gui.conftest import OpenWindow
from tests.gui.helpers import WAIT_MS

HOSTILE = "<b>bold</b> <img src=x onerror=alert(1)> \u202eevil\u202c"


def _grant(world: World, username: str, role: Role, department: str) -> None:
    """A role besides the world's; every window here also moderates, so its queue fills."""
    with world.db.transaction() as session:
        person = admin.ensure_person(session, username, username.title())
        admin.grant(session, person, role, admin.ensure_department(session, department, "-"))


def _open(qtbot: QtBot, window: MainWindow) -> SiteChecksDialog:
    assert window.site_checks_action is not None
    window.site_checks_action.trigger()
    dialog = window.site_checks_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: not dialog.loading, timeout=WAIT_MS)
    return dialog


def _cells(dialog: SiteChecksDialog, row: int) -> list[str]:
    return [
        item.text() if (item := dialog.table.item(row, c)) is not None else ""
        for c in range(dialog.table.columnCount())
    ]


def test_an_administrator_sees_what_fails_and_the_profile_as_plain_text(
    qtbot: QtBot, open_window: OpenWindow, gui_world: World
) -> None:
    gui_world.sandbox.state.facebook.profiles[PARKS_PAGE] = {"about": HOSTILE}
    gui_world.app("alice").sync.sync()
    _grant(gui_world, "ada", Role.MODERATOR, "PARKS")
    dialog = _open(qtbot, open_window("ada"))
    rows = [_cells(dialog, r) for r in range(dialog.table.rowCount())]
    parks, police = (
        "Highland Parks & Recreation (Facebook)",
        "Highland Police Department (Facebook)",
    )
    maintained, policy = (
        "profile says the City maintains it",
        "profile links to the social media policy",
    )
    assert [(r[1], r[2], r[3]) for r in rows] == [
        (parks, maintained, "failed"), (parks, policy, "failed"), (police, policy, "failed"),
    ]  # fmt: skip
    assert rows[0][0] == "Parks & Recreation"
    assert "does not say the City of Highland maintains it" in rows[0][4]
    assert " CST" in rows[0][5] or " CDT" in rows[0][5]
    assert "3 check(s) fail" in dialog.summary.text()
    dialog.table.selectRow(0)
    assert dialog.detail.toPlainText().endswith("The profile says:\n" + HOSTILE)  # verbatim

    dialog.show_passed.setChecked(True)
    qtbot.waitUntil(lambda: not dialog.loading and dialog.table.rowCount() == 6, timeout=WAIT_MS)
    assert {_cells(dialog, r)[3] for r in range(6)} == {"passed", "failed"}


def test_a_department_supervisor_sees_only_that_departments_sites(
    qtbot: QtBot, open_window: OpenWindow, gui_world: World
) -> None:
    _grant(gui_world, "pat", Role.SUPERVISOR, "POLICE")
    _grant(gui_world, "pat", Role.MODERATOR, "POLICE")
    with gui_world.db.session() as session:
        actor = resolve_actor(session, "pat")
    assert (actor.administers, actor.supervises is not None) == (False, True)
    dialog = _open(qtbot, open_window("pat"))
    assert dialog.table.rowCount() == 1
    assert _cells(dialog, 0)[1] == "Highland Police Department (Facebook)"


def test_a_moderator_has_no_site_checks_and_the_service_says_which_role_may(
    qtbot: QtBot, open_window: OpenWindow
) -> None:
    window = open_window("alice")
    assert window.site_checks_action is None
    menus = [action.menu() for action in window.menuBar().actions()]
    texts = [a.text() for m in menus if isinstance(m, QMenu) for a in m.actions()]
    assert "&Quit" in texts
    assert not any("Site &checks" in t for t in texts)
    dialog = window.open_site_checks()  # reached anyway: the service refuses
    qtbot.waitUntil(lambda: not dialog.loading, timeout=WAIT_MS)
    assert dialog.table.rowCount() == 0
    assert dialog.summary.text() == "The site checks could not be read."
    problem = dialog.problems.current
    assert problem is not None
    assert "Only a supervisor or an administrator" in problem.message_label.text()
    problem.reject()
