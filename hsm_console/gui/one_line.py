"""Painting a table's one-line cells fast enough to scroll a million rows.

Qt's own delegate asks the model for seven roles per cell and lays the text out again at
every paint, through the style sheet's rules. `OneLineDelegate` asks for the text (and, in
the columns that have one, the icon), cuts the text to the column once per text and width,
and draws the cut text as plain text (`QPainter.drawText` never reads markup). A page
scrolled into view is all new texts: laying each out once to keep it (`QStaticText`) cost
more than drawing it, so only the cut is kept. The view still paints the rows' backgrounds
(alternating colours); this paints the selection, the icon and the text in the palette's
colours.
"""

from __future__ import annotations

import string
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Protocol, cast

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

MARGIN = 4  # pixels between the cell's edge, the icon and the text
KEPT_TEXTS = 4000  # cut texts kept: a few screens of every column
KEPT_PIXMAPS = 256  # icons drawn at a size: a few per platform, more only after many changes
ELLIPSIS = "…"

# Looked up once: a Python enum's attribute and a flag's `&` cost microseconds, paid per cell.
_ACTIVE = QStyle.StateFlag.State_Active.value
_SELECTED = QStyle.StateFlag.State_Selected.value
_GROUPS = (QPalette.ColorGroup.Inactive, QPalette.ColorGroup.Active)
_HIGHLIGHT = QPalette.ColorRole.Highlight
_TEXT = (QPalette.ColorRole.Text, QPalette.ColorRole.HighlightedText)
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_ICON_MODES = (QIcon.Mode.Normal, QIcon.Mode.Selected)
_ELIDE = Qt.TextElideMode.ElideRight


class Cells(Protocol):
    """The view's model, asked without an index (`IdWindowModel.value_at`)."""

    def value_at(self, row_number: int, column: int, role: int = ...) -> Any: ...


class OneLineDelegate(QStyledItemDelegate):
    """Paints the cells of `cells`, the view's own model (no proxy between), asking it
    directly; without `cells` it asks each index."""

    def __init__(
        self,
        icon_columns: Iterable[int] = (),
        parent: QWidget | None = None,
        cells: Cells | None = None,
    ) -> None:
        super().__init__(parent)
        self._icon_columns = frozenset(icon_columns)
        self._cells = cells
        # The palette's colours by its key: looking one up in Qt costs microseconds a cell.
        self._palette_key: int | None = None
        self._colours: tuple[tuple[QBrush, QColor, QColor], ...] = ()
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

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        rect = cast(tuple[int, int, int, int], option.rect.getRect())  # one call, not four
        left, top, width, height = rect
        palette: QPalette = option.palette
        if palette.cacheKey() != self._palette_key:
            self._use_palette(palette)
        state = option.state.value
        highlight, text_colour, selected_colour = self._colours[bool(state & _ACTIVE)]
        selected = bool(state & _SELECTED)
        if selected:
            painter.fillRect(left, top, width, height, highlight)
        row, column = index.row(), index.column()
        cells = self._cells
        right = left + width - 1 - MARGIN
        left += MARGIN
        if column in self._icon_columns:
            icon = (
                index.data(_DECORATION)
                if cells is None
                else cells.value_at(row, column, _DECORATION)
            )
            if isinstance(icon, QIcon):
                size = option.decorationSize
                icon_width, icon_height = size.width(), size.height()
                pixmap = self._pixmap(icon, selected, icon_width, icon_height, painter)
                # Centred in the icon's box, as QIcon.paint puts a pixmap smaller than it.
                shown = pixmap.deviceIndependentSize()
                icon_left = left + (icon_width - int(shown.width())) // 2
                icon_top = top + (height - int(shown.height())) // 2
                painter.drawPixmap(icon_left, icon_top, pixmap)
                left += icon_width + MARGIN
        text = index.data() if cells is None else cells.value_at(row, column, _DISPLAY)
        width = right - left
        if not text or width <= 0:
            return
        font: QFont = option.font
        cut = self.cut(str(text), width, font)
        # No save/restore or clip: the cut fits the cell, and the view sets its own pen for
        # the grid; each cell sets the font and pen it draws with.
        painter.setFont(font)
        painter.setPen(selected_colour if selected else text_colour)
        # Where a QStaticText laid out at the centred top puts its baseline.
        baseline = top + (height - self._height) / 2 + self._ascent
        painter.drawText(QPointF(left, baseline), cut)

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

    def _use_palette(self, palette: QPalette) -> None:
        self._palette_key = palette.cacheKey()
        self._colours = tuple(
            (
                palette.brush(group, _HIGHLIGHT),
                palette.color(group, _TEXT[0]),
                palette.color(group, _TEXT[1]),
            )
            for group in _GROUPS
        )

    def _use_font(self, font: QFont) -> None:
        self._font = QFont(font)
        self._metrics = QFontMetrics(font)
        advances = [self._metrics.horizontalAdvance(c) for c in string.printable.strip() + " "]
        self._narrowest = max(1, min(advances))
        self._widest = max(advances)
        self._height, self._ascent = self._metrics.height(), self._metrics.ascent()
        self._cut_texts.clear()
