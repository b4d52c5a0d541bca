"""The queue's cells as painted: the text cut to its column, laid out once, shown as text."""

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


def test_a_long_text_is_cut_to_its_column_and_laid_out_once(qtbot: QtBot) -> None:
    table = QTableView()
    qtbot.addWidget(table)
    delegate = OneLineDelegate((), table)
    font, width = table.font(), 240
    text = "<b>not bold</b> " + "word " * 200

    first = delegate._static(text, width, font)

    assert first.text().endswith("…")
    assert first.text().startswith("<b>not")  # shown as typed, never as markup
    assert QFontMetrics(font).horizontalAdvance(first.text()) <= width
    assert delegate._static(text, width, font) is first  # kept: no layout at the next paint
    assert delegate._static(text, width + 40, font) is not first  # a wider column: cut again


def test_the_laid_out_texts_kept_are_bounded(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(one_line, "KEPT_TEXTS", 5)
    table = QTableView()
    qtbot.addWidget(table)
    delegate = OneLineDelegate((), table)
    for number in range(20):
        delegate._static(f"comment {number}", 200, table.font())
    assert len(delegate._laid_out) == 5


def test_the_queue_paints_with_it(window: MainWindow) -> None:
    delegate = window.table.itemDelegate()
    assert isinstance(delegate, OneLineDelegate)
    assert delegate._icon_columns == {Column.SITE, Column.STATUS}
    window.table.viewport().repaint()
    assert delegate._laid_out  # the rows on screen were painted through it
