"""Feeds the queue model from `QueueView`: pages of ids and the counts, off the GUI thread
(`PageLoader`: answers made stale by a newer filter are dropped)."""

from __future__ import annotations

from PySide6.QtCore import QObject

from hsm_console.gui.page_loader import PageLoader
from hsm_console.gui.queue_model import QueueModel
from hsm_console.gui.workers import TaskRunner
from hsm_console.services.queue_view import PAGE_SIZE, QueueCursor, QueueFilter, QueueView


class QueueLoader(PageLoader[QueueFilter, QueueCursor]):
    def __init__(
        self,
        view: QueueView,
        runner: TaskRunner,
        model: QueueModel,
        page_size: int = PAGE_SIZE,
        parent: QObject | None = None,
        counter: TaskRunner | None = None,
    ) -> None:
        super().__init__(
            runner, model, view.page, view.counts, QueueFilter(), page_size, parent, counter
        )
        self.view = view
