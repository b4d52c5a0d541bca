"""Search and export, for one records request (docs/design.md, "Search and export packages").

The records officer sees the request, a search form filled from its scope, what the search
finds counted (comments, retained records, versions, log entries, reviews, notes) and the
newest comments found, then exports the package with a progress dialog that can cancel.
The newest comments come first (a window, quick whatever the search finds); the counts,
which read everything found, follow from a second job.
Every question runs on the `TaskRunner`; the services decide who may do what. Comment text,
author and site names come from the public: table items and plain-text labels only.

The Log tab's filter bar is not reused: it is bound to `LogView`, which only supervisors may
open, and a records officer need not be one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QFileDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressDialog,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from hsm_console.db.engine import Database
from hsm_console.display import local_time, one_line
from hsm_console.gui.filter_bar import ANY_DATE, DayBoxes, chosen_day
from hsm_console.gui.icons import platform_name
from hsm_console.gui.log_filters import STATE_WORDS
from hsm_console.gui.plain_text import set_plain
from hsm_console.gui.problems import ProblemReporter, problem_from
from hsm_console.gui.ui_files import child, load_dialog_form
from hsm_console.gui.workers import JobContext, LatestOnly, TaskHandle, TaskRunner
from hsm_console.rules.domain import Action
from hsm_console.rules.policy import load_policy
from hsm_console.rules.records_query import DateBasis, RecordsQuery
from hsm_console.services.records_search import RecordsSearch, SearchCounts, SearchResult

if TYPE_CHECKING:
    from hsm_console.services.records_package import PackageResult, RequestInfo

HEADERS = ("Comment", "Posted (Chicago)", "Department", "Site", "Author", "Text", "Status",
           "Records", "Versions", "Entries")  # fmt: skip
T = TypeVar("T")
DATED_WORDS = {DateBasis.POSTED: "the comment's posting", DateBasis.ACTED: "an action on it"}


@dataclass(frozen=True)
class _Opened:
    request: RequestInfo
    departments: dict[int, str]
    sites: list[tuple[int, str, str]]


class RecordsSearchDialog(QDialog):
    """ "Search and export" for request `request_id`, as `username` (a records officer)."""

    def __init__(
        self,
        db: Database,
        username: str,
        request_id: int,
        runner: TaskRunner | None = None,
        parent: QWidget | None = None,
        code_names: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.db, self.username, self.request_id = db, username, request_id
        self.runner = runner or TaskRunner(self)
        self.problems = ProblemReporter(self)
        if code_names is None:
            code_names = {c.code: c.name for c in load_policy().codes.values()}
        self.code_names = code_names
        self.found: SearchResult | None = None
        self.counted: SearchCounts | None = None  # of `found`'s query
        self._searches = LatestOnly(self.runner)  # a newer search drops an older answer
        self.exported: PackageResult | None = None
        self.progress: QProgressDialog | None = None
        self._export: TaskHandle | None = None
        self.busy = True
        self.closed = False
        self.setObjectName("recordsSearchDialog")
        self.setWindowTitle(f"Search and export — records request {request_id} — HSM Console")
        form = load_dialog_form("records_search_dialog.ui", self)
        self.resize(1100, 680)
        self.request_label = child(form, QLabel, "requestLabel")
        self.words = child(form, QLineEdit, "recordsWords")
        self.author = child(form, QLineEdit, "recordsAuthor")
        self.department = child(form, QComboBox, "recordsDepartment")
        self.site = child(form, QComboBox, "recordsSite")
        self.platform = child(form, QComboBox, "recordsPlatform")
        self.action = child(form, QComboBox, "recordsAction")
        self.reason = child(form, QComboBox, "recordsReason")
        self.outcome = child(form, QComboBox, "recordsOutcome")
        self.on_from = child(form, QDateEdit, "recordsFrom")
        self.on_to = child(form, QDateEdit, "recordsTo")
        self.dated = child(form, QComboBox, "recordsDated")
        self.search_button = child(form, QPushButton, "searchButton")
        self.counts = child(form, QLabel, "countsLabel")
        self.table = child(form, QTableWidget, "hitTable")
        self.as_zip = child(form, QCheckBox, "zipBox")
        self.export_button = child(form, QPushButton, "exportButton")
        self._days = DayBoxes([self.on_from, self.on_to], self)
        for basis, words in DATED_WORDS.items():
            self.dated.addItem(words, basis)
        self.table.setColumnCount(len(HEADERS))
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.search_button.setEnabled(False)
        self.search_button.clicked.connect(self.search)
        self.words.returnPressed.connect(self.search)
        self.author.returnPressed.connect(self.search)
        self.export_button.clicked.connect(self._choose_destination)
        set_plain(self.request_label, f"Reading records request {request_id}…")
        self._open()

    # --- opening -------------------------------------------------------------------------

    def _open(self) -> None:
        # The package writer (CSV, JSON Lines, PDF) loads with the dialog, not the window.
        from hsm_console.services.records_package import PackageExporter

        def run(_: JobContext) -> _Opened:
            search = RecordsSearch(self.db, self.username)
            request = PackageExporter(self.db, self.username).request(self.request_id)
            return _Opened(request, search.department_codes(), search.sites())

        self.runner.start(
            run, self._while_open(self._opened), self._while_open(self._failed_to_open)
        )

    def _opened(self, opened: _Opened) -> None:
        request = opened.request
        set_plain(
            self.request_label,
            f"Request {request.id} ({request.state}), received {local_time(request.received_at)}"
            f", due {request.due_on}, from {one_line(request.requester, 120)}: "
            f"{one_line(request.words, 300)}",
        )
        _choices(
            self.department, "All my departments", ((c, c) for c in opened.departments.values())
        )
        _choices(self.site, "All sites", ((s, f"{name} ({platform_name(p)})")
                                          for s, name, p in opened.sites))  # fmt: skip
        platforms = sorted({p for _, _, p in opened.sites})
        _choices(self.platform, "All platforms", ((p, platform_name(p)) for p in platforms))
        _choices(self.action, "Any action", ((a.value, a.value) for a in Action))
        _choices(self.reason, "Any reason", ((c, f"{c} — {n}") for c, n in self.code_names.items()))
        _choices(self.outcome, "Any outcome", ((s.value, w) for s, w in STATE_WORDS.items()))
        self.show_query(request.query)
        self.search()

    def _failed_to_open(self, exc: Exception) -> None:
        self.busy = False
        set_plain(self.request_label, f"Records request {self.request_id} could not be opened.")
        self.problems.show(problem_from(exc, "opening the records request"))

    # --- the form ------------------------------------------------------------------------

    def show_query(self, query: RecordsQuery) -> None:
        """Fill the form from a query (the request's scope)."""
        self.words.setText(query.words)
        self.author.setText(query.author)
        for combo, values in (
            (self.department, query.departments), (self.site, query.site_ids),
            (self.platform, query.platforms), (self.action, query.actions),
            (self.reason, query.reason_codes), (self.outcome, query.outcomes),
        ):  # fmt: skip
            _select(combo, frozenset(values))
        for edit, day in ((self.on_from, query.on_from), (self.on_to, query.on_to)):
            edit.setDate(QDate(day.year, day.month, day.day) if day else ANY_DATE)
        self.dated.setCurrentIndex(self.dated.findData(query.dated))

    def query(self) -> RecordsQuery:
        """The query the form shows."""
        return RecordsQuery(
            on_from=chosen_day(self.on_from), on_to=chosen_day(self.on_to),
            dated=DateBasis(self.dated.currentData()),
            departments=self.department.currentData(), site_ids=self.site.currentData(),
            platforms=self.platform.currentData(), author=self.author.text().strip(),
            words=self.words.text(), reason_codes=self.reason.currentData(),
            actions=self.action.currentData(), outcomes=self.outcome.currentData(),
        )  # fmt: skip

    # --- searching -----------------------------------------------------------------------

    def search(self) -> None:
        query = self.query()
        on_from, on_to = query.on_from, query.on_to
        if on_from is not None and on_to is not None and on_from > on_to:
            set_plain(self.counts, f"The days run backwards: from {on_from} to {on_to}.")
            return
        self.busy = True
        self.search_button.setEnabled(False)
        self.export_button.setEnabled(False)
        self.found = self.counted = None
        set_plain(self.counts, "Searching…")

        def run(_: JobContext) -> SearchResult:
            return RecordsSearch(self.db, self.username).search(query)

        self._searches.start(
            run, self._while_open(self._found), self._while_open(self._search_failed)
        )

    def _found(self, result: SearchResult) -> None:
        self.found = result
        self.search_button.setEnabled(True)
        self.export_button.setEnabled(bool(result.hits))
        if not result.hits:
            self._counted(result, SearchCounts())
        else:
            set_plain(self.counts, "Found comments; counting everything they bring…")

            def run(_: JobContext) -> SearchCounts:
                return RecordsSearch(self.db, self.username).count(result.query)

            self._searches.start(
                run,
                self._while_open(lambda counts: self._counted(result, counts)),
                self._while_open(self._search_failed),
            )
        self.table.setRowCount(len(result.hits))
        for r, hit in enumerate(result.hits):
            cells = (
                str(hit.comment_id), local_time(hit.created_at), hit.department,
                one_line(hit.site_name, 60), one_line(hit.author_name, 60),
                one_line(hit.excerpt, 300), hit.status, str(hit.records), str(hit.versions),
                str(hit.entries),
            )  # fmt: skip
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))

    def _counted(self, result: SearchResult, counts: SearchCounts) -> None:
        self.busy = False
        self.counted = counts
        shown = f" The newest {len(result.hits)} are listed." if result.truncated else ""
        set_plain(self.counts, f"Found {counts.describe()}.{shown}")

    def _search_failed(self, exc: Exception) -> None:
        self.busy = False
        self.search_button.setEnabled(True)
        set_plain(self.counts, "The search could not be run.")
        self.problems.show(problem_from(exc, "searching the records"))

    # --- exporting -----------------------------------------------------------------------

    def _choose_destination(self) -> None:
        zipped = self.as_zip.isChecked()
        name = f"records-request-{self.request_id}" + (".zip" if zipped else "")
        chosen, _ = QFileDialog.getSaveFileName(
            self, "Export the package as (a new folder)" if not zipped else "Export the package as",
            str(Path.home() / name), "Zip file (*.zip)" if zipped else "",
        )  # fmt: skip
        if chosen:
            self.export_to(Path(chosen))

    def export_to(self, path: Path) -> None:
        """Write the package of what the form shows at `path`, with progress and Cancel."""
        query, zipped = self.query(), self.as_zip.isChecked()
        self.busy = True
        self.export_button.setEnabled(False)
        progress = QProgressDialog(f"Writing the package to {path}…", "Cancel", 0, 0, self)
        progress.setObjectName("packageProgress")
        progress.setWindowTitle("Exporting the package")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        progress.setMinimumDuration(0)
        self.progress = progress

        from hsm_console.services.records_package import PackageExporter

        def run(context: JobContext) -> PackageResult:
            return PackageExporter(self.db, self.username).export(
                self.request_id, path, as_zip=zipped, query=query,
                progress=context.report, cancelled=context.cancelled,
            )  # fmt: skip

        self._export = self.runner.start(
            run, self._while_open(self._exported), self._while_open(self._export_failed),
            self._while_open(self._step),
        )  # fmt: skip
        progress.canceled.connect(self.cancel_export)
        progress.show()

    def cancel_export(self) -> None:
        if self._export is not None:
            self._export.cancel()
        if self.progress is not None:
            self.progress.setLabelText("Cancelling: removing what was written…")

    def _step(self, step: object) -> None:
        from hsm_console.services.records_package import PackageProgress

        if isinstance(step, PackageProgress) and self.progress is not None:
            self.progress.setMaximum(max(step.total, 1))
            self.progress.setValue(step.done)
            self.progress.setLabelText(f"Written {step.done:,} of {step.total:,} comments…")

    def _close_progress(self) -> None:
        self.busy = False
        self._export = None
        if self.progress is not None:
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None
        self.export_button.setEnabled(self.found is not None and bool(self.found.hits))

    def _exported(self, result: PackageResult) -> None:
        self._close_progress()
        self.exported = result
        if result.cancelled:
            set_plain(self.counts, "The export was cancelled: nothing was written.")
            return
        set_plain(
            self.counts,
            f"Package written to {result.path}: {result.counts.describe()}. Logged as entry "
            f"{result.entry_id}; manifest SHA-256 {result.manifest_sha256}.",
        )

    def _export_failed(self, exc: Exception) -> None:
        self._close_progress()
        set_plain(self.counts, "The package was not written; nothing of it was left.")
        self.problems.show(problem_from(exc, "exporting the package"))

    def reject(self) -> None:
        self.closed = True
        if self._export is not None:  # closing stops the export, which removes what it wrote
            self._export.cancel()
        super().reject()

    def _while_open(self, callback: Callable[[T], None]) -> Callable[[T], None]:
        """An answer that arrives after the dialog closed (it may be deleted) is dropped."""
        return lambda answer: None if self.closed else callback(answer)


def _choices(combo: QComboBox, everything: str, choices: Iterable[tuple[object, str]]) -> None:
    combo.clear()
    combo.addItem(everything, frozenset())
    for value, label in choices:
        combo.addItem(label, frozenset({value}))


def _select(combo: QComboBox, values: frozenset[object]) -> None:
    """Choose `values`; a scope naming several of them gets a choice of its own."""
    index = next((i for i in range(combo.count()) if combo.itemData(i) == values), -1)
    if index < 0:
        combo.addItem(", ".join(sorted(map(str, values))), values)
        index = combo.count() - 1
    combo.setCurrentIndex(index)
