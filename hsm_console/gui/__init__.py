"""The Qt window of HSM Console. Widgets call services; services know nothing of Qt."""

from __future__ import annotations

from hsm_console.gui.start import run_gui

__all__ = ["run_gui"]
