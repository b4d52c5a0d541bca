"""Errors in plain words, with what to do, and the technical details one click away for IT.

Every failure the window shows goes through `problem_from`: a `UserError` already speaks to
the moderator; anything else is a bug or an outage, said as such, with the traceback kept for
the "Copy details for IT" button and the debug log.
"""

from __future__ import annotations

import platform
import sys
import traceback
from dataclasses import dataclass
from datetime import datetime

from PySide6 import __version__ as pyside_version
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.exc import DBAPIError

from hsm_console import __version__
from hsm_console.display import CITY_TZ
from hsm_console.errors import (
    ConcurrentAction,
    ConfigurationError,
    InvalidInput,
    NotFound,
    NotPossible,
    PermissionDenied,
    PlatformError,
    PolicyViolation,
    UserError,
)
from hsm_console.gui.icons import glyph
from hsm_console.gui.plain_text import set_plain

_TITLES: tuple[tuple[type[UserError], str], ...] = (
    (PlatformError, "The platform did not answer as expected"),
    (ConcurrentAction, "Someone else handled this comment first"),
    (PermissionDenied, "Not allowed"),
    (PolicyViolation, "The comment policy does not allow this"),
    (InvalidInput, "Please check what you entered"),
    (NotPossible, "Not possible"),
    (NotFound, "Not found"),
    (ConfigurationError, "The console is not set up for this"),
)


@dataclass(frozen=True)
class Problem:
    title: str
    message: str  # plain words, with what to do
    details: str = ""  # for IT; never a secret


def problem_from(exc: BaseException, doing: str = "") -> Problem:
    """A problem to show for an exception raised while `doing` (e.g. "syncing")."""
    trace = "".join(traceback.format_exception(exc))
    if isinstance(exc, UserError):
        title = next((t for kind, t in _TITLES if isinstance(exc, kind)), "That did not work")
        details = "\n\n".join(part for part in (exc.details, trace) if part)
        return Problem(title, exc.message, details)
    if isinstance(exc, DBAPIError):
        return Problem(
            "The database could not be reached",
            f"The console could not read or write its database{_while(doing)}. Nothing was "
            "lost: actions are recorded before anything changes. Check the network connection "
            "and try again; if it keeps happening, copy the details for IT.",
            trace,
        )
    return Problem(
        "Something went wrong inside the console",
        f"An unexpected error stopped the console{_while(doing)}. Nothing was lost: actions are "
        "recorded before anything changes. Try again; if it keeps happening, copy the details "
        "for IT.",
        trace,
    )


def _while(doing: str) -> str:
    return f" while {doing}" if doing else ""


def report_for_it(problem: Problem) -> str:
    """The text the "Copy details for IT" button puts on the clipboard."""
    return "\n".join(
        [
            f"HSM Console {__version__} problem report",
            f"Time: {datetime.now(CITY_TZ).isoformat(timespec='seconds')}",
            f"System: {platform.platform()}; Python {sys.version.split()[0]}; "
            f"PySide6 {pyside_version}",
            f"Title: {problem.title}",
            f"Message: {problem.message}",
            "",
            problem.details or "(no further details)",
        ]
    )


class ProblemDialog(QDialog):
    """A problem said in plain words, with a button that copies the details for IT."""

    def __init__(self, problem: Problem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.problem = problem
        self.setObjectName("problemDialog")
        self.setWindowTitle(problem.title)
        self.setAccessibleName(problem.title)
        icon = QLabel(self)
        icon.setPixmap(glyph("warning", "#c0392b").pixmap(40, 40))
        self.title_label = QLabel(self)
        set_plain(self.title_label, problem.title)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        self.message_label = QLabel(self)
        set_plain(self.message_label, problem.message)
        self.message_label.setWordWrap(True)
        self.message_label.setAccessibleName("What happened and what to do")
        self.message_label.setMinimumWidth(420)
        self.copy_button = QPushButton("&Copy details for IT", self)
        self.copy_button.setIcon(glyph("copy"))
        self.copy_button.setToolTip("Copy the technical details to paste into a message to IT")
        self.copy_button.clicked.connect(self.copy_details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        assert close is not None
        close.setDefault(True)

        text = QVBoxLayout()
        text.addWidget(self.title_label)
        text.addWidget(self.message_label)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addLayout(text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)

    def copy_details(self) -> None:
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(report_for_it(self.problem))
        self.copy_button.setText("Details copied")


class ProblemReporter:
    """Shows problems over one window without blocking it (the dialog is window-modal)."""

    def __init__(self, parent: QWidget) -> None:
        self._parent = parent
        self.current: ProblemDialog | None = None

    def show(self, problem: Problem) -> ProblemDialog:
        dialog = ProblemDialog(problem, self._parent)
        dialog.finished.connect(lambda _: self._closed(dialog))
        dialog.open()
        self.current = dialog
        return dialog

    def _closed(self, dialog: ProblemDialog) -> None:
        if self.current is dialog:
            self.current = None
        dialog.deleteLater()

    def say(self, label: QLabel, exc: Exception, doing: str) -> None:
        """A screen's problem in words on its status line; what is not a refusal (a bug, an
        outage) also in the dialog, with its details for IT."""
        problem = problem_from(exc, doing)
        set_plain(label, problem.message)
        if not isinstance(exc, UserError):
            self.show(problem)
