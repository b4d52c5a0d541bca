"""A table model that holds ids and reads their rows a window at a time (the queue, the log).

Ids arrive in pages from a loader (keyset queries on a worker thread): the view asks for more
through `canFetchMore`/`fetchMore` as it scrolls. Rows are read by id for the part of the
table being painted (a primary-key lookup of a few dozen rows) and kept in a bounded cache,
so hundreds of thousands of entries cost a list of ints, not as many rows. `refresh` marks
rows stale and repaints just those; live updates (gui/live.py) also take rows out
(`remove_ids`) and put new ones in their places (`merge_first_page`); nothing resets the
whole model but a new first page.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

Index = QModelIndex | QPersistentModelIndex

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the row, or None if it cannot be read
ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the id

# Rows read around the one being painted; the cache holds a few screens' worth.
WINDOW_BEFORE = 20
WINDOW_AFTER = 80
CACHE_ROWS = 3000


class HasId(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=HasId)


class IdWindowModel(QAbstractTableModel, Generic[R]):
    """Subclasses say what each cell shows (`cell`); this class keeps ids, pages and rows."""

    # The view scrolled to the end of the ids loaded so far.
    more_wanted = Signal()

    def __init__(
        self,
        load_rows: Callable[[Sequence[int]], list[R]],
        headers: Sequence[str],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._load_rows = load_rows
        self._headers = list(headers)
        self._ids: list[int] = []
        self._position: dict[int, int] = {}
        self._rows: OrderedDict[int, R | None] = OrderedDict()
        self._has_more = False
        self._waiting_for_more = False

    def cell(self, row: R, column: int, role: int) -> Any:
        """What one readable row shows in `column` for `role` (None: nothing)."""
        raise NotImplementedError

    def unreadable(self, column: int, role: int) -> Any:
        """What a row that can no longer be read shows."""
        return None

    # --- ids -----------------------------------------------------------------------------

    def reset_ids(self, ids: Sequence[int], has_more: bool) -> None:
        """A new first page (a new filter or a refresh)."""
        self.beginResetModel()
        self._ids = list(ids)
        self._position = {item_id: row for row, item_id in enumerate(self._ids)}
        self._rows.clear()
        self._has_more = has_more
        self._waiting_for_more = False
        self.endResetModel()

    def append_ids(self, ids: Sequence[int], has_more: bool) -> None:
        """The next page, after `fetchMore` asked for it."""
        new = [item_id for item_id in ids if item_id not in self._position]
        self._waiting_for_more = False
        self._has_more = has_more
        if not new:
            return
        first = len(self._ids)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for offset, item_id in enumerate(new):
            self._position[item_id] = first + offset
        self._ids.extend(new)
        self.endInsertRows()

    def more_failed(self) -> None:
        """The next page could not be read; scrolling will ask again."""
        self._waiting_for_more = False

    def ids(self) -> list[int]:
        return list(self._ids)

    def row_of(self, item_id: int) -> int | None:
        return self._position.get(item_id)

    def id_at(self, row: int) -> int:
        return self._ids[row]

    def row_at(self, row: int) -> R | None:
        if not 0 <= row < len(self._ids):
            return None
        return self._row(row)

    def cached_rows(self) -> list[R]:
        """The rows read and still kept (those around what was painted lately)."""
        return [row for row in self._rows.values() if row is not None]

    def refresh(self, ids: Sequence[int]) -> None:
        """Read these rows again and repaint their lines."""
        rows = []
        for item_id in ids:
            self._rows.pop(item_id, None)
            row = self._position.get(item_id)
            if row is not None:
                rows.append(row)
        for row in rows:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self._headers) - 1))

    def remove_ids(self, ids: Iterable[int]) -> None:
        """Take these rows out (they left the filter elsewhere), each run of rows at once."""
        rows = sorted({row for row in map(self._position.get, ids) if row is not None})
        if not rows:
            return
        runs: list[tuple[int, int]] = []
        for row in rows:
            if runs and runs[-1][1] == row - 1:
                runs[-1] = (runs[-1][0], row)
            else:
                runs.append((row, row))
        for first, last in reversed(runs):  # from the bottom: the rows above keep their numbers
            self.beginRemoveRows(QModelIndex(), first, last)
            for item_id in self._ids[first : last + 1]:
                self._rows.pop(item_id, None)
            del self._ids[first : last + 1]
            self.endRemoveRows()
        self._position = {item_id: row for row, item_id in enumerate(self._ids)}

    def merge_first_page(self, fresh: Sequence[int]) -> list[int]:
        """Insert the ids of `fresh` (a first page read just now, in the table's order) that
        the table lacks, each after the id that precedes it there; returns those inserted.
        An id that would fall past the loaded rows while more are to come is left to paging."""
        inserts: list[tuple[int, int]] = []  # (row in the current table, id), in order
        at = 0
        for item_id in fresh:
            row = self._position.get(item_id)
            if row is not None:
                at = row + 1
            elif at < len(self._ids) or not self._has_more:
                inserts.append((at, item_id))
        shift = 0
        for start, group in itertools.groupby(inserts, key=lambda insert: insert[0]):
            new = [item_id for _, item_id in group]
            first = start + shift
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._ids[first:first] = new
            self.endInsertRows()
            shift += len(new)
        if inserts:
            self._position = {item_id: row for row, item_id in enumerate(self._ids)}
        return [item_id for _, item_id in inserts]

    # --- Qt model ------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

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
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._headers):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.parent().isValid():
            return None
        row_number, column = index.row(), index.column()
        if not (0 <= row_number < len(self._ids) and 0 <= column < len(self._headers)):
            return None
        if role == ID_ROLE:
            return self._ids[row_number]
        row = self._row(row_number)
        if role == ROW_ROLE:
            return row
        if row is None:
            return self.unreadable(column, role)
        return self.cell(row, column, role)

    # --- rows ----------------------------------------------------------------------------

    def _row(self, row_number: int) -> R | None:
        item_id = self._ids[row_number]
        if item_id in self._rows:
            self._rows.move_to_end(item_id)
            return self._rows[item_id]
        self._read_window(row_number)
        return self._rows.get(item_id)

    def _read_window(self, row_number: int) -> None:
        start = max(0, row_number - WINDOW_BEFORE)
        wanted = [
            item_id
            for item_id in self._ids[start : row_number + WINDOW_AFTER]
            if item_id not in self._rows
        ]
        found = {row.id: row for row in self._load_rows(wanted)}
        for item_id in wanted:
            # None remembers a row that cannot be read, so it is not asked for again.
            self._rows[item_id] = found.get(item_id)
        while len(self._rows) > CACHE_ROWS:
            self._rows.popitem(last=False)


def prepare_table(table: QTableView, widths: Iterable[tuple[int, int]], stretch: int) -> None:
    """A read-only table of one line per row: fixed row height (a million rows are measured
    by arithmetic), the given column widths, and one column taking the room that is left."""
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setHighlightSections(False)
    for column, width in widths:
        table.setColumnWidth(column, width)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    header.setStretchLastSection(False)
