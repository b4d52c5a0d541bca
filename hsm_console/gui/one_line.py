"""Painting a table's one-line cells fast enough to scroll a million rows.

`OneLineTable` is a QTableView that paints the rows in view itself, a row at a time: Qt's
own painting makes a style option for every cell and calls into Python for each (the
delegate), and asks the model for seven roles per cell, which cost most of a frame at a
screenful of rows a frame. Here the model is asked for a row's texts at once (and, in the
columns that have one, each icon) directly (`Cells`), the text is cut to its column once per
text and width, and drawn as plain text (`QPainter.drawText` never reads markup). It paints
what Qt's table painted with a delegate drawing those texts and icons (the alternating rows,
the selection in the palette's colours, the grid), pixel for pixel (tests/gui/test_one_line.py).
A page scrolled into view is all new texts: laying each out once to keep it (`QStaticText`)
cost more than drawing it, so only the cut is kept.
"""

from __future__ import annotations

import string
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Protocol, cast

from PySide6.QtCore import QLineF, QPointF, QRect, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem, QTableView, QWidget

MARGIN = 4  # pixels between the cell's edge, the icon and the text
KEPT_TEXTS = 4000  # cut texts kept: a few screens of every column
KEPT_PIXMAPS = 256  # icons drawn at a size: a few per platform, more only after many changes
ELLIPSIS = "…"

# Looked up once: a Python enum's attribute costs microseconds, paid per cell.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_ICON_MODES = (QIcon.Mode.Normal, QIcon.Mode.Selected)
_ELIDE = Qt.TextElideMode.ElideRight


class Cells(Protocol):
    """The view's model, asked without an index (`IdWindowModel`)."""

    def value_at(self, row_number: int, column: int, role: int = ...) -> Any: ...

    def texts_at(self, row_number: int) -> tuple[Any, ...] | None: ...


class OneLineTable(QTableView):
    """A table of one-line rows of the same height whose model answers `Cells` (the
    queue's): painted a row at a time. `icon_columns` show the model's icon before the
    text. Any other model is painted by Qt."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon_columns: frozenset[int] = frozenset()
        # The palette's colours by its key and colour group: looking one up in Qt costs
        # microseconds.
        self._palette_key: tuple[int, bool, bool] | None = None
        self._colours: tuple[QBrush, QBrush, QColor, QColor, QColor] | None = None
        self._cut_texts: OrderedDict[tuple[str, int], str] = OrderedDict()
        # What the kept cuts were measured with; another font forgets them.
        self._font: QFont | None = None
        self._metrics = QFontMetrics(QFont())
        # The narrowest and widest printable ASCII character's advance, in pixels.
        self._narrowest = 1
        self._widest = 1 << 30  # until a font is used: no text fits
        self._height = self._ascent = 0  # the font's, in pixels
        # Each icon's pixmap by (icon, selected, size, pixel ratio): QIcon.paint looks its
        # pixmap up at every paint, five times the cost of drawing it.
        self._pixmaps: dict[tuple[int, bool, int, int, float], QPixmap] = {}

    def show_icons_in(self, columns: Iterable[int]) -> None:
        self.icon_columns = frozenset(columns)
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        model = self.model()
        if not hasattr(model, "texts_at"):
            super().paintEvent(event)
            return
        painter = QPainter(self.viewport())
        try:
            for area in event.region():  # type: ignore[attr-defined]  # iterable, unstubbed
                self._paint_area(painter, cast("Cells", model), area)
        finally:
            painter.end()

    def _paint_area(self, painter: QPainter, cells: Cells, area: QRect) -> None:
        """The rows and columns that `area` touches, as QTableView paints them: each cell's
        background and content, then the grid over them."""
        # Clipped to the rows and columns there are, at the end they reach, as Qt does.
        across = self.horizontalHeader().length() - self.horizontalOffset() - 1
        area.setBottom(
            min(area.bottom(), self.verticalHeader().length() - self.verticalOffset() - 1)
        )
        if self.isRightToLeft():
            area.setLeft(max(area.left(), self.viewport().width() - across))
        else:
            area.setRight(min(area.right(), across))
        if area.isEmpty():
            return
        grid = 1 if self.showGrid() else 0
        first = self.rowAt(area.top())
        last = self.rowAt(area.bottom())
        if last < 0:
            last = self.model().rowCount() - 1
        columns = self._columns(area, grid)
        if first < 0 or not columns:
            return
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)  # what Qt's painting gives each cell, less its own
        highlight, alternate, text, selected_text, grid_colour = self._colours_of(option)
        alternating = self.alternatingRowColors()
        height = self.verticalHeader().defaultSectionSize()
        size = option.decorationSize
        font = option.font
        if font != self._font:
            self._use_font(font)
        painter.setFont(font)
        span_left = min(left for _, left, _ in columns)
        span_width = max(left + width for _, left, width in columns) - span_left
        # The loop runs for every cell painted: what it calls is looked up once.
        texts_at, value_at, cut, draw_text = (
            cells.texts_at,
            cells.value_at,
            self.cut,
            painter.drawText,
        )
        icons = self.icon_columns
        chosen = self._selected_rows(first, last)
        cell_height = height - grid
        first_top = self.rowViewportPosition(first)
        for row in range(first, last + 1):
            top = first_top + (row - first) * height  # one height for every row
            selected = row in chosen
            if selected:
                painter.fillRect(span_left, top, span_width, cell_height, highlight)
            elif alternating and row & 1:
                painter.fillRect(span_left, top, span_width, cell_height, alternate)
            painter.setPen(selected_text if selected else text)
            baseline = top + (cell_height - self._height) / 2 + self._ascent
            texts = texts_at(row)  # None: "Loading…" and the like, asked cell by cell
            for column, left, width in columns:
                right = left + width - 1 - MARGIN
                left += MARGIN
                if column in icons:
                    icon = value_at(row, column, _DECORATION)
                    if isinstance(icon, QIcon):
                        left = self._paint_icon(
                            painter, icon, left, top, cell_height, selected, size
                        )
                shown = texts[column] if texts is not None else value_at(row, column, _DISPLAY)
                if shown and right > left:
                    draw_text(QPointF(left, baseline), cut(str(shown), right - left, font))
        if grid:
            self._paint_grid(painter, area, first, last, columns, grid_colour)

    def _selected_rows(self, first: int, last: int) -> set[int]:
        """The rows from `first` to `last` whose every cell is selected, from the selection's
        ranges (the table selects whole rows): asking for each row cost more than its text."""
        selection = self.selectionModel()
        if selection is None:
            return set()
        every = self.model().columnCount(self.rootIndex()) - 1
        found: set[int] = set()
        partly: set[int] = set()
        for part in selection.selection():  # type: ignore[attr-defined]  # a list, unstubbed
            rows = range(max(first, part.top()), min(last, part.bottom()) + 1)
            (found if part.left() == 0 and part.right() == every else partly).update(rows)
        root = self.rootIndex()  # ranges of some columns each: asked as Qt would
        found.update(row for row in partly - found if selection.isRowSelected(row, root))
        return found

    def _columns(self, area: QRect, grid: int) -> list[tuple[int, int, int]]:
        """(column, left, width) of the columns shown in `area`, in the order shown; a
        cell's width leaves out the grid's line."""
        header = self.horizontalHeader()
        first = header.visualIndexAt(area.left())
        last = header.visualIndexAt(area.right())
        if self.isRightToLeft():  # the first column shown is on the right
            first, last = last, first
        if first < 0:
            first = 0
        if last < 0:
            last = header.count() - 1
        found = []
        for visual in range(first, last + 1):
            column = header.logicalIndex(visual)
            if header.isSectionHidden(column):
                continue
            left = self.columnViewportPosition(column)
            width = self.columnWidth(column) - grid
            if self.isRightToLeft() and grid:
                left += 1
            found.append((column, left, width))
        return found

    def _paint_icon(
        self,
        painter: QPainter,
        icon: QIcon,
        left: int,
        top: int,
        height: int,
        selected: bool,
        size: QSize,
    ) -> int:
        """The icon in its box at `left`, centred as QIcon.paint puts a pixmap smaller than
        the box; returns where the text starts."""
        width = size.width()
        pixmap = self._pixmap(icon, selected, width, size.height(), painter)
        shown = pixmap.deviceIndependentSize()
        icon_left = left + (width - int(shown.width())) // 2
        icon_top = top + (height - int(shown.height())) // 2
        painter.drawPixmap(icon_left, icon_top, pixmap)
        return left + width + MARGIN

    def _paint_grid(
        self,
        painter: QPainter,
        area: QRect,
        first: int,
        last: int,
        columns: list[tuple[int, int, int]],
        colour: QColor,
    ) -> None:
        """QTableView's grid: a line under each row and after each column, half a pixel in
        as Qt draws it, over the area's width and height."""
        painter.setPen(QPen(colour, 1, self.gridStyle()))
        height = self.verticalHeader().defaultSectionSize()
        top = self.rowViewportPosition(first)
        bottoms = (top + (row - first + 1) * height - 0.5 for row in range(first, last + 1))
        lines = [QLineF(area.left() + 0.5, y, area.right() + 0.5, y) for y in bottoms]
        for _, left, width in columns:
            x = (left - 1 if self.isRightToLeft() else left + width) + 0.5
            lines.append(QLineF(x, area.top() + 0.5, x, area.bottom() + 0.5))
        painter.drawLines(lines)

    def _colours_of(
        self, option: QStyleOptionViewItem
    ) -> tuple[QBrush, QBrush, QColor, QColor, QColor]:
        """As Qt's painting uses them for a cell of `option`'s state: the highlight and text
        colours of the active or inactive group (the delegate's), the alternate rows' brush
        of the group Qt's style picks (disabled too), and the grid's colour; kept by the
        palette's key and the state."""
        palette: QPalette = option.palette
        state = option.state
        active = bool(state & QStyle.StateFlag.State_Active)
        enabled = bool(state & QStyle.StateFlag.State_Enabled)
        key = (palette.cacheKey(), active, enabled)
        if key != self._palette_key or self._colours is None:
            shown = QPalette.ColorGroup.Active if active else QPalette.ColorGroup.Inactive
            rows = shown if enabled else QPalette.ColorGroup.Disabled
            grid = self.style().styleHint(QStyle.StyleHint.SH_Table_GridLineColor, option, self)
            self._colours = (
                palette.brush(shown, QPalette.ColorRole.Highlight),
                palette.brush(rows, QPalette.ColorRole.AlternateBase),
                palette.color(shown, QPalette.ColorRole.Text),
                palette.color(shown, QPalette.ColorRole.HighlightedText),
                QColor.fromRgba(grid & 0xFFFFFFFF),
            )
            self._palette_key = key
        return self._colours

    def _pixmap(
        self, icon: QIcon, selected: bool, width: int, height: int, painter: QPainter
    ) -> QPixmap:
        ratio = painter.device().devicePixelRatioF()
        key = (icon.cacheKey(), selected, width, height, ratio)
        pixmap = self._pixmaps.get(key)
        if pixmap is None:
            pixmap = icon.pixmap(QSize(width, height), ratio, _ICON_MODES[selected])
            if len(self._pixmaps) > KEPT_PIXMAPS:
                self._pixmaps.clear()
            self._pixmaps[key] = pixmap
        return pixmap

    def cut(self, text: str, width: int, font: QFont) -> str:
        """`text` cut with an ellipsis to `width` pixels in `font`, kept for the next paint."""
        if font != self._font:
            self._use_font(font)
        if len(text) * self._widest <= width and text.isascii():
            return text  # plainly fits: no shaping (most of a screen's dates, names, counts)
        key = (text, width)
        cut = self._cut_texts.get(key)
        if cut is not None:
            self._cut_texts.move_to_end(key)
            return cut
        # Shaping is paid per character: no more than could fit in the width is measured
        # (an ellipsis says the rest was left off, as the elision would).
        fits = width // self._narrowest + 1
        shorter = text if len(text) <= fits else text[:fits] + ELLIPSIS
        cut = self._metrics.elidedText(shorter, _ELIDE, width)
        self._cut_texts[key] = cut
        if len(self._cut_texts) > KEPT_TEXTS:
            self._cut_texts.popitem(last=False)
        return cut

    def _use_font(self, font: QFont) -> None:
        self._font = QFont(font)
        self._metrics = QFontMetrics(font)
        advances = [self._metrics.horizontalAdvance(c) for c in string.printable.strip() + " "]
        self._narrowest = max(1, min(advances))
        self._widest = max(advances)
        self._height, self._ascent = self._metrics.height(), self._metrics.ascent()
        self._cut_texts.clear()
