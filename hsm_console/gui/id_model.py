"""A table model that holds ids and reads their rows a window at a time (the queue, the log).

Ids arrive in pages from a loader (keyset queries on a worker thread): the view asks for more
through `canFetchMore`/`fetchMore` as it scrolls. Rows are read by id for the part of the
table being painted (a primary-key lookup of a few dozen rows) on a worker thread too, and
kept in a bounded cache, so hundreds of thousands of entries cost a list of ints, not as many
rows. Nothing but painting happens on the GUI thread: a row not read yet paints as a
placeholder (`loading`) and is repainted when it arrives. `refresh` marks rows stale and reads
them again, painting the old row meanwhile; live updates (gui/live.py) also take rows out
(`remove_ids`) and put new ones in their places (`merge_first_page`); nothing resets the
whole model but a new first page.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from hsm_console.gui.workers import JobContext, TaskRunner

Index = QModelIndex | QPersistentModelIndex

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the row, or None if it cannot be read
ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the id
# data() is asked for seven roles per cell per paint: plain ints compare fastest.
DISPLAY = int(Qt.ItemDataRole.DisplayRole)

# Rows read around the one being painted; the cache holds a few screens' worth. A read of
# 120 rows is some 2 ms of the worker's Python (its statement's text is the same whatever
# the ids: db/id_lists.py), so it fits between two frames while the queue scrolls on a core
# shared with the paint; reads of 220 rows overran into the next frame (longest frames 15-30
# ms against 12-14).
WINDOW_BEFORE = 20
WINDOW_AFTER = 100
CACHE_ROWS = 3000
# A row this far from one painted is read before it is shown: seven screens on, either way,
# so scrolling a screen a frame shows rows read, not placeholders, even when a read waits
# for a busy core a few frames.
READ_AHEAD = 180


class HasId(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=HasId)


class IdWindowModel(QAbstractTableModel, Generic[R]):
    """Subclasses say what a row shows (`texts`, `cell`); this class keeps ids, pages and rows."""

    # The view scrolled to the end of the ids loaded so far.
    more_wanted = Signal()

    # Rows were read and repainted (for tests and for whoever waits on a row).
    rows_arrived = Signal()

    # The roles `cell` answers; the view's others (font, alignment, colours, check state)
    # get None at once. Subclasses answering more widen it.
    CELL_ROLES = frozenset(
        int(role)
        for role in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.DecorationRole,
            Qt.ItemDataRole.ToolTipRole,
        )
    )

    def __init__(
        self,
        load_rows: Callable[[Sequence[int]], list[R]],
        headers: Sequence[str],
        runner: TaskRunner,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._load_rows = load_rows
        self._runner = runner
        self._headers = list(headers)
        self._ids: list[int] = []
        self._position: dict[int, int] = {}
        self._rows: OrderedDict[int, R | None] = OrderedDict()
        # Each cached row's display texts, made on the worker thread that read it: painting
        # only looks them up (no text made safe or dates formatted per paint).
        self._texts: dict[int, tuple[Any, ...]] = {}
        self._stale: set[int] = set()  # cached rows to read again (painted meanwhile)
        self._asked: set[int] = set()  # ids being read right now
        # Refreshed while a read of theirs was under way, which may predate the change: read
        # again when it arrives.
        self._again: set[int] = set()
        self._generation = 0  # a new first page drops the rows still to come
        # One window read at a time; scrolling past many screens reads only the last one asked,
        # but a row on screen goes before rows read ahead.
        self._window_busy = False
        self._next_window: int | None = None
        self._next_is_ahead = False
        self._has_more = False
        self._waiting_for_more = False
        # Reads asked for while painting start after the paint: starting a worker lets go
        # of the GIL, and taking it back waits for a worker running Python (tens of
        # milliseconds on a busy core), which was inside the frame.
        self._to_start: list[Callable[[], object]] = []
        self._starter = QTimer(self)
        self._starter.setSingleShot(True)
        self._starter.setInterval(0)
        self._starter.timeout.connect(self._start_reads)

    def cell(self, row: R, column: int, role: int) -> Any:
        """What one readable row shows in `column` for a role other than display (None:
        nothing, as here)."""
        return None

    def texts(self, row: R) -> tuple[Any, ...]:
        """Every column's display text of a row, in one call (a call per column cost as
        much as the texts), made once when the row is read, on the worker thread that read
        it: plain Python, no Qt objects."""
        raise NotImplementedError

    def unreadable(self, column: int, role: int) -> Any:
        """What a row that can no longer be read shows."""
        return None

    def loading(self, column: int, role: int) -> Any:
        """What a row not read yet shows, until it arrives."""
        return None

    # --- ids -----------------------------------------------------------------------------

    def reset_ids(self, ids: Sequence[int], has_more: bool) -> None:
        """A new first page (a new filter or a refresh)."""
        self.beginResetModel()
        self._generation += 1
        self._ids = list(ids)
        self._position = {item_id: row for row, item_id in enumerate(self._ids)}
        self._rows.clear()
        self._texts.clear()
        self._stale.clear()
        self._asked.clear()
        self._again.clear()
        self._window_busy, self._next_window = False, None
        self._to_start.clear()
        self._has_more = has_more
        self._waiting_for_more = False
        self.endResetModel()
        if self._ids:
            self._read_window(0)  # the first screen, before the view asks for it

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
        self._read_window(first)  # scrolled to here: its rows are shown next

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
        """The row if it has been read (None: not yet, or it cannot be read)."""
        if not 0 <= row < len(self._ids):
            return None
        return self._row(row)

    def cached_rows(self) -> list[R]:
        """The rows read and still kept (those around what was painted lately)."""
        return [row for row in self._rows.values() if row is not None]

    def is_loaded(self, row: int) -> bool:
        """Whether the row has been read (as it stands, or as it last stood)."""
        return 0 <= row < len(self._ids) and self._ids[row] in self._rows

    def is_fresh(self, row: int) -> bool:
        """Whether the row has been read since it was last refreshed."""
        return self.is_loaded(row) and self._ids[row] not in self._stale

    def refresh(self, ids: Sequence[int]) -> None:
        """Read these rows again; their lines are repainted when they arrive."""
        for item_id in ids:
            row = self._position.get(item_id)
            if row is None:
                continue
            if item_id in self._rows:
                self._stale.add(item_id)
            if item_id in self._asked:
                self._again.add(item_id)
            self._read_window(row, only=[item_id])

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
                self._texts.pop(item_id, None)
                self._stale.discard(item_id)
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

    # No `flags`: QAbstractTableModel's own (enabled, selectable) asks nothing of Python,
    # and the view asks it for every cell painted.

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        return self.value_at(index.row(), index.column(), role)

    def texts_at(self, row_number: int) -> tuple[Any, ...] | None:
        """Every column's display text of a row read, as `value_at` gives each (a row
        painted at once asks once); None for a row not read yet or not readable."""
        if not 0 <= row_number < len(self._ids):
            return None
        item_id = self._ids[row_number]
        texts = self._texts.get(item_id)
        if texts is not None:  # a stale row paints as it last stood until it arrives
            self._rows.move_to_end(item_id)
            self._read_ahead(row_number)
        return texts

    def value_at(self, row_number: int, column: int, role: int = DISPLAY) -> Any:
        """`data` without the index: the delegate asks this directly, as Qt's round trip
        (the index, the role and the answer converted both ways) cost more than the look-up.
        Called for every cell painted: the display text of a row read is a look-up; roles
        no cell answers return before anything else."""
        if not (0 <= row_number < len(self._ids) and 0 <= column < len(self._headers)):
            return None  # an invalid index too (row -1)
        item_id = self._ids[row_number]
        if role == DISPLAY:
            texts = self.texts_at(row_number)
            if texts is not None:
                return texts[column]
        elif role == ID_ROLE:
            return item_id
        elif role != ROW_ROLE and role not in self.CELL_ROLES:
            return None
        row = self._row(row_number)
        if role == ROW_ROLE:
            return row
        if row is None:
            if item_id in self._rows:
                return self.unreadable(column, role)
            return self.loading(column, role)
        if role == DISPLAY:
            return self.texts(row)[column]
        return self.cell(row, column, role)

    # --- rows ----------------------------------------------------------------------------

    def _row(self, row_number: int) -> R | None:
        item_id = self._ids[row_number]
        if item_id in self._rows:
            self._rows.move_to_end(item_id)
            return self._rows[item_id]
        self._read_window(row_number)
        return None

    def _read_ahead(self, row_number: int) -> None:
        """Read the rows up to `READ_AHEAD` above and below a painted row that are not kept,
        a window from the one nearest it (so no rows are left between two reads, to be read
        only when shown), and the next page of ids before the view reaches the last one."""
        if row_number + READ_AHEAD >= len(self._ids):
            self.fetchMore(QModelIndex())
        last = len(self._ids) - 1
        for step in (1, -1):
            ahead = row_number + step * READ_AHEAD
            if not (0 <= ahead <= last and self._unread(ahead)):
                continue
            while ahead - step != row_number and self._unread(ahead - step):
                ahead -= step
            # The window runs on from there: `_read_window` reads around the row it is given.
            if step > 0:
                self._read_window(min(ahead + WINDOW_BEFORE, last), is_ahead=True)
            else:
                self._read_window(max(ahead - WINDOW_AFTER + 1, 0), is_ahead=True)

    def _unread(self, row_number: int) -> bool:
        item_id = self._ids[row_number]
        return item_id not in self._rows and item_id not in self._asked

    def _read_window(
        self, row_number: int, only: Sequence[int] = (), *, is_ahead: bool = False
    ) -> None:
        """Read the rows around `row_number` (or just `only`) on a worker thread."""
        if only:
            candidates: Sequence[int] = only
        elif self._window_busy:
            if is_ahead and self._next_window is not None and not self._next_is_ahead:
                return  # a row on screen waits to be read: it goes first
            # Read when the one under way is done.
            self._next_window, self._next_is_ahead = row_number, is_ahead
            return
        else:
            start = max(0, row_number - WINDOW_BEFORE)
            candidates = self._ids[start : row_number + WINDOW_AFTER]
        wanted = [
            item_id
            for item_id in candidates
            if (item_id not in self._rows or item_id in self._stale) and item_id not in self._asked
        ]
        if not wanted:
            return
        self._asked.update(wanted)
        self._window_busy = self._window_busy or not only
        generation, load_rows, window = self._generation, self._load_rows, not only

        texts = self.texts

        def read(_: JobContext) -> list[tuple[R, tuple[Any, ...]]]:
            return [(row, texts(row)) for row in load_rows(wanted)]

        self._to_start.append(
            partial(
                self._runner.start,
                read,
                lambda rows: self._arrived(generation, wanted, rows, window),
                lambda _: self._arrived(generation, wanted, None, window),
            )
        )
        self._starter.start()

    def reading(self) -> bool:
        """Whether rows asked for are still to arrive."""
        return bool(self._to_start) or bool(self._asked)

    def _start_reads(self) -> None:
        starting, self._to_start = self._to_start, []
        for start in starting:
            start()

    def _arrived(
        self,
        generation: int,
        wanted: list[int],
        rows: list[tuple[R, tuple[Any, ...]]] | None,
        window: bool,
    ) -> None:
        """Rows read (None: the read failed; the next paint asks again)."""
        if generation != self._generation:
            return
        if window:
            self._window_busy = False
            waiting, self._next_window = self._next_window, None
            if waiting is not None and waiting < len(self._ids):
                self._read_window(waiting)
        if rows is None:
            self._asked.difference_update(wanted)
            self._again.difference_update(wanted)
            return
        found = {row.id: (row, texts) for row, texts in rows}
        for item_id in wanted:
            self._asked.discard(item_id)
            self._stale.discard(item_id)
            row, texts = found.get(item_id, (None, None))
            # None remembers a row that cannot be read, so it is not asked for again.
            self._rows[item_id] = row
            self._rows.move_to_end(item_id)
            if texts is None:
                self._texts.pop(item_id, None)
            else:
                self._texts[item_id] = texts
        again = [item_id for item_id in wanted if item_id in self._again]
        self._again.difference_update(again)
        while len(self._rows) > CACHE_ROWS:
            dropped, _ = self._rows.popitem(last=False)
            self._stale.discard(dropped)
            self._texts.pop(dropped, None)
        positions = [p for p in map(self._position.get, wanted) if p is not None]
        if positions:
            last = len(self._headers) - 1
            self.dataChanged.emit(self.index(min(positions), 0), self.index(max(positions), last))
        if again:
            self.refresh(again)
        self.rows_arrived.emit()


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
