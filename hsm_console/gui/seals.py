"""Seals in the window: Console → Seal the log now… (records officers and administrators),
and the daily seal when the window starts (docs/design.md, "Seals").

The sealing itself is `SealService`'s, on the window's `TaskRunner`; this shows its result as
plain text (the sealer's name is what a person entered) and its refusals in words.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from hsm_console.app import App
from hsm_console.gui.problems import ProblemReporter, problem_from
from hsm_console.gui.workers import JobContext, TaskRunner
from hsm_console.services.access import Actor
from hsm_console.services.seals import SealWritten

log = logging.getLogger(__name__)


class SealCommands(QObject):
    """The seal menu item (when the person may seal) and the daily seal."""

    def __init__(
        self,
        window: QMainWindow,
        app: App,
        actor: Actor,
        runner: TaskRunner,
        problems: ProblemReporter,
        menu: QMenu,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._app = app
        self._runner = runner
        self._problems = problems
        self.result: QMessageBox | None = None
        self.action: QAction | None = None
        if actor.administers or actor.is_records_officer:  # the service refuses others anyway
            self.action = menu.addAction("Seal the &log now…")
            self.action.setToolTip("Write the log's chain head into a seal entry and a seal file")
            self.action.triggered.connect(self.seal_now)

    def seal_now(self) -> None:
        service = self._app.seals

        def run(_: JobContext) -> SealWritten:
            return service.seal()

        if self.action is not None:
            self.action.setEnabled(False)
        self._runner.start(run, self._sealed, self._failed)

    def seal_if_due(self) -> None:
        """The daily seal, if this start is the first in 24 hours (a cheap read otherwise)."""
        app = self._app

        def run(_: JobContext) -> SealWritten | None:
            return app.seal_if_due()

        def done(made: SealWritten | None) -> None:
            if made is not None:
                self._window.statusBar().showMessage(
                    f"The log was sealed (entry {made.seal.seal_entry_id}): {made.json_path}",
                    30_000,
                )

        self._runner.start(run, done, lambda exc: log.warning("the daily seal: %s", exc))

    def _sealed(self, made: SealWritten) -> None:
        if self.action is not None:
            self.action.setEnabled(True)
        seal = made.seal
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "The log is sealed",
            f"Sealed {seal.entries:,} log entries, up to entry {seal.entry_id:,}, whose SHA-256 "
            f"is {seal.entry_hash}. The seal is log entry {seal.seal_entry_id:,}.\n\n"
            f"Seal file: {made.json_path}\nTo print and sign: {made.text_path}\n\n"
            "Keep them where the database's administrators cannot change them. Verify the log "
            "against the seal file later to prove it still holds everything sealed.",
            QMessageBox.StandardButton.Close,
            self._window,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setObjectName("sealMade")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.result = box
        box.open()

    def _failed(self, exc: Exception) -> None:
        if self.action is not None:
            self.action.setEnabled(True)
        self._problems.show(problem_from(exc, "sealing the log"))
