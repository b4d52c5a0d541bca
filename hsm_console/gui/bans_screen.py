"""The blocked-accounts register for supervisors and records officers (docs/design.md,
"Blocked accounts"): the bans of their departments, active and past, as `BanService`
lists them; a supervisor approves, refuses, carries out and lifts them here.

Every step runs on the window's `TaskRunner`; a button is enabled only where the step can
start from the ban's state, and the service's refusals (the proposer deciding their own, a
supervisor of another department) are shown in its words. Author names and bases come from
the public and the proposer: table items and a read-only plain text edit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from hsm_console.gui.plain_text import set_plain
from hsm_console.gui.problems import ProblemReporter, problem_from
from hsm_console.gui.ui_files import child, load_dialog_form
from hsm_console.gui.workers import JobContext, TaskRunner
from hsm_console.rules.bans import BanState
from hsm_console.services.bans import BanResult, BanRow, BanService, LiftDue

HEADERS = ("Ban", "State", "Author", "Site", "Codes", "Ends on", "Proposed by", "Decided by")


class BansDialog(QDialog):
    def __init__(
        self, service: Callable[[], BanService], runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.service, self.runner = service, runner
        self.problems = ProblemReporter(self)
        self.rows: list[BanRow] = []
        self.busy = False
        self.setObjectName("bansDialog")
        self.setWindowTitle("Blocked accounts register — HSM Console")
        form = load_dialog_form("bans_screen.ui", self)
        self.resize(1100, 680)
        self.summary = child(form, QLabel, "summaryLabel")
        self.active_only = child(form, QCheckBox, "activeOnly")
        self.table = child(form, QTableWidget, "banTable")
        self.detail = child(form, QPlainTextEdit, "detailText")
        self.reason = child(form, QPlainTextEdit, "reasonText")
        self.approve = child(form, QPushButton, "approveButton")
        self.refuse = child(form, QPushButton, "refuseButton")
        self.carry_out = child(form, QPushButton, "carryOutButton")
        self.lift = child(form, QPushButton, "liftButton")
        self.lift_due = child(form, QPushButton, "liftDueButton")
        self.export = child(form, QPushButton, "exportButton")
        self.table.setColumnCount(len(HEADERS))
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.active_only.toggled.connect(lambda _: self.reload())
        self.table.itemSelectionChanged.connect(self._selected)
        self.approve.clicked.connect(lambda: self._step(lambda s, b, r: s.approve(b, r)))
        self.refuse.clicked.connect(lambda: self._step(lambda s, b, r: s.refuse(b, r)))
        self.carry_out.clicked.connect(lambda: self._step(lambda s, b, r: s.carry_out(b, r)))
        self.lift.clicked.connect(lambda: self._step(lambda s, b, r: s.lift(b, r)))
        self.lift_due.clicked.connect(self._lift_due)
        self.export.clicked.connect(self._choose_export)
        self._enable(None)
        self.reload()

    # --- reading -------------------------------------------------------------------------

    def reload(self, message: str = "") -> None:
        self.busy = True
        set_plain(self.summary, message or "Reading the register…")
        active = self.active_only.isChecked()

        def run(_: JobContext) -> list[BanRow]:
            return self.service().listing(active_only=active)

        self.runner.start(run, lambda rows: self._show(rows, message), self._failed)

    def _show(self, rows: list[BanRow], message: str) -> None:
        self.busy = False
        chosen = self.selected()
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            state = row.state.label + (" (its end date has come)" if row.due else "")
            cells = (
                str(row.id), state, row.author_name, f"{row.site_name} ({row.platform.label})",
                " ".join(row.codes), row.ends_on.isoformat(), row.proposed_by,
                row.decided_by or "",
            )  # fmt: skip
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        active = sum(row.state is BanState.ACTIVE for row in rows)
        waiting = sum(row.state is BanState.PROPOSED for row in rows)
        words = f"{len(rows)} ban(s): {active} in force, {waiting} awaiting a supervisor."
        set_plain(self.summary, f"{message} {words}".strip())
        again = next((i for i, row in enumerate(rows) if chosen and row.id == chosen.id), 0)
        if rows:
            self.table.selectRow(again)
        self._selected()  # the same row selected again emits nothing: its state changed

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        set_plain(self.summary, "The register could not be read or changed.")
        self.problems.show(problem_from(exc, "working on the blocked-accounts register"))
        self._enable(self.selected())

    def selected(self) -> BanRow | None:
        chosen = self.table.selectionModel().selectedRows()
        if not chosen or chosen[0].row() >= len(self.rows):
            return None
        return self.rows[chosen[0].row()]

    def _selected(self) -> None:
        row = self.selected()
        self.detail.setPlainText(row.describe() if row else "")
        self._enable(row)

    def _enable(self, row: BanRow | None) -> None:
        state = row.state if row and not row.pending else None
        self.approve.setEnabled(state is BanState.PROPOSED)
        self.refuse.setEnabled(state is BanState.PROPOSED)
        self.carry_out.setEnabled(state is BanState.APPROVED)
        self.lift.setEnabled(state is BanState.ACTIVE)

    # --- steps ---------------------------------------------------------------------------

    def _step(self, step: Callable[[BanService, int, str], BanResult]) -> None:
        row = self.selected()
        if row is None or self.busy:
            return
        self.busy = True
        self._enable(None)
        ban_id, words = row.id, self.reason.toPlainText()

        def run(_: JobContext) -> BanResult:
            return step(self.service(), ban_id, words)

        self.runner.start(run, self._stepped, self._failed)

    def _stepped(self, result: BanResult) -> None:
        self.reason.clear()
        self.reload(result.message)

    def _lift_due(self) -> None:
        self.busy = True

        def run(_: JobContext) -> LiftDue:
            return self.service().lift_due()

        def done(due: LiftDue) -> None:
            words = [r.message for r in due.lifted] + [
                f"Ban {row.id}: lift it by hand on {row.platform.label}, then Lift here."
                for row in due.by_hand
            ]
            self.reload(" ".join(words + due.not_now) or "No ban's end date has come.")

        self.runner.start(run, done, self._failed)

    def _choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the register", "blocked-accounts.csv", "CSV (*.csv)"
        )
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        self.busy = True

        def run(_: JobContext) -> int | None:
            return self.service().export_csv(path)

        def done(count: int | None) -> None:
            self.busy = False
            set_plain(self.summary, f"Wrote {count} ban(s) to {path}.")

        self.runner.start(run, done, self._failed)
