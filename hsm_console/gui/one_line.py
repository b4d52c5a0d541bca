"""Painting a table's one-line cells fast enough to scroll a million rows.

Qt's own delegate asks the model for seven roles per cell and lays the text out again at
every paint, through the style sheet's rules: about 15 ms a screen, twice per scrolled frame.
`OneLineDelegate` asks for the text (and, in the columns that have one, the icon), cuts the
text to the column once per text and width, and paints it as a `QStaticText`, whose layout Qt
keeps. The view still paints the rows' backgrounds (alternating colours); this paints the
selection, the icon and the text in the palette's colours.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, Qt
from PySide6.QtGui import QFont, QFontMetrics, QIcon, QPainter, QPalette, QStaticText
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

MARGIN = 4  # pixels between the cell's edge, the icon and the text
KEPT_TEXTS = 4000  # laid-out texts kept: a few screens of every column


class OneLineDelegate(QStyledItemDelegate):
    def __init__(self, icon_columns: Iterable[int] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._icon_columns = frozenset(icon_columns)
        self._laid_out: OrderedDict[tuple[str, int, str], QStaticText] = OrderedDict()

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        rect: QRect = option.rect
        palette: QPalette = option.palette
        state = option.state
        group = (
            QPalette.ColorGroup.Active
            if state & QStyle.StateFlag.State_Active
            else QPalette.ColorGroup.Inactive
        )
        selected = bool(state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(rect, palette.brush(group, QPalette.ColorRole.Highlight))
        left = rect.left() + MARGIN
        if index.column() in self._icon_columns:
            icon = index.data(Qt.ItemDataRole.DecorationRole)
            if isinstance(icon, QIcon):
                size = option.decorationSize
                top = rect.top() + (rect.height() - size.height()) // 2
                mode = QIcon.Mode.Selected if selected else QIcon.Mode.Normal
                icon.paint(painter, QRect(left, top, size.width(), size.height()), mode=mode)
                left += size.width() + MARGIN
        text = index.data()
        width = rect.right() - MARGIN - left
        if not text or width <= 0:
            return
        font: QFont = option.font
        static = self._static(str(text), width, font)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        painter.setFont(font)
        painter.setPen(palette.color(group, role))
        baseline_top = rect.top() + (rect.height() - static.size().height()) / 2
        painter.setClipRect(rect)
        painter.drawStaticText(QPointF(left, baseline_top), static)
        painter.restore()

    def _static(self, text: str, width: int, font: QFont) -> QStaticText:
        key = (text, width, font.key())
        static = self._laid_out.get(key)
        if static is None:
            cut = QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, width)
            static = QStaticText(cut)
            static.setTextFormat(Qt.TextFormat.PlainText)
            static.prepare(font=font)
            self._laid_out[key] = static
            if len(self._laid_out) > KEPT_TEXTS:
                self._laid_out.popitem(last=False)
        else:
            self._laid_out.move_to_end(key)
        return static
