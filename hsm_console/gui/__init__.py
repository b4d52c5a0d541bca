"""The Qt window of HSM Console. Widgets call services; services know nothing of Qt."""

from __future__ import annotations

# The program under the window first: once PySide6 is loaded, it reads the source of every
# module imported after it (to find whether it uses PySide6's `__feature__` switches),
# 0.15 s of the window's start for the few hundred modules of the services, SQLAlchemy and
# the database.
import hsm_console.app  # noqa: F401
from hsm_console.gui.start import run_gui

__all__ = ["run_gui"]
