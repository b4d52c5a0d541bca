"""The Review screen: a supervisor's second review, notices and appeals, beside the Log tab.

It shows what `ReviewService` returns and sends what the supervisor chose; every rule (who
may review, never one's own action, one verdict per action, what may be reversed) is the
service's, and its refusals are shown in words under the buttons. Buttons are enabled only
where the service would agree, so a person is not invited to be refused. Work runs on the
window's `TaskRunner`. Comment text, names and notes are untrusted: plain-text widgets only.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QWidget,
)

from hsm_console.display import CITY_TZ, local_time, one_line
from hsm_console.gui.icons import platform_name
from hsm_console.gui.plain_text import fill_table, prepare_table, set_plain
from hsm_console.gui.problems import ProblemReporter
from hsm_console.gui.ui_files import child, load_screen_form
from hsm_console.gui.workers import JobContext, LatestOnly, TaskRunner
from hsm_console.rules.domain import Action, AppealStep, ReviewState, ReviewVerdict
from hsm_console.rules.review import Channel
from hsm_console.services.moderation import ActionResult
from hsm_console.services.review import Appeal, ReviewItem, ReviewService

WAITING_HEADERS = ("Waiting", "Action", "Code", "Moderator", "Site", "Comment")
WAITING_PAGE = 500  # actions read at a time; the next page is a button away
APPEAL_HEADERS = ("Received", "Action", "For", "Channel", "Decision")
_NOTICE_ACTIONS = (Action.HIDE, Action.REMOVE, Action.FLAG)


@dataclass(frozen=True)
class _Lists:
    """The two lists, read together."""

    waiting: list[ReviewItem]
    appeals: list[Appeal]


class Step(enum.Enum):
    """What a button asks the service to do."""

    CONCUR = "concurring"
    QUESTION = "questioning"
    REVERSE = "reversing"
    DRAFT = "drafting the notice"
    NOTICE = "recording the notice"
    APPEAL = "recording the appeal"
    UPHOLD = "upholding the appeal"
    OVERTURN = "overturning the appeal"


class ReviewScreen(QWidget):
    """The Review tab: `reload` reads both lists; selecting a row opens its action."""

    def __init__(
        self,
        service: ReviewService,
        runner: TaskRunner,
        problems: ProblemReporter,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("reviewScreenHost")
        self.service = service
        self.runner = runner
        self.problems = problems
        form = load_screen_form("review_screen.ui", self)
        self.waiting_table = child(form, QTableWidget, "needsReviewTable")
        self.appeals_table = child(form, QTableWidget, "appealsTable")
        self.waiting_label = child(form, QLabel, "needsReviewLabel")
        self.open_entry = child(form, QLineEdit, "openEntry")
        self.open_button = child(form, QPushButton, "openEntryButton")
        self.refresh_button = child(form, QPushButton, "refreshButton")
        self.more_button = child(form, QPushButton, "moreWaitingButton")
        self.splitter = child(form, QSplitter, "reviewSplitter")
        self.summary = child(form, QLabel, "itemSummary")
        self.item_text = child(form, QPlainTextEdit, "itemText")
        self.objective_test = child(form, QPlainTextEdit, "objectiveTest")
        self.item_history = child(form, QPlainTextEdit, "itemHistory")
        self.words = child(form, QPlainTextEdit, "reviewWords")
        self.channel = child(form, QComboBox, "channelCombo")
        self.status = child(form, QLabel, "reviewStatus")
        self.buttons = {
            Step.CONCUR: child(form, QPushButton, "concurButton"),
            Step.QUESTION: child(form, QPushButton, "questionButton"),
            Step.REVERSE: child(form, QPushButton, "reverseButton"),
            Step.DRAFT: child(form, QPushButton, "draftNoticeButton"),
            Step.NOTICE: child(form, QPushButton, "noticeSentButton"),
            Step.APPEAL: child(form, QPushButton, "recordAppealButton"),
            Step.UPHOLD: child(form, QPushButton, "upholdButton"),
            Step.OVERTURN: child(form, QPushButton, "overturnButton"),
        }
        for channel in Channel:
            self.channel.addItem(channel.label.capitalize(), channel.value)
        prepare_table(self.waiting_table, WAITING_HEADERS)
        prepare_table(self.appeals_table, APPEAL_HEADERS)
        self.waiting: list[ReviewItem] = []
        self.appeals: list[Appeal] = []
        self.item: ReviewItem | None = None
        self.busy = False
        self.last_result: ActionResult | None = None
        self._detail = LatestOnly(runner)
        self._lists = LatestOnly(runner)
        self._more = LatestOnly(runner)
        self._count = LatestOnly(runner)
        self.waiting_total: int | None = None  # None: being counted
        self.loading = False
        self._connect()
        self.splitter.setSizes([520, 680])
        self._show_item(None)

    def _connect(self) -> None:
        self.waiting_table.currentCellChanged.connect(lambda row, *_: self._waiting_chosen(row))
        self.appeals_table.currentCellChanged.connect(lambda row, *_: self._appeal_chosen(row))
        self.open_button.clicked.connect(self._open_typed)
        self.open_entry.returnPressed.connect(self._open_typed)
        self.refresh_button.clicked.connect(self.reload)
        self.more_button.clicked.connect(self.show_more)
        for step, button in self.buttons.items():
            button.clicked.connect(lambda _=False, s=step: self.run(s))

    # --- the lists -----------------------------------------------------------------------

    def reload(self) -> None:
        """Read the needs-review list and the appeals again; the action in view stays."""
        service = self.service
        self.loading = True

        def read(_: JobContext) -> _Lists:
            return _Lists(service.needs_review(WAITING_PAGE), service.appeals())

        self._more.forget()
        self._lists.start(read, self._lists_arrived, self._lists_failed)

    def _lists_arrived(self, lists: _Lists) -> None:
        self.loading = False
        chosen = self._chosen_waiting()
        self.waiting, self.appeals = lists.waiting, lists.appeals
        fill_table(self.waiting_table, [_waiting_cells(i) for i in self.waiting])
        fill_table(self.appeals_table, [_appeal_cells(a) for a in self.appeals])
        self._choose_waiting(chosen)
        self.waiting_total = None
        if len(self.waiting) < WAITING_PAGE:  # all of them are in the list
            self._count.forget()
            self.waiting_total = len(self.waiting)
        else:  # counted apart: the count is slower than the page
            service = self.service
            self._count.start(
                lambda _: service.needs_review_count(), self._counted, self._lists_failed
            )
        self._show_waiting_count()

    def show_more(self) -> None:
        """Add the next oldest page to the list (the rows shown stay where they are)."""
        if not self.waiting:
            return
        service, after = self.service, self.waiting[-1].entry_id
        self.more_button.setEnabled(False)
        self._more.start(
            lambda _: service.needs_review(WAITING_PAGE, after), self._more_arrived,
            self._lists_failed,
        )  # fmt: skip

    def _more_arrived(self, more: list[ReviewItem]) -> None:
        chosen = self._chosen_waiting()
        self.waiting = self.waiting + more
        fill_table(self.waiting_table, [_waiting_cells(i) for i in self.waiting])
        self._choose_waiting(chosen)
        if len(more) < WAITING_PAGE:
            self.waiting_total = len(self.waiting)
        self._show_waiting_count()

    def _chosen_waiting(self) -> int | None:
        row = self.waiting_table.currentRow()
        return self.waiting[row].entry_id if 0 <= row < len(self.waiting) else None

    def _choose_waiting(self, entry_id: int | None) -> None:
        """The action chosen before the list was read again stays chosen where it still
        waits; it is not opened again (the detail shows it already)."""
        rows = [row for row, item in enumerate(self.waiting) if item.entry_id == entry_id]
        if rows:
            self.waiting_table.blockSignals(True)
            self.waiting_table.setCurrentCell(rows[0], 0)
            self.waiting_table.blockSignals(False)

    def _counted(self, total: int) -> None:
        self.waiting_total = total
        self._show_waiting_count()

    def _show_waiting_count(self) -> None:
        shown, total = len(self.waiting), self.waiting_total
        if total is None:
            words = f"Needs review (oldest first): the first {shown:,} shown, counting the rest…"
        elif shown < total:
            words = f"Needs review (oldest first): the first {shown:,} of {total:,} shown"
        else:
            words = f"Needs review (oldest first): {shown:,}"
        set_plain(self.waiting_label, words)
        more = total is None or shown < total
        self.more_button.setVisible(more)
        self.more_button.setEnabled(more)

    def _lists_failed(self, exc: Exception) -> None:
        self.loading = False
        self._say_problem(exc, "reading the review lists")

    def _waiting_chosen(self, row: int) -> None:
        if 0 <= row < len(self.waiting):
            self.open(self.waiting[row].entry_id)

    def _appeal_chosen(self, row: int) -> None:
        if 0 <= row < len(self.appeals):
            self.open(self.appeals[row].action_entry_id)

    def _open_typed(self) -> None:
        typed = self.open_entry.text().strip().lstrip("#")
        if not typed.isdigit():
            set_plain(self.status, "Type the number of a log entry of the action, e.g. 42.")
            return
        self.open(int(typed))

    # --- one action ----------------------------------------------------------------------

    def open(self, entry_id: int) -> None:
        """Show the action of this log entry (any of its entries)."""
        service = self.service

        def read(_: JobContext) -> ReviewItem:
            return service.item(entry_id)

        self._detail.start(read, self._show_item, lambda e: self._say_problem(e, "opening it"))

    def _show_item(self, item: ReviewItem | None) -> None:
        self.item = item
        if item is None:
            set_plain(self.summary, "Select an action that needs review, or an appeal.")
            for edit in (self.item_text, self.objective_test, self.item_history):
                edit.clear()
            self._enable()
            return
        set_plain(self.summary, _summary(item))
        self.item_text.setPlainText(_item_words(item))
        self.objective_test.setPlainText(
            item.objective_test or "This code needs no judgement: no second review is required."
        )
        self.item_history.setPlainText(_history_words(item))
        self._enable()

    def _enable(self) -> None:
        """Each button only where the service would agree (it checks again regardless)."""
        item, me = self.item, self.service.username
        open_review = item is not None and item.review is None and item.moderator != me
        questioned = item is not None and (
            (item.review is not None and item.review.verdict == ReviewVerdict.QUESTION)
            or any(a.decision and a.decision.verdict == AppealStep.OVERTURN for a in item.appeals)
        )
        reversible = (
            item is not None
            and questioned
            and item.action == Action.HIDE
            and item.reversed_by is None
        )
        notices = (
            item is not None
            and self.service.policy.notices
            and item.action in _NOTICE_ACTIONS
            and bool(item.reason_code)
        )
        deciding = item is not None and item.moderator != me and _open_appeal(item) is not None
        enabled = {
            Step.CONCUR: open_review,
            Step.QUESTION: open_review,
            Step.REVERSE: reversible,
            Step.DRAFT: notices,
            Step.NOTICE: notices,
            Step.APPEAL: notices,
            Step.UPHOLD: deciding,
            Step.OVERTURN: deciding,
        }
        for step, button in self.buttons.items():
            button.setEnabled(bool(enabled[step]) and not self.busy)
        self.channel.setEnabled(bool(notices))

    # --- acting --------------------------------------------------------------------------

    def run(self, step: Step) -> None:
        """Send one step to the service in the background; the action is then read again."""
        item = self.item
        if item is None or self.busy:
            return
        words = self.words.toPlainText()
        channel = Channel(self.channel.currentData())
        job = self._job(step, item, words, channel)
        if job is None:
            return
        self.busy = True
        self._enable()
        set_plain(self.status, f"{step.value.capitalize()}…")
        self.runner.start(
            lambda _: job(), lambda result: self._done(step, item, result), self._failed
        )

    def _job(
        self, step: Step, item: ReviewItem, words: str, channel: Channel
    ) -> Callable[[], Any] | None:
        service, entry = self.service, item.entry_id
        if step in (Step.CONCUR, Step.QUESTION):
            verdict = ReviewVerdict.CONCUR if step is Step.CONCUR else ReviewVerdict.QUESTION
            return lambda: service.review(entry, verdict, words)
        if step is Step.REVERSE:
            return lambda: service.reverse(entry, words)
        if step is Step.DRAFT:
            return lambda: service.draft_notice(entry)
        if step is Step.NOTICE:
            return lambda: service.record_notice(entry, channel, words)
        if step is Step.APPEAL:
            return lambda: service.record_appeal(entry, words, channel)
        appeal = _open_appeal(item)
        if appeal is None:
            return None
        decision = AppealStep.UPHOLD if step is Step.UPHOLD else AppealStep.OVERTURN
        return lambda: service.decide_appeal(appeal.entry_id, decision, words)

    def _done(self, step: Step, item: ReviewItem, result: object) -> None:
        self.busy = False
        if step is Step.DRAFT:
            self.words.setPlainText(str(result))
            set_plain(self.status, "Notice drafted below: edit it, send it, then Notice sent.")
            self._enable()
            return
        reversal = result[1] if isinstance(result, tuple) else result
        if isinstance(reversal, ActionResult):
            self.last_result = reversal
            set_plain(self.status, reversal.message)
        else:
            set_plain(self.status, f"{step.value.capitalize()}: recorded in the log.")
        self.words.clear()
        self.open(item.entry_id)
        self.reload()

    def _failed(self, exc: Exception) -> None:
        self.busy = False
        self._enable()
        self._say_problem(exc, "recording it")

    def _say_problem(self, exc: Exception, doing: str) -> None:
        self.problems.say(self.status, exc, doing)


def _open_appeal(item: ReviewItem) -> Appeal | None:
    return next((a for a in item.appeals if a.decision is None), None)


def _waiting_cells(item: ReviewItem) -> list[tuple[str, str]]:
    return [
        (item.age, local_time(item.at)),
        (item.action, ""),
        (item.reason_code or "", item.code_name),
        (one_line(item.moderator, 40), ""),
        (one_line(item.site_name, 40), ""),
        (one_line(item.text, 120), one_line(item.text, 600)),
    ]


def _appeal_cells(appeal: Appeal) -> list[tuple[str, str]]:
    decided = f"{appeal.decision.verdict} by {appeal.decision.actor}" if appeal.decision else "open"
    received = appeal.received_at.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M")
    return [
        (received, ""),
        (f"#{appeal.action_entry_id}", ""),
        (one_line(appeal.assigned_to, 40), ""),
        (appeal.channel.replace("_", " "), ""),
        (decided, one_line(appeal.text, 600)),
    ]


def _summary(item: ReviewItem) -> str:
    code = f"{item.reason_code} ({item.code_name})" if item.reason_code else "no code"
    return (
        f"Action #{item.entry_id}: {item.action} under {code} by {one_line(item.moderator, 60)}, "
        f"{local_time(item.at)} ({item.outcome}) · {item.site_name} ({item.department}) on "
        f"{platform_name(item.platform)} · comment {item.comment_id} · waiting {item.age} · "
        f"review: {item.state.label}"
    )


def _item_words(item: ReviewItem) -> str:
    lines = [f"{item.author_name}, as retained when acted on:", "", item.text]
    if item.moderator_note:
        lines += ["", f"The moderator's note: {item.moderator_note}"]
    return "\n".join(lines)


def _history_words(item: ReviewItem) -> str:
    lines = []
    if item.review is not None:
        review = item.review
        lines.append(
            f"Review #{review.entry_id}: {review.verdict} by {review.actor}, "
            f"{local_time(review.at)}" + (f": {review.note}" if review.note else "")
        )
    elif item.state is ReviewState.NEEDS_REVIEW:
        lines.append("Not reviewed yet: this code needs a second review.")
    if item.reversal is not None:
        reversal = item.reversal
        lines.append(
            f"Reversed ({reversal.verdict}): log entry #{reversal.entry_id}, by {reversal.actor}, "
            f"{local_time(reversal.at)}: {reversal.note}"
        )
    for notice in item.notices:
        lines.append(
            f"Notice #{notice.entry_id} sent by {notice.channel.replace('_', ' ')}, "
            f"{local_time(notice.sent_at)}, by {notice.sent_by}."
        )
    for appeal in item.appeals:
        decided = (
            f"{appeal.decision.verdict} by {appeal.decision.actor}: {appeal.decision.note}"
            if appeal.decision
            else "open"
        )
        lines.append(
            f"Appeal #{appeal.entry_id} received {local_time(appeal.received_at)} by "
            f"{appeal.channel.replace('_', ' ')}, for {appeal.assigned_to}: {appeal.text}\n"
            f"    Decision: {decided}"
        )
    return "\n".join(lines) or "No review, notice or appeal yet."
