"""Icons: glyphs for actions and platforms drawn from the SVGs in resources/icons/glyphs/ (vector,
so sharp at any DPI), the application icon from resources/icons/.

The glyphs were drawn by qtawesome from icon fonts until session 19: loading it and its fonts
cost the start about 0.3 s of CPU, these SVGs a few milliseconds (resources/icons/glyphs/
README.md says where they come from).
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from hsm_console.host.resources import resource_path
from hsm_console.rules.domain import Platform

# Platform glyphs and brand colours; None takes the text colour (black brands vanish in
# dark mode).
_PLATFORMS: dict[str, tuple[str, str | None]] = {
    "facebook": ("facebook", "#1877f2"),
    "instagram": ("instagram", "#c13584"),
    "x": ("x", None),
    "youtube": ("youtube", "#ff0000"),
    "tiktok": ("tiktok", None),
    "linkedin": ("linkedin", "#0a66c2"),
    "wordpress": ("wordpress", "#21759b"),
    "discourse": ("discourse", None),
}
_UNKNOWN_PLATFORM = "globe"


def platform_name(platform: str) -> str:
    """The name as the platform spells it; an unknown platform as stored."""
    try:
        return Platform(platform).label
    except ValueError:
        return platform


def _text_colour() -> QColor:
    return QGuiApplication.palette().color(QPalette.ColorRole.WindowText)


@cache
def _svg(name: str) -> str:
    """A glyph's SVG text, its colour `currentColor`; read once."""
    return resource_path("icons", "glyphs", f"{name}.svg").read_text(encoding="utf-8")


class _GlyphEngine(QIconEngine):
    """One glyph in one colour (another when disabled), drawn by Qt's SVG renderer at the
    size and device pixel ratio asked for, each drawing kept."""

    def __init__(self, name: str, colour: QColor, disabled: QColor) -> None:
        super().__init__()
        self._name = name
        self._colours = (colour, disabled)
        self._renderers: dict[bool, QSvgRenderer] = {}
        self._drawn: dict[tuple[int, int, float, bool], QPixmap] = {}

    def _renderer(self, mode: QIcon.Mode) -> QSvgRenderer:
        disabled = mode == QIcon.Mode.Disabled
        renderer = self._renderers.get(disabled)
        if renderer is None:
            colour = self._colours[disabled]  # SVG colours have no alpha: an opacity
            fill = f'fill="{colour.name()}" fill-opacity="{colour.alphaF():.3f}"'
            svg = _svg(self._name).replace('fill="currentColor"', fill)
            renderer = self._renderers[disabled] = QSvgRenderer(QByteArray(svg.encode()))
        return renderer

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        self._renderer(mode).render(painter, QRectF(rect))

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        key = (size.width(), size.height(), scale, mode == QIcon.Mode.Disabled)
        drawn = self._drawn.get(key)
        if drawn is None:
            drawn = QPixmap(round(size.width() * scale), round(size.height() * scale))
            drawn.fill(Qt.GlobalColor.transparent)
            painter = QPainter(drawn)
            self._renderer(mode).render(painter, QRectF(drawn.rect()))
            painter.end()
            drawn.setDevicePixelRatio(scale)
            self._drawn[key] = drawn
        return drawn

    def clone(self) -> QIconEngine:
        return _GlyphEngine(self._name, *self._colours)


def glyph(name: str, colour: QColor | str | None = None) -> QIcon:
    """A glyph of resources/icons/glyphs/ in the palette's text colour (greyed when
    disabled)."""
    palette = QGuiApplication.palette()
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    return QIcon(_GlyphEngine(name, QColor(colour or _text_colour()), disabled))


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
