"""The real window in a fresh process (offscreen): start-up to a usable queue, the Log tab,
peak resident memory, and frame times while scrolling the queue.

The parent starts `python -m benchmarks.window URL` (on one core where `taskset` exists) and
reads the lines this prints: `READY cpu_ms`, `LOG ms`, `RSS now_mb peak_mb`, `FRAMES ...`.
The child imports nothing of the benchmark's own (its measuring of services, its generator)
before the window is usable, so start-up is the program's as `hsm-console` starts it.
"""

from __future__ import annotations

import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.measure import Runner


ROOT = Path(__file__).resolve().parent.parent
SCROLL_STEPS = 400  # a screenful each: about 10,000 comments
FRAME_S = 1 / 60  # scroll steps come no faster than a 60 Hz screen shows them


@dataclass
class WindowFigures:
    start_ms: float | None = None
    start_cpu_ms: float | None = None
    log_ms: float | None = None
    rss_mb: float | None = None
    peak_mb: float | None = None
    longest_frame_ms: float | None = None
    p95_frame_ms: float | None = None
    frame_cpu_ms: float | None = None  # the GUI thread's CPU per scroll step: median
    longest_frame_cpu_ms: float | None = None
    unread_steps: int = 0  # scroll steps that showed rows not read yet
    frames: int = 0
    rows_scrolled: int = 0
    problem: str = ""


def add_figures(runner: Runner, url: str, steps: int = SCROLL_STEPS, runs: int = 3) -> None:
    """The window's figures, each run in a fresh process, added to `runner`'s. As every
    figure of the benchmark: a first (cold) run, then `runs` more, whose median start and Log
    tab are the figures (one start is one sample of a noisy machine: 1.0 to 1.7 s for the same
    code within minutes here). Frames count over every warm run: the longest of them all."""
    from benchmarks.measure import Figure

    cold = measure(url, steps)
    warm = [measure(url, steps) for _ in range(runs)] if not cold.problem else []
    where = runner.where
    problem = next((found.problem for found in [cold, *warm] if found.problem), "")
    if problem:
        runner.add(
            Figure("window", "start to a usable window", where, None, "ms", 1500.0,
                   note=problem[:200])
        )  # fmt: skip
        return

    def median(values: list[float | None]) -> float:
        return statistics.median(v for v in values if v is not None)

    starts = [found.start_ms for found in warm]
    runner.add(
        Figure(
            "window",
            "start to a usable window (new process, one core)",
            where,
            median(starts),
            "ms",
            1500.0,
            cpu=median([found.start_cpu_ms for found in warm]),
            note=f"cold {cold.start_ms:.0f} ms; runs " + ", ".join(f"{s:.0f}" for s in starts if s),
        )
    )
    runner.add(
        Figure("window", "Log tab first shown", where, median([f.log_ms for f in warm]), "ms",
               100.0)
    )  # fmt: skip
    peaks = [found.peak_mb or 0.0 for found in [cold, *warm]]
    runner.add(
        Figure(
            "window",
            "peak resident memory, queue and log open",
            where,
            max(peaks),
            "MB",
            300.0,
            note=f"the largest peak of {len(peaks)} runs",
        )
    )
    longest = max(warm, key=lambda found: found.longest_frame_ms or 0.0)
    runner.add(
        Figure(
            "window",
            f"longest frame scrolling the queue ({longest.rows_scrolled:,} rows)",
            where,
            longest.longest_frame_ms,
            "ms",
            16.0,
            cpu=longest.longest_frame_cpu_ms,
            note=(
                f"the longest of {sum(f.frames for f in warm)} frames in {len(warm)} runs; "
                f"p95 {median([f.p95_frame_ms for f in warm]):.1f} ms (median of the runs); "
                f"GUI thread CPU a step: median {median([f.frame_cpu_ms for f in warm]):.1f} ms; "
                f"{sum(f.unread_steps for f in warm)} steps showed rows not read yet"
            ),
        )
    )


def measure(url: str, steps: int = SCROLL_STEPS) -> WindowFigures:
    """Starts the child and reads its figures; start-up is timed here, from the spawn.

    The program's bytecode is written first, as an installed program has it (PyInstaller's
    bundle, pip's install): where PYTHONDONTWRITEBYTECODE is set (as in this project's containers) a
    checkout's sources were compiled again at every start, 0.15-0.3 s of CPU no user waits for.
    """
    compileall.compile_dir(ROOT / "hsm_console", quiet=1)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-m", "benchmarks.window", url, "--steps", str(steps)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]  # start-up's target is on one core
    figures = WindowFigures()
    started = time.perf_counter()
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as errors,
        subprocess.Popen(  # noqa: S603 - this package, with the same interpreter
            command, stdout=subprocess.PIPE, stderr=errors, text=True, env=env, cwd=ROOT
        ) as child,
    ):
        assert child.stdout is not None
        for line in child.stdout:  # line by line, so READY is timed when it arrives
            _read(line.split(), figures, started)
        child.wait(timeout=600)
        if child.returncode or figures.start_ms is None:
            errors.seek(0)
            said = errors.read()[-500:]
            figures.problem = f"the window process ended with {child.returncode}: {said}"
    return figures


def _read(words: list[str], figures: WindowFigures, started: float) -> None:
    if not words:
        return
    if words[0] == "READY":
        figures.start_ms = (time.perf_counter() - started) * 1000
        figures.start_cpu_ms = float(words[1])
    elif words[0] == "LOG":
        figures.log_ms = float(words[1])
    elif words[0] == "RSS":
        figures.rss_mb, figures.peak_mb = float(words[1]), float(words[2])
    elif words[0] == "FRAMES":
        figures.longest_frame_ms, figures.p95_frame_ms = float(words[1]), float(words[2])
        figures.frames, figures.rows_scrolled = int(words[3]), int(words[4])
        figures.frame_cpu_ms, figures.longest_frame_cpu_ms = float(words[5]), float(words[6])
        figures.unread_steps = int(words[7])


def child(url: str, steps: int) -> int:
    """In the child: open the console as `hsm-console --database URL` does."""
    import hsm_console.gui  # noqa: F401  (first, as `hsm-console` imports it: see its __init__)

    # isort: split
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from hsm_console.gui.idle_collection import IdleCollection
    from hsm_console.gui.settings import GuiSettings
    from hsm_console.gui.start import qt_application, settle_after_start, start_console

    application = qt_application()

    def wait_until(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 300
        while not condition() and time.monotonic() < deadline:
            application.processEvents()
            time.sleep(0.001)
        if not condition():
            raise RuntimeError("the window did not get there within 300 s")

    with tempfile.TemporaryDirectory() as folder:
        settings = GuiSettings(QSettings(str(Path(folder) / "gui.ini"), QSettings.Format.IniFormat))
        settings.auto_sync_minutes = 0
        settle_after_start()  # as run_gui does, before the window and after it
        console = start_console(url, False, settings)
        settle_after_start()
        collection = IdleCollection(application)  # as run_gui does
        window = console.window
        wait_until(lambda: window.model.rowCount() > 0 and window.detail.comment_id is not None)
        print(f"READY {time.process_time() * 1000:.1f}", flush=True)
        # The Log tab and scrolling are measured on their own: the start's readings (the
        # queue's counts, the bands, the sign-in state) done first, as they are a few seconds
        # after the window opens.
        wait_until(lambda: not window.runner.busy() and not window.background.busy())
        tabs = window.pages.tabBar() if window.pages is not None else None
        titles = [tabs.tabText(i).replace("&", "") for i in range(tabs.count())] if tabs else []
        if tabs is None or "Log" not in titles:
            raise RuntimeError("the person opens no Log tab: grant the supervisor role")
        where = tabs.tabRect(titles.index("Log")).center()
        started = time.perf_counter()
        # A click on the tab, as a person opens it: the tab is built on its first showing.
        QTest.mouseClick(tabs, Qt.MouseButton.LeftButton, pos=where)
        log = window.log_screen
        wait_until(lambda: log is not None and log.model.rowCount() > 0)
        print(f"LOG {(time.perf_counter() - started) * 1000:.1f}", flush=True)
        window.pages.setCurrentIndex(0)
        wait_until(lambda: not window.runner.busy() and not window.background.busy())
        frames = scroll(window, wait_until, steps)
        rows = window.table.rowAt(0)  # the first row on screen at the end
        print(frames.line(rows), flush=True)
        now, peak = resident_mb()
        print(f"RSS {now:.1f} {peak:.1f}", flush=True)
        collection.stop()
        console.close()
        QApplication.processEvents()
    return 0


def scroll(window: Any, wait_until: Callable[[Callable[[], bool]], None], steps: int) -> Frames:
    """A screenful down at a time, as a person turning the mouse wheel fast does (a wheel
    event, through the window's own handling of it): a step due every `FRAME_S` (a
    screen's refresh), each a frame timed from when it was due to the end of the
    viewport's paint (the scroll, the events it causes, one paint): work between steps
    that overruns makes the next step late, and that counts, as a person's next scroll
    would wait for it (but no later than the step before began: late steps merge, as the
    wheel's events do). A paint between steps (rows arriving) is a frame too, timed as its
    paint. At the end of what is loaded, the wait for the next page is not a frame."""
    from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    table, model = window.table, window.model
    bar, viewport = table.verticalScrollBar(), table.viewport()
    middle = QPointF(viewport.width() / 2, viewport.height() / 2)

    def wheel(notches: int) -> QWheelEvent:
        return QWheelEvent(
            middle, viewport.mapToGlobal(middle), QPoint(), QPoint(0, -120 * notches),
            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase, False,
        )  # fmt: skip

    class PaintClock(QObject):
        """Paints the viewport itself (ahead of the view's own filter), so the time after
        it is the paint's end; keeps each paint's duration."""

        def __init__(self) -> None:
            super().__init__()
            self.ended = 0.0
            self.durations: list[float] = []

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() != QEvent.Type.Paint:
                return False
            began = time.perf_counter()
            table.viewportEvent(event)
            self.ended = time.perf_counter()
            self.durations.append((self.ended - began) * 1000)
            return True

    clock = PaintClock()
    table.viewport().installEventFilter(clock)
    found = Frames()
    try:
        due = time.perf_counter()
        for _ in range(steps):
            clock.durations.clear()
            began, cpu = time.perf_counter(), time.thread_time()
            # The wheel turned a screenful's worth (Qt scrolls a wheel event a page at most):
            # input, as the window's idle-time collector (gui/idle_collection.py) sees it.
            notches = -(-max(1, bar.pageStep()) // QApplication.wheelScrollLines())
            QApplication.sendEvent(viewport, wheel(notches))
            wait_until(lambda: bool(clock.durations))
            found.cpu_ms.append((time.thread_time() - cpu) * 1000)  # the GUI thread's
            found.scrolled_ms.append((clock.ended - due) * 1000)
            found.repaint_ms.extend(clock.durations[1:])
            clock.durations.clear()
            shown = range(table.rowAt(0), table.rowAt(table.viewport().height() - 1) + 1)
            found.unread += any(not model.is_loaded(row) for row in shown)
            # Steps a busy window could not take in time are one step, as scroll events are
            # (the bar's moves merge): one late step waits for the step before, not for all.
            due = max(due + FRAME_S, began)
            while (left := due - time.perf_counter()) > 0:
                QApplication.processEvents()
                if left > 0.002:  # a sleep may overshoot: not in the last two milliseconds
                    time.sleep(0.001)
            found.repaint_ms.extend(clock.durations)
            rows = model.rowCount()
            if bar.value() >= bar.maximum() and model._has_more:  # the view asked for a page
                model.fetchMore(QModelIndex())
                wait_until(partial(_grown, model, rows))
                QApplication.processEvents()
                due = time.perf_counter()
    finally:
        table.viewport().removeEventFilter(clock)
    return found


@dataclass
class Frames:
    scrolled_ms: list[float] = field(default_factory=list)  # step to the paint's end
    repaint_ms: list[float] = field(default_factory=list)  # other paints (rows arriving)
    cpu_ms: list[float] = field(default_factory=list)  # the GUI thread's, per step
    unread: int = 0  # steps that showed rows not read yet ("Loading…")

    def line(self, rows: int) -> str:
        """The FRAMES line the parent reads."""
        every = self.scrolled_ms + self.repaint_ms
        return (
            f"FRAMES {max(every):.2f} {statistics.quantiles(every, n=20)[-1]:.2f} "
            f"{len(every)} {rows} {statistics.median(self.cpu_ms):.2f} "
            f"{max(self.cpu_ms):.2f} {self.unread}"
        )


def _grown(model: Any, rows: int) -> bool:
    return bool(model.rowCount() > rows or not model._has_more)


def resident_mb() -> tuple[float, float]:
    """(resident now, peak resident) in MB, from /proc (Linux)."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                found[line.split(":")[0]] = int(line.split()[1]) / 1024
    return found.get("VmRSS", 0.0), found.get("VmHWM", 0.0)


if __name__ == "__main__":  # the child, started by `measure`
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.window")
    parser.add_argument("url")
    parser.add_argument("--steps", type=int, default=SCROLL_STEPS)
    arguments = parser.parse_args()
    raise SystemExit(child(arguments.url, arguments.steps))
