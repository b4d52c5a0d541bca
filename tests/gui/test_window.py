"""The window as a whole: isolation, filters and counts, sync off the GUI thread, the
action registry, the help overlay, remembered layout, auto-sync, and the demo start."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QSettings, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from hsm_console.errors import NotPossible
from hsm_console.gui.actions import MODERATION_IDS, SPECS, ActionId
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.settings import GuiSettings
from hsm_console.gui.start import start_console
from hsm_console.gui.ui_files import ui_path
from hsm_console.rules.domain import Action, Platform
from hsm_sandbox import FaultKind
from tests.conftest import World
from tests.gui.conftest import OpenWindow
from tests.gui.helpers import WAIT_MS, count, read_rows

pytestmark = pytest.mark.gui


def shown_rows(qtbot: QtBot, window: MainWindow) -> list[tuple[int, str]]:
    """(comment id, site name) of every row loaded in the table."""
    return [(row.id, row.site_name) for row in read_rows(qtbot, window.model)]


def settle(qtbot: QtBot, window: MainWindow) -> None:
    """Wait for the filter's debounce and the query behind it."""
    qtbot.wait(400)
    qtbot.waitUntil(lambda: not window.loader.loading, timeout=WAIT_MS)


def test_each_moderator_sees_only_their_departments_comments(
    qtbot: QtBot, open_window: OpenWindow, gui_world: World
) -> None:
    alice = open_window("alice")
    carol = open_window("carol")

    parks = count(
        gui_world, "SELECT count(*) FROM comments WHERE site_id = :s", s=gui_world.parks_site
    )
    assert {site for _, site in shown_rows(qtbot, carol)} == {"Highland Police Department"}
    assert {site for _, site in shown_rows(qtbot, alice)} == {"Highland Parks & Recreation"}
    assert alice.model.rowCount() == parks  # every Parks comment is new, none elsewhere
    assert alice.filters.site.count() == 2  # "All my sites" and Parks


def test_filters_search_and_counts(qtbot: QtBot, window: MainWindow, gui_world: World) -> None:
    qtbot.waitUntil(lambda: window.filters.count_label.text().endswith("comments"), timeout=WAIT_MS)
    total = window.model.rowCount()
    assert window.filters.count_label.text() == f"{total:,} comments"
    assert window.filters.status.itemText(0) == f"New ({total:,})"

    qtbot.keyClicks(window.filters.search, "playground")
    settle(qtbot, window)
    found = shown_rows(qtbot, window)
    assert 0 < len(found) < total
    for comment_id, _ in found:
        row = window.model.queue_row(window.model.row_of(comment_id) or 0)
        assert row is not None
        assert "playground" in (row.excerpt + row.author_name).casefold()
    qtbot.waitUntil(
        lambda: window.filters.count_label.text() == f"{len(found)} comments", timeout=WAIT_MS
    )

    window.filters.search.clear()
    flagged = window.filters.status.findText("Flagged", Qt.MatchFlag.MatchStartsWith)
    window.filters.status.setCurrentIndex(flagged)
    settle(qtbot, window)
    assert window.model.rowCount() == 0
    assert window.detail.empty_label.text() == "No comments match these filters."

    # A stored suggestion is a filter of its own.
    suggested = window.model.comment_id(0) if window.model.rowCount() else None
    assert suggested is None
    with gui_world.db.transaction() as session:
        newest = session.execute(
            text("SELECT id FROM comments WHERE site_id = :s ORDER BY created_at DESC LIMIT 1"),
            {"s": gui_world.parks_site},
        ).scalar_one()
        session.execute(text("UPDATE comments SET suggested_code = NULL"))
        session.execute(text("DELETE FROM comment_suggestions"))
        session.execute(
            text("UPDATE comments SET suggested_code = 'THR' WHERE id = :c"), {"c": newest}
        )
        session.execute(
            text(
                "INSERT INTO comment_suggestions (comment_id, code, rank, why, spans, site_id, "
                "status, created_at) SELECT id, 'THR', 0, 'a threat', '[]', site_id, status, "
                "created_at FROM comments WHERE id = :c"
            ),
            {"c": newest},
        )
    window.filters.status.setCurrentIndex(0)
    threat = window.filters.suggestion.findText("THR", Qt.MatchFlag.MatchStartsWith)
    window.filters.suggestion.setCurrentIndex(threat)
    settle(qtbot, window)
    assert [comment_id for comment_id, _ in shown_rows(qtbot, window)] == [newest]
    qtbot.waitUntil(
        lambda: window.filters.suggestion.itemText(threat).endswith("(1)"), timeout=WAIT_MS
    )


def test_the_window_keeps_working_while_a_slow_sync_runs(
    qtbot: QtBot, window: MainWindow, gui_world: World
) -> None:
    gui_world.sandbox.faults.add(FaultKind.SLOW, method="GET", seconds=0.4, times=3)
    ticks: list[int] = []
    timer = QTimer(window)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    start_row = window.table.currentIndex().row()

    qtbot.keyClick(window.table, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: window.syncing, timeout=WAIT_MS)
    assert window.sync_status.progress.isVisible()
    # The queue still answers the keyboard in the middle of the sync.
    qtbot.keyClick(window.table, Qt.Key.Key_Down)
    assert window.syncing
    assert window.table.currentIndex().row() == start_row + 1
    ticks_during = len(ticks)
    qtbot.waitUntil(lambda: not window.syncing, timeout=WAIT_MS)
    timer.stop()

    assert len(ticks) > ticks_during  # the timer kept ticking while the sync ran
    assert len(ticks) >= 10
    assert not window.sync_status.progress.isVisible()
    assert window.sync_status.label.text().startswith("Synced Highland Parks & Recreation")


def test_every_action_comes_from_one_registry_with_its_key_shown(window: MainWindow) -> None:
    toolbar_actions = window.toolbar.actions()
    table_actions = window.table.actions()
    menus = window.menuBar().findChildren(QMenu)
    menu_actions = [action for menu in menus for action in menu.actions()]
    for action_id in MODERATION_IDS:
        action = window.registry[action_id]
        key = SPECS[action_id].keys[0]
        assert action.shortcut().toString() == key
        assert action.toolTip().endswith(f"({key})")
        assert action in toolbar_actions
        assert action in table_actions
        assert action in menu_actions
    keys = [SPECS[a].keys[0] for a in MODERATION_IDS]
    assert len(set(keys)) == len(keys)


def test_actions_are_enabled_by_what_the_comment_allows(
    qtbot: QtBot, window: MainWindow, gui_world: World
) -> None:
    registry = window.registry
    row = window.model.queue_row(0)
    assert row is not None
    platform = Platform(row.platform).label
    assert registry[ActionId.HIDE].isEnabled()
    assert registry[ActionId.HIDE].statusTip() == SPECS[ActionId.HIDE].tip
    assert not registry[ActionId.UNHIDE].isEnabled()  # not hidden
    not_hidden = f"This comment is not hidden on {platform}, so it cannot be unhidden."
    assert registry[ActionId.UNHIDE].statusTip() == not_hidden
    assert registry[ActionId.UNHIDE].toolTip() == f"{not_hidden} (U)"
    window.app.moderation.act(row.id, Action.HIDE, "PRF")
    window.model.refresh([row.id])
    window.select_row(0)
    qtbot.waitUntil(lambda: registry[ActionId.UNHIDE].isEnabled(), timeout=WAIT_MS)
    assert not registry[ActionId.HIDE].isEnabled()
    # The service refuses with the words the disabled action shows.
    with pytest.raises(NotPossible) as refused:
        window.app.moderation.act(row.id, Action.HIDE, "PRF")
    assert refused.value.message == registry[ActionId.HIDE].statusTip()
    assert refused.value.message == f"This comment is already hidden on {platform}."


def test_the_help_overlay_lists_every_shortcut(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.keyClick(window.table, Qt.Key.Key_F1)
    assert window.help.isVisible()
    listed = " ".join(label.text() for label in window.help.key_labels)
    for action_id in MODERATION_IDS:
        assert SPECS[action_id].keys[0] in listed.split()

    qtbot.keyClick(window.help, Qt.Key.Key_Escape)

    assert not window.help.isVisible()


def test_window_size_and_splitters_are_remembered(
    qtbot: QtBot, open_window: OpenWindow, tmp_path: Path
) -> None:
    store = QSettings(str(tmp_path / "remembered.ini"), QSettings.Format.IniFormat)
    settings = GuiSettings(store)
    settings.auto_sync_minutes = 0
    first = open_window("alice", settings)
    first.resize(790, 700)  # within the offscreen screen (800 x 800)
    first.splitter.setSizes([300, 480])
    qtbot.wait(50)
    sizes = first.splitter.sizes()
    first.close()

    second = open_window("alice", GuiSettings(store))

    assert (second.width(), second.height()) == (790, 700)
    assert second.splitter.sizes() == sizes


def test_auto_sync_runs_at_the_chosen_interval(window: MainWindow) -> None:
    assert window.auto_sync_interval_ms == 0
    every_five = next(a for a in window.auto_sync_group.actions() if a.data() == 5)

    every_five.trigger()

    assert window.auto_sync_interval_ms == 5 * 60_000
    assert window.settings.auto_sync_minutes == 5


def test_forms_are_found_in_the_source_checkout() -> None:
    for name in ("main_window.ui", "detail_pane.ui", "action_dialog.ui", "log_screen.ui"):
        assert ui_path(name).is_file()


def test_demo_start_shows_a_real_queue(qtbot: QtBot, tmp_path: Path) -> None:
    settings = GuiSettings(QSettings(str(tmp_path / "demo.ini"), QSettings.Format.IniFormat))
    console = start_console(None, True, settings)
    try:
        window = console.window
        assert "demo" in window.windowTitle()
        qtbot.waitUntil(lambda: not window.syncing and window.model.rowCount() > 0, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.detail.comment_id is not None, timeout=WAIT_MS)
        # Signed in as the demo moderator of Parks: no Police comment is in the queue.
        sites = {site for _, site in shown_rows(qtbot, window)}
        assert sites
        assert not any("Police" in site for site in sites)
    finally:
        console.close()


@pytest.mark.expected_log("sync of site")
def test_a_failed_sync_says_which_site_and_what_to_do(
    qtbot: QtBot, window: MainWindow, gui_world: World
) -> None:
    gui_world.sandbox.faults.add(FaultKind.REVOKED_TOKEN, method="GET", times=None)

    qtbot.keyClick(window.table, Qt.Key.Key_F5)

    qtbot.waitUntil(lambda: window.problems.current is not None, timeout=WAIT_MS)
    problem = window.problems.current
    assert problem is not None
    assert problem.windowTitle() == "Some sites could not be synced"
    message = problem.message_label.text()
    assert message.startswith("Highland Parks & Recreation: The Facebook token")
    assert "ask an administrator to renew it" in message
    qtbot.waitUntil(lambda: "⚠ 1 failed" in window.sync_status.label.text(), timeout=WAIT_MS)


@pytest.mark.expected_log("sync of site")
def test_the_status_bar_shows_since_when_a_site_is_not_read(
    qtbot: QtBot, window: MainWindow, gui_world: World
) -> None:
    gui_world.sandbox.faults.add(FaultKind.SERVER_ERROR, method="GET", times=None)
    qtbot.keyClick(window.table, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: "not read since" in window.sync_status.label.text(), timeout=WAIT_MS)
    assert "platform down or refusing" in window.sync_status.label.toolTip()
    assert "reads back over it" in window.sync_status.label.toolTip()
    qtbot.waitUntil(lambda: window.problems.current is not None, timeout=WAIT_MS)
    problem = window.problems.current
    assert problem is not None
    problem.close()
    qtbot.waitUntil(lambda: not window.syncing, timeout=WAIT_MS)
    gui_world.sandbox.faults.clear()
    window.sync_now(automatic=False)
    qtbot.waitUntil(lambda: "⚠" not in window.sync_status.label.text(), timeout=WAIT_MS)
    assert "not read since" not in window.sync_status.label.text()
    assert "1 earlier gap(s) on record" in window.sync_status.label.toolTip()


class _Browser(QObject):
    """Stands in for the web browser: records what the console asked it to open."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toString())


def test_the_permalink_opens_in_the_browser(qtbot: QtBot, window: MainWindow) -> None:
    browser = _Browser()
    QDesktopServices.setUrlHandler("https", browser, "open")
    try:
        shown = window.detail.comment
        assert shown is not None

        qtbot.keyClick(window.table, Qt.Key.Key_O)

        assert browser.opened == [shown.permalink]
        assert window.detail.open_city_page.isEnabled()
        window.detail.open_city_page.click()
        assert browser.opened[-1] == shown.post_link
    finally:
        QDesktopServices.unsetUrlHandler("https")


def test_tab_reaches_every_control_without_a_trap(qtbot: QtBot, window: MainWindow) -> None:
    window.filters.search.setFocus()
    visited = []
    for _ in range(30):
        focused = QApplication.focusWidget()
        assert focused is not None
        visited.append(focused)
        qtbot.keyClick(focused, Qt.Key.Key_Tab)

    names = {widget.objectName() for widget in visited}
    expected = {
        "searchBox", "siteFilter", "platformFilter", "statusFilter", "suggestionFilter",
        "receivedFrom", "receivedTo", "queueTable", "openPermalinkButton", "commentText",
        "threadList",
    }  # fmt: skip
    assert expected <= names
    for widget in visited:
        if widget.objectName() in expected:  # each says what it is to a screen reader
            assert widget.accessibleName(), widget.objectName()
