"""The action dialog: a reason code found by typing, an optional note, and what will happen.

It refuses to be accepted until the City's policy is met (a code where the action needs one,
a note where the code asks for one); the moderation service checks the same rules again.

Three keystrokes decide a comment: the action's key, one key for the code, Enter. The first
ten codes the action takes have a digit each (1-9, then 0), in the policy's order, so a code
keeps its digit from one comment to the next; any code is also found by typing its letters.
Screening's suggestions are named with the key that takes each, and never chosen for the
moderator: nothing is selected until they press a key (issue 13: never a nudge).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hsm_console.display import one_line
from hsm_console.gui.appearance import use_style_sheet
from hsm_console.gui.icons import platform_name
from hsm_console.gui.plain_text import set_plain
from hsm_console.gui.reason_codes import CODE_ROLE, ReasonCodeFilter, ReasonCodeModel
from hsm_console.gui.ui_files import child, load_form
from hsm_console.rules.actions import unsupported
from hsm_console.rules.capabilities import capabilities_of
from hsm_console.rules.domain import Action, Platform
from hsm_console.rules.policy import Policy, ReasonCode
from hsm_console.services.queue_view import QueueRow

VERBS = {
    Action.FLAG: "Flag",
    Action.HIDE: "Hide",
    Action.UNHIDE: "Unhide",
    Action.REMOVE: "Remove",
    Action.KEEP: "Keep",
}
_NAVIGATION_KEYS = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)
DIGITS = "1234567890"  # the keys that pick the first ten codes, in order
_KEYPAD = Qt.KeyboardModifier.KeypadModifier  # the number pad's digits count too


def code_keys(codes: Sequence[ReasonCode]) -> dict[str, str]:
    """The digit that picks each of the first ten codes: {"PRF": "1", ...}."""
    return {code.code: key for code, key in zip(codes, DIGITS, strict=False)}


@dataclass(frozen=True)
class ActionChoice:
    code: str | None
    note: str


def effect_words(action: Action, platforms: Sequence[str]) -> str:
    """What the action will do on each platform, in the platform's own terms."""
    lines = []
    for platform in platforms:
        name = platform_name(platform)
        caps = capabilities_of(platform)
        missing = unsupported(action, Platform(platform), caps)
        if action is Action.FLAG:
            lines.append(f"Nothing changes on {name}: the console marks it for review.")
        elif action is Action.KEEP:
            lines.append(f"Nothing changes on {name}: the console records it as reviewed.")
        elif missing is not None:
            lines.append(missing)
        elif action is Action.HIDE:
            lines.append(f"{name}: {caps.hide_means}")
        elif action is Action.REMOVE:
            lines.append(f"{name}: {caps.remove_means}")
        else:
            lines.append(f"{name}: the comment becomes visible to everyone again.")
    if action.touches_platform:
        lines.append(
            "The console records the comment and your reason first, then asks the platform."
        )
    return "\n".join(lines)


class ActionDialog(QDialog):
    def __init__(
        self,
        action: Action,
        rows: Sequence[QueueRow],
        policy: Policy,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.action = action
        self.rows = list(rows)
        self._policy = policy
        verb = VERBS[action]
        count = len(self.rows)
        self.setWindowTitle(f"{verb} {count} comments" if count > 1 else f"{verb} comment")
        self.setObjectName("actionDialog")
        form = load_form("action_dialog.ui", self)
        layout = QVBoxLayout(self)
        layout.addWidget(form)
        self.headline = child(form, QLabel, "headlineLabel")
        self.effect = child(form, QLabel, "effectLabel")
        self.suggestion_hint = child(form, QLabel, "suggestionHint")
        self.code_search_label = child(form, QLabel, "codeSearchLabel")
        self.code_search = child(form, QLineEdit, "codeSearch")
        self.code_list = child(form, QListView, "codeList")
        self.definition = child(form, QLabel, "definitionLabel")
        self.note_label = child(form, QLabel, "noteLabel")
        self.note = child(form, QLineEdit, "noteEdit")
        self.problem_label = child(form, QLabel, "problemLabel")
        for styled in (self.definition, self.problem_label):
            use_style_sheet(styled)
        buttons = child(form, QDialogButtonBox, "buttonBox")
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        self.ok_button: QPushButton = ok
        self.ok_button.setText(f"{verb}…" if action is Action.REMOVE else verb)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        offered = self._codes_offered()
        self.keys = code_keys(offered)
        self._by_key = {key: code for code, key in self.keys.items()}
        self.codes = ReasonCodeModel(offered, self, self.keys)
        self.filtered = ReasonCodeFilter(self)
        self.filtered.setSourceModel(self.codes)
        self.code_list.setModel(self.filtered)
        selection = self.code_list.selectionModel()
        assert selection is not None
        selection.currentChanged.connect(lambda *_: self._update())
        self.code_search.textChanged.connect(self._search)
        self.code_search.installEventFilter(self)
        self.note.textChanged.connect(lambda _: self._update())

        font = self.headline.font()
        font.setBold(True)
        self.headline.setFont(font)
        self._describe(verb)
        if not self.codes.rowCount():  # unhide takes no code
            for widget in (self.code_search_label, self.code_search, self.code_list):
                widget.hide()
            self.note.setFocus()
        else:
            self.code_search.setFocus()
        if action is Action.KEEP and "NVL" in policy.codes:
            self._select_code("NVL")
        self.resize(560, 500)
        self._update()

    # --- what the moderator chose ---------------------------------------------------------

    def chosen_code(self) -> ReasonCode | None:
        index = self.code_list.currentIndex()
        if not index.isValid() or not self.code_list.selectionModel().isSelected(index):
            return None
        source = self.filtered.mapToSource(index)
        return self.codes.code_at(source.row())

    def choice(self) -> ActionChoice:
        code = self.chosen_code()
        return ActionChoice(code.code if code else None, self.note.text().strip())

    def problem(self) -> str:
        """What still stands in the way of accepting, in plain words ('' when nothing)."""
        code = self.chosen_code()
        if code is None and self.action.needs_reason:
            return "Choose a reason code: type a code or a word above, then pick it."
        if code is not None and code.note_required and not self.note.text().strip():
            return f"Reason code {code.code} needs a note saying why."
        return ""

    def accept(self) -> None:
        if self.problem():
            self._update()
            self.code_search.setFocus() if self.chosen_code() is None else self.note.setFocus()
            return
        super().accept()

    # --- behaviour -------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Up and Down in the search box walk the list, so the hands stay on the keys; a digit
        # picks its code (no code has a digit in its name or definition to search for).
        if (
            watched is self.code_search
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
        ):
            if event.key() in _NAVIGATION_KEYS:
                self.code_list.event(event)
                return True
            code = self._by_key.get(event.text())
            if code is not None and not event.modifiers() & ~_KEYPAD:
                self.code_search.setText(code)
                return True
        return super().eventFilter(watched, event)

    def _codes_offered(self) -> list[ReasonCode]:
        if self.action is Action.UNHIDE:
            return []
        return self._policy.codes_for(self.action)

    def _search(self, text: str) -> None:
        self.filtered.set_search(text)
        if not text.strip():
            self.code_list.clearSelection()
            self.code_list.setCurrentIndex(QModelIndex())
            self._update()
            return
        exact = text.strip().upper()
        if not self._select_code(exact) and self.filtered.rowCount():
            self._select(self.filtered.index(0, 0))
        self._update()

    def _select_code(self, code: str) -> bool:
        for row in range(self.filtered.rowCount()):
            index = self.filtered.index(row, 0)
            if self.filtered.data(index, CODE_ROLE) == code:
                self._select(index)
                return True
        return False

    def _select(self, index: QModelIndex) -> None:
        self.code_list.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )

    def _describe(self, verb: str) -> None:
        if len(self.rows) == 1:
            row = self.rows[0]
            author = one_line(row.author_name, 60)
            where = f"{row.site_name} ({platform_name(row.platform)})"
            headline = f"{verb} the comment by {author} on {where}?"
            hint = self._suggestion_words(row)
        else:
            headline = (
                f"{verb} {len(self.rows)} comments? They all get the same reason; each is "
                "recorded separately."
            )
            hint = ""
        set_plain(self.headline, headline)
        platforms = sorted({row.platform for row in self.rows})
        set_plain(self.effect, effect_words(self.action, platforms))
        set_plain(self.suggestion_hint, hint)
        self.suggestion_hint.setVisible(bool(hint))

    def _suggestion_words(self, row: QueueRow) -> str:
        """Each suggestion, why, and the key that takes it; never chosen for the moderator."""
        if not row.suggestions:
            return ""
        lines = []
        for suggestion in row.suggestions:
            key = self.keys.get(suggestion.code)
            if key is not None:
                take = f"press {key}"
            elif suggestion.code in self._policy.codes and self.codes.rowCount():
                take = f"type {suggestion.code}"
            else:
                take = f"not a code to {self.action.value} with"
            wrong = ", marked wrong by a moderator" if suggestion.marked_wrong else ""
            why = one_line(suggestion.why, 160).rstrip(".")
            lines.append(f"Suggestion {suggestion.code} ({take}{wrong}): {why}.")
        noun = "a suggestion" if len(lines) == 1 else "suggestions"
        lines.append(f"Screening only makes {noun}; nothing is chosen until you choose.")
        return "\n".join(lines)

    def _update(self) -> None:
        code = self.chosen_code()
        if code is None:
            definition = (
                "Unhiding needs no reason code; a note may say why."
                if self.action is Action.UNHIDE
                else "No reason code chosen yet."
            )
        else:
            definition = f"{code.code} — {code.name}\n{code.covers}\nPolicy: {code.clause}."
            if code.note_required:
                definition += "\nA note is required with this code."
            if code.second_review:
                definition += "\nA supervisor reviews every action taken with this code."
        set_plain(self.definition, definition)
        required = code is not None and code.note_required
        self.note_label.setText("&Note (required):" if required else "&Note (optional):")
        problem = self.problem()
        set_plain(self.problem_label, problem)
        self.problem_label.setVisible(bool(problem))
        self.ok_button.setEnabled(not problem)
