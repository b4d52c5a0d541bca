"""Where the shipped data files are, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # hsm_console/


def resource_path(*parts: str) -> Path:
    """A file under `resources/`: `hsm_console/_resources` in a wheel or bundle, else the repo's."""
    installed = _PACKAGE / "_resources"
    base = installed if installed.is_dir() else _PACKAGE.parent / "resources"
    return base.joinpath(*parts)
