"""The window's own settings (size, splitters, auto-sync), kept with QSettings.

Typed, with defaults and a version for future upgrades; injected into the window, so tests
pass a QSettings of their own.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "City of Highland"
APPLICATION = "HSM Console"
VERSION = 1
AUTO_SYNC_CHOICES = (0, 5, 15, 30, 60)  # minutes; 0 is off
DEFAULT_AUTO_SYNC = 15


class GuiSettings:
    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else QSettings(ORGANISATION, APPLICATION)
        if self._int("version", 0) < VERSION:
            # Version 1 is the first; later versions convert older values here.
            self.store.setValue("version", VERSION)

    def _int(self, key: str, default: int) -> int:
        value = self.store.value(key, default)
        try:
            return int(str(value))
        except ValueError:
            return default

    def _bytes(self, key: str) -> QByteArray | None:
        value = self.store.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    def window_state(self) -> QByteArray | None:
        return self._bytes("window/state")

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.store.setValue("window/geometry", geometry)
        self.store.setValue("window/state", state)

    def splitter(self, name: str) -> QByteArray | None:
        return self._bytes(f"splitters/{name}")

    def save_splitter(self, name: str, state: QByteArray) -> None:
        self.store.setValue(f"splitters/{name}", state)

    def header(self, name: str) -> QByteArray | None:
        return self._bytes(f"headers/{name}")

    def save_header(self, name: str, state: QByteArray) -> None:
        self.store.setValue(f"headers/{name}", state)

    @property
    def auto_sync_minutes(self) -> int:
        minutes = self._int("sync/auto_minutes", DEFAULT_AUTO_SYNC)
        return minutes if minutes in AUTO_SYNC_CHOICES else DEFAULT_AUTO_SYNC

    @auto_sync_minutes.setter
    def auto_sync_minutes(self, minutes: int) -> None:
        if minutes not in AUTO_SYNC_CHOICES:
            raise ValueError(f"auto-sync every {minutes} minutes is not offered")
        self.store.setValue("sync/auto_minutes", minutes)

    def sync(self) -> None:
        self.store.sync()
