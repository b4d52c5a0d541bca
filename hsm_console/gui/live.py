"""Live queues and presence in the window (docs/design.md, "Live queues and presence").

`LiveUpdates` turns the listener's thread (`services/live.py`) into Qt signals on the GUI
thread. `LiveQueue` applies what arrives to the window: the queue rows of the comments that
changed are read again through the queue's own loaders, a row whose comment no longer
matches the filter leaves (unless it is the one in view or this window is acting on it),
new comments among the newest are put in their places, the Log tab gains new entries at the
top, the Review tab (when shown) reads its lists again after a burst of entries, and the
detail pane says who else has its comment open. Nothing resets the whole table.
It also keeps this window's presence (`services/presence.py`) and says in the status bar
when live updates pause and resume. Only on PostgreSQL; on SQLite the window has none.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel

from hsm_console.db.engine import Database
from hsm_console.gui.plain_text import set_plain
from hsm_console.gui.workers import JobContext
from hsm_console.services.live import Changes, LiveListener, listener_connection
from hsm_console.services.presence import HEARTBEAT, PresenceService, open_by_words
from hsm_console.services.queue_view import QueueFilter

if TYPE_CHECKING:
    from hsm_console.gui.main_window import MainWindow

log = logging.getLogger(__name__)

FIRST_PAGE = 500  # the newest comments a live update looks among for new ones
LOG_FIRST_PAGE = 200  # the newest entries the Log tab looks among
REVIEW_DELAY_MS = 2_000  # the Review tab reads its lists once after a burst of new entries


def paused_words(reason: str) -> str:
    return f"Live updates paused: {reason}; the queue refreshes when you reload."


class LiveUpdates(QObject):
    """The listener, as signals delivered on the GUI thread (queued from its thread)."""

    changed = Signal(object)  # Changes
    state = Signal(bool, str)  # listening, and if not, why in plain words

    def __init__(self, db: Database, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.listener = LiveListener(lambda: listener_connection(db), self._changed, self._state)

    def start(self) -> None:
        self.listener.start()

    def stop(self) -> None:
        self.listener.stop()

    def _changed(self, changes: Changes) -> None:
        try:
            self.changed.emit(changes)
        except RuntimeError:  # the window is gone; the listener is being stopped
            log.debug("live change dropped at close")

    def _state(self, live: bool, reason: str) -> None:
        try:
            self.state.emit(live, reason)
        except RuntimeError:
            log.debug("live state dropped at close")


class LiveQueue(QObject):
    """The window's live updates and presence (PostgreSQL only)."""

    def __init__(self, window: MainWindow, presence: PresenceService) -> None:
        super().__init__(window)
        self.window = window
        self.presence = presence
        self.updates = LiveUpdates(window.app.db, self)
        self.label = QLabel(window)
        self.label.setObjectName("liveStatus")
        self.label.setAccessibleName("Live updates")
        self.label.hide()
        window.statusBar().addPermanentWidget(self.label)
        self.paused = False
        self.applied = 0  # batches applied to the queue (for tests and the debug log)
        # Comments this window is acting on: their rows stay, showing the outcome.
        self.acting: set[int] = set()
        self._resets = 0
        self._heartbeat = QTimer(self)
        self._heartbeat.setInterval(int(HEARTBEAT.total_seconds() * 1000))
        self._heartbeat.timeout.connect(self.beat)
        self._review_due = QTimer(self)
        self._review_due.setSingleShot(True)
        self._review_due.setInterval(REVIEW_DELAY_MS)
        self._review_due.timeout.connect(self._reload_review)
        self.updates.changed.connect(self._changed)
        self.updates.state.connect(self._state)
        window.model.modelReset.connect(self._model_reset)

    def start(self) -> None:
        runner, presence = self.window.runner, self.presence

        def sweep(_: JobContext) -> None:
            presence.sweep()

        runner.start(sweep, lambda _: None, lambda exc: log.info("presence sweep: %s", exc))
        self.updates.start()
        self._heartbeat.start()

    def stop(self) -> None:
        """At close: no more updates, and this window's presence is gone at once (or, with
        the database out of reach, when it expires)."""
        self._heartbeat.stop()
        self.updates.stop()
        if self.paused:  # the database is out of reach: do not hang the close on it
            return
        try:
            self.presence.leave()
        except Exception as exc:  # the database may be what is gone; the row expires anyway
            log.info("presence not cleared at close: %s", exc)

    def _model_reset(self) -> None:
        self._resets += 1
        self.acting.clear()

    # --- presence --------------------------------------------------------------------

    def beat(self) -> None:
        """Keep this window's presence fresh; read again who else is shown, so a presence
        that expired (a window that crashed) leaves the queue and the detail pane."""
        window, presence = self.window, self.presence

        def run(_: JobContext) -> None:
            presence.beat()

        runner = window.runner
        runner.start(run, lambda _: None, lambda exc: log.info("presence heartbeat: %s", exc))
        window.model.refresh([row.id for row in window.model.cached_rows() if row.open_by])
        self.show_presence()

    def show_presence(self) -> None:
        """Say in the detail pane who else has its comment open."""
        detail, presence = self.window.detail, self.presence
        comment_id = detail.comment_id
        if comment_id is None:
            return

        def run(_: JobContext) -> str:
            return open_by_words(presence.others([comment_id]).get(comment_id, []))

        def done(words: str) -> None:
            if detail.comment_id == comment_id:
                detail.show_presence(words)

        self.window.runner.start(run, done, lambda exc: log.info("presence: %s", exc))

    # --- pausing and resuming ----------------------------------------------------------

    def _state(self, live: bool, reason: str) -> None:
        window = self.window
        if not live:
            self.paused = True
            set_plain(self.label, paused_words(reason))
            self.label.show()
            return
        self.label.hide()
        if self.paused:
            self.paused = False
            window.statusBar().showMessage("Live updates resumed.", 10_000)
            # What changed meanwhile went unannounced: look again at what is shown.
            shown = frozenset(row.id for row in window.model.cached_rows())
            sites = frozenset(site.id for site in window.view.sites())
            self._changed(Changes(comments=shown, sites=sites, log_grew=True))

    # --- changes -------------------------------------------------------------------------

    def _changed(self, changes: Changes) -> None:
        window = self.window
        if changes.entries or changes.log_grew:
            self._log_grew()
        touched = changes.touched
        bulk = changes.names_any(site.id for site in window.view.sites())
        if not (touched or bulk) or window.loader.loading:
            return  # a full read under way shows all of it anyway
        queue_filter, resets, view = window.loader.current_filter, self._resets, window.view
        known = frozenset(i for i in touched if window.model.row_of(i) is not None)

        def read(_: JobContext) -> tuple[set[int], list[int] | None]:
            matching = view.matching(queue_filter, touched)
            fresh = None
            if bulk or matching - known:  # new comments, or comments that entered the filter
                fresh = view.page(queue_filter, None, FIRST_PAGE).ids
            return matching, fresh

        def done(found: tuple[set[int], list[int] | None]) -> None:
            self._apply(changes, queue_filter, resets, known, *found)

        window.runner.start(read, done, lambda exc: log.info("live update not applied: %s", exc))

    def _apply(
        self,
        changes: Changes,
        queue_filter: QueueFilter,
        resets: int,
        known: frozenset[int],
        matching: set[int],
        fresh: Sequence[int] | None,
    ) -> None:
        window = self.window
        if resets != self._resets or window.loader.current_filter != queue_filter:
            return  # the queue was read again meanwhile
        current = window.current_comment_id()
        keep = self.acting | ({current} if current is not None else set())
        leaving = [i for i in known if i not in matching and i not in keep]
        window.model.remove_ids(leaving)
        window.model.refresh([i for i in known if i not in leaving])
        added = window.model.merge_first_page(fresh) if fresh is not None else []
        shown = window.detail.comment_id
        if shown is not None and shown in changes.comments:
            window.reload_detail()
        elif shown is not None and shown in changes.presence:
            self.show_presence()
        if leaving or added or changes.comments or changes.sites or changes.every_site:
            window.recount()
        if current is None and window.model.rowCount():
            window.select_row(0)
        self.applied += 1
        log.debug("live update: %d rows left, %d came, %d read again", len(leaving), len(added),
                  len(known) - len(leaving))  # fmt: skip

    def _reload_review(self) -> None:
        review = self.window.review_screen
        if review is None or not review.isVisible():
            return  # the tab reads its lists again when shown
        if review.loading or review.busy:
            self._review_due.start()  # after the read or step under way
            return
        review.reload()

    def _log_grew(self) -> None:
        review = self.window.review_screen
        if review is not None and review.isVisible() and not self._review_due.isActive():
            self._review_due.start()
        screen = self.window.log_screen
        if screen is None or screen.loading:
            return
        log_filter, view = screen.loader.current_filter, screen.view

        def read(_: JobContext) -> list[int]:
            return view.page(log_filter, None, LOG_FIRST_PAGE).ids

        def done(ids: list[int]) -> None:
            if screen.loader.current_filter == log_filter and not screen.loading:
                screen.model.merge_first_page(ids)

        self.window.runner.start(read, done, lambda exc: log.info("live log: %s", exc))
