"""What the Windows build makes before PyInstaller runs: the .ico and the version resource.

Both come from what the repository already holds (the SVG icon, `hsm_console.__version__`),
so neither is committed twice. Used by build_installer.spec; runs on any OS.
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from hsm_console import __version__

ROOT = Path(__file__).resolve().parents[1]
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)  # what Explorer, the taskbar and Start ask for
COMPANY = "City of Highland"
PRODUCT = "HSM Console"


def make_icon(svg: Path, target: Path) -> Path:
    """A multi-size Windows icon drawn from the SVG at 256 pixels."""
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not an SVG that Qt can draw")
    image = QImage(256, 256, QImage.Format.Format_RGBA8888)
    image.fill(0)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    drawn = Image.frombytes("RGBA", (256, 256), bytes(image.constBits()))
    drawn.save(target, format="ICO", sizes=[(size, size) for size in ICON_SIZES])
    return target


def version_numbers(version: str) -> tuple[int, int, int, int]:
    """Windows wants four numbers: '1.2.3rc1' -> (1, 2, 3, 0)."""
    found = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?", version)
    if found is None:
        raise ValueError(f"{version!r} does not start with a version number")
    numbers = [int(part or 0) for part in found.groups()]
    return numbers[0], numbers[1], numbers[2], numbers[3]


def version_info(version: str) -> str:
    """PyInstaller's version-file text (a VSVersionInfo expression) for hsm-console.exe."""
    numbers = version_numbers(version)
    strings = {
        "CompanyName": COMPANY,
        "FileDescription": f"{PRODUCT}: social media moderation, record first",
        "FileVersion": version,
        "InternalName": "hsm-console",
        "LegalCopyright": f"(c) {COMPANY}",
        "OriginalFilename": "hsm-console.exe",
        "ProductName": PRODUCT,
        "ProductVersion": version,
    }
    entries = ",\n          ".join(f"StringStruct({k!r}, {v!r})" for k, v in strings.items())
    return f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={numbers}, prodvers={numbers}, mask=0x3f, flags=0x0,
                    OS=0x40004, fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([StringTable('040904B0', [
          {entries}])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def write_assets(folder: Path) -> tuple[Path, Path]:
    """The icon and the version file in `folder` (PyInstaller's work folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    icon = make_icon(ROOT / "resources" / "icons" / "hsm-console.svg", folder / "hsm-console.ico")
    version_file = folder / "version_info.txt"
    version_file.write_text(version_info(__version__), encoding="utf-8")
    return icon, version_file
