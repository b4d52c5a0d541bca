"""The site checks (Policy, Section 2) for administrators and supervisors: what fails on the
sites of their departments, as `services.site_checks.listing` returns it.

Every text from a platform (site names, profile text, permalinks) goes into plain-text
widgets: table items, a read-only plain text edit, labels set to plain text.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from hsm_console.db.engine import Database
from hsm_console.display import local_time
from hsm_console.gui.plain_text import set_plain
from hsm_console.gui.problems import ProblemReporter, problem_from
from hsm_console.gui.ui_files import child, load_dialog_form
from hsm_console.gui.workers import JobContext, TaskRunner
from hsm_console.rules.site_checks import CheckState
from hsm_console.services.site_checks import SiteCheckRow, listing

HEADERS = ("Department", "Site", "Check", "State", "What fails", "Checked (Chicago)")


class SiteChecksDialog(QDialog):
    def __init__(
        self, db: Database, username: str, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.db, self.username, self.runner = db, username, runner
        self.problems = ProblemReporter(self)
        self.rows: list[SiteCheckRow] = []
        self.loading = False
        self.setObjectName("siteChecksDialog")
        self.setWindowTitle("Site checks (Policy, Section 2) — HSM Console")
        form = load_dialog_form("site_checks_dialog.ui", self)
        self.resize(1000, 620)
        self.summary = child(form, QLabel, "summaryLabel")
        self.show_passed = child(form, QCheckBox, "showPassed")
        self.table = child(form, QTableWidget, "checkTable")
        self.detail = child(form, QPlainTextEdit, "detailText")
        self.table.setColumnCount(len(HEADERS))
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)  # one line per check; the pane below has it all
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.show_passed.toggled.connect(lambda _: self.reload())
        self.table.itemSelectionChanged.connect(self._selected)
        self.reload()

    def reload(self) -> None:
        self.loading = True
        set_plain(self.summary, "Reading the site checks…")
        include = self.show_passed.isChecked()

        def run(_: JobContext) -> list[SiteCheckRow]:
            return listing(self.db, self.username, include_passed=include)

        self.runner.start(run, self._show, self._failed)

    def _show(self, rows: list[SiteCheckRow]) -> None:
        self.loading = False
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = (
                row.department, f"{row.site_name} ({row.platform})", row.check.label,
                row.state.label, _what_fails(row), local_time(row.checked_at),
            )  # fmt: skip
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        failing = sum(row.state is not CheckState.PASSED for row in rows)
        if rows:
            words = f"{failing} check(s) fail or cannot be checked on your departments' sites."
        elif self.show_passed.isChecked():
            words = "No site has been checked yet: the checks run at each sync."
        else:
            words = "Nothing fails: every checked site of your departments passes."
        set_plain(self.summary, words)
        self.detail.setPlainText("")
        if rows:
            self.table.selectRow(0)

    def _failed(self, exc: Exception) -> None:
        self.loading = False
        set_plain(self.summary, "The site checks could not be read.")
        self.problems.show(problem_from(exc, "reading the site checks"))

    def _selected(self) -> None:
        chosen = self.table.selectionModel().selectedRows()
        if not chosen or chosen[0].row() >= len(self.rows):
            self.detail.setPlainText("")
            return
        self.detail.setPlainText(describe(self.rows[chosen[0].row()]))


def _what_fails(row: SiteCheckRow) -> str:
    first_line = row.detail.splitlines()[0] if row.detail else ""
    return first_line if row.state is not CheckState.PASSED else ""


def describe(row: SiteCheckRow) -> str:
    """Everything known of one check, as plain text."""
    lines: Sequence[str] = [
        f"{row.site_name} ({row.platform}), {row.department}: {row.check.label}: "
        f"{row.state.label}, checked {local_time(row.checked_at)}.",
        *([row.detail] if row.detail else []),
        *(f"Post: {post}" for post in row.failing),
        *(["The profile says:", row.seen] if row.seen else []),
    ]
    return "\n".join(lines)
