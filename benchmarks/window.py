"""The real window in a fresh process (offscreen): start-up to a usable queue, the Log tab,
peak resident memory, and frame times while scrolling the queue.

The parent starts `python -m benchmarks.window URL` (on one core where `taskset` exists) and
reads the lines this prints: `READY cpu_ms`, `LOG ms`, `RSS now_mb peak_mb`, `FRAMES ...`.
The child imports nothing of the benchmark's own (its measuring of services, its generator)
before the window is usable, so start-up is the program's as `hsm-console` starts it.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.measure import Runner


ROOT = Path(__file__).resolve().parent.parent
SCROLL_STEPS = 400  # a screenful each: about 10,000 comments


@dataclass
class WindowFigures:
    start_ms: float | None = None
    start_cpu_ms: float | None = None
    log_ms: float | None = None
    rss_mb: float | None = None
    peak_mb: float | None = None
    longest_frame_ms: float | None = None
    p95_frame_ms: float | None = None
    frames: int = 0
    rows_scrolled: int = 0
    problem: str = ""


def add_figures(runner: Runner, url: str, steps: int = SCROLL_STEPS) -> None:
    """The window's figures, measured in a fresh process, added to `runner`'s."""
    from benchmarks.measure import Figure

    found = measure(url, steps)
    where = runner.where
    if found.problem:
        runner.add(
            Figure(
                "window",
                "start to a usable window",
                where,
                None,
                "ms",
                1500.0,
                note=found.problem[:200],
            )
        )
        return
    runner.add(
        Figure(
            "window",
            "start to a usable window (new process, one core)",
            where,
            found.start_ms,
            "ms",
            1500.0,
            cpu=found.start_cpu_ms,
        )
    )
    runner.add(Figure("window", "Log tab first shown", where, found.log_ms, "ms", 100.0))
    runner.add(
        Figure(
            "window",
            "peak resident memory, queue and log open",
            where,
            found.peak_mb,
            "MB",
            300.0,
            note=f"resident now {found.rss_mb:.0f} MB",
        )
    )
    runner.add(
        Figure(
            "window",
            f"longest frame scrolling the queue ({found.rows_scrolled:,} rows)",
            where,
            found.longest_frame_ms,
            "ms",
            16.0,
            note=f"{found.frames} frames, p95 {found.p95_frame_ms:.1f} ms",
        )
    )


def measure(url: str, steps: int = SCROLL_STEPS) -> WindowFigures:
    """Starts the child and reads its figures; start-up is timed here, from the spawn."""
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


def child(url: str, steps: int) -> int:
    """In the child: open the console as `hsm-console --database URL` does."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

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
        window = console.window
        wait_until(lambda: window.model.rowCount() > 0 and window.detail.comment_id is not None)
        print(f"READY {time.process_time() * 1000:.1f}", flush=True)
        started = time.perf_counter()
        log = window.show_log()  # built on this first showing, as a click on the tab does
        if window.pages is None or log is None:
            raise RuntimeError("the person opens no Log tab: grant the supervisor role")
        wait_until(lambda: log.model.rowCount() > 0)
        print(f"LOG {(time.perf_counter() - started) * 1000:.1f}", flush=True)
        window.pages.setCurrentIndex(0)
        frames = scroll(window, wait_until, steps)
        rows = window.table.rowAt(0)  # the first row on screen at the end
        print(
            f"FRAMES {max(frames):.2f} {statistics.quantiles(frames, n=20)[-1]:.2f} "
            f"{len(frames)} {rows}",
            flush=True,
        )
        now, peak = resident_mb()
        print(f"RSS {now:.1f} {peak:.1f}", flush=True)
        console.close()
        QApplication.processEvents()
    return 0


def scroll(
    window: Any, wait_until: Callable[[Callable[[], bool]], None], steps: int
) -> list[float]:
    """A screenful down at a time, each step timed until its repaint is done (the frame):
    the scroll, the events it causes (rows arriving, the detail following) and the paint.
    At the end of what is loaded, the wait for the next page is not a frame."""
    from PySide6.QtCore import QElapsedTimer, QModelIndex
    from PySide6.QtWidgets import QApplication

    table, model = window.table, window.model
    bar = table.verticalScrollBar()
    viewport = table.viewport()
    timer = QElapsedTimer()
    frames = []
    for _ in range(steps):
        timer.start()
        bar.setValue(bar.value() + max(1, bar.pageStep()))
        QApplication.processEvents()
        viewport.repaint()
        frames.append(timer.nsecsElapsed() / 1e6)
        rows = model.rowCount()
        if bar.value() >= bar.maximum() and model._has_more:  # the view asked for a page
            model.fetchMore(QModelIndex())
            wait_until(partial(_grown, model, rows))
            QApplication.processEvents()
    return frames


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
