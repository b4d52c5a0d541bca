"""The records officer's Retention dialog (docs/design.md, "Retention, holds and disposal"):
legal holds placed and lifted, the disposal worksheet and its CSV, certificates recorded and
the records one covers disposed of, after a confirmation that names the count and the
certificate, with progress and cancel. Every call is a `RetentionService` method on the
window's `TaskRunner`; refusals are shown in the service's words. Reasons and numbers people
typed are shown as plain text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressDialog,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from hsm_console.display import local_time, one_line
from hsm_console.errors import InvalidInput
from hsm_console.gui.plain_text import set_plain, tooltip
from hsm_console.gui.problems import ProblemReporter, problem_from
from hsm_console.gui.ui_files import child, load_dialog_form
from hsm_console.gui.workers import JobContext, TaskHandle, TaskRunner
from hsm_console.rules.retention import HoldScope
from hsm_console.services.retention import (
    CertificateItem,
    DisposalResult,
    HoldItem,
    RetentionService,
    WorksheetRow,
    city_today,
)

T = TypeVar("T")
CELL_CHARS = 300
HOLD_HEADERS = ("Hold", "Keeps", "Placed", "By", "Lifted", "Reason")
COLUMN_CHARS = 34  # the widest a column opens, in average characters
SHEET_HEADERS = ("Department", "Record series", "Schedule item", "From", "Thru", "Volume")
CERTIFICATE_HEADERS = ("Certificate", "Department", "Approved", "Notice given",
                       "Disposal from", "Disposed of", "Covers")  # fmt: skip


class Form(QDialog):
    """A small form of labelled fields above OK and Cancel; opened, never run modally."""

    def __init__(self, title: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.layout_ = QFormLayout(self)
        self.fields: dict[str, QWidget] = {}
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def add(self, name: str, label: str, widget: QWidget) -> None:
        widget.setAccessibleName(label.replace("&", ""))
        self.fields[name] = widget
        self.layout_.addRow(label, widget)

    def finish(self) -> None:
        self.layout_.addRow(self.buttons)

    def text(self, name: str) -> str:
        widget = self.fields[name]
        if isinstance(widget, QPlainTextEdit):
            return widget.toPlainText()
        assert isinstance(widget, QLineEdit)
        return widget.text()

    def day(self, name: str) -> date | None:
        """A date field: empty is None, anything else must be YYYY-MM-DD."""
        value = self.text(name).strip()
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"{value!r} is not a date: write it as YYYY-MM-DD.") from None


def _date_field(placeholder: str = "YYYY-MM-DD") -> QLineEdit:
    field = QLineEdit()
    field.setPlaceholderText(placeholder)
    return field


class RetentionDialog(QDialog):
    def __init__(
        self, service: RetentionService, runner: TaskRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.service, self.runner = service, runner
        self.problems = ProblemReporter(self)
        self.loading = 0  # jobs under way; the tests wait for none
        self.holds: list[HoldItem] = []
        self.rows: list[WorksheetRow] = []
        self.certificates: list[CertificateItem] = []
        self.form: Form | None = None  # the form open now, if any
        self.last_change = ""  # what the last change did, said before the counts
        self.confirmation: QMessageBox | None = None
        self.progress: QProgressDialog | None = None
        self.setObjectName("retentionDialog")
        self.setWindowTitle("Retention, legal holds and disposal — HSM Console")
        form = load_dialog_form("retention_dialog.ui", self)
        self.resize(1040, 620)
        self.status = child(form, QLabel, "statusLabel")
        self.show_lifted = child(form, QCheckBox, "showLifted")
        self.hold_table = _table(child(form, QTableWidget, "holdTable"), HOLD_HEADERS)
        self.sheet_table = _table(child(form, QTableWidget, "worksheetTable"), SHEET_HEADERS)
        self.certificate_table = _table(
            child(form, QTableWidget, "certificateTable"), CERTIFICATE_HEADERS
        )
        self.place_button = child(form, QPushButton, "placeButton")
        self.lift_button = child(form, QPushButton, "liftButton")
        self.export_button = child(form, QPushButton, "exportButton")
        self.certify_button = child(form, QPushButton, "certifyButton")
        self.dispose_button = child(form, QPushButton, "disposeButton")
        self.show_lifted.toggled.connect(lambda _: self.reload())
        self.place_button.clicked.connect(self.place_hold)
        self.lift_button.clicked.connect(self.lift_hold)
        self.export_button.clicked.connect(self._ask_and_export)
        self.certify_button.clicked.connect(self.record_certificate)
        self.dispose_button.clicked.connect(self.dispose)
        for table in (self.hold_table, self.sheet_table, self.certificate_table):
            table.itemSelectionChanged.connect(self._enable)
        self.reload()

    # --- reading --------------------------------------------------------------------------

    def _run(
        self, job: Callable[[JobContext], T], done: Callable[[T], None], doing: str,
        progress: Callable[[Any], None] | None = None,
    ) -> TaskHandle:  # fmt: skip
        self.loading += 1

        def finished(result: T) -> None:
            self.loading -= 1
            done(result)

        def failed(exc: Exception) -> None:
            self.loading -= 1
            self._close_progress()
            set_plain(self.status, f"Nothing was changed: a problem while {doing}.")
            self.problems.show(problem_from(exc, doing))

        return self.runner.start(job, finished, failed, progress)

    def reload(self) -> None:
        lifted = self.show_lifted.isChecked()
        set_plain(self.status, "Reading the holds, the worksheet and the certificates…")

        def read(_: JobContext) -> tuple[list[HoldItem], list[WorksheetRow], list[CertificateItem]]:
            holds = self.service.holds(in_force_only=not lifted)
            return holds, self.service.worksheet(), self.service.certificates()

        self._run(read, self._show, "reading the retention records")

    def _show(self, read: tuple[list[HoldItem], list[WorksheetRow], list[CertificateItem]]) -> None:
        self.holds, self.rows, self.certificates = read
        _fill(self.hold_table, [
            (f"#{h.id}", h.keeps(), local_time(h.placed_at), h.placed_by,
             local_time(h.lifted_at) + f" by {h.lifted_by}: {h.lift_reason}" if h.lifted_at
             else "in force", h.reason)
            for h in self.holds
        ])  # fmt: skip
        _fill(self.sheet_table, [
            (r.department, r.retention.series, r.retention.schedule_item, str(r.from_on),
             str(r.thru_on), r.volume)
            for r in self.rows
        ])  # fmt: skip
        _fill(self.certificate_table, [
            (c.number, c.department, str(c.approved_on), str(c.notice_given_on),
             str(c.allowed_from),
             f"{c.disposed:,} comments",
             "; ".join(f"{x.record_class.label} {x.from_on} to {x.thru_on}" for x in c.covers))
            for c in self.certificates
        ])  # fmt: skip
        in_force = sum(h.in_force for h in self.holds)
        past = sum(r.comments for r in self.rows)
        set_plain(self.status, f"{self.last_change}{in_force} legal hold(s) in force; {past:,} "
                               "comments past retention and on no hold; "
                               f"{len(self.certificates)} certificate(s) recorded.")  # fmt: skip
        self._enable()

    def _enable(self) -> None:
        hold = self._selected(self.hold_table, self.holds)
        self.lift_button.setEnabled(hold is not None and hold.in_force)
        self.export_button.setEnabled(bool(self.rows))
        self.certify_button.setEnabled(bool(self.rows))
        self.dispose_button.setEnabled(
            self._selected(self.certificate_table, self.certificates) is not None
        )

    @staticmethod
    def _selected(table: QTableWidget, items: Sequence[T]) -> T | None:
        rows = table.selectionModel().selectedRows()
        return items[rows[0].row()] if rows and rows[0].row() < len(items) else None

    # --- holds ----------------------------------------------------------------------------

    def place_hold(self) -> None:
        self._run(lambda _: self.service.places(), self._open_place_form, "reading the sites")

    def _open_place_form(self, places: list[tuple[str, int | None, int | None]]) -> None:
        form = Form("Place a legal hold", self)
        where = QComboBox()
        for words, department, site in places:
            where.addItem(words, (department, site))
        form.add("where", "&Where", where)
        form.add("author", "&Author's id (optional)", QLineEdit())
        form.add("from", "Posted &from (optional)", _date_field())
        form.add("thru", "Posted &thru (optional)", _date_field())
        form.add("request", "Records &request no. (optional)", QLineEdit())
        form.add("reason", "Rea&son", QPlainTextEdit())
        form.finish()

        def place() -> None:
            department, site = where.currentData()
            request = form.text("request").strip()
            if request and not request.isdigit():
                raise InvalidInput(f"{request!r} is not a records request's number.")
            scope = HoldScope(department, site, form.text("author").strip() or None,
                              form.day("from"), form.day("thru"),
                              int(request) if request else None)  # fmt: skip
            reason = form.text("reason")
            self._run(lambda _: self.service.place_hold(scope, reason),
                      lambda hold: self._changed(f"Placed legal hold {hold}."),
                      "placing the hold")  # fmt: skip

        self._open_form(form, place)

    def lift_hold(self) -> None:
        hold = self._selected(self.hold_table, self.holds)
        if hold is None:
            return
        form = Form(f"Lift legal hold #{hold.id}", self)
        form.add("reason", "Rea&son", QPlainTextEdit())
        form.finish()

        def lift() -> None:
            reason = form.text("reason")
            self._run(lambda _: self.service.lift_hold(hold.id, reason),
                      lambda _: self._changed(f"Lifted legal hold {hold.id}."),
                      "lifting the hold")  # fmt: skip

        self._open_form(form, lift)

    # --- the worksheet and certificates ---------------------------------------------------

    def _ask_and_export(self) -> None:
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        chosen, _ = QFileDialog.getSaveFileName(
            self, "Save the disposal worksheet",
            str(Path(folder) / f"hsm-disposal-worksheet-{city_today()}.csv"), "CSV files (*.csv)",
        )  # fmt: skip
        if chosen:
            self.export_to(Path(chosen))

    def export_to(self, path: Path) -> None:
        rows = list(self.rows)
        self._run(lambda _: self.service.export_worksheet(path, rows),
                  lambda _: set_plain(self.status, f"Saved the worksheet to {path}."),
                  "saving the worksheet")  # fmt: skip

    def record_certificate(self) -> None:
        chosen = [self.rows[i.row()] for i in self.sheet_table.selectionModel().selectedRows()]
        rows = chosen or list(self.rows)
        form = Form("Record an approved disposal certificate", self)
        form.add("number", "Certificate &number", QLineEdit())
        form.add("notice", "Sent to the &Commission on", _date_field())
        form.add("approved", "&Approved on", _date_field())
        covers = QLabel()
        set_plain(covers, "\n".join(f"{r.department}: {r.retention.series}, {r.from_on} to "
                                    f"{r.thru_on}" for r in rows))  # fmt: skip
        form.add("covers", "It covers", covers)
        form.finish()

        def certify() -> None:
            number = form.text("number")
            notice, approved = form.day("notice"), form.day("approved")
            if notice is None or approved is None:
                raise InvalidInput("Both dates are needed: when it was sent, when approved.")
            self._run(lambda _: self.service.certify_lines(number, notice, approved, rows),
                      lambda _: self._changed(f"Recorded certificate {number.strip()}."),
                      "recording the certificate")  # fmt: skip

        self._open_form(form, certify)

    def dispose(self) -> None:
        certificate = self._selected(self.certificate_table, self.certificates)
        if certificate is None:
            return
        number = certificate.number
        self._run(lambda _: self.service.disposable_under(number),
                  lambda count: self._confirm(number, count),
                  "counting the records the certificate covers")  # fmt: skip

    def _confirm(self, number: str, count: int) -> None:
        if count == 0:
            set_plain(self.status, f"Nothing under certificate {number} is past retention and "
                                   "on no hold: nothing to dispose of.")  # fmt: skip
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Dispose of these records?",
            f"Dispose of {count:,} comments, with their versions and retained records, under "
            f"certificate {number}?\n\nTheir text, authors and payloads are blanked for good; "
            "their ids and SHA-256 hashes stay in the log.",
            QMessageBox.StandardButton.Cancel, self,
        )  # fmt: skip
        box.setTextFormat(Qt.TextFormat.PlainText)
        dispose = box.addButton(f"&Dispose of {count:,}", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setObjectName("disposeConfirmation")
        self.confirmation = box

        def answered(_: int) -> None:
            self.confirmation = None
            box.deleteLater()
            if box.clickedButton() is dispose:
                self._dispose(number, count)
            else:
                set_plain(self.status, "Nothing was disposed of.")

        box.finished.connect(answered)
        box.open()

    def _dispose(self, number: str, count: int) -> None:
        progress = QProgressDialog(f"Disposing of {count:,} comments…", "&Stop", 0, count, self)
        progress.setObjectName("disposalProgress")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        self.progress = progress

        def run(context: JobContext) -> DisposalResult:
            return self.service.dispose(number, progress=lambda done, _: context.report(done),
                                        cancelled=context.cancelled)  # fmt: skip

        def advanced(done: object) -> None:
            if isinstance(done, int):
                progress.setValue(done)

        handle = self._run(run, self._disposed, "disposing of the records", advanced)
        progress.canceled.connect(lambda: handle.cancel())  # a lambda: Qt holds it weakly
        progress.open()

    def _disposed(self, result: DisposalResult) -> None:
        self._close_progress()
        stopped = " Stopped before the end, as asked." if result.cancelled else ""
        self._changed(
            f"Disposed of {result.comments:,} comments ({result.records:,} retained records) "
            f"under certificate {result.certificate}; {result.kept_on_hold:,} kept on legal "
            f"hold.{stopped}"
        )

    # --- shared ---------------------------------------------------------------------------

    def _open_form(self, form: Form, accepted: Callable[[], None]) -> None:
        self.form = form

        def closed(result: int) -> None:
            self.form = None
            form.deleteLater()
            if result != int(QDialog.DialogCode.Accepted):
                return
            try:
                accepted()
            except InvalidInput as exc:
                self.problems.show(problem_from(exc, "reading what you entered"))

        form.finished.connect(closed)
        form.open()

    def _changed(self, words: str) -> None:
        self.last_change = words + " "
        self.reload()

    def _close_progress(self) -> None:
        if self.progress is not None:
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None


def _table(table: QTableWidget, headers: Sequence[str]) -> QTableWidget:
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # sized by _fill
    header.setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    """Plain text cells (table items never interpret markup), on one line, with control and
    direction-override characters made visible, as the queue shows them."""
    table.clearSelection()
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(one_line(text, CELL_CHARS))
            item.setToolTip(tooltip(item.text()))  # elided in its column; escaped: plain text
            table.setItem(r, c, item)
    # Fit the columns to their text, but no column so wide that the last ones scroll away.
    table.resizeColumnsToContents()
    widest = max(table.fontMetrics().averageCharWidth() * COLUMN_CHARS, 80)
    for c in range(table.columnCount() - 1):
        table.setColumnWidth(c, min(table.columnWidth(c), widest))
