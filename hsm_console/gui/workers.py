"""Background work: services run on a thread pool, results come back on the GUI thread.

A job is a plain callable that receives a `JobContext` (to report progress and to notice a
cancellation) and never a widget. Its result, exception or progress travels back as a Qt
signal to `TaskRunner`, which lives on the GUI thread, so the callbacks given to `start` run
there and may touch widgets.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from hsm_console.errors import UserError

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_THREADS = 4  # a sync, a platform call and queue queries can all run at once
BACKGROUND_NICE = 10  # Linux's per-thread niceness of a background runner's threads


def _lower_this_threads_priority() -> None:
    """Let the GUI thread and the jobs it waits on go first on a busy or single core: Qt's
    thread priority where the system honours it (Windows, macOS), a nice value on Linux,
    where each thread has its own. Raising it back needs privileges: only a background
    runner's threads, which stay background, are lowered."""
    thread = QThread.currentThread()
    if thread is not None:
        thread.setPriority(QThread.Priority.LowPriority)
    if hasattr(os, "setpriority") and os.uname().sysname == "Linux":
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
        except OSError:
            log.debug("background thread's priority left as it was")


class JobContext:
    """What a running job may use: progress reports and the cancellation flag."""

    def __init__(self, report: Callable[[object], None]) -> None:
        self._report = report
        self._cancelled = threading.Event()

    def report(self, progress: object) -> None:
        self._report(progress)

    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancel_event(self) -> threading.Event:
        """For a service that waits on an event (a sign-in): set by `cancel` and shutdown."""
        return self._cancelled


class _Signals(QObject):
    finished = Signal(int, bool, object)  # task id, succeeded, result or exception
    progressed = Signal(int, object)


class _Task(QRunnable):
    def __init__(
        self, task_id: int, job: Callable[[JobContext], object], background: bool = False
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns it until its result has been delivered
        self.task_id = task_id
        self.job = job
        self.background = background
        self.signals = _Signals()
        self.context = JobContext(self._progress)

    def _progress(self, payload: object) -> None:
        try:
            self.signals.progressed.emit(self.task_id, payload)
        except RuntimeError:  # see _finish
            self.context.cancel()

    def run(self) -> None:
        if self.background:
            _lower_this_threads_priority()
        try:
            result = self.job(self.context)
        except Exception as exc:
            self._finish(False, exc)
        else:
            self._finish(True, result)

    def _finish(self, succeeded: bool, payload: object) -> None:
        try:
            self.signals.finished.emit(self.task_id, succeeded, payload)
        except RuntimeError:  # the window went away without waiting: nobody to tell
            log.debug("result of task %s dropped", self.task_id)


@dataclass
class _Callbacks:
    task: _Task
    done: Callable[[Any], None]
    failed: Callable[[Exception], None]
    progress: Callable[[Any], None] | None


class TaskHandle:
    """A started job: ask it to stop (it stops at its next check) or see if it is running."""

    def __init__(self, runner: TaskRunner, task: _Task) -> None:
        self._runner = runner
        self._task = task

    def cancel(self) -> None:
        self._task.context.cancel()

    @property
    def running(self) -> bool:
        return self._runner.is_running(self._task.task_id)


class TaskRunner(QObject):
    """Starts jobs on its own thread pool and calls back on the GUI thread. A `background`
    runner's jobs (counts, the sign-in state) run at a lower priority than the others."""

    def __init__(
        self,
        parent: QObject | None = None,
        max_threads: int = MAX_THREADS,
        *,
        background: bool = False,
    ) -> None:
        super().__init__(parent)
        self._background = background
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._ids = itertools.count(1)
        self._running: dict[int, _Callbacks] = {}
        # A finished task's thread may still be returning from emit(): keep the last few
        # alive a while longer instead of deleting their signal objects under it.
        self._recently_finished: collections.deque[_Task] = collections.deque(maxlen=32)
        self._closed = False

    def start(
        self,
        job: Callable[[JobContext], T],
        done: Callable[[T], None],
        failed: Callable[[Exception], None],
        progress: Callable[[Any], None] | None = None,
    ) -> TaskHandle:
        task = _Task(next(self._ids), job, self._background)
        if self._closed:
            # A timer or a late signal of a closing window: the job is not run.
            log.debug("window closing; job not started")
            return TaskHandle(self, task)
        task.signals.finished.connect(self._finished)
        task.signals.progressed.connect(self._progressed)
        self._running[task.task_id] = _Callbacks(task, done, failed, progress)
        self._pool.start(task)
        return TaskHandle(self, task)

    def is_running(self, task_id: int) -> bool:
        return task_id in self._running

    def busy(self) -> bool:
        return bool(self._running)

    def shutdown(self, wait_ms: int = 30_000) -> bool:
        """Cancel every job, wait for the threads, and drop results still to come."""
        self._closed = True
        for callbacks in self._running.values():
            callbacks.task.context.cancel()
        finished = self._pool.waitForDone(wait_ms)
        self._running.clear()
        return finished

    @Slot(int, bool, object)
    def _finished(self, task_id: int, succeeded: bool, payload: object) -> None:
        callbacks = self._running.pop(task_id, None)
        if callbacks is None or self._closed:
            return
        self._recently_finished.append(callbacks.task)
        if succeeded:
            callbacks.done(payload)
        else:
            assert isinstance(payload, Exception)
            if not isinstance(payload, UserError):
                log.error("Background job failed", exc_info=payload)
            callbacks.failed(payload)

    @Slot(int, object)
    def _progressed(self, task_id: int, payload: object) -> None:
        callbacks = self._running.get(task_id)
        if callbacks is not None and callbacks.progress is not None and not self._closed:
            callbacks.progress(payload)


class LatestOnly:
    """Starts jobs of which only the latest answer matters (the entry or comment in view):
    an answer arriving after a newer job was started is dropped."""

    def __init__(self, runner: TaskRunner) -> None:
        self._runner = runner
        self._generation = 0

    def start(
        self,
        job: Callable[[JobContext], T],
        done: Callable[[T], None],
        failed: Callable[[Exception], None],
    ) -> None:
        generation = self.forget()

        def if_latest(callback: Callable[[Any], None]) -> Callable[[Any], None]:
            return lambda answer: callback(answer) if generation == self._generation else None

        self._runner.start(job, if_latest(done), if_latest(failed))

    def forget(self) -> int:
        """Drop whatever is still to come."""
        self._generation += 1
        return self._generation
