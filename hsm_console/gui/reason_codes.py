"""The policy's reason codes as a list model, and a filter that finds them by typing."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
)

from hsm_console.gui.plain_text import tooltip
from hsm_console.rules.policy import ReasonCode

Index = QModelIndex | QPersistentModelIndex
CODE_ROLE = Qt.ItemDataRole.UserRole + 1  # "PRF"
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 2  # everything a moderator might type, folded


class ReasonCodeModel(QAbstractListModel):
    def __init__(
        self,
        codes: Sequence[ReasonCode],
        parent: QObject | None = None,
        keys: Mapping[str, str] | None = None,  # code -> the key that picks it, shown first
    ) -> None:
        super().__init__(parent)
        self._codes = list(codes)
        self._keys = dict(keys or {})

    def code_at(self, row: int) -> ReasonCode:
        return self._codes[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._codes)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._codes):
            return None
        code = self._codes[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            key = self._keys.get(code.code)
            return f"{key}   {code.code} — {code.name}" if key else f"{code.code} — {code.name}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(code.covers)
        if role == CODE_ROLE:
            return code.code
        if role == SEARCH_ROLE:
            return f"{code.code} {code.name} {code.covers}".casefold()
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


class ReasonCodeFilter(QSortFilterProxyModel):
    """Keeps the codes whose code, name or definition holds every word typed."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterRole(SEARCH_ROLE)

    def set_search(self, text: str) -> None:
        # One look-ahead per word: all must occur, in any order.
        words = text.casefold().split()
        pattern = "".join(f"(?=.*{re.escape(word)})" for word in words)
        self.setFilterRegularExpression(QRegularExpression(f"^{pattern}"))
