"""The window started on a database without users: whoever starts it becomes administrator."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from hsm_console.db.engine import Database
from hsm_console.gui.settings import GuiSettings
from hsm_console.gui.start import start_console
from hsm_console.host.identity import os_username
from hsm_console.services.access import resolve_actor


def test_the_first_start_of_the_window_makes_its_administrator(
    qtbot: QtBot, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'city.sqlite3'}"
    settings = GuiSettings(QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat))
    settings.auto_sync_minutes = 0
    console = start_console(database, False, settings)
    try:
        shown = console.window.detail.empty_label.text()
        assert f"so you ({os_username()}) are now its first administrator (log entry 1)" in shown
        assert "hsm-console admin --help" in shown
    finally:
        console.close()
    again = start_console(database, False, settings)  # the second start: nothing more
    try:
        assert again.app.first_run is None
        assert "first administrator" not in again.window.detail.empty_label.text()
    finally:
        again.close()
    db = Database(database)
    with db.session() as session:
        assert resolve_actor(session, os_username()).administers
    db.dispose()
