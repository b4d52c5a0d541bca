"""The Review tab and the detail pane's notes, driven as a supervisor and a moderator would:
concur and question, reverse a hide through the sandbox, clear the needs-review list, record
an appeal and decide it; notes and the commenter's history beside a comment."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from hsm_console.db.models import Comment, Site
from hsm_console.gui import review_screen
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.review_screen import ReviewScreen, Step
from hsm_console.gui.settings import GuiSettings
from hsm_console.rules.domain import Action, PlatformState, Role
from hsm_console.services import admin
from tests.conftest import World
from tests.gui.conftest import started
from tests.gui.helpers import WAIT_MS, count, state_on_platform

HOSTILE = "<b>bold</b> <img src=x onerror=alert(1)> \u202eevil"


@pytest.fixture
def hidden(gui_world: World) -> list[int]:
    """Three Parks comments alice hid as off-topic; dana supervises Parks."""
    with gui_world.db.transaction() as session:
        site = session.get(Site, gui_world.parks_site)
        assert site is not None
        dana = admin.ensure_person(session, "dana", "Dana Director")
        admin.grant(session, dana, Role.SUPERVISOR, site.department)
        parks = session.scalars(
            select(Comment.id).where(Comment.site_id == gui_world.parks_site).order_by(Comment.id)
        ).all()
    alice = gui_world.app("alice").moderation
    return [alice.act(c, Action.HIDE, "OFT", HOSTILE).pending_entry_id for c in parks[:3]]


OpenReview = Callable[[str], tuple[MainWindow, ReviewScreen]]


@pytest.fixture
def open_review(qtbot: QtBot, gui_world: World, gui_settings: GuiSettings) -> Iterator[OpenReview]:
    opened: list[MainWindow] = []

    def open_for(username: str) -> tuple[MainWindow, ReviewScreen]:
        window = started(qtbot, MainWindow(gui_world.app(username), gui_settings))
        opened.append(window)
        screen = window.show_review()
        assert screen is not None
        qtbot.waitUntil(lambda: not screen.loading and bool(screen.waiting), timeout=WAIT_MS)
        return window, screen

    yield open_for
    for window in opened:
        window.close()


def choose_waiting(qtbot: QtBot, screen: ReviewScreen, row: int) -> None:
    wanted = screen.waiting[row].entry_id
    screen.waiting_table.setCurrentCell(row, 0)
    qtbot.waitUntil(
        lambda: screen.item is not None and screen.item.entry_id == wanted, timeout=WAIT_MS
    )


def press(qtbot: QtBot, screen: ReviewScreen, step: Step, words: str = "") -> None:
    screen.words.setPlainText(words)
    button = screen.buttons[step]
    assert button.isEnabled(), step
    before = screen.item
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not screen.busy and screen.item is not before, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not screen.loading, timeout=WAIT_MS)


def test_concur_question_and_clear_the_needs_review_list(
    qtbot: QtBot, open_review: OpenReview, gui_world: World, hidden: list[int]
) -> None:
    _, screen = open_review("dana")
    assert [i.entry_id for i in screen.waiting] == hidden
    assert screen.waiting_table.rowCount() == 3
    assert screen.waiting_table.item(0, 0).text() == "0 min"  # the age
    choose_waiting(qtbot, screen, 0)
    assert screen.objective_test.toPlainText().startswith("The comment is unrelated to the post")
    assert HOSTILE in screen.item_text.toPlainText()  # the moderator's note, as written
    assert screen.summary.textFormat() == Qt.TextFormat.PlainText
    assert not screen.buttons[Step.REVERSE].isEnabled()  # nothing questioned yet

    press(qtbot, screen, Step.CONCUR)
    assert screen.item is not None
    assert screen.item.review is not None
    assert screen.item.review.verdict == "concur"
    assert not screen.buttons[Step.CONCUR].isEnabled()  # one verdict per action
    qtbot.waitUntil(lambda: len(screen.waiting) == 2, timeout=WAIT_MS)

    choose_waiting(qtbot, screen, 0)
    screen.words.clear()
    qtbot.mouseClick(screen.buttons[Step.QUESTION], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not screen.busy, timeout=WAIT_MS)
    assert "note saying why" in screen.status.text()  # refused by the service, in words
    press(qtbot, screen, Step.QUESTION, "It asks about the pool.")
    qtbot.waitUntil(lambda: len(screen.waiting) == 1, timeout=WAIT_MS)
    choose_waiting(qtbot, screen, 0)
    press(qtbot, screen, Step.CONCUR, HOSTILE)
    qtbot.waitUntil(lambda: screen.waiting == [], timeout=WAIT_MS)
    assert screen.waiting_table.rowCount() == 0
    assert "Needs review (oldest first): 0" in screen.waiting_label.text()
    assert count(gui_world, "SELECT count(*) FROM action_log WHERE kind = 'review'") == 3
    assert HOSTILE in screen.item_history.toPlainText()


def test_the_list_shows_how_many_wait_and_the_next_page_on_request(
    qtbot: QtBot,
    open_review: OpenReview,
    hidden: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(review_screen, "WAITING_PAGE", 2)
    _, screen = open_review("dana")
    assert [i.entry_id for i in screen.waiting] == hidden[:2]
    qtbot.waitUntil(lambda: screen.waiting_total == 3, timeout=WAIT_MS)
    assert screen.waiting_label.text() == "Needs review (oldest first): the first 2 of 3 shown"
    assert screen.more_button.isVisibleTo(screen)
    choose_waiting(qtbot, screen, 1)

    qtbot.mouseClick(screen.more_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(screen.waiting) == 3, timeout=WAIT_MS)
    assert [i.entry_id for i in screen.waiting] == hidden
    assert screen.waiting_table.rowCount() == 3
    assert screen.waiting_table.currentRow() == 1  # the action in view stays chosen
    assert screen.waiting_label.text() == "Needs review (oldest first): 3"
    assert not screen.more_button.isVisibleTo(screen)


def test_reverse_a_questioned_hide_through_the_sandbox(
    qtbot: QtBot, open_review: OpenReview, gui_world: World, hidden: list[int]
) -> None:
    _, screen = open_review("dana")
    choose_waiting(qtbot, screen, 0)
    assert screen.item is not None
    comment_id = screen.item.comment_id
    assert state_on_platform(gui_world, comment_id) is PlatformState.HIDDEN
    press(qtbot, screen, Step.QUESTION, "On topic.")
    press(qtbot, screen, Step.REVERSE, "On topic: it asks about the pool's hours.")
    assert screen.last_result is not None
    assert screen.last_result.ok
    assert "Unhidden on Facebook" in screen.status.text()
    assert state_on_platform(gui_world, comment_id) is PlatformState.VISIBLE
    assert screen.item is not None
    assert screen.item.reversed_by == screen.last_result.pending_entry_id
    assert not screen.buttons[Step.REVERSE].isEnabled()
    assert (
        f"Reversed (unhide): log entry #{screen.last_result.pending_entry_id}, by dana, "
        in screen.item_history.toPlainText()
    )
    assert ": On topic: it asks about the pool's hours." in screen.item_history.toPlainText()


def test_record_an_appeal_and_overturn_it(
    qtbot: QtBot, open_review: OpenReview, gui_world: World, hidden: list[int]
) -> None:
    _, screen = open_review("dana")
    screen.open_entry.setText(f"#{hidden[1]}")
    qtbot.mouseClick(screen.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: screen.item is not None and screen.item.entry_id == hidden[1], timeout=WAIT_MS
    )
    screen.words.clear()
    qtbot.mouseClick(screen.buttons[Step.DRAFT], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Off-topic (OFT)" in screen.words.toPlainText(), timeout=WAIT_MS)
    press(qtbot, screen, Step.NOTICE, screen.words.toPlainText())
    screen.channel.setCurrentIndex(screen.channel.findData("email"))
    press(qtbot, screen, Step.APPEAL, "My comment was about the pool.")
    qtbot.waitUntil(lambda: screen.appeals_table.rowCount() == 1, timeout=WAIT_MS)
    assert screen.appeals_table.item(0, 4).text() == "open"
    assert screen.appeals_table.item(0, 2).text() == "dana"  # never alice, who acted
    assert screen.buttons[Step.OVERTURN].isEnabled()
    comment_id = screen.item.comment_id if screen.item else 0
    press(qtbot, screen, Step.OVERTURN, "It was about the pool's hours.")
    qtbot.waitUntil(
        lambda: (
            screen.appeals_table.rowCount() == 1
            and screen.appeals_table.item(0, 4).text() == "overturn by dana"
        ),
        timeout=WAIT_MS,
    )
    assert state_on_platform(gui_world, comment_id) is PlatformState.VISIBLE
    assert "Notice #" in screen.item_history.toPlainText()
    assert "Decision: overturn by dana" in screen.item_history.toPlainText()
    assert not screen.buttons[Step.UPHOLD].isEnabled()


def test_own_actions_are_not_offered_for_review(
    qtbot: QtBot, open_review: OpenReview, gui_world: World, hidden: list[int]
) -> None:
    with gui_world.db.transaction() as session:
        site = session.get(Site, gui_world.parks_site)
        assert site is not None
        mia = admin.ensure_person(session, "mia", "Mia Both")
        admin.grant(session, mia, Role.SUPERVISOR, site.department)
        admin.grant(session, mia, Role.MODERATOR, site.department)
        comment = session.scalars(
            select(Comment.id)
            .where(Comment.site_id == gui_world.parks_site, Comment.status == "new")
            .order_by(Comment.id)
        ).first()
    assert comment is not None
    own = gui_world.app("mia").moderation.act(comment, Action.HIDE, "OFT").pending_entry_id
    _, screen = open_review("mia")
    row = [i.entry_id for i in screen.waiting].index(own)
    choose_waiting(qtbot, screen, row)
    assert not screen.buttons[Step.CONCUR].isEnabled()
    assert not screen.buttons[Step.QUESTION].isEnabled()
    choose_waiting(qtbot, screen, 0)  # alice's: mia may review it
    assert screen.buttons[Step.CONCUR].isEnabled()


def test_a_moderator_has_no_review_tab(
    qtbot: QtBot, gui_world: World, gui_settings: GuiSettings
) -> None:
    window = MainWindow(gui_world.app("alice"), gui_settings)
    qtbot.addWidget(window)
    assert window.review_screen is None
    assert window.show_review() is None
    window.close()


def test_notes_and_the_authors_history_in_the_queue_detail(
    qtbot: QtBot, open_window: Callable[..., MainWindow], gui_world: World
) -> None:
    with gui_world.db.session() as session:
        parks = list(
            session.scalars(
                select(Comment).where(Comment.site_id == gui_world.parks_site).order_by(Comment.id)
            )
        )
    by_author: dict[str, list[Comment]] = {}
    for comment in parks:
        by_author.setdefault(comment.author_id, []).append(comment)
    earlier, later = next(c for c in by_author.values() if len(c) >= 2)[:2]
    gui_world.app("bob").moderation.act(earlier.id, Action.HIDE, "PRF")
    window = open_window("alice")
    detail = window.detail
    row = window.model.row_of(later.id)
    assert row is not None
    window.select_row(row)
    qtbot.waitUntil(lambda: detail.comment_id == later.id, timeout=WAIT_MS)
    assert detail.notes_text.toPlainText() == "No notes on this comment yet."
    history = detail.author_history_text.toPlainText()
    assert f"(comment {earlier.id}, hidden): hide PRF (applied)" in history
    assert "sentiment" not in history.lower()

    detail.note_edit.setText(HOSTILE)
    qtbot.mouseClick(detail.add_note, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: HOSTILE in detail.notes_text.toPlainText(), timeout=WAIT_MS)
    assert detail.note_edit.text() == ""
    assert count(gui_world, "SELECT count(*) FROM action_log WHERE kind = 'note'") == 1
    assert window.findChild(QPushButton, "addNoteButton") is detail.add_note
