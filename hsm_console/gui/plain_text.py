"""Showing untrusted text (comments, names, posts) so that Qt never interprets it.

Labels, text edits and message boxes are set to plain text explicitly. Tooltips have no
such switch: Qt renders anything that looks like HTML as HTML, so their text is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem


def tooltip(text: str) -> str:
    """Rich text whose only content is `text`, escaped: shown literally, tags and all."""
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>"


def set_plain(label: QLabel, text: str) -> None:
    """Set a label's text as plain text, whatever the form said."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)


def prepare_table(table: QTableWidget, headers: Sequence[str]) -> None:
    """A read-only table of a screen's list: its headers, columns sized to their contents."""
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)


def fill_table(
    table: QTableWidget,
    rows: Sequence[Sequence[tuple[str, str]]],
    backgrounds: Sequence[QColor | None] = (),
) -> None:
    """Rows of (shown, tooltip) cells; every cell plain text, never editable; a row's
    background where one is given. No row is current afterwards."""
    table.blockSignals(True)
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        background = backgrounds[r] if r < len(backgrounds) else None
        for c, (shown, tip) in enumerate(cells):
            cell = QTableWidgetItem(shown)
            cell.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            if tip:
                cell.setToolTip(tooltip(tip))
            if background is not None:
                cell.setBackground(QBrush(background))
            table.setItem(r, c, cell)
    table.blockSignals(False)
    table.setCurrentCell(-1, -1)
