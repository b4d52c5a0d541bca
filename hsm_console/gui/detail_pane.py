"""The detail pane: one comment in full, as plain text, with everything around it.

The comment text sits in a read-only QPlainTextEdit (never a rich-text widget), every label
is set to plain text, and words screening matched are marked with extra selections, which
colour the text without changing it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor, QTextOption
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from hsm_console.display import local_time, one_line
from hsm_console.gui.appearance import use_style_sheet
from hsm_console.gui.history_model import HistoryModel
from hsm_console.gui.icons import platform_name
from hsm_console.gui.links import open_web_link, web_url
from hsm_console.gui.plain_text import set_plain, tooltip
from hsm_console.gui.ui_files import child, load_form
from hsm_console.rules.capabilities import Capabilities
from hsm_console.rules.screening import Suggestion
from hsm_console.services.comment_detail import CommentView, ThreadItem
from hsm_console.services.notes import EarlierComment, NoteItem

MAX_HIGHLIGHTS = 2000  # a hostile text could match thousands of times
HIGHLIGHT_BACKGROUND = QColor("#ffe066")
HIGHLIGHT_TEXT = QColor("#1a1a1a")

# Control characters other than line breaks and tabs, and the invisible format characters
# that reorder or hide text: bidi embeddings, overrides and isolates, zero-width characters.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_LONG_WORD = re.compile(r"(?<!\S)\S{400}")  # starts only where a word starts: linear

_RELATION_WORDS = {
    "parent": "↑ In reply to",
    "this": "● This comment",
    "reply": "↳ Reply",
    "sibling": "· Also replying to the same comment",
}


class DetailPane(QWidget):
    # A note the person wrote for the comment shown: (comment id, text); the window saves it.
    note_requested = Signal(int, str)
    # The person would mark one of the suggestions shown as wrong (the window asks which).
    wrong_requested = Signal()

    def __init__(self, code_names: Mapping[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._code_names = dict(code_names)
        form = load_form("detail_pane.ui", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(form)
        self.stack = child(form, QStackedWidget, "detailStack")
        self.empty_label = child(form, QLabel, "emptyLabel")
        self.author_label = child(form, QLabel, "authorLabel")
        self.meta_label = child(form, QLabel, "metaLabel")
        self.state_label = child(form, QLabel, "stateLabel")
        self.suggestion_label = child(form, QLabel, "suggestionLabel")
        self.warning_label = child(form, QLabel, "warningLabel")
        for styled in (self.suggestion_label, self.warning_label):
            use_style_sheet(styled)
        self.presence_label = child(form, QLabel, "presenceLabel")
        self.open_permalink = child(form, QPushButton, "openPermalinkButton")
        self.mark_wrong = child(form, QPushButton, "markWrongButton")
        self.splitter = child(form, QSplitter, "detailSplitter")
        self.comment_text = child(form, QPlainTextEdit, "commentText")
        self.tabs = child(form, QTabWidget, "detailTabs")
        self.post_text = child(form, QLabel, "postText")
        self.open_post = child(form, QPushButton, "openPostButton")
        self.open_city_page = child(form, QPushButton, "openCityPageButton")
        self.thread_list = child(form, QListWidget, "threadList")
        self.capabilities_text = child(form, QPlainTextEdit, "capabilitiesText")
        self.history_table = child(form, QTableView, "historyTable")
        self.records_label = child(form, QLabel, "recordsLabel")
        self.notes_text = child(form, QPlainTextEdit, "notesText")
        self.note_edit = child(form, QLineEdit, "noteEdit")
        self.add_note = child(form, QPushButton, "addNoteButton")
        self.author_history_text = child(form, QPlainTextEdit, "authorHistoryText")

        font = QFont(self.author_label.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.author_label.setFont(font)
        self.history_model = HistoryModel(self)
        self.history_table.setModel(self.history_model)
        self.history_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history_table.verticalHeader().hide()
        header = self.history_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.comment_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.comment_text.setUndoRedoEnabled(False)

        self._links: dict[QPushButton, str] = {}
        for button in (self.open_permalink, self.open_post, self.open_city_page):
            button.clicked.connect(lambda _=False, b=button: open_web_link(self._links.get(b, "")))
        self.add_note.clicked.connect(self._note_entered)
        self.mark_wrong.clicked.connect(lambda: self.wrong_requested.emit())
        self.note_edit.returnPressed.connect(self._note_entered)
        self.comment: CommentView | None = None
        self.show_message("Select a comment in the queue to see it here.")

    @property
    def comment_id(self) -> int | None:
        return self.comment.id if self.comment else None

    def show_message(self, text: str) -> None:
        """No comment to show: say why instead (nothing selected, an error, loading)."""
        self.comment = None
        set_plain(self.empty_label, text)
        self.stack.setCurrentIndex(0)

    def show_comment(self, view: CommentView) -> None:
        self.comment = view
        platform = platform_name(view.platform)
        set_plain(self.author_label, one_line(view.author_name, 200) or "(no name)")
        set_plain(
            self.meta_label,
            f"{view.site_name} on {platform} · received {local_time(view.created_at)}",
        )
        state = f"Status: {view.status} · on {platform}: {view.platform_state}"
        if view.pending:
            state += " · an action is being carried out right now"
        set_plain(self.state_label, state)
        self.show_presence("")
        self._show_suggestions(view)
        self._show_warning(view.text)
        self._set_link(self.open_permalink, view.permalink, f"Open on {platform}")

        # Breaking lines only between words costs quadratic time on a very long "word"
        # (a hostile megabyte without spaces would freeze the window for a minute).
        long_word = _LONG_WORD.search(view.text) is not None
        self.comment_text.setWordWrapMode(
            QTextOption.WrapMode.WrapAnywhere
            if long_word
            else QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere
        )
        self.comment_text.setPlainText(view.text)
        wrong = {mark.code for mark in view.wrong_marks}
        self._highlight(view.text, [s for s in view.suggestions if s.code not in wrong])

        set_plain(self.post_text, f"The City's post: {one_line(view.post_text, 1200)}")
        self._set_link(self.open_post, view.post_permalink, f"Open the post on {platform}")
        self._set_link(self.open_city_page, view.post_link, "Open the City page")
        self._show_thread(view.thread)
        self.capabilities_text.setPlainText(capabilities_words(platform, view.capabilities))
        self.history_model.set_items(view.history)
        set_plain(self.records_label, _records_words(view))
        self.notes_text.setPlainText(notes_words(view.notes))
        self.author_history_text.setPlainText(author_history_words(view.author_history))
        self.stack.setCurrentIndex(1)

    def show_presence(self, words: str) -> None:
        """Who else has the comment shown open ("Open by Jane Doe"), or nobody ("")."""
        set_plain(self.presence_label, one_line(words, 300))
        self.presence_label.setVisible(bool(words))

    def _note_entered(self) -> None:
        text = self.note_edit.text().strip()
        if self.comment is not None and text:
            self.note_requested.emit(self.comment.id, text)

    def note_saved(self) -> None:
        """The note was recorded: the field is emptied (the comment is then read again)."""
        self.note_edit.clear()

    def _set_link(self, button: QPushButton, url: str, text: str) -> None:
        button.setText(text)
        usable = web_url(url) is not None
        button.setEnabled(usable)
        button.setToolTip(tooltip(url) if usable else "No web address is known for this.")
        self._links[button] = url if usable else ""

    def _show_suggestions(self, view: CommentView) -> None:
        """Every suggestion, why, and whether a moderator marked it wrong."""
        marks = {mark.code: mark for mark in reversed(view.wrong_marks)}  # the first mark
        lines = []
        for suggestion in view.suggestions:
            name = self._code_names.get(suggestion.code, "")
            code = f"{suggestion.code} ({name})" if name else suggestion.code
            line = f"Suggestion {code}: {one_line(suggestion.why, 300)}"
            mark = marks.get(suggestion.code)
            if mark is not None:
                line += f" — marked wrong by {mark.actor}, {local_time(mark.at)}"
            lines.append(line)
        if lines:
            lines.append(
                "Screening only suggests; a code is never applied by itself. The words each "
                "suggestion matched are marked below (not those of one marked wrong)."
            )
        set_plain(self.suggestion_label, "\n".join(lines))
        self.suggestion_label.setVisible(bool(lines))
        open_to_mark = [s for s in view.suggestions if s.code not in marks]
        self.mark_wrong.setVisible(bool(view.suggestions))
        self.mark_wrong.setEnabled(bool(open_to_mark))
        self.mark_wrong.setToolTip(
            "Say that screening was wrong here: recorded in the log, so its precision can be "
            "measured. The suggestion stays shown, marked."
            if open_to_mark
            else "Every suggestion on this comment has been marked wrong."
        )

    def _show_warning(self, text: str) -> None:
        invisible = _invisible_characters(text)
        if invisible:
            names = ", ".join(invisible[:3])
            warning = (
                f"This comment contains invisible characters that can change how its text "
                f"looks ({names}). It is shown exactly as received."
            )
        else:
            warning = ""
        set_plain(self.warning_label, warning)
        self.warning_label.setVisible(bool(warning))

    def _highlight(self, text: str, suggestions: Sequence[Suggestion]) -> None:
        spans = sorted(
            {(m.start, m.end) for s in suggestions for m in s.matches}, key=lambda span: span
        )[:MAX_HIGHLIGHTS]
        style = QTextCharFormat()
        style.setBackground(HIGHLIGHT_BACKGROUND)
        style.setForeground(HIGHLIGHT_TEXT)
        selections = []
        document = self.comment_text.document()
        for start, end in _utf16_spans(text, spans):
            selection = QTextEdit.ExtraSelection()
            cursor = QTextCursor(document)
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            selection.cursor = cursor
            selection.format = style
            selections.append(selection)
        self.comment_text.setExtraSelections(selections)

    def highlighted_spans(self) -> list[tuple[int, int]]:
        """(start, end) of each marked span, in Qt positions (for tests and screen readers)."""
        return [
            (s.cursor.selectionStart(), s.cursor.selectionEnd())
            for s in self.comment_text.extraSelections()
        ]

    def _show_thread(self, items: Sequence[ThreadItem]) -> None:
        self.thread_list.clear()
        for item in items:
            words = _RELATION_WORDS.get(item.relation, item.relation)
            line = f"{words}: {one_line(item.author_name, 60)}, {local_time(item.created_at)}"
            if item.excerpt:
                line += f" — {one_line(item.excerpt, 200)}"
            entry = QListWidgetItem(line)
            entry.setToolTip(tooltip(one_line(item.excerpt, 600)) if item.excerpt else "")
            self.thread_list.addItem(entry)


def notes_words(notes: Sequence[NoteItem]) -> str:
    if not notes:
        return "No notes on this comment yet."
    return "\n\n".join(f"{local_time(n.at)}, {n.actor}:\n{n.text}" for n in notes)


def author_history_words(earlier: Sequence[EarlierComment]) -> str:
    """Each earlier comment with the codes and actions taken: never a sentiment or a score."""
    if not earlier:
        return "No earlier comments by this author on your departments' sites."
    lines = []
    for item in earlier:
        taken = "; ".join(
            f"{a.action} {a.reason_code or ''} ({a.state})".replace("  ", " ") for a in item.actions
        )
        lines.append(
            f"{local_time(item.created_at)} on {item.site_name} (comment {item.comment_id}, "
            f"{item.status}): {taken or 'no action taken'}\n    {one_line(item.excerpt, 200)}"
        )
    return "\n".join(lines)


def capabilities_words(platform: str, caps: Capabilities) -> str:
    actions = ", ".join(sorted(action.value for action in caps.actions)) or "nothing"
    lines = [
        f"{platform} lets the City: {actions} (flag and keep are the console's own).",
        f"Hide: {caps.hide_means}",
        f"Remove: {caps.remove_means}",
        "A removed comment can still be read back from the platform."
        if caps.removed_readable
        else "A removed comment cannot be read back from the platform; the retained record "
        "keeps it.",
        f"Rate limits: {caps.rate_limits}",
    ]
    if caps.instead:
        lines.append(f"Where an action is missing: {caps.instead}")
    return "\n\n".join(lines)


def _records_words(view: CommentView) -> str:
    if not view.records:
        return "No retained record yet: one is written before the first action."
    last = view.records[-1]
    return (
        f"Retained records: {len(view.records)}. The latest (#{last.id}) was captured "
        f"{local_time(last.captured_at)} by {last.captured_by}; SHA-256 {last.sha256[:16]}…"
    )


def _invisible_characters(text: str, limit: int = 3) -> list[str]:
    """Names of control and format characters (bidi overrides, zero-width, escapes)."""
    found: dict[str, None] = {}
    for match in _INVISIBLE.finditer(text):
        char = match.group()
        found[f"U+{ord(char):04X} {unicodedata.name(char, 'CONTROL CHARACTER')}"] = None
        if len(found) >= limit:
            break
    return list(found)


def _utf16_spans(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Python code-point offsets as Qt's UTF-16 positions (characters beyond U+FFFF are two)."""
    if not _ASTRAL.search(text):
        return list(spans)
    mapped: dict[int, int] = {}
    shift = previous = 0
    for point in sorted({point for span in spans for point in span}):
        shift += len(_ASTRAL.findall(text, previous, point))
        mapped[point] = point + shift
        previous = point
    return [(mapped[start], mapped[end]) for start, end in spans]
