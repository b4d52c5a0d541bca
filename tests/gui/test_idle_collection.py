"""Full garbage collections wait until the GUI thread is at rest (gui/idle_collection.py)."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot

from hsm_console.gui import idle_collection
from hsm_console.gui.idle_collection import IdleCollection

pytestmark = pytest.mark.gui

LOOK_MS = 20
YOUNG_BEFORE_FULL = gc.get_threshold()[2]  # Python's own, read before any test changes it


@pytest.fixture
def full_collections() -> Iterator[list[float]]:
    """When each full collection began (time.monotonic), as the collector reports them."""
    began: list[float] = []

    def seen(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2:
            began.append(time.monotonic())

    gc.callbacks.append(seen)
    yield began
    gc.callbacks.remove(seen)


def make_due() -> None:
    """As many young collections as Python counts before it would make a full one."""
    for _ in range(YOUNG_BEFORE_FULL + 1):
        gc.collect(1)


def busy_for(seconds: float) -> None:
    """The GUI thread at work (events handled between bursts), as while scrolling."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        burst = time.thread_time() + 0.003
        while time.thread_time() < burst:
            pass


def test_python_makes_no_full_collection_itself_and_gets_its_schedule_back(
    qapp: QCoreApplication,
) -> None:
    before = gc.get_threshold()
    collection = IdleCollection(qapp, LOOK_MS)
    try:
        assert gc.get_threshold()[:2] == before[:2]
        assert gc.get_threshold()[2] > 10**9
    finally:
        collection.stop()
    assert gc.get_threshold() == before


def test_a_full_collection_waits_for_rest(
    qtbot: QtBot, qapp: QCoreApplication, full_collections: list[float]
) -> None:
    collection = IdleCollection(qapp, LOOK_MS)
    try:
        make_due()
        full_collections.clear()
        busy_for(0.5)  # 25 looks, all of them at work
        rested = time.monotonic()
        assert full_collections == []
        qtbot.waitUntil(lambda: bool(full_collections), timeout=5000)
        assert full_collections[0] >= rested
        assert gc.get_count()[2] == 0  # done, not due again
    finally:
        collection.stop()


def test_nothing_collected_at_rest_until_python_would_have(
    qtbot: QtBot, qapp: QCoreApplication, full_collections: list[float]
) -> None:
    collection = IdleCollection(qapp, LOOK_MS)
    try:
        gc.collect()  # nothing due
        full_collections.clear()
        qtbot.wait(10 * LOOK_MS)
        assert full_collections == []
        make_due()
        qtbot.waitUntil(lambda: bool(full_collections), timeout=5000)
    finally:
        collection.stop()


def test_a_window_never_at_rest_still_gets_one(
    qapp: QCoreApplication, full_collections: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idle_collection, "LONGEST_S", 0.3)
    collection = IdleCollection(qapp, LOOK_MS)
    try:
        make_due()
        full_collections.clear()
        busy_for(1.0)
        assert len(full_collections) == 1
    finally:
        collection.stop()
