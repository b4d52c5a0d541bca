"""One comment's action history as a table: every log entry, oldest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from hsm_console.display import local_time, one_line
from hsm_console.gui.plain_text import tooltip
from hsm_console.services.comment_detail import HistoryItem

Index = QModelIndex | QPersistentModelIndex

HEADERS = ("When (Chicago)", "Who", "Action", "Result", "Reason", "Note and outcome")
STATE_WORDS = {
    "pending": "recorded, platform called",
    "applied": "applied",
    "failed": "failed",
    "unconfirmed": "not confirmed",
}


class HistoryModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[HistoryItem] = []

    def set_items(self, items: Sequence[HistoryItem]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(HEADERS)
        ):
            return HEADERS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.parent().isValid():
            return None
        if not (0 <= index.row() < len(self._items) and 0 <= index.column() < len(HEADERS)):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _cells(item)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == len(HEADERS) - 1:
            return tooltip(_remark(item)) if _remark(item) else None
        return None


def _remark(item: HistoryItem) -> str:
    parts = [f"Note: {item.note}" if item.note else "", item.detail]
    if item.outcome_of is not None:
        parts.append(f"(outcome of entry {item.outcome_of})")
    return " ".join(part for part in parts if part)


def _cells(item: HistoryItem) -> tuple[str, ...]:
    return (
        local_time(item.at),
        item.actor,
        item.action,
        STATE_WORDS.get(item.state, item.state),
        item.reason_code or "",
        one_line(_remark(item), 300),
    )
