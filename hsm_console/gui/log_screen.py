"""The Log screen: the action log for supervisors and administrators, beside the queue.

It shows what `LogView` returns and holds no rules: who reads which entries is the service's
decision (a moderator never gets this screen, and the service refuses them anyway). The table
holds entry ids and a window of rows (`IdWindowModel`), fed by a `PageLoader` that drops
answers a newer filter made stale; one entry, the exports and the verification of the chain
all run on the window's `TaskRunner`. Comment text and names are untrusted: they appear only
in plain-text widgets.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QStandardPaths, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hsm_console.db.engine import Database
from hsm_console.display import CITY_TZ, local_minute, local_time, one_line
from hsm_console.gui.icons import platform_name
from hsm_console.gui.id_model import IdWindowModel, prepare_table
from hsm_console.gui.log_filters import STATE_WORDS, LogFilterBar
from hsm_console.gui.page_loader import PageLoader
from hsm_console.gui.plain_text import set_plain, tooltip
from hsm_console.gui.problems import ProblemReporter, problem_from
from hsm_console.gui.ui_files import child, load_form
from hsm_console.gui.workers import JobContext, LatestOnly, TaskHandle, TaskRunner
from hsm_console.rules.domain import EntryKind, EntryState
from hsm_console.services.log_export import ExportFormat, ExportProgress, ExportResult, export_log
from hsm_console.services.log_view import PAGE_SIZE, EntryDetail, LogFilter, LogRow, LogView
from hsm_console.services.seals import read_seal_file
from hsm_console.services.verify import VerifyReport, verify_log

DETAIL_DELAY_MS = 60
LINE_CHARS = 200


class LogColumn(enum.IntEnum):
    AT = 0
    DEPARTMENT = 1
    SITE = 2
    ACTOR = 3
    ACTION = 4
    REASON = 5
    OUTCOME = 6
    WHAT = 7


HEADERS = ("When", "Department", "Site", "Who", "Action", "Reason", "Outcome", "Comment or change")
COLUMN_WIDTHS = {
    LogColumn.AT: 122,
    LogColumn.DEPARTMENT: 90,
    LogColumn.SITE: 170,
    LogColumn.ACTOR: 110,
    LogColumn.ACTION: 70,
    LogColumn.REASON: 60,
    LogColumn.OUTCOME: 120,
}


RECORDED_FIRST_TIP = (
    "Recorded before the platform was asked; the entry that says what happened follows it, "
    'marked "of #" this entry\'s number.'
)


class LogModel(IdWindowModel[LogRow]):
    def __init__(self, view: LogView, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(view.rows, HEADERS, runner, parent)

    def unreadable(self, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and column == LogColumn.WHAT:
            return "(out of reach)"
        return None

    def texts(self, row: LogRow) -> tuple[str, ...]:
        """The row's display texts in `LogColumn` order."""
        state = _state(row)
        return (
            local_minute(row.at),
            row.department,
            row.site_name,
            one_line(row.actor, 60),
            row.action,
            row.reason_code or "",
            f"{state} (of #{row.outcome_of})" if row.outcome_of else state,
            one_line(_what(row), LINE_CHARS),
        )

    def cell(self, row: LogRow, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole and column == LogColumn.WHAT:
            return tooltip(one_line(_what(row), 600))
        if role == Qt.ItemDataRole.ToolTipRole and column == LogColumn.AT:
            return local_time(row.at)
        if role == Qt.ItemDataRole.ToolTipRole and column == LogColumn.OUTCOME:
            return RECORDED_FIRST_TIP if row.state == EntryState.PENDING else None
        return None


def _state(row: LogRow) -> str:
    return STATE_WORDS.get(EntryState(row.state), row.state)


def _what(row: LogRow) -> str:
    if row.kind == EntryKind.ADMIN:
        return f"{row.subject}: {row.before or '(none)'} -> {row.after or '(none)'}"
    return f"{row.author_name}: {row.excerpt}" if row.author_name else row.excerpt


class LogScreen(QWidget):
    """The Log tab: `reload` reads the first page under the filters; the rest follows the person."""

    def __init__(
        self,
        db: Database,
        view: LogView,
        runner: TaskRunner,
        problems: ProblemReporter,
        code_names: Mapping[str, str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("logScreenHost")
        self.db = db
        self.view = view
        self.runner = runner
        self.problems = problems
        form = load_form("log_screen.ui", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(form)

        self.filters = LogFilterBar(form, view, code_names, runner, self)
        bar = self.filters
        self.search, self.department, self.site = bar.search, bar.department, bar.site
        self.platform, self.person, self.action = bar.platform, bar.person, bar.action
        self.reason, self.on_from, self.on_to = bar.reason, bar.on_from, bar.on_to
        self.outcome = child(form, QComboBox, "logOutcome")
        self.kind = child(form, QComboBox, "logKind")
        self.review_state = child(form, QComboBox, "logReview")
        self.table = child(form, QTableView, "logTable")
        self.splitter = child(form, QSplitter, "logSplitter")
        self.entry_splitter = child(form, QSplitter, "entrySplitter")
        self.summary = child(form, QLabel, "entrySummary")
        self.record_text = child(form, QPlainTextEdit, "recordText")
        self.now_text = child(form, QPlainTextEdit, "nowText")
        self.history_text = child(form, QPlainTextEdit, "historyText")
        self.count_label = child(form, QLabel, "logCount")
        self.export_csv = child(form, QPushButton, "exportCsvButton")
        self.export_json = child(form, QPushButton, "exportJsonButton")
        self.verify_button = child(form, QPushButton, "verifyButton")
        self.verify_seal_button = child(form, QPushButton, "verifySealButton")
        self.work_status = child(form, QLabel, "workStatus")
        self.progress = child(form, QProgressBar, "workProgress")
        self.cancel = child(form, QPushButton, "workCancel")

        self.model = LogModel(view, runner, self)
        self.table.setModel(self.model)
        self.loader: PageLoader[LogFilter, int] = PageLoader(
            runner, self.model, view.page, view.count, LogFilter(), PAGE_SIZE, self
        )
        self.entry: EntryDetail | None = None
        self._keep_entry: int | None = None
        self.last_export: ExportResult | None = None
        self.last_report: VerifyReport | None = None
        self._work: TaskHandle | None = None
        self._detail = LatestOnly(runner)
        prepare_table(self.table, COLUMN_WIDTHS.items(), LogColumn.WHAT)
        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(DETAIL_DELAY_MS)
        self._connect()
        self.splitter.setSizes([400, 330])
        self.entry_splitter.setSizes([440, 400, 440])

    # --- construction ------------------------------------------------------------------

    def _connect(self) -> None:
        self.filters.changed.connect(self.reload)
        self.loader.loaded.connect(self._loaded)
        self.loader.counted.connect(self._counted)
        self.loader.failed.connect(
            lambda exc: self.problems.show(problem_from(exc, "reading the action log"))
        )
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._detail_timer.start())
        self._detail_timer.timeout.connect(self._load_detail)
        self.export_csv.clicked.connect(lambda: self.export(ExportFormat.CSV))
        self.export_json.clicked.connect(lambda: self.export(ExportFormat.JSONL))
        self.verify_button.clicked.connect(self.verify)
        self.verify_seal_button.clicked.connect(lambda: self.verify_against())
        self.cancel.clicked.connect(self.cancel_work)

    # --- the entries ---------------------------------------------------------------------

    def current_filter(self) -> LogFilter:
        return self.filters.current_filter()

    def reload(self) -> None:
        """Read the log again under the filters, keeping the entry in view if it still shows."""
        self._keep_entry = self.current_entry_id()
        set_plain(self.count_label, "Counting…")
        self.loader.load(self.current_filter())

    @property
    def loading(self) -> bool:
        return self.loader.loading

    def _loaded(self) -> None:
        kept = self.model.row_of(self._keep_entry) if self._keep_entry is not None else None
        if kept is not None or self.model.rowCount():
            self.select_row(kept or 0)
        else:
            self._show_message("No entries match these filters.")

    def _counted(self, total: object) -> None:
        noun = "entry" if total == 1 else "entries"
        set_plain(self.count_label, f"{total:,} {noun}")

    def current_entry_id(self) -> int | None:
        index = self.table.currentIndex()
        return self.model.id_at(index.row()) if index.isValid() else None

    def select_row(self, row: int) -> None:
        index = self.model.index(row, 0, QModelIndex())
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)

    def _load_detail(self) -> None:
        entry_id = self.current_entry_id()
        if entry_id is None:
            self._detail.forget()
            return
        view = self.view

        def read(_: JobContext) -> EntryDetail:
            return view.entry(entry_id)

        self._detail.start(read, self._detail_arrived, self._detail_failed)

    def _detail_arrived(self, shown: EntryDetail) -> None:
        self.entry = shown
        set_plain(self.summary, _summary(shown))
        self.record_text.setPlainText(_record_words(shown))
        self.now_text.setPlainText(_now_words(shown))
        self.history_text.setPlainText("\n".join(_history_line(row) for row in shown.history))

    def _detail_failed(self, exc: Exception) -> None:
        self._show_message(problem_from(exc, "reading the log entry").message)

    def _show_message(self, text: str) -> None:
        self.entry = None
        set_plain(self.summary, text)
        for edit in (self.record_text, self.now_text, self.history_text):
            edit.clear()

    # --- exports and verification --------------------------------------------------------

    @property
    def working(self) -> bool:
        return self._work is not None and self._work.running

    def export(self, export_format: ExportFormat, path: Path | None = None) -> None:
        """Export what the table shows; asks where unless `path` is given."""
        if self.working:
            return
        if path is None:
            path = self._ask_where(export_format)
            if path is None:
                return
        view, log_filter, target = self.view, self.loader.current_filter, path

        def run(context: JobContext) -> ExportResult:
            return export_log(
                view, log_filter, target, export_format, context.report, context.cancelled
            )

        self._begin(f"Exporting to {path.name}…")
        self._work = self.runner.start(run, self._exported, self._work_failed, self._progressed)

    def _ask_where(self, export_format: ExportFormat) -> Path | None:
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        stamp = datetime.now(CITY_TZ).strftime("%Y%m%d-%H%M")
        suffix = export_format.value
        chosen, _ = QFileDialog.getSaveFileName(
            self, "Export the log view", str(Path(folder) / f"hsm-log-{stamp}.{suffix}"),
            f"{suffix.upper()} files (*.{suffix})",
        )  # fmt: skip
        return Path(chosen) if chosen else None

    def _exported(self, result: ExportResult) -> None:
        self.last_export = result
        if result.cancelled:
            self._end(f"Export stopped after {result.entries:,} entries; no file was written.")
        else:
            self._end(f"Exported {result.entries:,} entries to {result.path}.")

    def verify(self) -> None:
        """Walk the whole chain and every retained record in the background."""
        self._verify(None)

    def verify_against(self, path: Path | None = None) -> None:
        """Verify, and prove the log still holds all that a seal file (asked for) sealed."""
        if path is None and not self.working:
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Verify against a seal", "", "Seal files (*.json)"
            )
            path = Path(chosen) if chosen else None
        if path is not None:
            self._verify(path)

    def _verify(self, seal_file: Path | None) -> None:
        if self.working:
            return
        db = self.db

        def run(context: JobContext) -> VerifyReport:
            seal = None if seal_file is None else read_seal_file(seal_file)
            return verify_log(
                db, lambda done, total: context.report((done, total)), context.cancelled, seal
            )

        self._begin("Verifying the log…")
        self._work = self.runner.start(run, self._verified, self._work_failed, self._progressed)

    def _verified(self, report: VerifyReport) -> None:
        self.last_report = report
        self._end(verify_words(report))

    def cancel_work(self) -> None:
        if self._work is not None and self._work.running:
            self._work.cancel()
            set_plain(self.work_status, "Stopping…")

    def _begin(self, words: str) -> None:
        for button in (self.export_csv, self.export_json, self.verify_button,
                       self.verify_seal_button):  # fmt: skip
            button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy until the first report says how far
        self.progress.show()
        self.cancel.show()
        set_plain(self.work_status, words)

    def _progressed(self, step: object) -> None:
        if isinstance(step, ExportProgress):
            done, total = step.done, step.total
        elif isinstance(step, tuple):
            done, total = step
        else:
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _end(self, words: str) -> None:
        self._work = None
        for button in (self.export_csv, self.export_json, self.verify_button,
                       self.verify_seal_button):  # fmt: skip
            button.setEnabled(True)
        self.progress.hide()
        self.cancel.hide()
        set_plain(self.work_status, words)

    def _work_failed(self, exc: Exception) -> None:
        problem = problem_from(exc, "exporting or verifying the log")
        self._end(problem.message)
        self.problems.show(problem)


def verify_words(report: VerifyReport) -> str:
    """The verification's result as a supervisor reads it out."""
    head = f"Chain head: entry {report.head_id}, sha256 {report.head_hash}."
    checked = (
        f"{report.entries_checked:,} log entries and {report.records_checked:,} retained "
        "records checked."
    )
    if report.cancelled:
        return f"Verification stopped after {report.entries_checked:,} entries; nothing is proven."
    if report.problem:
        first = (
            "" if report.first_bad_entry is None
            else f" First entry that does not match: {report.first_bad_entry}."
        )  # fmt: skip
        return (
            f"VERIFICATION FAILED: {report.problem}.{first} {checked} The last entry that "
            f"matches: {report.head_id}, sha256 {report.head_hash}."
        )
    if report.seal is not None:
        seal = report.seal
        return (
            f"The action log is intact, and holds everything the seal of "
            f"{local_time(seal.sealed_at)} sealed (entry {seal.entry_id:,}, sha256 "
            f"{seal.entry_hash}). {checked} {head}"
        )
    return f"The action log is intact. {checked} {head}"


def _summary(shown: EntryDetail) -> str:
    row = shown.row
    parts = [f"Entry #{row.id}", local_time(row.at), one_line(row.actor, 80), row.action,
             _state(row).lower()]  # fmt: skip
    if row.reason_code:
        parts.append(f"reason {row.reason_code}")
    if row.site_name:
        parts.append(f"{row.site_name} ({row.department}) on {platform_name(row.platform)}")
    if row.outcome_of:
        parts.append(f"outcome of #{row.outcome_of}")
    if shown.policy_version:
        parts.append(f"policy {shown.policy_version}")
    text = " · ".join(parts)
    if row.note:
        text += f"\nNote: {one_line(row.note, 400)}"
    if row.detail:
        text += f"\nPlatform's answer: {one_line(row.detail, 400)}"
    return text + f"\nEntry sha256 {shown.entry_hash}"


def _record_words(shown: EntryDetail) -> str:
    row, record = shown.row, shown.record
    if row.kind == EntryKind.ADMIN:
        return f"Changed {row.subject}\n\nBefore:\n{row.before or '(none)'}\n\nAfter:\n" + (
            row.after or "(none)"
        )
    if record is None:
        return "This entry cites no retained record."
    lines = [
        f"{record.author_name} ({record.author_id}), written {local_time(record.created_at)}:",
        "",
        record.text,
        "",
        f"Retained record #{record.id}, captured {local_time(record.captured_at)} by "
        f"{record.captured_by}",
        f"Permalink: {record.permalink}",
        f"In reply to the City's post: {one_line(record.post_text, 300)}",
        *(f"Attachment: {url}" for url in record.attachments),
        f"sha256 {record.sha256}",
    ]
    return "\n".join(lines)


def _now_words(shown: EntryDetail) -> str:
    comment = shown.comment
    if comment is None:
        return "No comment: this entry changed the administration."
    lines = [f"{comment.author_name}, as last read {local_time(comment.fetched_at)}:", "",
             comment.text, "",
             f"Status: {comment.status}; on the platform: {comment.platform_state}"]  # fmt: skip
    if comment.edited_at is not None:
        lines.append(f"Edited by its author: {local_time(comment.edited_at)}")
    if comment.gone_seen_at is not None:
        lines.append(f"Gone from the platform since: {local_time(comment.gone_seen_at)}")
    for number, version in enumerate(shown.versions, start=1):
        replaced = local_time(version.edited_at or version.replaced_seen_at)
        lines += ["", f"Earlier version {number} (replaced {replaced}):", version.text]
    return "\n".join(lines)


def _history_line(row: LogRow) -> str:
    line = f"#{row.id} {local_time(row.at)} {one_line(row.actor, 60)} {row.action} "
    line += _state(row).lower()
    if row.reason_code:
        line += f" reason {row.reason_code}"
    if row.outcome_of:
        line += f" (outcome of #{row.outcome_of})"
    if row.kind not in (EntryKind.ACTION, EntryKind.ADMIN):
        line = f"{line} [{row.kind}]"
    if row.note:
        line += f" note: {one_line(row.note, 80)}"
    return line
