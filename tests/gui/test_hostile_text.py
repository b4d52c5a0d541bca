"""Comment text from the public is shown as literal text: never as HTML, never reordered
silently, and a megabyte of it does not stop the window."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPlainTextEdit
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from hsm_console.db.models import Comment
from hsm_console.gui.queue_model import Column
from hsm_console.rules.screening import Screener
from hsm_console.services import suggestions
from tests.conftest import World
from tests.gui.conftest import OpenWindow
from tests.gui.helpers import WAIT_MS

pytestmark = pytest.mark.gui

MEGABYTE = ("A megabyte of words, <b>tags</b> & entities &amp; included. " * 17_000)[:1_000_000]
HOSTILE = {
    "html": "<b>Great</b> news, <i>finally</i> <a href='https://evil.example'>click</a>",
    "img": "<img src=x onerror=alert(1)> check out the new design",
    "script": "<script>alert('xss')</script>",
    "rtl": "Download the meeting agenda here: agenda\u202efdp.exe",
    "megabyte": MEGABYTE,
    "megabyte without a space": "x" * 1_000_000,
}
HOSTILE_AUTHOR = "<b>Mallory</b> <img src=x>"


def _plant(world: World, comment_text: str) -> int:
    """Give the newest Parks comment a hostile text and author; returns its id."""
    with world.db.transaction() as session:
        comment_id = int(
            session.execute(
                text(
                    "SELECT id FROM comments WHERE site_id = :s ORDER BY created_at DESC, id DESC "
                    "LIMIT 1"
                ),
                {"s": world.parks_site},
            ).scalar_one()
        )
        session.execute(
            text("UPDATE comments SET text = :t, author_name = :a WHERE id = :c"),
            {"t": comment_text, "a": HOSTILE_AUTHOR, "c": comment_id},
        )
        comment = session.get(Comment, comment_id)
        assert comment is not None
        found = Screener.default().screen(comment_text)  # as sync screens an edit
        suggestions.replace_all(
            session, comment_id, comment.site_id, comment.status, comment.created_at, found
        )
    return comment_id


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_text_is_shown_literally(
    qtbot: QtBot, open_window: OpenWindow, gui_world: World, kind: str
) -> None:
    source = HOSTILE[kind]
    comment_id = _plant(gui_world, source)

    window = open_window("alice")
    qtbot.waitUntil(lambda: window.detail.comment_id == comment_id, timeout=WAIT_MS)

    shown = window.detail.comment_text
    assert isinstance(shown, QPlainTextEdit)  # a plain-text widget: nothing to render
    assert shown.toPlainText() == source
    html = shown.document().toHtml()
    if "<" in source:
        # The document holds the characters "<img", escaped, not an element.
        assert "&lt;" in html
        assert "<img src=x" not in html
        assert "<script>" not in html
    author = window.detail.author_label
    assert author.textFormat() == Qt.TextFormat.PlainText
    assert author.text() == HOSTILE_AUTHOR
    for label in window.detail.findChildren(QLabel):
        if label.text():
            assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()

    # In the table the first line is shown, control characters made visible.
    row = window.model.row_of(comment_id)
    assert row is not None
    cell = window.model.index(row, Column.COMMENT).data()
    assert "\u202e" not in cell
    tip = window.model.index(row, Column.COMMENT).data(Qt.ItemDataRole.ToolTipRole)
    assert "<b>" not in tip.replace("<p style='white-space:pre-wrap'>", "")
    if kind == "rtl":
        assert "\\u202e" in cell
        assert window.detail.warning_label.isVisible()
        assert "U+202E RIGHT-TO-LEFT OVERRIDE" in window.detail.warning_label.text()
    else:
        assert not window.detail.warning_label.isVisible()


def test_matched_words_are_highlighted_without_changing_the_text(
    qtbot: QtBot, open_window: OpenWindow, gui_world: World
) -> None:
    source = "🎉 Call 618-555-0142 about the d*mn fence"
    comment_id = _plant(gui_world, source)

    window = open_window("alice")
    qtbot.waitUntil(lambda: window.detail.comment_id == comment_id, timeout=WAIT_MS)

    assert window.detail.comment_text.toPlainText() == source
    # Qt counts the emoji as two positions; the marks still cover the matched words.
    marked = sorted(window.detail.highlighted_spans())
    utf16 = source.encode("utf-16-le")
    words = [utf16[start * 2 : end * 2].decode("utf-16-le") for start, end in marked]
    assert words == ["618-555-0142", "d*mn"]
    suggestion = window.detail.suggestion_label.text()
    assert "Suggestion PII (" in suggestion
    assert "never applied by itself" in suggestion
