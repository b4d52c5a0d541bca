"""The moderator's console window: filters, the queue, the comment, actions, sync.

It wires widgets to services and holds no rules of its own: which actions apply comes from
the domain's rule (through `actions.refusal_for`), what an action does from the moderation
service, what the queue holds from `QueueView`, one comment from `CommentReader`. Every
database or platform call runs on the window's `TaskRunner`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QMainWindow,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.exc import SQLAlchemyError

from hsm_console.app import AGENT_SYNCS, App
from hsm_console.gui.actions import MODERATION_IDS, NAVIGATION_KEYS, SPECS, ActionId, ActionRegistry
from hsm_console.gui.detail_pane import DetailPane
from hsm_console.gui.filter_bar import FilterBar
from hsm_console.gui.help_overlay import HelpOverlay
from hsm_console.gui.icons import app_icon
from hsm_console.gui.id_model import prepare_table
from hsm_console.gui.live import LiveQueue
from hsm_console.gui.one_line import OneLineTable
from hsm_console.gui.problems import Problem, ProblemReporter, problem_from
from hsm_console.gui.queue_loader import QueueLoader
from hsm_console.gui.queue_model import Column, QueueModel
from hsm_console.gui.seals import SealCommands
from hsm_console.gui.settings import AUTO_SYNC_CHOICES, GuiSettings
from hsm_console.gui.sign_in_banner import SignInBanner
from hsm_console.gui.sync_status import SyncStatus
from hsm_console.gui.triage import Triage
from hsm_console.gui.ui_files import child, load_form
from hsm_console.gui.workers import JobContext, TaskHandle, TaskRunner
from hsm_console.rules.domain import Action
from hsm_console.services import health
from hsm_console.services.comment_detail import CommentReader, CommentView
from hsm_console.services.log_view import LogView, reads_log
from hsm_console.services.moderation import ActionResult
from hsm_console.services.presence import PresenceService, open_by_words
from hsm_console.services.queue_view import FilterCounts, QueueRow, QueueView, SiteSync

log = logging.getLogger(__name__)

DETAIL_DELAY_MS = 60  # let arrow-key runs settle before reading the comment
MAX_BULK = 500  # comments in one bulk action
COLUMN_WIDTHS = {
    Column.RECEIVED: 122,
    Column.SITE: 150,
    Column.AUTHOR: 120,
    Column.SUGGESTION: 110,
    Column.STATUS: 84,
}

# The tabs but the queue are built when first shown; the dialogs load when first opened
# (the administration's brings the platforms' sign-in, requests and authlib; the records
# search the package writer): none of them with the window.
if TYPE_CHECKING:
    from hsm_console.gui.admin import AdminDialog
    from hsm_console.gui.ban_dialog import BanDialog
    from hsm_console.gui.bans_screen import BansDialog
    from hsm_console.gui.dashboard_screen import DashboardScreen
    from hsm_console.gui.log_screen import LogScreen
    from hsm_console.gui.records_screen import RecordsBanner, RecordsScreen
    from hsm_console.gui.records_search import RecordsSearchDialog
    from hsm_console.gui.retention_dialog import RetentionDialog
    from hsm_console.gui.review_screen import ReviewScreen
    from hsm_console.gui.site_checks import SiteChecksDialog
    from hsm_console.gui.suggestion_dialog import WrongSuggestionDialog
    from hsm_console.services.connect import Connected
    from hsm_console.services.records_requests import RequestRow
    from hsm_console.services.sync import SiteResult


@dataclass
class _Tab:
    """A tab built when first shown: `page` is an empty placeholder until then (building the
    Log, Review, Dashboard and Records screens at start cost the queue's first page a third
    of a second, the Records tab's calendar more)."""

    title: str
    build: Callable[[], LogScreen | ReviewScreen | DashboardScreen | RecordsScreen]
    page: QWidget
    screen: LogScreen | ReviewScreen | DashboardScreen | RecordsScreen | None = None


class MainWindow(QMainWindow):
    def __init__(
        self,
        app: App,
        settings: GuiSettings,
        *,
        demo: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._ready = False
        self.app = app
        self.settings = settings
        self.demo = demo
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        self.runner = TaskRunner(self)
        # The queue's counts and the sign-in state: second to what the person waits for.
        self.background = TaskRunner(self, max_threads=1, background=True)
        self.view = QueueView(app.db, app.username)
        self.reader = CommentReader(app.db, app.username)
        self.problems = ProblemReporter(self)
        code_names = {code.code: code.name for code in app.policy.codes.values()}
        self.code_names = code_names

        form = load_form("main_window.ui", self, custom=[OneLineTable])
        self.log_screen: LogScreen | None = None
        self.review_screen: ReviewScreen | None = None
        self.dashboard_screen: DashboardScreen | None = None
        self.records_screen: RecordsScreen | None = None
        self.records_banner: RecordsBanner | None = None
        self._log_tab: _Tab | None = None
        self._review_tab: _Tab | None = None
        self._dashboard_tab: _Tab | None = None
        self._records_tab: _Tab | None = None
        self._rest_due = False  # the start's other readings wait for the first comment shown
        self.pages: QTabWidget | None = None
        central = QWidget(self)
        self.sign_in_banner = SignInBanner(central)
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(0)
        central_layout.addWidget(self.sign_in_banner)
        central_layout.addWidget(self._with_log_screen(form, code_names))
        if self.records_banner is not None:
            central_layout.insertWidget(1, self.records_banner)
        self.setCentralWidget(central)
        self.table = child(form, OneLineTable, "queueTable")
        self.splitter = child(form, QSplitter, "mainSplitter")
        self.model = QueueModel(self.view.rows, self.runner, self)
        self.table.setModel(self.model)
        self.table.show_icons_in((Column.SITE, Column.STATUS))
        self.loader = QueueLoader(
            self.view, self.runner, self.model, parent=self, counter=self.background
        )
        self.filters = FilterBar(form, self.view.sites(), self.view.platforms(), code_names, self)
        host = child(form, QWidget, "detailHost")
        self.detail = DetailPane(code_names, host)
        host_layout = host.layout()
        assert host_layout is not None
        host_layout.addWidget(self.detail)

        self.registry = ActionRegistry(self)
        # Live queues and presence (PostgreSQL only; gui/live.py).
        self.presence = PresenceService(app.db, app.username)
        self.triage = Triage(
            self, self.runner, lambda: app.moderation, app.policy, self.problems,
            self.presence.others if self.presence.enabled else None,
        )  # fmt: skip
        self.live = LiveQueue(self, self.presence) if self.presence.enabled else None
        self.sync_status = SyncStatus(self)
        self.statusBar().addPermanentWidget(self.sync_status)
        self.help = HelpOverlay(self, [*self.registry.shortcuts(), *NAVIGATION_KEYS])
        self._sync_task: TaskHandle | None = None
        self._keep_comment: int | None = None
        self._moved: tuple[list[int], int | None] | None = None  # acted on, moved to
        # The comment after the one shown, read ahead: shown at once when an action moves on.
        self._ahead: dict[int, CommentView] = {}
        self.admin_action: QAction | None = None
        self.admin_dialog: AdminDialog | None = None
        self.site_checks_action: QAction | None = None
        self.site_checks_dialog: SiteChecksDialog | None = None
        self.retention_action: QAction | None = None
        self.retention_dialog: RetentionDialog | None = None
        self.bans_action: QAction | None = None  # the blocked-accounts register
        self.bans_dialog: BansDialog | None = None
        self.ban_dialog: BanDialog | None = None
        self.wrong_dialog: WrongSuggestionDialog | None = None
        self.propose_ban_action = QAction("Propose a &ban on the author…", self)
        self._detail_generation = 0
        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(DETAIL_DELAY_MS)
        self._auto_sync = QTimer(self)

        prepare_table(self.table, COLUMN_WIDTHS.items(), Column.COMMENT)
        self._build_menus_and_toolbar()
        self._connect()
        self._restore_layout()
        self._apply_auto_sync()
        self.setWindowTitle(self._title())
        self._ready = True

    # --- construction ------------------------------------------------------------------

    def _title(self) -> str:
        title = f"HSM Console — {self.view.actor.display_name} ({self.view.actor.username})"
        return f"{title} — demo on the sandbox" if self.demo else title

    def _with_log_screen(self, queue: QWidget, code_names: dict[str, str]) -> QWidget:
        """The queue alone for a moderator; for a supervisor or administrator, Log and
        Dashboard tabs (and Review for a supervisor), each built when first shown."""
        if not reads_log(self.view.actor):
            return self._records_only(queue)
        view = LogView(self.app.db, self.app.username)
        pages = self._pages(queue)
        self._log_tab = self._add_tab(pages, "&Log", lambda: self._build_log(view, code_names))
        actor = self.view.actor
        if actor.supervises is None or actor.supervises:
            self._review_tab = self._add_tab(pages, "&Review", self._build_review)
        self._dashboard_tab = self._add_tab(
            pages, "&Dashboard", lambda: self._build_dashboard(view, code_names)
        )
        self._add_records_tab(pages)
        return pages

    def _records_only(self, queue: QWidget) -> QWidget:
        """The queue and, for a records officer who reads no log, the Records tab."""
        if not self.view.actor.is_records_officer:
            return queue
        pages = self._pages(queue)
        self._add_records_tab(pages)
        return pages

    def _pages(self, queue: QWidget) -> QTabWidget:
        pages = QTabWidget(self)
        pages.setObjectName("pages")
        pages.addTab(queue, "&Queue")
        pages.currentChanged.connect(self._page_changed)
        self.pages = pages
        return pages

    def _add_tab(
        self,
        pages: QTabWidget,
        title: str,
        build: Callable[[], LogScreen | ReviewScreen | DashboardScreen | RecordsScreen],
    ) -> _Tab:
        tab = _Tab(title, build, QWidget(self))
        pages.addTab(tab.page, title)
        return tab

    def _add_records_tab(self, pages: QTabWidget) -> None:
        """The Records tab (records officers only); its band names overdue and due-soon
        requests above the tabs, read once the first comment is shown."""
        if not self.view.actor.is_records_officer:
            return
        from hsm_console.gui.records_screen import RecordsBanner

        self.records_banner = RecordsBanner()  # placed above the tabs by __init__
        self.records_banner.open_requested.connect(self.show_records)
        self._records_tab = self._add_tab(pages, "Rec&ords", self._build_records)

    def _build_log(self, view: LogView, code_names: dict[str, str]) -> LogScreen:
        from hsm_console.gui.log_screen import LogScreen

        self.log_screen = LogScreen(self.app.db, view, self.runner, self.problems, code_names)
        if self._review_tab is not None:
            # Enter or a double click on a log entry reviews its action: a hide under a code
            # that needs no second review is never in the needs-review list.
            self.log_screen.table.activated.connect(lambda _: self.review_log_entry())
        return self.log_screen

    def _build_review(self) -> ReviewScreen:
        from hsm_console.gui.review_screen import ReviewScreen

        self.review_screen = ReviewScreen(self.app.review, self.runner, self.problems)
        return self.review_screen

    def _build_dashboard(self, view: LogView, code_names: dict[str, str]) -> DashboardScreen:
        from hsm_console.gui.dashboard_screen import DashboardScreen  # pyqtgraph: 0.25 s

        self.dashboard_screen = DashboardScreen(view, self.runner, self.problems, code_names)
        return self.dashboard_screen

    def _build_records(self) -> RecordsScreen:
        from hsm_console.gui.records_screen import RecordsScreen

        assert self.records_banner is not None  # made with the tab
        self.records_screen = RecordsScreen(
            self.app.records_requests, self.runner, self.problems, banner=self.records_banner
        )
        self.records_screen.search_requested.connect(self.open_records_search)
        return self.records_screen

    def _show_tab(self, tab: _Tab | None) -> None:
        """Bring a tab forward as a click on it does (building it the first time)."""
        if self.pages is not None and tab is not None:
            self.pages.setCurrentWidget(tab.page)

    def _build_tab(self, tab: _Tab) -> None:
        """Put the real screen in the tab, in its placeholder's place."""
        pages = self.pages
        assert pages is not None
        placeholder = tab.page
        tab.screen = tab.page = tab.build()
        index = pages.indexOf(placeholder)
        pages.blockSignals(True)  # one reload, by the caller, not one per tab change
        pages.removeTab(index)
        pages.insertTab(index, tab.page, tab.title)
        pages.setCurrentIndex(index)
        pages.blockSignals(False)
        placeholder.deleteLater()

    def show_records(self) -> RecordsScreen | None:
        """Bring the Records tab forward (records officers only)."""
        self._show_tab(self._records_tab)
        return self.records_screen

    def show_log(self) -> LogScreen | None:
        """Bring the Log tab forward (supervisors and administrators only)."""
        self._show_tab(self._log_tab)
        return self.log_screen

    def show_dashboard(self) -> DashboardScreen | None:
        """Bring the Dashboard tab forward (supervisors and administrators only)."""
        self._show_tab(self._dashboard_tab)
        return self.dashboard_screen

    def show_review(self) -> ReviewScreen | None:
        """Bring the Review tab forward (supervisors only)."""
        self._show_tab(self._review_tab)
        return self.review_screen

    def review_log_entry(self) -> None:
        """Open the Log tab's current entry's action in the Review tab."""
        entry_id = self.log_screen.current_entry_id() if self.log_screen is not None else None
        review = self.show_review()
        if entry_id is not None and review is not None:
            review.open(entry_id)

    def _page_changed(self) -> None:
        # Shown again after actions in the queue: the log has grown.
        shown = self.pages.currentWidget() if self.pages is not None else None
        for tab in (self._log_tab, self._review_tab, self._dashboard_tab, self._records_tab):
            if tab is not None and shown is tab.page:
                if tab.screen is None:
                    self._build_tab(tab)
                assert tab.screen is not None
                tab.screen.reload()

    def _build_menus_and_toolbar(self) -> None:
        actions = self.registry
        console = self.menuBar().addMenu("&Console")
        console.addAction(actions[ActionId.SYNC])
        console.addAction(actions[ActionId.CANCEL_WORK])
        auto = console.addMenu("Sync &automatically")
        self.auto_sync_group = QActionGroup(self)
        for minutes in AUTO_SYNC_CHOICES:
            text = "&Off" if minutes == 0 else f"Every {minutes} minutes"
            choice = QAction(text, self.auto_sync_group)
            choice.setCheckable(True)
            choice.setData(minutes)
            choice.setChecked(minutes == self.settings.auto_sync_minutes)
            auto.addAction(choice)
        self.auto_sync_group.triggered.connect(self._auto_sync_chosen)
        if self.view.actor.administers:  # the service refuses others anyway
            console.addSeparator()
            self.admin_action = console.addAction("A&dministration…")
            self.admin_action.triggered.connect(self.open_administration)
        actor = self.view.actor
        if actor.administers or actor.supervises is None or actor.supervises:
            self.site_checks_action = console.addAction("Site &checks…")
            self.site_checks_action.triggered.connect(self.open_site_checks)
        if actor.is_records_officer:
            self.retention_action = console.addAction("&Retention and legal holds…")
            self.retention_action.triggered.connect(self.open_retention)
        if actor.supervises is None or actor.supervises or actor.is_records_officer:
            self.bans_action = console.addAction("&Blocked accounts…")
            self.bans_action.triggered.connect(self.open_bans)
        self.seals = SealCommands(self, self.app, actor, self.runner, self.problems, console)
        console.addSeparator()
        console.addAction(actions[ActionId.QUIT])

        comment = self.menuBar().addMenu("Co&mment")
        comment.addActions(actions.moderation_actions())
        comment.addSeparator()
        comment.addAction(actions[ActionId.OPEN_PERMALINK])
        comment.addAction(actions[ActionId.MARK_WRONG])
        comment.addAction(self.propose_ban_action)

        queue = self.menuBar().addMenu("&Queue")
        queue.addAction(actions[ActionId.SEARCH])
        queue.addAction(actions[ActionId.REFRESH])

        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(actions[ActionId.HELP])

        toolbar = QToolBar("Moderation", self)
        toolbar.setObjectName("moderationToolbar")
        toolbar.setAccessibleName("Moderation actions")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addActions(actions.moderation_actions())
        toolbar.addSeparator()
        toolbar.addAction(actions[ActionId.OPEN_PERMALINK])
        toolbar.addSeparator()
        toolbar.addAction(actions[ActionId.SYNC])
        toolbar.addAction(actions[ActionId.HELP])
        self.addToolBar(toolbar)
        self.toolbar = toolbar

        separator = QAction(self.table)
        separator.setSeparator(True)
        self.table.addActions(
            [*actions.moderation_actions(), separator, actions[ActionId.OPEN_PERMALINK],
             actions[ActionId.MARK_WRONG], self.propose_ban_action]
        )  # fmt: skip
        self.sync_status.cancel.setDefaultAction(actions[ActionId.CANCEL_WORK])
        actions[ActionId.CANCEL_WORK].setEnabled(False)
        actions.update_for_selection([])

    def _connect(self) -> None:
        actions = self.registry
        for action_id in MODERATION_IDS:
            moderation = SPECS[action_id].moderation
            assert moderation is not None
            actions[action_id].triggered.connect(lambda _=False, m=moderation: self.act(m))
        actions[ActionId.OPEN_PERMALINK].triggered.connect(self._open_permalink)
        self.propose_ban_action.triggered.connect(self.propose_ban)
        self.detail.note_requested.connect(self._save_note)
        actions[ActionId.MARK_WRONG].triggered.connect(self.mark_suggestion_wrong)
        self.detail.wrong_requested.connect(self.mark_suggestion_wrong)
        actions[ActionId.SEARCH].triggered.connect(self._focus_search)
        actions[ActionId.REFRESH].triggered.connect(self.reload_queue)
        actions[ActionId.SYNC].triggered.connect(lambda: self.sync_now(automatic=False))
        actions[ActionId.CANCEL_WORK].triggered.connect(self.cancel_sync)
        actions[ActionId.HELP].triggered.connect(self.help.toggle)
        actions[ActionId.QUIT].triggered.connect(self.close)

        self.filters.changed.connect(self._filters_changed)
        self.filters.search.returnPressed.connect(self.table.setFocus)
        self.loader.loaded.connect(self._queue_loaded)
        self.loader.counted.connect(self._counted)
        self.loader.failed.connect(
            lambda exc: self.problems.show(problem_from(exc, "reading the queue"))
        )
        selection = self.table.selectionModel()
        selection.selectionChanged.connect(lambda *_: self._selection_changed())
        selection.currentRowChanged.connect(lambda *_: self._detail_timer.start())
        self.model.dataChanged.connect(lambda *_: self._selection_changed())
        self._detail_timer.timeout.connect(self._load_detail)
        self.triage.acting.connect(self._acting)
        self.triage.finished.connect(self._acted)
        if self.live is not None:
            self.triage.acting.connect(self.live.acting.update)
        self.triage.message.connect(lambda text: self.statusBar().showMessage(text, 15_000))
        self._auto_sync.timeout.connect(lambda: self.sync_now(automatic=True))

    def _restore_layout(self) -> None:
        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        splitter = self.settings.splitter("main")
        if splitter is None or not self.splitter.restoreState(splitter):
            self.splitter.setSizes([830, 450])
        detail = self.settings.splitter("detail")
        if detail is None or not self.detail.splitter.restoreState(detail):
            self.detail.splitter.setSizes([300, 260])
        header = self.settings.header("queue")
        if header is not None:
            self.table.horizontalHeader().restoreState(header)

    def _save_layout(self) -> None:
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.save_splitter("main", self.splitter.saveState())
        self.settings.save_splitter("detail", self.detail.splitter.saveState())
        self.settings.save_header("queue", self.table.horizontalHeader().saveState())
        self.settings.sync()

    def open_administration(self) -> AdminDialog:
        """The administration screens (administrators only), over this window."""
        from hsm_console.gui.admin import AdminDialog

        dialog = AdminDialog(
            self.app.admin, self.runner, self, connect=self.app.connect,
            connected=self._site_connected,
        )  # fmt: skip
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.admin_dialog = dialog
        return dialog

    def _site_connected(self, done: Connected) -> None:
        self.statusBar().showMessage(
            f"Connected: {done.site_name}. Log entry {done.entry_id}.", 30_000
        )
        self.refresh_sync_status()  # and the sign-in band

    def open_site_checks(self) -> SiteChecksDialog:
        """What fails of the policy's checks on the sites (administrators, supervisors)."""
        from hsm_console.gui.site_checks import SiteChecksDialog

        dialog = SiteChecksDialog(self.app.db, self.app.username, self.runner, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.site_checks_dialog = dialog
        return dialog

    def open_retention(self) -> RetentionDialog:
        """Legal holds, the disposal worksheet and certificates (records officers)."""
        from hsm_console.gui.retention_dialog import RetentionDialog
        from hsm_console.services.retention import RetentionService

        service = RetentionService(self.app.db, self.app.policy, self.app.username)
        dialog = RetentionDialog(service, self.runner, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.retention_dialog = dialog
        return dialog

    def open_bans(self) -> BansDialog:
        """The blocked-accounts register (supervisors and records officers)."""
        from hsm_console.gui.bans_screen import BansDialog

        dialog = BansDialog(lambda: self.app.bans, self.runner, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.bans_dialog = dialog
        return dialog

    def propose_ban(self) -> BanDialog | None:
        """Propose to ban the selected comment's author; a supervisor decides it."""
        from hsm_console.gui.ban_dialog import BanDialog

        rows = self.selected_rows()
        if len(rows) != 1:
            return None
        said = self.statusBar().showMessage
        dialog = BanDialog(
            lambda: self.app.bans, self.runner, self.app.policy, rows[0],
            lambda ban: said(f"Proposed ban {ban.id}; a supervisor decides it.", 15_000), self,
        )  # fmt: skip
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.ban_dialog = dialog
        return dialog

    def open_records_search(self, request_id: int) -> RecordsSearchDialog:
        """Search and export for one records request (records officers)."""
        from hsm_console.gui.records_search import RecordsSearchDialog

        dialog = RecordsSearchDialog(
            self.app.db, self.app.username, request_id, self.runner, self, self.code_names
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # --- start and stop ----------------------------------------------------------------

    def start(self) -> None:
        """Show the queue, then sync (demo or auto-sync) or at least reconcile. The other
        readings of the start wait for the queue's first page: on one core they delayed it."""
        self.reload_queue()
        self.loader.loaded.connect(self._start_the_rest)
        self.loader.failed.connect(self._start_the_rest)
        self.table.setFocus()
        if not self.view.sites():
            self.show_log()
            self.detail.show_message(
                f"{self.view.actor.describe()} moderates no department, so there is no queue. "
                "Ask an administrator for the moderator role of your department."
            )
        elif self.demo:
            self.statusBar().showMessage(
                "Demo: you moderate Parks & Recreation on the built-in sandbox. Press F1 for "
                "the keyboard shortcuts.",
                30_000,
            )

    def _start_the_rest(self) -> None:
        """After the queue's first page: the rest of the start waits for the first comment
        shown (or that could not be), as its readings on a worker delayed it on one core."""
        self.loader.loaded.disconnect(self._start_the_rest)
        self.loader.failed.disconnect(self._start_the_rest)
        if self.model.rowCount():
            self._rest_due = True
        else:
            self._the_rest()

    def _first_comment_shown(self) -> None:
        if self._rest_due:
            self._rest_due = False
            self._the_rest()

    def _the_rest(self) -> None:
        """The seal, live updates and the sync or reconciling, in this order (a reconciling
        started later overlapped a moderator's first action), then the bands."""
        self.seals.seal_if_due()
        if self.live is not None:
            self.live.start()
        if self.view.sites():
            if self.demo or self.settings.auto_sync_minutes:
                self.sync_now(automatic=True)
            else:
                self._reconcile()
        self._read_bands()

    def _read_bands(self) -> None:
        """The sync corner, the sign-in band and the records band: nothing the first comment
        needs, and on one core their readings (the keyring, the records calendar) delayed it."""
        self.refresh_sync_status()
        banner = self.records_banner
        if banner is not None:
            app = self.app

            def read(_: JobContext) -> list[RequestRow]:
                return app.records_requests.attention()

            self.background.start(
                read, banner.show_requests, lambda exc: log.warning("records band: %s", exc)
            )

    def closeEvent(self, event: QCloseEvent) -> None:
        self._auto_sync.stop()
        self._detail_timer.stop()
        if self.live is not None:
            self.live.stop()
        self._save_layout()
        if not all([self.background.shutdown(), self.runner.shutdown()]):
            log.warning("background work still running at close")
        event.accept()

    def changeEvent(self, event: QEvent) -> None:
        # Light/dark switched: icons are drawn in the palette's colours.
        if self._ready and event.type() in (
            QEvent.Type.ApplicationPaletteChange,
            QEvent.Type.PaletteChange,
        ):
            self.registry.refresh_icons()
            self.model.clear_icons()
        super().changeEvent(event)

    # --- the queue -----------------------------------------------------------------------

    def reload_queue(self) -> None:
        """Read the queue again, keeping the comment in view selected if it still shows."""
        self._keep_comment = self.current_comment_id()
        self.filters.counting()
        self.loader.load(self.filters.current())

    def _filters_changed(self) -> None:
        self._keep_comment = None
        self.filters.counting()
        self.loader.load(self.filters.current())

    def _queue_loaded(self) -> None:
        row = self.model.row_of(self._keep_comment) if self._keep_comment is not None else None
        if row is None and self.model.rowCount():
            row = 0
        if row is None:
            self.detail.show_message("No comments match these filters.")
            self._selection_changed()
            return
        self.select_row(row)

    def _counted(self, counts: FilterCounts) -> None:
        self.filters.show_counts(counts)

    def select_row(self, row: int) -> None:
        index = self.model.index(row, 0)
        selection = self.table.selectionModel()
        selection.setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index)

    def current_comment_id(self) -> int | None:
        index = self.table.currentIndex()
        return self.model.comment_id(index.row()) if index.isValid() else None

    def _selected_numbers(self) -> list[int]:
        return sorted({index.row() for index in self.table.selectionModel().selectedRows()})

    def selected_rows(self) -> list[QueueRow]:
        """The selected comments; none when more are selected than one action may take."""
        numbers = self._selected_numbers()
        if len(numbers) > MAX_BULK:
            return []
        rows = [self.model.queue_row(number) for number in numbers]
        return [row for row in rows if row is not None]

    def _selection_changed(self) -> None:
        self.registry.update_for_selection(self.selected_rows())
        self.propose_ban_action.setEnabled(len(self.selected_rows()) == 1)
        if len(self._selected_numbers()) > MAX_BULK:
            self.statusBar().showMessage(
                f"One action takes at most {MAX_BULK} comments: select fewer.", 10_000
            )

    # --- the comment ---------------------------------------------------------------------

    def _load_detail(self) -> None:
        comment_id = self.current_comment_id()
        self._detail_generation += 1
        generation = self._detail_generation
        presence = self.presence
        if comment_id is None:
            self.detail.show_message("Select a comment in the queue to see it here.")
            if presence.enabled:
                self.runner.start(lambda _: presence.leave(), lambda _: None, log.info)
            return
        ahead = self._ahead.pop(comment_id, None)
        if ahead is not None:
            self.detail.show_comment(ahead)  # read moments ago; read again below
        reader = self.reader

        def read(_: JobContext) -> tuple[CommentView, str]:
            shown = reader.comment(comment_id)
            try:  # presence is a courtesy: a failure must not hide the comment
                presence.open(comment_id)
                others = presence.others([comment_id]).get(comment_id, [])
            except SQLAlchemyError as exc:
                log.info("presence not recorded: %s", exc)
                others = []
            return shown, open_by_words(others)

        self.runner.start(
            read,
            lambda shown: self._detail_arrived(generation, shown),
            lambda exc: self._detail_failed(generation, exc),
        )

    def _save_note(self, comment_id: int, text: str) -> None:
        """Record a note off the GUI thread, then read the comment again to show it."""
        notes = self.app.notes

        def save(_: JobContext) -> int:
            return notes.add(comment_id, text)

        def saved(_: object) -> None:
            self.detail.note_saved()
            self.statusBar().showMessage("Note added to the log.", 5000)
            self._load_detail()

        def failed(exc: Exception) -> None:
            self.problems.show(problem_from(exc, "adding the note"))

        self.runner.start(save, saved, failed)

    def mark_suggestion_wrong(self) -> WrongSuggestionDialog | None:
        """Ask which of the shown comment's suggestions was wrong, then record it."""
        from hsm_console.gui.suggestion_dialog import WrongSuggestionDialog

        shown = self.detail.comment
        if shown is None or shown.id != self.current_comment_id() or not shown.suggestions:
            self.statusBar().showMessage("No suggestion on the comment shown to mark.", 5000)
            return None
        dialog = WrongSuggestionDialog(shown.suggestions, shown.wrong_marks, self.code_names, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        comment_id = shown.id

        def answered(result: int) -> None:
            self.wrong_dialog = None
            code = dialog.chosen()
            if result == int(QDialog.DialogCode.Accepted) and code is not None:
                self._record_wrong(comment_id, code, dialog.note.text())

        dialog.finished.connect(answered)
        dialog.open()
        self.wrong_dialog = dialog
        return dialog

    def _record_wrong(self, comment_id: int, code: str, note: str) -> None:
        service = self.app.suggestions

        def record(_: JobContext) -> int:
            return service.mark_wrong(comment_id, code, note)

        def recorded(entry_id: int) -> None:
            self.statusBar().showMessage(
                f"Suggestion {code} marked wrong (log entry {entry_id}).", 10_000
            )
            self.model.refresh([comment_id])
            if self.detail.comment_id == comment_id:
                self._load_detail()

        def failed(exc: Exception) -> None:
            self.problems.show(problem_from(exc, "marking the suggestion wrong"))

        self.runner.start(record, recorded, failed)

    def _detail_arrived(self, generation: int, shown: tuple[CommentView, str]) -> None:
        if generation == self._detail_generation:
            self.detail.show_comment(shown[0])
            self.detail.show_presence(shown[1])
            self._read_ahead(shown[0].id)
        self._first_comment_shown()

    def reload_detail(self) -> None:
        """Read the comment in view again (it changed, here or elsewhere)."""
        self._detail_timer.start()

    @property
    def read_ahead(self) -> int | None:
        """The comment read ahead, if its reading is done."""
        return next(iter(self._ahead), None)

    def _read_ahead(self, comment_id: int) -> None:
        """Read the next comment while this one is being decided, so the window moves on to
        it without waiting for the database."""
        row = self.model.row_of(comment_id)
        self._ahead.clear()
        if row is None or row + 1 >= self.model.rowCount():
            return
        next_id, reader = self.model.comment_id(row + 1), self.reader

        def read(_: JobContext) -> CommentView:
            return reader.comment(next_id)

        def arrived(view: CommentView) -> None:
            if self.current_comment_id() == comment_id:  # still the one before it
                self._ahead = {next_id: view}

        self.runner.start(read, arrived, lambda exc: log.debug("read ahead: %s", exc))

    def _detail_failed(self, generation: int, exc: Exception) -> None:
        if generation == self._detail_generation:
            self.detail.show_message(problem_from(exc, "reading the comment").message)
        self._first_comment_shown()

    def _open_permalink(self) -> None:
        shown = self.detail.comment
        if shown is None or shown.id != self.current_comment_id():
            self.statusBar().showMessage("The comment is still loading; try again.", 5000)
            return
        self.detail.open_permalink.click()

    def _focus_search(self) -> None:
        self.filters.search.setFocus()
        self.filters.search.selectAll()

    # --- acting ----------------------------------------------------------------------

    def act(self, action: Action) -> None:
        rows = self.selected_rows()
        if rows and self.registry[ActionId(action.value)].isEnabled():
            self.triage.begin(action, rows)

    def _acting(self, comment_ids: list[int]) -> None:
        """The action was chosen: show the next comment at once, while it is recorded and
        the platform asked (the platform alone may take a second); a failure brings the
        comment back."""
        self._moved = (comment_ids, self._move_after(comment_ids))

    def _acted(self, comment_ids: list[int], succeeded: bool) -> None:
        self.model.refresh(comment_ids)
        self.recount()
        moved, self._moved = self._moved, None
        if self.detail.comment_id in comment_ids:
            self._detail_timer.start()
        elif (
            not succeeded
            and len(comment_ids) == 1
            and moved is not None
            and moved[0] == comment_ids
            and self.current_comment_id() == moved[1]  # still where we took them
        ):
            row = self.model.row_of(comment_ids[0])
            if row is not None:
                self.select_row(row)  # back to it, to try again

    def _move_after(self, comment_ids: Sequence[int]) -> int | None:
        """Select the comment after these, and read it without waiting; returns its id."""
        rows = [row for row in map(self.model.row_of, comment_ids) if row is not None]
        if not rows:
            return None
        self.select_row(min(max(rows) + 1, self.model.rowCount() - 1))
        self._detail_timer.stop()
        self._load_detail()
        return self.current_comment_id()

    def recount(self) -> None:
        view, queue_filter = self.view, self.filters.current()

        def count(_: JobContext) -> FilterCounts:
            return view.counts(queue_filter)

        self.runner.start(count, self._counted, lambda exc: log.warning("recount: %s", exc))

    # --- sync ---------------------------------------------------------------------------

    def sync_now(self, *, automatic: bool) -> None:
        if self._sync_task is not None and self._sync_task.running:
            return
        service = self.app.sync

        def run(context: JobContext) -> list[SiteResult]:
            return service.sync(None, progress=context.report, cancelled=context.cancelled)

        self.sync_status.started()
        self.registry[ActionId.SYNC].setEnabled(False)
        self.registry[ActionId.CANCEL_WORK].setEnabled(True)
        self._sync_task = self.runner.start(
            run,
            lambda results: self._synced(results, automatic),
            lambda exc: self._sync_failed(exc, automatic),
            self._sync_progressed,
        )

    def cancel_sync(self) -> None:
        if self._sync_task is not None and self._sync_task.running:
            self._sync_task.cancel()
            self.sync_status.stopping()

    @property
    def syncing(self) -> bool:
        return self._sync_task is not None and self._sync_task.running

    def _sync_progressed(self, progress: object) -> None:
        from hsm_console.services.sync import SyncProgress  # loaded by the sync reporting

        if isinstance(progress, SyncProgress):
            self.sync_status.progressed(progress)

    def _sync_ended(self) -> None:
        self._sync_task = None
        self.sync_status.idle()
        self.registry[ActionId.SYNC].setEnabled(True)
        self.registry[ActionId.CANCEL_WORK].setEnabled(False)
        self.refresh_sync_status()
        self.reload_queue()

    def _synced(self, results: list[SiteResult], automatic: bool) -> None:
        self._sync_ended()
        new = sum(result.new_comments for result in results)
        failed = [result for result in results if result.error]
        if any(result.cancelled for result in results):
            summary = f"Sync stopped; {new} new comments were kept."
        else:
            summary = f"Sync finished: {new} new comments from {len(results)} sites."
        if failed:
            summary += f" {len(failed)} sites could not be synced."
        self.statusBar().showMessage(summary, 30_000)
        if failed and not automatic:
            self.problems.show(
                Problem(
                    "Some sites could not be synced",
                    "\n".join(f"{r.site_name}: {r.error}" for r in failed)
                    + "\n\nThe other sites were synced. The console tries again at the next "
                    "sync.",
                    "\n".join(f"site {r.site_id} ({r.site_name}): {r.error}" for r in failed),
                )
            )

    def _sync_failed(self, exc: Exception, automatic: bool) -> None:
        self._sync_ended()
        problem = problem_from(exc, "syncing")
        if automatic:
            self.statusBar().showMessage(f"Sync failed: {problem.message}", 30_000)
        else:
            self.problems.show(problem)

    def refresh_sync_status(self) -> None:
        view = self.view

        def read(_: JobContext) -> list[SiteSync]:
            return view.sync_status()

        self.runner.start(
            read, self.sync_status.show_sites, lambda exc: log.warning("sync status: %s", exc)
        )
        self.refresh_sign_in_banner()

    def refresh_sign_in_banner(self) -> None:
        """Name the sites whose sign-in needs an administrator (from this computer's keyring
        and the database), when the window opens and after each sync."""
        db, actor, credentials = self.app.db, self.view.actor, self.app.credentials

        def read(_: JobContext) -> list[health.SiteHealth]:
            return health.health(db, actor, credentials)

        self.background.start(
            read, self.sign_in_banner.show_sites, lambda exc: log.warning("sign-in state: %s", exc)
        )

    def _reconcile(self) -> None:
        service = self.app.moderation

        def run(_: JobContext) -> list[ActionResult]:
            return service.reconcile()

        def done(results: list[ActionResult]) -> None:
            if results:
                self.statusBar().showMessage(
                    f"{len(results)} actions interrupted earlier were completed.", 30_000
                )
                self.reload_queue()

        self.runner.start(run, done, lambda exc: log.warning("reconcile: %s", exc))

    def _auto_sync_chosen(self, choice: QAction) -> None:
        self.settings.auto_sync_minutes = int(choice.data())
        self._apply_auto_sync()

    def _apply_auto_sync(self) -> None:
        minutes = self.settings.auto_sync_minutes
        if self.app.by_agent:  # the City-wide mode: the agent syncs (services/agent.py)
            self._auto_sync.stop()
            self.registry[ActionId.SYNC].setEnabled(False)
            self.registry[ActionId.SYNC].setToolTip(AGENT_SYNCS)
        elif minutes:
            self._auto_sync.start(minutes * 60_000)
        else:
            self._auto_sync.stop()

    @property
    def auto_sync_interval_ms(self) -> int:
        return self._auto_sync.interval() if self._auto_sync.isActive() else 0
