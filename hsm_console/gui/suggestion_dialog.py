"""Asks which of a comment's suggestions was wrong, and why (optional), before it is recorded.

The mark is an entry of the log and cannot be taken back, so the dialog names the suggestion
and waits for Enter; a digit picks one of several. Suggestions already marked are listed as
such and cannot be marked twice (the service refuses too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hsm_console.display import one_line
from hsm_console.gui.plain_text import set_plain
from hsm_console.rules.screening import Suggestion
from hsm_console.services.suggestions import WrongMark

CODE_ROLE = Qt.ItemDataRole.UserRole + 1


class WrongSuggestionDialog(QDialog):
    def __init__(
        self,
        suggestions: Sequence[Suggestion],
        marks: Sequence[WrongMark],
        code_names: Mapping[str, str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("wrongSuggestionDialog")
        self.setWindowTitle("Mark a suggestion wrong")
        marked = {mark.code: mark for mark in reversed(marks)}
        layout = QVBoxLayout(self)
        intro = QLabel(self)
        set_plain(
            intro,
            "Which of screening's suggestions is wrong for this comment? The mark is recorded "
            "in the log with your name, so screening's precision can be measured from real "
            "use; it changes nothing on the comment.",
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.list = QListWidget(self)
        self.list.setAccessibleName("Suggestions")
        self.list.installEventFilter(self)
        number = 0
        for suggestion in suggestions:
            name = code_names.get(suggestion.code, "")
            what = f"{suggestion.code} ({name})" if name else suggestion.code
            mark = marked.get(suggestion.code)
            if mark is None:
                number += 1
                text = f"{number}   {what}: {one_line(suggestion.why, 200)}"
            else:
                text = f"     {what}: already marked wrong by {mark.actor}"
            item = QListWidgetItem(text, self.list)
            item.setData(CODE_ROLE, suggestion.code)
            if mark is not None:
                item.setFlags(Qt.ItemFlag.NoItemFlags)
        layout.addWidget(self.list)
        note_label = QLabel("&Why (optional):", self)
        self.note = QLineEdit(self)
        self.note.setAccessibleName("Why the suggestion is wrong")
        note_label.setBuddy(self.note)
        layout.addWidget(note_label)
        layout.addWidget(self.note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        self.ok_button: QPushButton = ok
        self.ok_button.setText("Mark wrong")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._open = [self.list.item(r) for r in range(self.list.count())
                      if self.list.item(r).flags() != Qt.ItemFlag.NoItemFlags]  # fmt: skip
        self.list.itemSelectionChanged.connect(self._update)
        if len(self._open) == 1:
            self.list.setCurrentItem(self._open[0])  # the only one: the key that opened this
        self.list.setFocus()
        self.resize(520, 320)
        self._update()

    def chosen(self) -> str | None:
        # The selection, not the current item: the list makes its first item current when
        # it takes the focus, which is no choice of the person's.
        items = [item for item in self.list.selectedItems() if item in self._open]
        return str(items[0].data(CODE_ROLE)) if items else None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # A digit picks the suggestion of that number.
        if watched is self.list and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            text = event.text()
            if text.isdigit() and 1 <= int(text) <= len(self._open):
                self.list.setCurrentItem(self._open[int(text) - 1])
                return True
        return super().eventFilter(watched, event)

    def accept(self) -> None:
        if self.chosen() is not None:
            super().accept()

    def _update(self) -> None:
        self.ok_button.setEnabled(self.chosen() is not None)
