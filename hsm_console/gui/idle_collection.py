"""Python's full garbage collections made while the window is at rest (`IdleCollection`).

`gc.freeze` at start (gui/start.py) leaves the collector what was made since: by the time a
person has opened the Log tab and scrolled, some 30,000 objects, and a full collection
walks them all, 10-25 ms of the GUI thread at once. Python starts one when its allocation
counts say so, which is anywhere, mid-scroll included: it was the longest frame of the
queue's scroll in the benchmark. Here the young generations are still collected as Python
decides (a millisecond or two), and a full collection, once Python would have made one,
waits until the GUI thread has been nearly idle for `QUIET_CHECKS` looks in a row (no
scrolling, no typing: a person reading), and runs on the GUI thread. A window that is
never at rest still gets one every `LONGEST_S`.

Rest is read from the GUI thread's own CPU time, not from input events: an event filter on
the application, in Python, cost 15 ms each time a tab was built (a call per event of every
widget).
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

LOOK_MS = 500
BUSY_SHARE = 0.1  # the GUI thread's CPU over a look above which it is at work (scrolling: 0.3)
QUIET_CHECKS = 3
LONGEST_S = 120.0
_NEVER = 2**31 - 1  # the full generation's threshold: Python never starts one itself


class IdleCollection(QObject):
    """Made by `run_gui` once the window is up; `stop` gives Python its own schedule back."""

    def __init__(self, parent: QObject, look_ms: int = LOOK_MS) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._busy_s = look_ms / 1000 * BUSY_SHARE
        self._cpu = time.thread_time()
        self._quiet = 0
        self._last = time.monotonic()
        self._timer = QTimer(self)
        self._timer.setInterval(look_ms)
        self._timer.timeout.connect(self._look)
        gc.set_threshold(self._thresholds[0], self._thresholds[1], _NEVER)
        self._timer.start()

    def _look(self) -> None:
        cpu = time.thread_time()  # the GUI thread's: the timer fires there
        self._quiet = 0 if cpu - self._cpu > self._busy_s else self._quiet + 1
        self._cpu = cpu
        # Python's own rule for when a full collection is due: its threshold of young ones.
        due = gc.get_count()[2] >= self._thresholds[2]
        if due and (self._quiet >= QUIET_CHECKS or time.monotonic() - self._last > LONGEST_S):
            self.collect()

    def collect(self) -> None:
        gc.collect()
        self._last = time.monotonic()
        self._cpu = time.thread_time()  # the collection is not the person's work

    def stop(self) -> None:
        self._timer.stop()
        gc.set_threshold(*self._thresholds)
