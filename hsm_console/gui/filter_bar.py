"""The filters above the queue (site, platform, status, suggestion, dates, search), with a
count next to each choice."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import QDate, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QComboBox, QDateEdit, QLabel, QLineEdit, QWidget

from hsm_console.gui.icons import platform_icon, platform_name
from hsm_console.gui.plain_text import set_plain
from hsm_console.gui.ui_files import child
from hsm_console.rules.domain import CommentStatus
from hsm_console.services.queue_view import (
    ANY_SUGGESTION,
    NO_SUGGESTION,
    FilterCounts,
    QueueFilter,
    SiteInfo,
)

ANY_DATE = QDate(2000, 1, 1)  # the minimum, shown as "any"
LAST_DATE = QDate(2100, 12, 31)
DEBOUNCE_MS = 250  # typing in the search box settles before the query runs
_BASE_TEXT = Qt.ItemDataRole.UserRole + 10  # an item's text without its count

_STATUS_CHOICES: tuple[tuple[str, CommentStatus | None], ...] = (
    ("New", CommentStatus.NEW),
    ("Flagged", CommentStatus.FLAGGED),
    ("Hidden", CommentStatus.HIDDEN),
    ("Removed", CommentStatus.REMOVED),
    ("Kept", CommentStatus.KEPT),
    ("Any status", None),
)


class FilterBar(QObject):
    changed = Signal()  # the filter settled on a new value

    def __init__(
        self,
        form: QWidget,
        sites: Sequence[SiteInfo],
        platforms: Sequence[str],
        code_names: Mapping[str, str],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.search = child(form, QLineEdit, "searchBox")
        self.site = child(form, QComboBox, "siteFilter")
        self.platform = child(form, QComboBox, "platformFilter")
        self.status = child(form, QComboBox, "statusFilter")
        self.suggestion = child(form, QComboBox, "suggestionFilter")
        self.received_from = child(form, QDateEdit, "receivedFrom")
        self.received_to = child(form, QDateEdit, "receivedTo")
        self.count_label = child(form, QLabel, "countLabel")

        _add(self.site, "All my sites", None)
        for site in sites:
            _add(self.site, site.name, site.id, platform_name(site.platform))
            self.site.setItemIcon(self.site.count() - 1, platform_icon(site.platform))
        _add(self.platform, "All platforms", None)
        for platform in platforms:
            _add(self.platform, platform_name(platform), platform)
            self.platform.setItemIcon(self.platform.count() - 1, platform_icon(platform))
        for text, status in _STATUS_CHOICES:
            _add(self.status, text, status.value if status else None)
        _add(self.suggestion, "Any", None)
        _add(self.suggestion, "With a suggestion", ANY_SUGGESTION)
        _add(self.suggestion, "No suggestion", NO_SUGGESTION)
        for code, name in code_names.items():
            _add(self.suggestion, f"{code} — {name}", code)
        for combo in (self.site, self.suggestion):
            # The closed box stays narrow; its list opens as wide as its longest choice.
            view = combo.view()
            view.setMinimumWidth(view.sizeHintForColumn(0) + 48)
        self._days = DayBoxes((self.received_from, self.received_to), self)

        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(DEBOUNCE_MS)
        self._settle.timeout.connect(self.changed)
        self.search.textChanged.connect(lambda _: self._settle.start())
        for combo in (self.site, self.platform, self.status, self.suggestion):
            combo.currentIndexChanged.connect(lambda _: self._settle.start())
        for edit in (self.received_from, self.received_to):
            edit.dateChanged.connect(lambda _: self._settle.start())

    def current(self) -> QueueFilter:
        site = self.site.currentData()
        platform = self.platform.currentData()
        status = self.status.currentData()
        return QueueFilter(
            statuses=frozenset({CommentStatus(status)}) if status else frozenset(),
            site_ids=frozenset({site}) if site is not None else frozenset(),
            platforms=frozenset({platform}) if platform else frozenset(),
            received_from=chosen_day(self.received_from),
            received_to=chosen_day(self.received_to),
            suggestion=self.suggestion.currentData(),
            search=self.search.text().strip(),
        )

    def counting(self) -> None:
        set_plain(self.count_label, "Counting…")

    def show_counts(self, counts: FilterCounts) -> None:
        noun = "comment" if counts.total == 1 else "comments"
        set_plain(self.count_label, f"{counts.total:,} {noun}")
        _counts(self.site, lambda site: _total_or(counts.by_site, site))
        _counts(self.platform, lambda platform: _total_or(counts.by_platform, platform))
        _counts(self.status, lambda status: _total_or(counts.by_status, status))

        def suggestion_count(choice: str | None) -> int:
            if choice is None:  # a comment with several suggestions counts once
                return counts.regardless_of_suggestion()
            if choice == ANY_SUGGESTION:
                return counts.any_suggestion()
            if choice == NO_SUGGESTION:
                return counts.by_suggestion.get(None, 0)
            return counts.by_suggestion.get(choice, 0)

        _counts(self.suggestion, suggestion_count)


class DayBoxes(QObject):
    """Date boxes that show "any" at their minimum, and that Tab leaves instead of walking."""

    def __init__(self, edits: Sequence[QDateEdit], parent: QObject | None = None) -> None:
        super().__init__(parent)
        for edit in edits:
            edit.setDateRange(ANY_DATE, LAST_DATE)
            edit.setSpecialValueText("any")
            edit.setDate(ANY_DATE)
            edit.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Tab in a date box walks its year, month and day, and showing "any" it never gets
        # out: a keyboard trap. Tab leaves the box; the arrow keys still change the date.
        if (
            isinstance(watched, QDateEdit)
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab)
        ):
            forward = event.key() == Qt.Key.Key_Tab
            _focus_next_outside(watched, forward)
            return True
        return super().eventFilter(watched, event)


def _focus_next_outside(widget: QWidget, forward: bool) -> None:
    """Give the focus to the next (or previous) widget that takes it, outside `widget`."""

    def step(current: QWidget) -> QWidget | None:
        return current.nextInFocusChain() if forward else current.previousInFocusChain()

    candidate = step(widget)
    while candidate is not None and candidate is not widget:
        takes_tab = bool(candidate.focusPolicy() & Qt.FocusPolicy.TabFocus)
        inside = widget.isAncestorOf(candidate)
        if takes_tab and not inside and candidate.isVisible() and candidate.isEnabled():
            reason = Qt.FocusReason.TabFocusReason if forward else Qt.FocusReason.BacktabFocusReason
            candidate.setFocus(reason)
            return
        candidate = step(candidate)


def _add(combo: QComboBox, text: str, value: object, tip: str = "") -> None:
    combo.addItem(text, value)
    index = combo.count() - 1
    combo.setItemData(index, text, _BASE_TEXT)
    if tip:
        combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)


def _total_or(counts: Mapping[Any, int], key: object) -> int:
    """The count of one choice; None is the "all" choice."""
    return sum(counts.values()) if key is None else counts.get(key, 0)


def _counts(combo: QComboBox, count_of: Callable[[Any], int]) -> None:
    for index in range(combo.count()):
        base = combo.itemData(index, _BASE_TEXT)
        combo.setItemText(index, f"{base} ({count_of(combo.itemData(index)):,})")


def chosen_day(edit: QDateEdit) -> date | None:
    """The day a box shows, or None when it shows "any"."""
    chosen = edit.date()
    if chosen == ANY_DATE:
        return None
    return date(chosen.year(), chosen.month(), chosen.day())
