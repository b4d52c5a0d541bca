"""Starting the console window: the Qt application, the services, the window.

`start_console` does everything but run the event loop, so tests start the window exactly
as `hsm-console` does; `run_gui` adds the loop and the cleaning up.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QMessageLogContext, Qt, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from hsm_console import __version__
from hsm_console.app import App, open_app
from hsm_console.errors import UserError
from hsm_console.gui.appearance import apply_appearance
from hsm_console.gui.binding_check import check_binding
from hsm_console.gui.icons import app_icon
from hsm_console.gui.idle_collection import IdleCollection
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.problems import ProblemDialog, problem_from
from hsm_console.gui.settings import APPLICATION, ORGANISATION, GuiSettings
from hsm_console.host.config import load_settings

if TYPE_CHECKING:
    from hsm_sandbox.demo import DemoEnvironment

_qt_log = logging.getLogger("hsm_console.qt")

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


@dataclass
class Console:
    """A started console: close it to stop its work, database and demo sandbox."""

    window: MainWindow
    app: App
    demo: DemoEnvironment | None

    def close(self) -> None:
        self.window.close()
        self.app.close()
        if self.demo is not None:
            self.demo.close()


def qt_application() -> QApplication:
    """The QApplication, created once, named for QSettings and styled."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    check_binding()
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    qInstallMessageHandler(_qt_message)
    application = QApplication(sys.argv[:1])
    application.setOrganizationName(ORGANISATION)
    application.setApplicationName(APPLICATION)
    application.setApplicationVersion(__version__)
    application.setWindowIcon(app_icon())
    apply_appearance(application)
    return application


def start_console(
    database: str | None,
    demo: bool,
    settings: GuiSettings | None = None,
    environment: DemoEnvironment | None = None,
) -> Console:
    """Open the services and show the window; UserError says why it could not start.

    `environment`: the demo's, made by the caller (the self-test's); closed with the console.
    """
    qt_application()
    if demo and environment is None:  # the sandbox is loaded only for the demo
        from hsm_sandbox.demo import DemoEnvironment

        environment = DemoEnvironment()
    app: App | None = None
    try:
        app = (
            environment.open_app()
            if environment
            else open_app(load_settings(database), claim_first_run=True)
        )
        window = MainWindow(app, settings or GuiSettings(), demo=demo)
    except BaseException:
        if app is not None:
            app.close()
        if environment is not None:
            environment.close()
        raise
    window.show()
    window.start()
    if app.first_run is not None:
        window.detail.show_message(
            f"This database had no users yet, so you ({app.username}) are now its first "
            f"administrator (log entry {app.first_run.entry_id}). Set up departments, people "
            "and sites with: hsm-console admin --help"
        )
    return Console(window, app, environment)


def run_gui(database: str | None, demo: bool) -> int:
    """`hsm-console` without a command: the window, until it is closed.

    A faulty Qt binding raises before any window opens (the command line prints why).
    """
    application = qt_application()
    settle_after_start()  # the modules loaded by now, before the window is built
    try:
        console = start_console(database, demo)
    except UserError as exc:
        ProblemDialog(problem_from(exc, "starting")).exec()
        return 1
    settle_after_start()
    collection = IdleCollection(application)  # full collections at rest, not mid-scroll
    try:
        _quit_on_signals(application)
        return application.exec()
    finally:
        collection.stop()
        console.close()


def settle_after_start() -> None:
    """What start-up made lives as long as the program (modules, the window): the garbage
    collector stops walking it, so a full collection walks only what was made since (a
    tenth of a second before; `IdleCollection` makes them at rest). No collection first:
    that would cost the start the same tenth. `run_gui` calls it twice: once the modules
    are loaded, as collections while the window was built walked them (0.05-0.08 s of CPU),
    and once the window is started."""
    gc.freeze()


def _quit_on_signals(application: QApplication) -> None:
    """Ctrl+C or a termination request closes the window properly (the demo's temporary
    folder and sandbox included). Python handles signals only while it runs: a timer lets
    it look now and then."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: application.quit())
    timer = QTimer(application)
    timer.timeout.connect(lambda: None)
    timer.start(500)


def _qt_message(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Qt's own warnings go to the debug log, not to the terminal."""
    _qt_log.log(_QT_LEVELS.get(kind, logging.WARNING), "%s", message)
