"""Look and feel: the Fusion style, a light or dark palette following the system, the
style sheet from resources/styles/ on the few widgets it styles."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from hsm_console.host.resources import resource_path

STYLE_SHEET = ("styles", "console.qss")


def apply_appearance(app: QApplication) -> None:
    """Style the application now and again whenever the system switches light/dark."""
    app.setStyle("Fusion")
    use_palette(app, dark=system_is_dark())
    app.styleHints().colorSchemeChanged.connect(lambda _: use_palette(app, dark=system_is_dark()))


def system_is_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def use_palette(app: QApplication, *, dark: bool) -> None:
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    # Setting a style sheet again repolishes its widgets: with a style sheet in force,
    # widgets keep the colours they were polished with otherwise.
    for widget in app.allWidgets():
        if sheet := widget.styleSheet():
            widget.setStyleSheet(sheet)


def use_style_sheet(widget: QWidget) -> None:
    """The console's style sheet on `widget` and its children. Only the widgets it styles get
    it, never the application: a style sheet puts every widget under it through Qt's style
    sheet style, whose rules are matched again for every cell an item view paints (a screen of
    the queue took a quarter more CPU to paint)."""
    widget.setStyleSheet(_style_sheet())


@cache
def _style_sheet() -> str:
    return resource_path(*STYLE_SHEET).read_text(encoding="utf-8")


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2d30",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f2023",
        QPalette.ColorRole.AlternateBase: "#27292c",
        QPalette.ColorRole.ToolTipBase: "#3a3d41",
        QPalette.ColorRole.ToolTipText: "#f0f0f0",
        QPalette.ColorRole.PlaceholderText: "#9a9a9a",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#35373b",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Link: "#6cb4ff",
        QPalette.ColorRole.Highlight: "#2f6fb3",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Mid: "#4a4d52",
        QPalette.ColorRole.Dark: "#202124",
        QPalette.ColorRole.Light: "#4a4d52",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#808080"))
    return palette
