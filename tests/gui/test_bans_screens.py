"""Propose a ban from the queue, and the register's dialog, driven as a moderator and then a
supervisor would, on a real database synced from the sandbox."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from hsm_console.gui.ban_dialog import BanDialog
from hsm_console.gui.bans_screen import BansDialog
from hsm_console.gui.main_window import MainWindow
from hsm_console.rules.domain import Role
from hsm_console.services import admin
from tests.conftest import PARKS_PAGE, World
from tests.gui.conftest import OpenWindow
from tests.gui.helpers import WAIT_MS


def _supervisor(world: World, username: str, department: str) -> None:
    """A supervisor who also moderates, so the window's queue fills."""
    with world.db.transaction() as session:
        person = admin.ensure_person(session, username, username.title())
        place = admin.ensure_department(session, department, "-")
        admin.grant(session, person, Role.SUPERVISOR, place)
        admin.grant(session, person, Role.MODERATOR, place)


def _propose(qtbot: QtBot, window: MainWindow, basis: str, codes: list[str]) -> BanDialog:
    window.select_row(0)  # whatever keys an earlier test left pressed
    qtbot.waitUntil(window.propose_ban_action.isEnabled, timeout=WAIT_MS)
    window.propose_ban_action.trigger()
    dialog = window.ban_dialog
    assert dialog is not None
    for i in range(dialog.codes.count()):
        item = dialog.codes.item(i)
        if item.data(Qt.ItemDataRole.UserRole) in codes:
            item.setCheckState(Qt.CheckState.Checked)
    dialog.basis.setPlainText(basis)
    return dialog


def _open_register(qtbot: QtBot, window: MainWindow) -> BansDialog:
    assert window.bans_action is not None
    window.bans_action.trigger()
    dialog = window.bans_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    return dialog


def _state(register: BansDialog) -> str:
    item = register.table.item(0, 1)
    return item.text() if item is not None else ""


def test_propose_from_the_queue_then_a_supervisor_approves_and_lifts(
    qtbot: QtBot, open_window: OpenWindow, gui_world: World, tmp_path: Path
) -> None:
    moderator = open_window("alice")
    assert moderator.bans_action is None  # a moderator does not read the register
    refused = _propose(qtbot, moderator, "", ["THR"])
    assert "can no longer comment" in refused.means.text()  # Facebook's words
    refused.send()
    qtbot.waitUntil(lambda: refused.problems.current is not None, timeout=WAIT_MS)
    assert refused.problems.current is not None
    assert "basis of a ban is required" in refused.problems.current.problem.message
    refused.problems.current.reject()
    refused.basis.setPlainText("Threatened the lifeguards by name.")
    refused.send()
    said = moderator.statusBar().currentMessage
    qtbot.waitUntil(lambda: "Proposed ban 1" in said(), timeout=WAIT_MS)

    _supervisor(gui_world, "pat", "PARKS")
    register = _open_register(qtbot, open_window("pat"))
    assert register.table.rowCount() == 1
    assert _state(register) == "proposed, awaiting a supervisor"
    assert "Threatened the lifeguards by name." in register.detail.toPlainText()
    assert register.approve.isEnabled()
    assert not register.lift.isEnabled()
    register.reason.setPlainText("The threats are explicit.")
    register.approve.click()
    qtbot.waitUntil(
        lambda: not register.busy and _state(register) == "active",
        timeout=WAIT_MS,
    )
    assert "carried out on Facebook" in register.summary.text()
    blocked = gui_world.sandbox.state.facebook.blocked(PARKS_PAGE)
    assert len(blocked) == 1
    assert register.lift.isEnabled()

    target = tmp_path / "register.csv"
    register.export_to(target)
    qtbot.waitUntil(lambda: target.exists(), timeout=WAIT_MS)
    assert "Threatened the lifeguards" in target.read_text(encoding="utf-8")

    register.reason.setPlainText("Apologised in writing.")
    register.lift.click()
    qtbot.waitUntil(
        lambda: not register.busy and _state(register) == "lifted early",
        timeout=WAIT_MS,
    )
    assert gui_world.sandbox.state.facebook.blocked(PARKS_PAGE) == set()
    register.close()


def test_the_proposer_cannot_approve_in_the_register(
    qtbot: QtBot, open_window: OpenWindow, gui_world: World
) -> None:
    _supervisor(gui_world, "pat", "PARKS")
    window = open_window("pat")
    dialog = _propose(qtbot, window, "Spam links.", ["SPM"])
    dialog.send()
    said = window.statusBar().currentMessage
    qtbot.waitUntil(lambda: "Proposed ban 1" in said(), timeout=WAIT_MS)
    register = _open_register(qtbot, window)
    register.reason.setPlainText("My own.")
    register.approve.click()
    qtbot.waitUntil(lambda: register.problems.current is not None, timeout=WAIT_MS)
    assert register.problems.current is not None
    assert "another supervisor decides it" in register.problems.current.problem.message
    assert _state(register) == "proposed, awaiting a supervisor"
    register.problems.current.reject()
    register.close()
