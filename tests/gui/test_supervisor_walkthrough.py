"""Issue 9's "Done when", tried as a supervisor would, in the demo: a colleague hides Parks
Facebook comments; the demo's person (a Parks supervisor) finds last week's hides in the Log
tab, reviews each in the Review tab (one questioned and reversed), sees the Dashboard tab's
tables change, and verifies the chain, only through the widgets."""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QTableWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select, text

from hsm_console.db.models import Comment, Department, Site
from hsm_console.display import CITY_TZ
from hsm_console.gui.dashboard_screen import DashboardScreen
from hsm_console.gui.filter_bar import chosen_day
from hsm_console.gui.log_screen import RECORDED_FIRST_TIP, LogColumn, LogScreen
from hsm_console.gui.review_screen import ReviewScreen, Step
from hsm_console.gui.start import Console
from hsm_console.rules.domain import Action, PlatformState, Role
from hsm_console.services.admin import ensure_person, grant
from hsm_console.services.moderation import ModerationService
from tests.gui.helpers import WAIT_MS, read_rows, state_seen_by

PARKS_FACEBOOK = "Highland Parks & Recreation"
PARKS_INSTAGRAM = "@highlandparks"


def colleague_hides(console: Console) -> tuple[list[int], int]:
    """jordan, a Parks moderator, hides four Parks Facebook comments (three under OFT, which
    needs a second review, one as spam) and one on Instagram: (the Facebook hides' pending
    entries, the Instagram one's)."""
    app = console.window.app
    with app.db.transaction() as session:
        jordan = ensure_person(session, "jordan", "Jordan Parks Moderator")
        parks = session.scalar(select(Department).where(Department.code == "PARKS"))
        assert parks is not None
        grant(session, jordan, Role.MODERATOR, parks)

        def comments(site_name: str) -> list[int]:
            return list(
                session.scalars(
                    select(Comment.id)
                    .join(Site, Comment.site_id == Site.id)
                    .where(Site.name == site_name, Comment.status == "new")
                    .order_by(Comment.id)
                )
            )

        facebook, instagram = comments(PARKS_FACEBOOK), comments(PARKS_INSTAGRAM)
    moderation = ModerationService(app.db, app.policy, app.connectors, "jordan")
    codes = ("OFT", "OFT", "SPM", "OFT")
    hides = [
        moderation.act(c, Action.HIDE, code, "not about the post")
        for c, code in zip(facebook, codes, strict=False)
    ]
    other = moderation.act(instagram[0], Action.HIDE, "OFT", "not about the post")
    assert all(h.ok for h in hides)
    assert other.ok
    return [h.pending_entry_id for h in hides], other.pending_entry_id


def pick(qtbot: QtBot, combo: QComboBox, starts: str) -> None:
    """Choose the item a person reads (the text before its count) with the keyboard."""
    index = next(i for i in range(combo.count()) if combo.itemText(i).startswith(starts))
    combo.setFocus()
    while combo.currentIndex() != index:
        key = Qt.Key.Key_Down if combo.currentIndex() < index else Qt.Key.Key_Up
        qtbot.keyClick(combo, key)


def numbers(table: QTableWidget, key: str) -> dict[str, str]:
    """One row of a dashboard's plain table, by its first cell, as column -> shown text."""
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    for r in range(table.rowCount()):
        if table.item(r, 0).text() == key:
            return {h: table.item(r, c).text() for c, h in enumerate(headers)}
    return {}


def test_a_supervisor_reviews_last_weeks_parks_facebook_hides(qtbot: QtBot, demo: Console) -> None:
    window = demo.window
    supervisor = window.app.username
    fb_hides, instagram_hide = colleague_hides(demo)

    # The dashboard before: jordan's actions, none questioned, no reversal.
    dashboard = window.show_dashboard()
    assert isinstance(dashboard, DashboardScreen)
    qtbot.waitUntil(lambda: dashboard.shown is not None and not dashboard.loading, timeout=WAIT_MS)
    before = numbers(dashboard.panels["questioned"].numbers, "jordan")
    assert before["Actions"] == "5"
    assert before["Questioned by reviewers"] == "0"
    reversals_before = reversals(dashboard)

    # 1. The Log tab: Parks on Facebook, hides, the last seven days.
    log = window.show_log()
    assert isinstance(log, LogScreen)
    qtbot.waitUntil(lambda: not log.loading, timeout=WAIT_MS)
    pick(qtbot, log.site, PARKS_FACEBOOK)
    pick(qtbot, log.action, "hide")
    pick(qtbot, log.filters.period, "Last 7 days")
    today = datetime.now(CITY_TZ).date()
    assert (chosen_day(log.on_from), chosen_day(log.on_to)) == (today - timedelta(days=6), today)
    qtbot.waitUntil(
        lambda: (
            log.loader.current_filter == log.current_filter()
            and not log.loading
            and log.count_label.text() != "Counting…"
        ),
        timeout=WAIT_MS,
    )
    # Each hide is two entries, the intent recorded first and its outcome: 8 for 4 hides.
    assert log.count_label.text() == "8 entries"
    read_rows(qtbot, log.model)  # rows are read on worker threads
    intents = {
        log.model.id_at(r)
        for r in range(log.model.rowCount())
        if log.model.data(log.model.index(r, LogColumn.OUTCOME)) == "Recorded first"
    }
    assert intents == set(fb_hides)
    assert instagram_hide not in intents
    tip = log.model.data(log.model.index(0, LogColumn.OUTCOME), Qt.ItemDataRole.ToolTipRole)
    first = log.model.data(log.model.index(1, LogColumn.OUTCOME), Qt.ItemDataRole.ToolTipRole)
    assert (tip, first) == (None, RECORDED_FIRST_TIP)  # newest first: the outcome, its intent
    pick(qtbot, log.outcome, "Applied")  # one row per hide: what was done
    qtbot.waitUntil(
        lambda: (
            log.loader.current_filter == log.current_filter()
            and not log.loading
            and log.count_label.text() == "4 entries"
        ),
        timeout=WAIT_MS,
    )
    read_rows(qtbot, log.model)
    outcomes = [log.model.data(log.model.index(r, LogColumn.OUTCOME)) for r in range(4)]
    assert sorted(outcomes) == sorted(f"Applied (of #{e})" for e in fb_hides)

    # 2. Reviews. The spam hide needs no second review, so it is not in the needs-review
    # list: Enter on its row in the Log tab opens it in the Review tab.
    spam_row = next(
        r for r in range(4) if log.model.data(log.model.index(r, LogColumn.REASON)) == "SPM"
    )
    log.table.setFocus()
    log.select_row(spam_row)
    qtbot.keyClick(log.table, Qt.Key.Key_Return)
    review = window.review_screen
    assert isinstance(review, ReviewScreen)
    assert window.pages is not None
    assert window.pages.currentWidget() is review
    qtbot.waitUntil(
        lambda: review.item is not None and review.item.entry_id == fb_hides[2], timeout=WAIT_MS
    )
    press(qtbot, review, Step.CONCUR)
    assert review.item is not None
    assert review.item.review is not None
    assert review.item.review.verdict == "concur"

    qtbot.waitUntil(lambda: not review.loading, timeout=WAIT_MS)
    assert sorted(i.entry_id for i in review.waiting) == sorted(
        fb_hides[:2] + fb_hides[3:] + [instagram_hide]
    )
    questioned_entry = fb_hides[0]
    for entry in (fb_hides[1], fb_hides[3], fb_hides[0]):
        row = next(r for r, i in enumerate(review.waiting) if i.entry_id == entry)
        click_row(qtbot, review.waiting_table, row)
        qtbot.waitUntil(
            lambda e=entry: review.item is not None and review.item.entry_id == e, timeout=WAIT_MS
        )
        if entry == questioned_entry:
            press(
                qtbot,
                review,
                Step.QUESTION,
                "It asks about a kayak launch: on topic for the lake plan.",
            )
        else:
            press(qtbot, review, Step.CONCUR)
        qtbot.waitUntil(lambda: not review.loading, timeout=WAIT_MS)
    assert [i.entry_id for i in review.waiting] == [instagram_hide]
    assert review.item is not None
    assert review.item.entry_id == questioned_entry
    comment_id = review.item.comment_id
    assert state_seen_by(demo.window.app, comment_id) is PlatformState.HIDDEN
    reason = "On topic: it asks for a kayak launch on the lake this post is about."
    press(qtbot, review, Step.REVERSE, reason)
    assert review.last_result is not None
    assert review.last_result.ok
    assert "Unhidden on Facebook" in review.status.text()
    assert state_seen_by(demo.window.app, comment_id) is PlatformState.VISIBLE
    assert review.item is not None
    assert review.item.reversed_by == review.last_result.pending_entry_id
    history = review.item_history.toPlainText()  # the supervisor's reason, in the window
    assert f"Reversed (unhide): log entry #{review.item.reversed_by}, by {supervisor}, " in history
    assert history.endswith(f": {reason}")
    question = review.item.review
    assert question is not None
    assert question.verdict == "question"
    with demo.window.app.db.engine.connect() as conn:
        unhide = conn.execute(
            text("SELECT action, actor, note, refers_to, comment_id FROM action_log WHERE id = :i"),
            {"i": review.last_result.pending_entry_id},
        ).one()
    assert tuple(unhide) == ("unhide", supervisor, reason, question.entry_id, comment_id)

    # 3. The dashboard follows: one of jordan's actions questioned, one reversal more.
    window.show_dashboard()
    qtbot.waitUntil(lambda: not dashboard.loading, timeout=WAIT_MS)
    after = numbers(dashboard.panels["questioned"].numbers, "jordan")
    assert after["Questioned by reviewers"] == "1"
    assert after["Share questioned (%)"] == "20.0"
    reversals_after = reversals(dashboard)
    assert reversals_after == reversals_before + 1

    # 4. Verify the log in the window.
    window.show_log()
    qtbot.mouseClick(log.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not log.working and log.last_report is not None, timeout=WAIT_MS)
    report = log.last_report
    assert report is not None
    assert not report.problem
    assert not report.cancelled
    with demo.window.app.db.engine.connect() as conn:
        entries = conn.execute(text("SELECT count(*) FROM action_log")).scalar_one()
    assert report.entries_checked == entries
    assert log.work_status.text().startswith("The action log is intact.")
    assert f"{entries:,} log entries" in log.work_status.text()


def reversals(dashboard: DashboardScreen) -> int:
    """The reversals of every week in the dashboard's plain table."""
    table = dashboard.panels["reversals"].numbers
    column = "Reversals (unhidden after a hide)"
    return sum(
        int(numbers(table, table.item(r, 0).text())[column]) for r in range(table.rowCount())
    )


def click_row(qtbot: QtBot, table: QTableWidget, row: int) -> None:
    cell = table.visualItemRect(table.item(row, 0)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=cell)


def press(qtbot: QtBot, screen: ReviewScreen, step: Step, words: str = "") -> None:
    """Type the words and click the button, as the person would; wait for the answer."""
    screen.words.setFocus()
    screen.words.clear()
    if words:
        qtbot.keyClicks(screen.words, words)
    button = screen.buttons[step]
    assert button.isEnabled(), step
    before = screen.item
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not screen.busy and screen.item is not before, timeout=WAIT_MS)
