"""The queue's table as painted: a row at a time, the text cut to its column once, shown as
text; the same pixels as Qt's own table painting each cell through a delegate."""

from __future__ import annotations

import types

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QSize, Qt
from PySide6.QtGui import QFontMetrics, QIcon, QImage, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTableView
from pytestqt.qtbot import QtBot

from hsm_console.gui import one_line
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.one_line import MARGIN, OneLineTable
from hsm_console.gui.queue_model import Column

pytestmark = pytest.mark.gui


def test_a_long_text_is_cut_to_its_column_once(qtbot: QtBot) -> None:
    table = OneLineTable()
    qtbot.addWidget(table)
    delegate = table
    font, width = table.font(), 240
    text = "<b>not bold</b> " + "word " * 200

    first = delegate.cut(text, width, font)

    assert first.endswith("…")
    assert first.startswith("<b>not")  # shown as typed, never as markup
    assert QFontMetrics(font).horizontalAdvance(first) <= width
    assert delegate.cut(text, width, font) is first  # kept: not measured at the next paint
    wider = delegate.cut(text, width + 40, font)  # a wider column: cut again, longer
    assert len(wider) > len(first)
    assert QFontMetrics(font).horizontalAdvance(wider) <= width + 40


def test_a_text_that_fits_is_shown_whole(qtbot: QtBot) -> None:
    table = OneLineTable()
    qtbot.addWidget(table)
    delegate = table
    assert delegate.cut("Kept", 200, table.font()) == "Kept"


def test_a_text_that_plainly_fits_is_not_measured(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ASCII no wider than its length in the widest character is shown whole at once;
    other texts are measured (the elision shapes them)."""
    table = OneLineTable()
    qtbot.addWidget(table)
    delegate = table
    font = table.font()
    metrics = QFontMetrics(font)
    widest = max(metrics.horizontalAdvance(c) for c in "WMm@_%")
    measured: list[str] = []
    delegate.cut("x", 10, font)  # the font taken up
    elide = delegate._metrics.elidedText

    class Metrics:
        def elidedText(self, text: str, mode: object, width: int) -> str:
            measured.append(text)
            return elide(text, mode, width)  # type: ignore[arg-type]

    monkeypatch.setattr(delegate, "_metrics", Metrics())
    assert delegate.cut("2026-12-02 12:00", 16 * widest, font) == "2026-12-02 12:00"
    assert measured == []
    assert delegate.cut("Ünïcode", 100 * widest, font) == "Ünïcode"
    assert delegate.cut("2026-12-02 12:00", 2 * widest, font).endswith("…")
    assert measured[0] == "Ünïcode"
    assert len(measured) == 2


def test_characters_of_no_width_are_never_cut_without_an_ellipsis(qtbot: QtBot) -> None:
    """Only what could fit is measured: a text of marks of no width is cut before it is
    measured, and the cut still says so."""
    table = OneLineTable()
    qtbot.addWidget(table)
    delegate = table
    text = "a" + "\u0301" * 5000 + " end"
    cut = delegate.cut(text, 100, table.font())
    assert cut.endswith("…")
    assert len(cut) < 200


def test_the_cut_texts_kept_are_bounded(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(one_line, "KEPT_TEXTS", 5)
    table = OneLineTable()
    qtbot.addWidget(table)
    delegate = table
    for number in range(20):
        delegate.cut(f"comment {number} " * 20, 200, table.font())
    assert len(delegate._cut_texts) == 5


def test_the_queue_paints_with_it(window: MainWindow) -> None:
    table = window.table
    assert isinstance(table, OneLineTable)
    assert table.icon_columns == {Column.SITE, Column.STATUS}
    table.viewport().repaint()
    assert table._cut_texts  # the rows on screen were painted through it


class CellByCell(QStyledItemDelegate):
    """What the queue's cells looked like painted by Qt's table, a cell at a time: the
    selection, the icon and the text cut to the cell, in the palette's colours."""

    def __init__(self, table: OneLineTable) -> None:
        super().__init__(table)
        self.table = table

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        left, top, width, height = option.rect.getRect()
        group = (
            QPalette.ColorGroup.Active
            if option.state & QStyle.StateFlag.State_Active
            else QPalette.ColorGroup.Inactive
        )
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(
                left, top, width, height, option.palette.brush(group, QPalette.ColorRole.Highlight)
            )
        right = left + width - 1 - MARGIN
        left += MARGIN
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        if index.column() in self.table.icon_columns and isinstance(icon, QIcon):
            size = option.decorationSize
            mode = QIcon.Mode.Selected if selected else QIcon.Mode.Normal
            pixmap = icon.pixmap(size, painter.device().devicePixelRatioF(), mode)
            shown = pixmap.deviceIndependentSize()
            painter.drawPixmap(
                left + (size.width() - int(shown.width())) // 2,
                top + (height - int(shown.height())) // 2,
                pixmap,
            )
            left += size.width() + MARGIN
        text = index.data()
        if not text or right - left <= 0:
            return
        metrics = QFontMetrics(option.font)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setFont(option.font)
        painter.setPen(option.palette.color(group, role))
        baseline = top + (height - metrics.height()) / 2 + metrics.ascent()
        painter.drawText(
            QPointF(left, baseline), self.table.cut(str(text), right - left, option.font)
        )


def _both(table: OneLineTable) -> tuple[QImage, QImage]:
    """The viewport painted a row at a time, then by Qt's QTableView a cell at a time."""
    rows = table.viewport().grab().toImage()
    delegate = table.itemDelegate()
    table.setItemDelegate(CellByCell(table))
    table.paintEvent = types.MethodType(QTableView.paintEvent, table)  # type: ignore[method-assign]
    try:
        cells = table.viewport().grab().toImage()
    finally:
        del table.paintEvent
        table.setItemDelegate(delegate)
    return rows, cells


def test_painted_a_row_at_a_time_as_qt_paints_each_cell(window: MainWindow, qtbot: QtBot) -> None:
    """The same pixels as Qt's table with a delegate drawing the same cells: the alternating
    rows, the grid, a selected row, the icons, the cut texts; with focus and without, with a
    column hidden, scrolled sideways, and right to left."""
    table = window.table
    assert window.model.is_loaded(0)
    table.selectRow(1)
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    rows, cells = _both(table)
    assert rows.size() == QSize(table.viewport().width(), table.viewport().height())
    assert rows == cells
    table.clearFocus()
    qtbot.waitUntil(lambda: not table.hasFocus())
    unfocused, qts = _both(table)
    assert unfocused == qts
    table.setColumnHidden(Column.AUTHOR, True)
    table.horizontalScrollBar().setValue(30)
    ours, qts = _both(table)
    assert ours == qts
    assert ours != rows  # something else painted
    table.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    ours, qts = _both(table)
    assert ours == qts
