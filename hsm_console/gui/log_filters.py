"""The log view's filter bar, shared by the Log and Dashboard tabs: one way to narrow the log.

It finds its widgets by name in a loaded form (`logSearch`, … `logTo`), so each screen lays
them out in its own `.ui`; the outcome, kind and review-state boxes are optional (the
dashboard counts applied actions, so it has none of them). It fills the choices from
`LogView` (the departments and sites the person supervises) and says `changed` once the
filter settles.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import QDate, QObject, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QDateEdit, QLineEdit, QWidget

from hsm_console.display import CITY_TZ
from hsm_console.gui.filter_bar import ANY_DATE, DEBOUNCE_MS, DayBoxes, chosen_day
from hsm_console.gui.icons import platform_name
from hsm_console.gui.ui_files import child
from hsm_console.gui.workers import TaskRunner
from hsm_console.rules.domain import Action, AdminChange, EntryKind, EntryState, ReviewState
from hsm_console.rules.periods import Period, days_of
from hsm_console.services.log_view import Choice, LogFilter, LogView

log = logging.getLogger(__name__)

STATE_WORDS = {
    # Every action's first entry, written before the platform is asked; "Pending" read as
    # "not done yet" beside hides long applied. Its outcome is the entry "of #N".
    EntryState.PENDING: "Recorded first",
    EntryState.APPLIED: "Applied",
    EntryState.FAILED: "Failed",
    EntryState.UNCONFIRMED: "Unconfirmed",
}
KIND_WORDS = {
    EntryKind.ACTION: "Actions",
    EntryKind.ADMIN: "Administrative",
    EntryKind.REVIEW: "Reviews",
    EntryKind.NOTE: "Notes",
    EntryKind.NOTICE: "Notices",
    EntryKind.APPEAL: "Appeals",
    EntryKind.REQUEST: "Records requests",
    EntryKind.HOLD: "Legal holds",
    EntryKind.DISPOSAL: "Disposals",
    EntryKind.BAN: "Bans",
    EntryKind.SEAL: "Seals",
    EntryKind.SCREENING: "Suggestions marked wrong",
}


CHOSEN_DAYS = "Days chosen"


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


class LogFilterBar(QObject):
    changed = Signal()  # the filter settled on a new value

    def __init__(
        self,
        form: QWidget,
        view: LogView,
        code_names: Mapping[str, str],
        runner: TaskRunner,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.search = child(form, QLineEdit, "logSearch")
        self.department = child(form, QComboBox, "logDepartment")
        self.site = child(form, QComboBox, "logSite")
        self.platform = child(form, QComboBox, "logPlatform")
        self.person = child(form, QComboBox, "logPerson")
        self.action = child(form, QComboBox, "logAction")
        self.reason = child(form, QComboBox, "logReason")
        self.outcome = form.findChild(QComboBox, "logOutcome")
        self.kind = form.findChild(QComboBox, "logKind")
        self.review_state = form.findChild(QComboBox, "logReview")
        self.on_from = child(form, QDateEdit, "logFrom")
        self.on_to = child(form, QDateEdit, "logTo")
        self.period = child(form, QComboBox, "logPeriod")
        self._fill(view, code_names)
        # The people are a database read: on a worker, not in the tab's first showing.
        runner.start(lambda _: view.people(), self._show_people, _people_unread)
        self._days = DayBoxes((self.on_from, self.on_to), self)
        self.period.addItem("Any day", None)
        for period in Period:
            self.period.addItem(period.value, period)
        self.period.addItem(CHOSEN_DAYS, None)
        self._setting_period = False
        self.period.activated.connect(lambda _: self._period_chosen())
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(DEBOUNCE_MS)
        self._settle.timeout.connect(self.changed)
        self.search.textChanged.connect(lambda _: self._settle.start())
        for combo in self._combos():
            combo.currentIndexChanged.connect(lambda _: self._settle.start())
        for edit in (self.on_from, self.on_to):
            edit.dateChanged.connect(lambda _: self._settle.start())
            edit.dateChanged.connect(lambda _: self._days_changed())

    def _period_chosen(self) -> None:
        """Set both days to the chosen span ("Any day" clears them)."""
        period = self.period.currentData()
        if self.period.currentText() == CHOSEN_DAYS:
            return
        if period is None:
            first, last = ANY_DATE, ANY_DATE
        else:
            first, last = (_qdate(d) for d in days_of(period, datetime.now(CITY_TZ).date()))
        self._setting_period = True  # the first box set alone is not a choice by hand
        self.on_from.setDate(first)
        self.on_to.setDate(last)
        self._setting_period = False

    def _days_changed(self) -> None:
        """Days picked by hand are no longer the span the box names: say so."""
        if self._setting_period:
            return
        by_hand = (chosen_day(self.on_from), chosen_day(self.on_to)) != (None, None)
        self.period.setCurrentIndex(self.period.count() - 1 if by_hand else 0)

    def _combos(self) -> list[QComboBox]:
        combos = [self.department, self.site, self.platform, self.person, self.action,
                  self.reason, self.outcome, self.kind, self.review_state]  # fmt: skip
        return [combo for combo in combos if combo is not None]

    def _fill(self, view: LogView, code_names: Mapping[str, str]) -> None:
        actions = [(a.value, a.value) for a in Action]
        if self.kind is not None:  # administrative entries are in this view too
            actions += [(a.value, a.value) for a in AdminChange]
        choices: list[tuple[QComboBox | None, str, Sequence[tuple[str, object]]]] = [
            (self.department, "All my departments",
             [(c.label, c.value) for c in view.department_choices()]),
            (self.site, "All sites", [(c.label, c.value) for c in view.site_choices()]),
            (self.platform, "All platforms", [(platform_name(p), p) for p in view.platforms()]),
            (self.person, "Anyone", []),  # the people follow (`_show_people`)
            (self.action, "Any action", actions),
            (self.reason, "Any reason", [(f"{c} — {n}", c) for c, n in code_names.items()]),
            (self.outcome, "Any outcome", [(w, s.value) for s, w in STATE_WORDS.items()]),
            (self.kind, "Every kind", [(w, k.value) for k, w in KIND_WORDS.items()]),
            (self.review_state, "Any review state", [(s.label, s.value) for s in ReviewState]),
        ]  # fmt: skip
        for combo, everything, items in choices:
            if combo is None:
                continue
            combo.addItem(everything, None)
            for text, value in items:
                combo.addItem(text, value)

    def _show_people(self, people: Sequence[Choice]) -> None:
        for choice in people:
            self.person.addItem(choice.label, choice.value)

    def current_filter(self) -> LogFilter:
        def chosen(combo: QComboBox | None) -> frozenset[Any]:
            value = None if combo is None else combo.currentData()
            return frozenset() if value is None else frozenset({value})

        return LogFilter(
            department_ids=chosen(self.department), site_ids=chosen(self.site),
            platforms=chosen(self.platform), actors=chosen(self.person),
            actions=chosen(self.action), reason_codes=chosen(self.reason),
            states=chosen(self.outcome), kinds=chosen(self.kind),
            review_states=chosen(self.review_state),
            on_from=chosen_day(self.on_from), on_to=chosen_day(self.on_to),
            search=self.search.text().strip(),
        )  # fmt: skip


def _people_unread(exc: Exception) -> None:
    # The tab's own reads meet the same database and say so; the list stays "Anyone".
    log.warning("the people for the log's filter could not be read: %s", exc)
