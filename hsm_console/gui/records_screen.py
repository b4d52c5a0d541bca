"""The Records tab: the records requests register for records officers (docs/design.md,
"Records requests"), and the band that names overdue and due-soon requests when the window
opens.

It shows what `RecordsRequests` returns and sends what the officer chose; every rule (who may,
which step may follow which, one extension) is the service's, and a button is enabled only
where `rules.records_requests.refusal` says the step may follow. Requesters and their words
come from the public: plain-text widgets only, tooltips escaped. *Search and export…* only
emits `search_requested(id)`: the search and the package are another screen's.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import QDateTime, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QWidget,
)

from hsm_console.display import CITY_TZ, local_time, one_line
from hsm_console.gui.plain_text import fill_table, prepare_table, set_plain, tooltip
from hsm_console.gui.problems import ProblemReporter
from hsm_console.gui.ui_files import child, load_screen_form
from hsm_console.gui.workers import JobContext, LatestOnly, TaskRunner
from hsm_console.rules.records_requests import (
    ExtensionReason,
    RequestState,
    RequestStep,
    Urgency,
    extension_refusal,
    refusal,
    time_left,
)
from hsm_console.services.records_requests import (
    CITY_WIDE,
    RecordsRequests,
    RequestDetail,
    RequestFilter,
    RequestRow,
)

HEADERS = ("#", "Received", "Requester", "State", "Due", "Handler", "Days left")
# The console's accents (resources/styles/console.qss): the error colour and the warning colour.
OVERDUE_BACKGROUND = QColor(220, 80, 60, 90)
DUE_SOON_BACKGROUND = QColor(255, 224, 102, 110)
_SHOWN = {
    "Still to answer": frozenset({RequestState.DRAFT, RequestState.OPEN, RequestState.EXTENDED}),
    "Drafts from the queue": frozenset({RequestState.DRAFT}),
    "Answered": frozenset({RequestState.ANSWERED}),
    "Withdrawn": frozenset({RequestState.WITHDRAWN}),
    "All": frozenset[RequestState](),
}


@dataclass(frozen=True)
class _Register:
    rows: list[RequestRow]
    attention: list[RequestRow]
    departments: list[str]


class Step(enum.Enum):
    """What a button asks for; the value is said while it runs."""

    ACCEPT = "Accepting the draft"
    ASSIGN = "Assigning"
    EXTEND = "Extending"
    ANSWER = "Marking it answered"
    WITHDRAW = "Withdrawing"

    @property
    def rule(self) -> RequestStep:
        return RequestStep[self.name]


def attention_lines(rows: Sequence[RequestRow]) -> list[str]:
    """One line per overdue or due-soon request, in words; [] when none is."""
    lines = []
    for row in rows:
        who = f"{one_line(row.requester, 40) or 'a requester not named'}"
        handler = f", handled by {row.handler}" if row.handler else ", not assigned"
        lines.append(
            f"{'⚠ ' * (row.urgency is Urgency.OVERDUE)}Request #{row.id} from {who} "
            f"({row.department}), due {row.due_on:%a %d %b %Y}: {time_left(row.days_left)}"
            f"{handler}."
        )
    return lines


class RecordsBanner(QFrame):
    """The band above the tabs naming a records officer's overdue and due-soon requests."""

    open_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recordsBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setAccessibleName("Records requests overdue or due soon")
        self.button = QPushButton("Open the Records tab", self)
        self.button.clicked.connect(self.open_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.hide()

    def show_requests(self, rows: Sequence[RequestRow]) -> None:
        lines = attention_lines(rows)
        set_plain(self.label, "\n".join(lines))
        self.setVisible(bool(lines))


class RecordsScreen(QWidget):
    """The Records tab: `reload` reads the register; selecting a row opens its request."""

    search_requested = Signal(int)  # the selected request's id, for the search-and-export dialog

    def __init__(
        self,
        service: RecordsRequests,
        runner: TaskRunner,
        problems: ProblemReporter,
        parent: QWidget | None = None,
        *,
        banner: RecordsBanner,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("recordsScreenHost")
        self.service = service
        self.runner = runner
        self.problems = problems
        form = load_screen_form("records_screen.ui", self)
        # The window's, above its tabs: made at start, this screen when first shown.
        self.banner = banner
        self.table = child(form, QTableWidget, "requestsTable")
        self.state_filter = child(form, QComboBox, "stateFilter")
        self.new_button = child(form, QPushButton, "newButton")
        self.refresh_button = child(form, QPushButton, "refreshButton")
        self.splitter = child(form, QSplitter, "recordsSplitter")
        self.summary = child(form, QLabel, "requestSummary")
        self.words = child(form, QPlainTextEdit, "requestWords")
        self.history = child(form, QPlainTextEdit, "requestHistory")
        self.search_button = child(form, QPushButton, "searchButton")
        self.status = child(form, QLabel, "recordsStatus")
        self.buttons = {
            Step.ACCEPT: child(form, QPushButton, "acceptButton"),
            Step.ASSIGN: child(form, QPushButton, "assignButton"),
            Step.EXTEND: child(form, QPushButton, "extendButton"),
            Step.ANSWER: child(form, QPushButton, "answerButton"),
            Step.WITHDRAW: child(form, QPushButton, "withdrawButton"),
        }
        for label in _SHOWN:
            self.state_filter.addItem(label)
        prepare_table(self.table, HEADERS)
        self.rows: list[RequestRow] = []
        self.departments: list[str] = []  # those a new request may be registered for
        self.detail: RequestDetail | None = None
        self.busy = False
        self.loading = False
        self._register = LatestOnly(runner)
        self._detail = LatestOnly(runner)
        self.table.currentCellChanged.connect(lambda row, *_: self._chosen(row))
        self.state_filter.currentIndexChanged.connect(lambda _: self.reload())
        self.refresh_button.clicked.connect(self.reload)
        self.new_button.clicked.connect(self.register_new)
        self.search_button.clicked.connect(self._search)
        for step, button in self.buttons.items():
            button.clicked.connect(lambda _=False, s=step: self.run(s))
        self.new_button.setEnabled(False)  # until the departments it may be for are read
        self.splitter.setSizes([640, 560])
        self._show(None)

    # --- the register --------------------------------------------------------------------

    def reload(self) -> None:
        """Read the register (as filtered) and the overdue and due-soon requests again."""
        service = self.service
        wanted = RequestFilter(_SHOWN[self.state_filter.currentText()])
        self.loading = True

        def read(_: JobContext) -> _Register:
            return _Register(service.rows(wanted), service.attention(), service.departments())

        self._register.start(read, self._arrived, self._read_failed)

    def _arrived(self, register: _Register) -> None:
        self.loading = False
        self.rows = register.rows
        self.departments = register.departments
        self.new_button.setEnabled(bool(self.departments))
        self.banner.show_requests(register.attention)
        _fill(self.table, self.rows)
        shown = self.detail.request.id if self.detail is not None else None
        ids = [row.id for row in self.rows]
        if shown in ids:
            self.table.blockSignals(True)
            self.table.setCurrentCell(ids.index(shown), 0)
            self.table.blockSignals(False)

    def _read_failed(self, exc: Exception) -> None:
        self.loading = False
        self._say_problem(exc, "reading the register")

    def _chosen(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            self.open(self.rows[row].id)

    def open(self, request_id: int) -> None:
        service = self.service

        def read(_: JobContext) -> RequestDetail:
            return service.show(request_id)

        self._detail.start(read, self._show, lambda e: self._say_problem(e, "opening it"))

    def _show(self, detail: RequestDetail | None) -> None:
        self.detail = detail
        if detail is None:
            set_plain(self.summary, "Select a request, or register a new one.")
            self.words.clear()
            self.history.clear()
        else:
            set_plain(self.summary, _summary(detail.request))
            self.words.setPlainText(detail.request.words)
            self.history.setPlainText(_history(detail))
        self._enable()

    def _enable(self) -> None:
        request = self.detail.request if self.detail is not None else None
        steps = [(button, step.rule) for step, button in self.buttons.items()]
        for button, step in [*steps, (self.search_button, RequestStep.EXPORT)]:
            refused = self._refusal(request, step)
            button.setEnabled(not self.busy and refused is None)
            button.setToolTip(tooltip(refused) if refused else "")

    def _refusal(self, request: RequestRow | None, step: RequestStep) -> str | None:
        """Why the service would refuse the step now (the button's tooltip), or None."""
        if request is None:
            return "Select a request first."
        refused = refusal(request.state, step)
        if refused is None and step is RequestStep.EXTEND:
            refused = extension_refusal(request.original_due, self.service.today())
        return refused

    def _search(self) -> None:
        if self.detail is not None:
            self.search_requested.emit(self.detail.request.id)

    # --- steps ---------------------------------------------------------------------------

    def run(self, step: Step) -> None:
        """Ask what the step needs (a dialog), then send it to the service in the background."""
        detail = self.detail
        if detail is None or self.busy:
            return
        job = self._job(step, detail)
        if job is not None:
            self._start(step.value, job, detail.request.id)

    def _job(self, step: Step, detail: RequestDetail) -> Callable[[], Any] | None:
        service, request_id = self.service, detail.request.id
        if step is Step.ACCEPT:
            return lambda: service.accept(request_id)
        if step is Step.ASSIGN:
            handler, ok = QInputDialog.getItem(
                self, "Assign the request", f"Records officer to handle request #{request_id}:",
                detail.handlers, 0, False,
            )  # fmt: skip
            return (lambda: service.assign(request_id, handler)) if ok and handler else None
        if step is Step.EXTEND:
            dialog = ExtensionDialog(detail.request, service.calendar.extended, self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            reason, note = dialog.reason(), dialog.note.toPlainText()
            return lambda: service.extend(request_id, reason, note)
        asking = {
            Step.ANSWER: ("Mark answered", "How it was answered (optional):"),
            Step.WITHDRAW: ("Withdraw the request", "Why (required), e.g. withdrawn by phone:"),
        }[step]
        words, ok = QInputDialog.getMultiLineText(self, *asking)
        if not ok:
            return None
        if step is Step.ANSWER:
            return lambda: service.answer(request_id, words)
        return lambda: service.withdraw(request_id, words)

    def register_new(self) -> None:
        dialog = NewRequestDialog(self.service.clock(), self.departments, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        service, values = self.service, dialog.values()
        self._start("Registering the request", lambda: service.register(*values), None)

    def _start(self, doing: str, job: Callable[[], Any], request_id: int | None) -> None:
        self.busy = True
        self._enable()
        set_plain(self.status, f"{doing}…")

        def done(result: object) -> None:
            self.busy = False
            shown = request_id if request_id is not None else result
            set_plain(self.status, f"{doing}: recorded in the log.")
            if isinstance(shown, int):
                self.open(shown)
            self.reload()

        self.runner.start(lambda _: job(), done, self._failed)

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        self._enable()
        self._say_problem(exc, "recording it")

    def _say_problem(self, exc: Exception, doing: str) -> None:
        self.problems.say(self.status, exc, doing)


class ExtensionDialog(QDialog):
    """The one extension: a reason of 5 ILCS 140/3(e) and the explanation sent."""

    def __init__(
        self, request: RequestRow, extended: Callable[[date], date], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Extend request #{request.id}")
        self.reasons = QComboBox(self)
        self.reasons.setAccessibleName("The reason 3(e) allows")
        for reason in ExtensionReason:
            self.reasons.addItem(reason.label, reason.value)
        self.note = QPlainTextEdit(self)
        self.note.setAccessibleName("The explanation sent to the requester")
        until = QLabel(self)
        set_plain(
            until,
            f"Due {request.original_due:%a %d %b %Y}; extended, due "
            f"{extended(request.original_due):%a %d %b %Y}. Tell the requester in writing "
            "before the original due date (3(f)). A request is extended only once.",
        )
        until.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QFormLayout(self)
        layout.addRow(until)
        layout.addRow("&Reason:", self.reasons)
        layout.addRow("E&xplanation:", self.note)
        layout.addRow(buttons)

    def reason(self) -> ExtensionReason:
        return ExtensionReason(self.reasons.currentData())


class NewRequestDialog(QDialog):
    """A request as it arrived: when, who (never required), its words, which department."""

    def __init__(
        self, now: datetime, departments: list[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Register a records request")
        self.received = QDateTimeEdit(self)
        self.received.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.received.setCalendarPopup(True)
        local = now.astimezone(CITY_TZ)
        self.received.setDateTime(
            QDateTime(local.year, local.month, local.day, local.hour, local.minute, 0)
        )
        self.requester = QLineEdit(self)
        self.requester.setPlaceholderText("As given; may be left empty (no name is required)")
        self.words = QPlainTextEdit(self)
        self.words.setAccessibleName("The request's words")
        self.department = QComboBox(self)
        for code in departments:
            self.department.addItem(code)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QFormLayout(self)
        layout.addRow("&Received (Chicago time):", self.received)
        layout.addRow("Re&quester:", self.requester)
        layout.addRow("The request's &words:", self.words)
        layout.addRow("&Department:", self.department)
        layout.addRow(buttons)

    def values(self) -> tuple[datetime, str, str, str | None]:
        shown = self.received.dateTime()
        day, time = shown.date(), shown.time()
        received = datetime(
            day.year(), day.month(), day.day(), time.hour(), time.minute(), tzinfo=CITY_TZ
        )
        code = self.department.currentText()
        return (
            received,
            self.requester.text(),
            self.words.toPlainText(),
            None if code == CITY_WIDE else code,
        )


def _fill(table: QTableWidget, rows: Sequence[RequestRow]) -> None:
    """Overdue rows in the error colour, due-soon ones in the warning colour (and said in words
    in their Days left cell as well)."""
    shade = {Urgency.OVERDUE: OVERDUE_BACKGROUND, Urgency.DUE_SOON: DUE_SOON_BACKGROUND}
    fill_table(table, [_cells(row) for row in rows], [shade.get(row.urgency) for row in rows])


def _cells(row: RequestRow) -> list[tuple[str, str]]:
    received = row.received_at.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M")
    left = ""
    if row.state.is_open:
        left = {Urgency.OVERDUE: f"{row.days_left} (overdue)"}.get(row.urgency, str(row.days_left))
        left += " (due soon)" if row.urgency is Urgency.DUE_SOON else ""
    extended = " (extended)" if row.extended_to is not None else ""
    return [
        (str(row.id), ""),
        (received, local_time(row.received_at)),
        (one_line(row.requester, 40) or "(not given)", one_line(row.words, 600)),
        (row.state.value, ""),
        (f"{row.due_on:%a %d %b %Y}{extended}", ""),
        (one_line(row.handler or "", 40), ""),
        (left, ""),
    ]


def _summary(row: RequestRow) -> str:
    lines = [
        f"Request #{row.id} · {row.state.value} · {row.department} · received "
        f"{local_time(row.received_at)}",
        f"Requester: {row.requester or '(not given)'}",
        f"Due {row.original_due:%A %d %B %Y}"
        + (f", extended to {row.extended_to:%A %d %B %Y} ({row.extension_reason})"
           if row.extended_to else "")
        + (f" · {time_left(row.days_left)}" if row.state.is_open else ""),
        f"Handler: {row.handler or 'not assigned'}",
    ]  # fmt: skip
    if row.comment_id is not None and row.handed_over_at is not None:
        lines.append(f"Handed over from comment {row.comment_id}, {local_time(row.handed_over_at)}")
    return "\n".join(lines)


def _history(detail: RequestDetail) -> str:
    lines = []
    for event in detail.history:
        note = f": {event.note}" if event.note else ""
        at = local_time(event.at)
        lines.append(f"#{event.entry_id} {at} {event.step} by {event.actor}{note}")
    return "\n".join(lines)
