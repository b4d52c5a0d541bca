"""The queue's cells as painted: the text cut to its column once, shown as text."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from hsm_console.gui import one_line
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.one_line import OneLineDelegate
from hsm_console.gui.queue_model import Column

pytestmark = pytest.mark.gui


def test_a_long_text_is_cut_to_its_column_once(qtbot: QtBot) -> None:
    table = QTableView()
    qtbot.addWidget(table)
    delegate = OneLineDelegate((), table)
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
    table = QTableView()
    qtbot.addWidget(table)
    delegate = OneLineDelegate((), table)
    assert delegate.cut("Kept", 200, table.font()) == "Kept"


def test_a_text_that_plainly_fits_is_not_measured(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ASCII no wider than its length in the widest character is shown whole at once;
    other texts are measured (the elision shapes them)."""
    table = QTableView()
    qtbot.addWidget(table)
    delegate = OneLineDelegate((), table)
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
    table = QTableView()
    qtbot.addWidget(table)
    delegate = OneLineDelegate((), table)
    text = "a" + "\u0301" * 5000 + " end"
    cut = delegate.cut(text, 100, table.font())
    assert cut.endswith("…")
    assert len(cut) < 200


def test_the_cut_texts_kept_are_bounded(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(one_line, "KEPT_TEXTS", 5)
    table = QTableView()
    qtbot.addWidget(table)
    delegate = OneLineDelegate((), table)
    for number in range(20):
        delegate.cut(f"comment {number} " * 20, 200, table.font())
    assert len(delegate._cut_texts) == 5


def test_the_queue_paints_with_it(window: MainWindow) -> None:
    delegate = window.table.itemDelegate()
    assert isinstance(delegate, OneLineDelegate)
    assert delegate._icon_columns == {Column.SITE, Column.STATUS}
    window.table.viewport().repaint()
    assert delegate._cut_texts  # the rows on screen were painted through it


def test_asking_the_model_directly_paints_what_asking_the_index_does(
    window: MainWindow,
) -> None:
    """The queue's delegate asks its model for a cell's text and icon without Qt's round
    trip; the screen is the same as painted through each index."""
    table = window.table
    delegate = table.itemDelegate()
    assert isinstance(delegate, OneLineDelegate)
    assert delegate._cells is window.model
    table.selectRow(1)  # a selected row too: its colours come from the palette kept
    direct = table.viewport().grab().toImage()
    table.setItemDelegate(OneLineDelegate((Column.SITE, Column.STATUS), table))
    through_the_index = table.viewport().grab().toImage()
    table.setItemDelegate(delegate)
    assert window.model.is_loaded(0)
    assert direct == through_the_index
