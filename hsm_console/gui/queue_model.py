"""The queue table's model: it holds comment ids and reads their rows a window at a time.

Ids arrive in pages from `QueueLoader` (keyset queries on a worker thread): the view asks
for more through `canFetchMore`/`fetchMore` as it scrolls. Rows are read by id for the part
of the table being painted (a primary-key lookup of a few dozen rows) and kept in a bounded
cache, so a million comments cost a list of ints, not a million rows. After an action,
`refresh` marks rows stale and repaints just those; nothing resets the whole model.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QIcon

from hsm_console.display import CITY_TZ, local_time, one_line
from hsm_console.gui.icons import platform_icon, platform_name
from hsm_console.gui.plain_text import tooltip
from hsm_console.services.queue_view import QueueRow

RowLoader = Callable[[Sequence[int]], list[QueueRow]]
Index = QModelIndex | QPersistentModelIndex

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the QueueRow, or None if it cannot be read
ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the comment id

# Rows read around the one being painted; the cache holds a few screens' worth.
WINDOW_BEFORE = 20
WINDOW_AFTER = 80
CACHE_ROWS = 3000
LINE_CHARS = 240

STATUS_WORDS = {
    "new": "New",
    "flagged": "Flagged",
    "hidden": "Hidden",
    "removed": "Removed",
    "kept": "Kept",
}


class Column(enum.IntEnum):
    RECEIVED = 0
    SITE = 1
    AUTHOR = 2
    COMMENT = 3
    SUGGESTION = 4
    STATUS = 5


HEADERS = {
    Column.RECEIVED: "Received",
    Column.SITE: "Site",
    Column.AUTHOR: "Author",
    Column.COMMENT: "Comment",
    Column.SUGGESTION: "Suggestion",
    Column.STATUS: "Status",
}


class QueueModel(QAbstractTableModel):
    # The view scrolled to the end of the ids loaded so far.
    more_wanted = Signal()

    def __init__(self, load_rows: RowLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._load_rows = load_rows
        self._ids: list[int] = []
        self._position: dict[int, int] = {}
        self._rows: OrderedDict[int, QueueRow | None] = OrderedDict()
        self._has_more = False
        self._waiting_for_more = False
        self._icons: dict[str, QIcon] = {}

    # --- ids -----------------------------------------------------------------------------

    def reset_ids(self, ids: Sequence[int], has_more: bool) -> None:
        """A new first page (a new filter or a refresh)."""
        self.beginResetModel()
        self._ids = list(ids)
        self._position = {comment_id: row for row, comment_id in enumerate(self._ids)}
        self._rows.clear()
        self._has_more = has_more
        self._waiting_for_more = False
        self.endResetModel()

    def append_ids(self, ids: Sequence[int], has_more: bool) -> None:
        """The next page, after `fetchMore` asked for it."""
        new = [comment_id for comment_id in ids if comment_id not in self._position]
        self._waiting_for_more = False
        self._has_more = has_more
        if not new:
            return
        first = len(self._ids)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for offset, comment_id in enumerate(new):
            self._position[comment_id] = first + offset
        self._ids.extend(new)
        self.endInsertRows()

    def more_failed(self) -> None:
        """The next page could not be read; scrolling will ask again."""
        self._waiting_for_more = False

    def ids(self) -> list[int]:
        return list(self._ids)

    def row_of(self, comment_id: int) -> int | None:
        return self._position.get(comment_id)

    def comment_id(self, row: int) -> int:
        return self._ids[row]

    def queue_row(self, row: int) -> QueueRow | None:
        if not 0 <= row < len(self._ids):
            return None
        return self._row(row)

    def refresh(self, comment_ids: Sequence[int]) -> None:
        """Read these comments again (after an action) and repaint their lines."""
        rows = []
        for comment_id in comment_ids:
            self._rows.pop(comment_id, None)
            row = self._position.get(comment_id)
            if row is not None:
                rows.append(row)
        for row in rows:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))

    def clear_icons(self) -> None:
        """Forget the platform icons (after the palette changed)."""
        self._icons.clear()
        if self._ids:
            self.dataChanged.emit(
                self.index(0, Column.SITE),
                self.index(len(self._ids) - 1, Column.SITE),
                [Qt.ItemDataRole.DecorationRole],
            )

    # --- Qt model ------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def canFetchMore(self, parent: Index) -> bool:
        return not parent.isValid() and self._has_more and not self._waiting_for_more

    def fetchMore(self, parent: Index) -> None:
        if self.canFetchMore(parent):
            self._waiting_for_more = True
            self.more_wanted.emit()

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.parent().isValid():
            return None
        row_number, column = index.row(), index.column()
        if not (0 <= row_number < len(self._ids) and 0 <= column < len(Column)):
            return None
        if role == ID_ROLE:
            return self._ids[row_number]
        row = self._row(row_number)
        if role == ROW_ROLE:
            return row
        if row is None:
            unreadable = role == Qt.ItemDataRole.DisplayRole and column == Column.COMMENT
            return "(no longer available)" if unreadable else None
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(row, Column(column))
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(row, Column(column))
        if role == Qt.ItemDataRole.DecorationRole and column == Column.SITE:
            return self._platform_icon(row.platform)
        return None

    # --- rows ----------------------------------------------------------------------------

    def _row(self, row_number: int) -> QueueRow | None:
        comment_id = self._ids[row_number]
        if comment_id in self._rows:
            self._rows.move_to_end(comment_id)
            return self._rows[comment_id]
        self._read_window(row_number)
        return self._rows.get(comment_id)

    def _read_window(self, row_number: int) -> None:
        start = max(0, row_number - WINDOW_BEFORE)
        wanted = [
            comment_id
            for comment_id in self._ids[start : row_number + WINDOW_AFTER]
            if comment_id not in self._rows
        ]
        found = {row.id: row for row in self._load_rows(wanted)}
        for comment_id in wanted:
            # None remembers a comment that cannot be read, so it is not asked for again.
            self._rows[comment_id] = found.get(comment_id)
        while len(self._rows) > CACHE_ROWS:
            self._rows.popitem(last=False)

    def _platform_icon(self, platform: str) -> QIcon:
        icon = self._icons.get(platform)
        if icon is None:
            icon = self._icons[platform] = platform_icon(platform)
        return icon


def status_text(row: QueueRow) -> str:
    text = STATUS_WORDS.get(row.status, row.status)
    if row.acting is not None:
        return f"{text} (action under way)"
    if row.platform_state == "hidden" and row.status != "hidden":
        return f"{text}, hidden on {platform_name(row.platform)}"
    return text


def _display(row: QueueRow, column: Column) -> str:
    if column is Column.RECEIVED:
        return row.created_at.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M")
    if column is Column.SITE:
        return row.site_name
    if column is Column.AUTHOR:
        return one_line(row.author_name, 80)
    if column is Column.COMMENT:
        return one_line(row.excerpt, LINE_CHARS)
    if column is Column.SUGGESTION:
        return row.suggested_code or ""
    return status_text(row)


def _tooltip(row: QueueRow, column: Column) -> str | None:
    if column is Column.RECEIVED:
        return local_time(row.created_at)
    if column is Column.SITE:
        return tooltip(f"{row.site_name} on {platform_name(row.platform)}")
    if column is Column.SUGGESTION and row.suggested_code:
        why = one_line(row.suggestion_why, 200)
        return tooltip(f"Screening suggests {row.suggested_code} (never applied by itself): {why}")
    if column is Column.COMMENT:
        return tooltip(one_line(row.excerpt, 600))
    if column is Column.STATUS:
        return status_text(row)
    return None
