"""Feeds an `IdWindowModel` from a read side: pages of ids and a count, off the GUI thread.

Every `load` starts a new generation; answers of an older one (a filter the person has
already changed) are dropped when they arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from PySide6.QtCore import QObject, Signal

from hsm_console.gui.id_model import IdWindowModel
from hsm_console.gui.workers import JobContext, TaskRunner

F = TypeVar("F")  # a filter
C = TypeVar("C")  # where the next page starts
C_co = TypeVar("C_co", covariant=True)


class Page(Protocol[C_co]):
    @property
    def ids(self) -> list[int]: ...

    @property
    def next(self) -> C_co | None: ...


class PageLoader(QObject, Generic[F, C]):
    loaded = Signal()  # the first page of the current filter is in the model
    counted = Signal(object)  # what `count` returned for the current filter
    failed = Signal(object)  # the exception of a query that failed

    def __init__(
        self,
        runner: TaskRunner,
        model: IdWindowModel[Any],
        page: Callable[[F, C | None, int], Page[C]],
        count: Callable[[F], object],
        first_filter: F,
        page_size: int,
        parent: QObject | None = None,
        counter: TaskRunner | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._counter = counter or runner  # counts may run on a background runner
        self._model = model
        self._page = page
        self._count = count
        self._page_size = page_size
        self._generation = 0
        self._filter = first_filter
        self._cursor: C | None = None
        self._loading = False
        model.more_wanted.connect(self._load_more)

    @property
    def current_filter(self) -> F:
        return self._filter

    @property
    def loading(self) -> bool:
        return self._loading

    def load(self, new_filter: F) -> None:
        """Show the first page of `new_filter` and count it (replacing what is shown)."""
        self._generation += 1
        generation = self._generation
        self._filter = new_filter
        self._loading = True
        page, count, size = self._page, self._count, self._page_size

        def first_page(_: JobContext) -> Page[C]:
            return page(new_filter, None, size)

        def counting(_: JobContext) -> object:
            return count(new_filter)

        def arrived(found: Page[C]) -> None:
            self._first_page_arrived(generation, found)
            if generation == self._generation:  # counted after: on one core the page is first
                self._counter.start(
                    counting,
                    lambda counts: self._counts_arrived(generation, counts),
                    lambda exc: self._failed(generation, exc),
                )

        self._runner.start(first_page, arrived, lambda exc: self._failed(generation, exc))

    def reload(self) -> None:
        self.load(self._filter)

    def _first_page_arrived(self, generation: int, found: Page[C]) -> None:
        if generation != self._generation:
            return
        self._loading = False
        self._cursor = found.next
        self._model.reset_ids(found.ids, found.next is not None)
        self.loaded.emit()

    def _counts_arrived(self, generation: int, counts: object) -> None:
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
        page, current, size = self._page, self._filter, self._page_size

        def next_page(_: JobContext) -> Page[C]:
            return page(current, cursor, size)

        self._runner.start(
            next_page,
            lambda found: self._next_page_arrived(generation, found),
            lambda exc: self._failed(generation, exc),
        )

    def _next_page_arrived(self, generation: int, found: Page[C]) -> None:
        if generation != self._generation:
            return
        self._cursor = found.next
        self._model.append_ids(found.ids, found.next is not None)
