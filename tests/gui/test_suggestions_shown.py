"""Every suggestion shown, in the queue and the detail pane, and one marked wrong by keyboard."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from hsm_console.db.models import Comment
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.queue_model import Column
from hsm_console.rules.screening import Screener
from hsm_console.services import suggestions
from tests.conftest import World
from tests.gui.conftest import OpenWindow
from tests.gui.helpers import WAIT_MS, count, fresh_row

pytestmark = pytest.mark.gui

# An advert with a phone number: the number must not hide the advert (issue 13).
ADVERT = "🎉 Best price, call 618-555-0142 or visit highlandil-gov.com today"


def plant(world: World, words: str) -> int:
    """The newest Parks comment gets these words, screened as sync screens an edit."""
    with world.db.transaction() as session:
        comment_id = int(
            session.execute(
                text("SELECT id FROM comments WHERE site_id = :s "
                     "ORDER BY created_at DESC, id DESC LIMIT 1"),
                {"s": world.parks_site},
            ).scalar_one()
        )  # fmt: skip
        comment = session.get(Comment, comment_id)
        assert comment is not None
        comment.text = words
        session.flush()
        suggestions.replace_all(
            session, comment_id, comment.site_id, comment.status, comment.created_at,
            Screener.default().screen(words),
        )  # fmt: skip
    return comment_id


def marked_words(window: MainWindow, source: str) -> list[str]:
    utf16 = source.encode("utf-16-le")
    spans = sorted(window.detail.highlighted_spans())
    return [utf16[start * 2 : end * 2].decode("utf-16-le") for start, end in spans]


def test_every_suggestion_shows_and_one_is_marked_wrong_by_keyboard(
    qtbot: QtBot, open_window: OpenWindow, gui_world: World
) -> None:
    comment_id = plant(gui_world, ADVERT)
    expected = Screener.default().screen(ADVERT)
    assert len(expected) >= 2
    window = open_window("alice")
    qtbot.waitUntil(lambda: window.detail.comment_id == comment_id, timeout=WAIT_MS)
    codes = [s.code for s in expected]

    # The queue: every code in its column, every why in the tooltip.
    cell = window.model.index(0, Column.SUGGESTION)
    assert cell.data() == ", ".join(codes)
    tip = cell.data(Qt.ItemDataRole.ToolTipRole)
    for suggestion in expected:
        assert f"Suggestion {suggestion.code}:" in tip
    assert "never applies a code by itself" in tip
    # The detail pane: each suggestion and why; the words each matched, marked (UTF-16).
    label = window.detail.suggestion_label.text()
    for suggestion in expected:
        assert f"Suggestion {suggestion.code} (" in label
    words = sorted({ADVERT[m.start : m.end] for s in expected for m in s.matches})
    assert sorted(marked_words(window, ADVERT)) == words
    assert window.detail.mark_wrong.isEnabled()

    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_W)
    qtbot.waitUntil(lambda: window.wrong_dialog is not None, timeout=WAIT_MS)
    dialog = window.wrong_dialog
    assert dialog is not None
    assert dialog.chosen() is None  # several: nothing chosen for the moderator
    assert not dialog.ok_button.isEnabled()
    qtbot.keyClick(dialog.list, Qt.Key.Key_1)  # the first: the phone number's PII
    assert dialog.chosen() == codes[0]
    qtbot.keyClicks(dialog.note, "the roofer's own advert")
    qtbot.keyClick(dialog.note, Qt.Key.Key_Return)

    qtbot.waitUntil(lambda: "marked wrong by alice" in window.detail.suggestion_label.text(),
                    timeout=WAIT_MS)  # fmt: skip
    assert count(
        gui_world,
        "SELECT count(*) FROM action_log WHERE kind = 'screening' AND comment_id = :c "
        "AND reason_code = :r AND actor = 'alice'",
        c=comment_id, r=codes[0],
    ) == 1  # fmt: skip
    row = fresh_row(qtbot, window.model, 0)
    assert row is not None
    assert window.model.index(0, Column.SUGGESTION).data().startswith(f"{codes[0]} (wrong)")
    # Its words are no longer marked; the others' still are.
    still = sorted({ADVERT[m.start : m.end] for s in expected[1:] for m in s.matches})
    assert sorted(marked_words(window, ADVERT)) == still
