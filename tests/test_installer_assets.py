"""The Windows build's icon and version resource, made and read back on any OS."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from hsm_console import __version__
from scripts import installer_assets as assets


def test_the_icon_and_version_file_come_from_the_repository(tmp_path: Path) -> None:
    icon, version_file = assets.write_assets(tmp_path / "work folder é")
    with Image.open(icon) as image:
        assert image.format == "ICO"
        assert {(16, 16), (32, 32), (256, 256)} <= image.info["sizes"]
        image.size = (256, 256)  # type: ignore[misc]
        middle = image.convert("RGBA").getpixel((20, 128))
        assert middle == (0x1F, 0x4E, 0x8C, 255)  # the SVG's City blue, not a blank square
    text = version_file.read_text(encoding="utf-8")
    assert f"StringStruct('ProductVersion', '{__version__}')" in text
    assert f"filevers={assets.version_numbers(__version__)}" in text
    # PyInstaller evaluates the file as these class calls: it must be one valid expression.
    names = ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable",
             "StringStruct", "VarFileInfo", "VarStruct")  # fmt: skip
    tree = eval(text, {name: (lambda *a, **k: (a, k)) for name in names})  # noqa: S307
    assert tree[1]["ffi"][1]["prodvers"] == assets.version_numbers(__version__)


@pytest.mark.parametrize(
    ("version", "numbers"),
    [("0.1.0", (0, 1, 0, 0)), ("1.2.3rc1", (1, 2, 3, 0)), ("2026.12", (2026, 12, 0, 0)),
     ("1.2.3.4", (1, 2, 3, 4))],
)  # fmt: skip
def test_windows_gets_four_version_numbers(version: str, numbers: tuple[int, ...]) -> None:
    assert assets.version_numbers(version) == numbers


def test_a_version_without_numbers_is_refused() -> None:
    with pytest.raises(ValueError, match="does not start with a version number"):
        assets.version_numbers("dev")
