"""Showing untrusted text (comments, names, posts) so that Qt never interprets it.

Labels, text edits and message boxes are set to plain text explicitly. Tooltips have no
such switch: Qt renders anything that looks like HTML as HTML, so their text is escaped.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


def tooltip(text: str) -> str:
    """Rich text whose only content is `text`, escaped: shown literally, tags and all."""
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>"


def set_plain(label: QLabel, text: str) -> None:
    """Set a label's text as plain text, whatever the form said."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
