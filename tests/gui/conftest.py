"""The real console window, offscreen, on a real SQLite file and the real sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from hsm_console.db.engine import Database
from hsm_console.errors import ConfigurationError
from hsm_console.gui.binding_check import binding_drops_references, check_binding
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.settings import GuiSettings
from hsm_console.gui.start import Console, start_console
from hsm_sandbox.server import SandboxServer
from tests.conftest import World, build_world
from tests.gui.helpers import WAIT_MS

OpenWindow = Callable[..., MainWindow]


@pytest.fixture(scope="session", autouse=True)
def sound_qt_binding() -> None:
    """A binding that drops references aborts the whole run a few tests in: fail instead."""
    if binding_drops_references():
        with pytest.raises(ConfigurationError) as refused:
            check_binding()
        pytest.fail(refused.value.message)


@pytest.fixture
def gui_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'console.sqlite3'}")
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def gui_world(gui_db: Database, sandbox: SandboxServer) -> World:
    """Parks and Police on the sandbox, every comment synced."""
    world = build_world(gui_db, sandbox)
    world.app("alice").sync.sync()
    world.app("carol").sync.sync()
    return world


@pytest.fixture
def gui_settings(tmp_path: Path) -> GuiSettings:
    settings = GuiSettings(QSettings(str(tmp_path / "console.ini"), QSettings.Format.IniFormat))
    settings.auto_sync_minutes = 0  # tests sync when they mean to
    return settings


def started(qtbot: QtBot, window: MainWindow) -> MainWindow:
    """Show `window` as a person would see it, and start it (the first sync and queue)."""
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.start()
    return window


@pytest.fixture
def open_window(qtbot: QtBot, gui_world: World, gui_settings: GuiSettings) -> Iterator[OpenWindow]:
    """Opens the console for a person and waits until its queue and first comment show."""
    opened: list[MainWindow] = []

    def open_for(username: str = "alice", settings: GuiSettings | None = None) -> MainWindow:
        window = MainWindow(gui_world.app(username), settings or gui_settings)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        window.start()
        qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.detail.comment_id is not None, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.model.is_loaded(0), timeout=WAIT_MS)  # rows read apart
        opened.append(window)
        return window

    yield open_for
    for window in opened:
        window.close()


@pytest.fixture
def window(open_window: OpenWindow) -> MainWindow:
    return open_window("alice")


@pytest.fixture
def demo(qtbot: QtBot, tmp_path: Path) -> Iterator[Console]:
    """The console as `scripts/run --demo` starts it, its first sync done."""
    settings = GuiSettings(QSettings(str(tmp_path / "demo.ini"), QSettings.Format.IniFormat))
    settings.auto_sync_minutes = 0
    console = start_console(None, True, settings)
    window = console.window
    qtbot.waitUntil(lambda: not window.syncing and window.model.rowCount() > 0, timeout=WAIT_MS)
    try:
        yield console
    finally:
        console.close()
