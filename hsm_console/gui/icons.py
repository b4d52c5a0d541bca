"""Icons: qtawesome glyphs for actions and platforms (vector, so sharp at any DPI), the
application icon from resources/icons/."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette

from hsm_console.host.resources import resource_path
from hsm_console.rules.domain import Platform

# Platform glyphs and brand colours; None takes the text colour (black brands vanish in
# dark mode).
_PLATFORMS: dict[str, tuple[str, str | None]] = {
    "facebook": ("fa5b.facebook", "#1877f2"),
    "instagram": ("fa5b.instagram", "#c13584"),
    "x": ("fa6b.x-twitter", None),
    "youtube": ("fa5b.youtube", "#ff0000"),
    "tiktok": ("fa5b.tiktok", None),
    "linkedin": ("fa5b.linkedin", "#0a66c2"),
    "wordpress": ("fa5b.wordpress", "#21759b"),
    "discourse": ("fa5b.discourse", None),
}
_UNKNOWN_PLATFORM = "fa5s.globe"


def platform_name(platform: str) -> str:
    """The name as the platform spells it; an unknown platform as stored."""
    try:
        return Platform(platform).label
    except ValueError:
        return platform


def _text_colour() -> QColor:
    return QGuiApplication.palette().color(QPalette.ColorRole.WindowText)


def glyph(name: str, colour: QColor | str | None = None) -> QIcon:
    """A qtawesome glyph in the palette's text colour (greyed when disabled)."""
    palette = QGuiApplication.palette()
    icon: QIcon = qta.icon(
        name,
        color=colour or _text_colour(),
        color_disabled=palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText),
    )
    return icon


def platform_icon(platform: str) -> QIcon:
    name, colour = _PLATFORMS.get(platform, (_UNKNOWN_PLATFORM, None))
    return glyph(name, colour)


def drawn_once(icon: QIcon, size: int = 16) -> QIcon:
    """`icon` drawn now into pixmaps (its size, and twice it for high-DPI screens): a glyph
    paints itself in Python every time, a pixmap icon in Qt alone (a table paints one per
    row per frame)."""
    drawn = QIcon()
    for pixels in (size, 2 * size):
        for mode in (QIcon.Mode.Normal, QIcon.Mode.Disabled, QIcon.Mode.Selected):
            drawn.addPixmap(icon.pixmap(QSize(pixels, pixels), mode), mode)
    return drawn


def app_icon() -> QIcon:
    return QIcon(str(resource_path("icons", "hsm-console.svg")))
