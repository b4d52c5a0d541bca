"""Seals in the window: Console → Seal the log now… for records officers and administrators,
the daily seal when the window starts, and the Log tab's verification against a seal file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMenu, QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from hsm_console.db.models import Comment
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.settings import GuiSettings
from hsm_console.rules.domain import Action, Role
from hsm_console.services import admin
from tests.conftest import World
from tests.gui.conftest import started
from tests.gui.helpers import WAIT_MS, count
from tests.test_verify import behind_the_triggers


def flag_two(world: World) -> None:
    """Entries 1 to 4."""
    with world.db.session() as session:
        ids = session.scalars(
            select(Comment.id).where(Comment.site_id == world.parks_site).order_by(Comment.id)
        ).all()[:2]
    for comment_id in ids:
        world.app("alice").moderation.act(comment_id, Action.FLAG, "SPM")


def open_console(
    qtbot: QtBot, world: World, settings: GuiSettings, username: str, seals: Path
) -> MainWindow:
    app = world.app(username)
    app.seals_folder = seals
    return started(qtbot, MainWindow(app, settings))


def menu_items(window: MainWindow) -> list[str]:
    return [a.text() for menu in window.menuBar().findChildren(QMenu) for a in menu.actions()]


def seal_entries(world: World) -> int:
    return count(world, "SELECT count(*) FROM action_log WHERE kind = 'seal'")


def test_a_records_officer_seals_from_the_console_menu(
    qtbot: QtBot, gui_world: World, gui_settings: GuiSettings, tmp_path: Path
) -> None:
    flag_two(gui_world)
    with gui_world.db.transaction() as session:
        rita = admin.ensure_person(session, "rita", "Rita Records")
        admin.grant(session, rita, Role.RECORDS_OFFICER, None)
    seals = tmp_path / "seals"
    window = open_console(qtbot, gui_world, gui_settings, "rita", seals)
    # The window's start made the day's seal (entry 5), quietly, in the background.
    qtbot.waitUntil(lambda: seal_entries(gui_world) == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "The log was sealed (entry 5)" in window.statusBar().currentMessage(),
                    timeout=WAIT_MS)  # fmt: skip
    item = window.seals.action
    assert item is not None
    assert item.text() == "Seal the &log now…"
    assert "Seal the &log now…" in menu_items(window)
    item.trigger()
    qtbot.waitUntil(lambda: window.seals.result is not None, timeout=WAIT_MS)
    box = window.seals.result
    assert isinstance(box, QMessageBox)
    assert box.text().startswith(
        "Sealed 5 log entries, up to entry 5, whose SHA-256 is "
    )  # the daily seal itself is sealed too
    assert "The seal is log entry 6." in box.text()
    assert str(seals) in box.text()
    assert len(list(seals.glob("seal-00000005-*.json"))) == 1
    assert seal_entries(gui_world) == 2
    assert item.isEnabled()
    box.close()
    window.close()


def test_the_seal_item_is_not_offered_to_a_moderator(
    qtbot: QtBot, gui_world: World, gui_settings: GuiSettings, tmp_path: Path
) -> None:
    window = open_console(qtbot, gui_world, gui_settings, "alice", tmp_path / "seals")
    assert window.seals.action is None
    assert "Seal the &log now…" not in menu_items(window)
    window.seals.seal_now()  # reached anyway: the service refuses, in words
    qtbot.waitUntil(lambda: window.problems.current is not None, timeout=WAIT_MS)
    shown = window.problems.current
    assert shown is not None
    assert "Only a records officer may seal the log" in shown.problem.message
    assert seal_entries(gui_world) == 0  # nothing logged yet: the start made no seal either
    shown.close()
    window.close()


def test_the_log_tab_verifies_against_a_seal_file(
    qtbot: QtBot, gui_world: World, gui_settings: GuiSettings, tmp_path: Path
) -> None:
    flag_two(gui_world)
    seals = tmp_path / "seals"
    window = open_console(qtbot, gui_world, gui_settings, "ada", seals)
    qtbot.waitUntil(lambda: len(list(seals.glob("*.json"))) == 1, timeout=WAIT_MS)
    [seal_file] = seals.glob("*.json")
    screen = window.show_log()
    assert screen is not None
    assert screen.verify_seal_button.text() == "Verify against a seal…"
    screen.last_report = None
    screen.verify_against(seal_file)
    qtbot.waitUntil(lambda: screen.last_report is not None, timeout=WAIT_MS)
    words = screen.work_status.text()
    assert words.startswith("The action log is intact, and holds everything the seal of ")
    assert "sealed (entry 4, sha256 " in words
    assert screen.verify_seal_button.isEnabled()

    behind_the_triggers(gui_world.db, "DELETE FROM action_log WHERE id >= 4")
    screen.last_report = None
    screen.verify_against(seal_file)
    qtbot.waitUntil(lambda: screen.last_report is not None, timeout=WAIT_MS)
    words = screen.work_status.text()
    assert words.startswith("VERIFICATION FAILED: the log ends at entry 3, but the seal made ")
    assert "First entry that does not match" not in words

    hostile = tmp_path / "hostile.json"
    hostile.write_text("<b>not a seal</b> \u202e")
    screen.verify_against(hostile)
    qtbot.waitUntil(lambda: not screen.working, timeout=WAIT_MS)
    assert screen.work_status.text().startswith("hostile.json is not a seal file")
    window.close()
