"""A translucent overlay listing every keyboard shortcut; any key or click closes it."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from hsm_console.gui.appearance import use_style_sheet
from hsm_console.gui.plain_text import set_plain


class HelpOverlay(QWidget):
    def __init__(self, parent: QWidget, shortcuts: Sequence[tuple[str, str]]) -> None:
        super().__init__(parent)
        self.setObjectName("helpOverlay")
        self.setAccessibleName("Keyboard shortcuts")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        panel = QFrame(self)
        panel.setObjectName("helpPanel")
        use_style_sheet(panel)
        grid = QGridLayout()
        grid.setHorizontalSpacing(18)
        title = QLabel(panel)
        title.setObjectName("helpTitle")
        set_plain(title, "Keyboard shortcuts")
        self.key_labels: list[QLabel] = []
        for row, (keys, what) in enumerate(shortcuts):
            key_label = QLabel(panel)
            key_label.setObjectName("helpKey")
            set_plain(key_label, keys)
            what_label = QLabel(panel)
            set_plain(what_label, what)
            grid.addWidget(
                key_label, row, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop
            )
            grid.addWidget(what_label, row, 1)
            self.key_labels.append(key_label)
        footer = QLabel(panel)
        set_plain(footer, "Press any key or click to close.")
        inner = QVBoxLayout(panel)
        inner.addWidget(title)
        inner.addLayout(grid)
        inner.addWidget(footer)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(panel, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(1)
        parent.installEventFilter(self)
        self.hide()

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self.open()

    def open(self) -> None:
        parent = self.parentWidget()
        assert parent is not None
        self.setGeometry(parent.rect())
        self.show()
        self.raise_()
        self.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            parent = self.parentWidget()
            assert parent is not None
            self.setGeometry(parent.rect())
        return super().eventFilter(watched, event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0, 150))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self.hide()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.hide()
