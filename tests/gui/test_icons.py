"""The window's glyphs, drawn from resources/icons/glyphs/: every one the console names exists
and draws in the colour asked for, greyed when disabled, at the size and pixel ratio asked."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QIcon, QImage
from PySide6.QtWidgets import QApplication

from hsm_console.gui.actions import SPECS
from hsm_console.gui.icons import _PLATFORMS, drawn_once, glyph, platform_icon
from hsm_console.rules.domain import Platform

NAMED_ELSEWHERE = ("warning", "copy", "plug", "eye", "globe")  # problems, admin, the queue


def inked(image: QImage) -> list[QColor]:
    """The colours of the pixels drawn fully (the glyph's inside, not its smoothed edge)."""
    found = []
    for y in range(image.height()):
        for x in range(image.width()):
            colour = image.pixelColor(x, y)
            if colour.alpha() == 255:
                found.append(colour)
    return found


@pytest.mark.parametrize(
    "name", sorted({spec.icon for spec in SPECS.values()} | set(NAMED_ELSEWHERE))
)
def test_each_glyph_draws_in_the_colour_asked_and_greys_when_disabled(
    qapp: QApplication, name: str
) -> None:
    icon = glyph(name, "#1877f2")
    normal = inked(icon.pixmap(QSize(32, 32)).toImage())
    assert len(normal) > 40  # a glyph, not an empty or missing picture
    assert {colour.name() for colour in normal} == {"#1877f2"}
    disabled = inked(icon.pixmap(QSize(32, 32), QIcon.Mode.Disabled).toImage())
    assert disabled
    assert "#1877f2" not in {colour.name() for colour in disabled}


def test_every_platform_has_its_glyph_and_an_unknown_one_a_globe(qapp: QApplication) -> None:
    assert set(_PLATFORMS) == {platform.value for platform in Platform}
    for platform, (_, colour) in _PLATFORMS.items():
        drawn = inked(platform_icon(platform).pixmap(QSize(24, 24)).toImage())
        assert drawn, platform
        if colour is not None:
            assert {c.name() for c in drawn} == {colour}, platform
    globe = platform_icon("myspace").pixmap(QSize(24, 24)).toImage()
    assert globe == glyph("globe").pixmap(QSize(24, 24)).toImage()


@pytest.mark.parametrize("once", [False, True], ids=["glyph", "drawn once"])
def test_a_glyph_is_sharp_at_twice_the_pixels(qapp: QApplication, once: bool) -> None:
    """For high-DPI screens: drawn at the ratio asked, not a small picture scaled up."""
    icon = drawn_once(glyph("flag"), 16) if once else glyph("flag")
    large = icon.pixmap(QSize(16, 16), 2.0)
    assert large.width() == 32
    small = icon.pixmap(QSize(16, 16), 1.0)
    assert small.width() == 16
    assert len(inked(large.toImage())) > 3 * len(inked(small.toImage()))
