"""Feeds the queue model from `QueueView`: pages of ids and the counts, off the GUI thread.

Every `load` starts a new generation; answers of an older one (a filter the moderator has
already changed) are dropped when they arrive.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from hsm_console.gui.queue_model import QueueModel
from hsm_console.gui.workers import JobContext, TaskRunner
from hsm_console.services.queue_view import (
    PAGE_SIZE,
    FilterCounts,
    IdPage,
    QueueCursor,
    QueueFilter,
    QueueView,
)


class QueueLoader(QObject):
    loaded = Signal()  # the first page of the current filter is in the model
    counted = Signal(object)  # FilterCounts of the current filter
    failed = Signal(object)  # the exception of a query that failed

    def __init__(
        self,
        view: QueueView,
        runner: TaskRunner,
        model: QueueModel,
        page_size: int = PAGE_SIZE,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.view = view
        self._runner = runner
        self._model = model
        self._page_size = page_size
        self._generation = 0
        self._filter = QueueFilter()
        self._cursor: QueueCursor | None = None
        self._loading = False
        model.more_wanted.connect(self._load_more)

    @property
    def queue_filter(self) -> QueueFilter:
        return self._filter

    @property
    def loading(self) -> bool:
        return self._loading

    def load(self, queue_filter: QueueFilter) -> None:
        """Show the first page of `queue_filter` and count it (replacing what is shown)."""
        self._generation += 1
        generation = self._generation
        self._filter = queue_filter
        self._loading = True
        view, size = self.view, self._page_size

        def first_page(_: JobContext) -> IdPage:
            return view.page(queue_filter, None, size)

        def count(_: JobContext) -> FilterCounts:
            return view.counts(queue_filter)

        self._runner.start(
            first_page,
            lambda page: self._first_page_arrived(generation, page),
            lambda exc: self._failed(generation, exc),
        )
        self._runner.start(
            count,
            lambda counts: self._counts_arrived(generation, counts),
            lambda exc: self._failed(generation, exc),
        )

    def reload(self) -> None:
        self.load(self._filter)

    def _first_page_arrived(self, generation: int, page: IdPage) -> None:
        if generation != self._generation:
            return
        self._loading = False
        self._cursor = page.next
        self._model.reset_ids(page.ids, page.next is not None)
        self.loaded.emit()

    def _counts_arrived(self, generation: int, counts: FilterCounts) -> None:
        if generation == self._generation:
            self.counted.emit(counts)

    def _failed(self, generation: int, exc: Exception) -> None:
        if generation == self._generation:
            self._loading = False
            self._model.more_failed()
            self.failed.emit(exc)

    def _load_more(self) -> None:
        cursor = self._cursor
        if cursor is None:
            self._model.more_failed()
            return
        generation = self._generation
        view, queue_filter, size = self.view, self._filter, self._page_size

        def next_page(_: JobContext) -> IdPage:
            return view.page(queue_filter, cursor, size)

        self._runner.start(
            next_page,
            lambda page: self._next_page_arrived(generation, page),
            lambda exc: self._failed(generation, exc),
        )

    def _next_page_arrived(self, generation: int, page: IdPage) -> None:
        if generation != self._generation:
            return
        self._cursor = page.next
        self._model.append_ids(page.ids, page.next is not None)
