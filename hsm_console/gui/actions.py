"""The one registry of the window's actions: text, icon, key, tooltip and when each is enabled.

Menus, the toolbar, the queue's context menu and the help overlay all draw from here, so a
shortcut is defined once and shown the same everywhere. Whether a moderation action applies
is the domain's rule (`rules.actions.refusal`), whose words a disabled action shows.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from hsm_console.gui.icons import glyph
from hsm_console.rules.actions import refusal
from hsm_console.rules.capabilities import capabilities_of
from hsm_console.rules.domain import Action, CommentStatus, Platform, PlatformState
from hsm_console.services.queue_view import QueueRow


class ActionId(enum.StrEnum):
    FLAG = "flag"
    HIDE = "hide"
    UNHIDE = "unhide"
    REMOVE = "remove"
    KEEP = "keep"
    OPEN_PERMALINK = "open-permalink"
    MARK_WRONG = "mark-wrong"
    SEARCH = "search"
    REFRESH = "refresh"
    SYNC = "sync"
    CANCEL_WORK = "cancel-work"
    HELP = "help"
    QUIT = "quit"


@dataclass(frozen=True)
class ActionSpec:
    text: str  # with & before the menu mnemonic
    icon: str  # a glyph of resources/icons/glyphs/
    keys: tuple[str, ...]  # the first is shown in menus and tooltips
    tip: str
    moderation: Action | None = None


SPECS: dict[ActionId, ActionSpec] = {
    ActionId.FLAG: ActionSpec(
        "&Flag…", "flag", ("F",),
        "Flag for review: recorded in the console, nothing changes on the platform",
        Action.FLAG,
    ),
    ActionId.HIDE: ActionSpec(
        "&Hide…", "eye-slash", ("H",),
        "Hide the comment on its platform (it can be unhidden)", Action.HIDE,
    ),
    ActionId.UNHIDE: ActionSpec(
        "&Unhide…", "eye", ("U",), "Make a hidden comment visible again", Action.UNHIDE,
    ),
    ActionId.REMOVE: ActionSpec(
        "&Remove…", "trash", ("R",),
        "Delete the comment on its platform; this cannot be undone there", Action.REMOVE,
    ),
    ActionId.KEEP: ActionSpec(
        "&Keep…", "check", ("K",), "Reviewed: no action needed", Action.KEEP,
    ),
    ActionId.OPEN_PERMALINK: ActionSpec(
        "&Open on the platform", "external-link", ("O",),
        "Open the comment in your web browser",
    ),
    ActionId.MARK_WRONG: ActionSpec(
        "Suggestion &wrong…", "times-circle", ("W",),
        "Say that screening's suggestion was wrong for this comment (recorded in the log)",
    ),
    ActionId.SEARCH: ActionSpec(
        "&Search comments", "search", ("Ctrl+F",), "Find comments by words or author",
    ),
    ActionId.REFRESH: ActionSpec(
        "Re&fresh the queue", "redo", ("Ctrl+R",), "Read the queue again from the database",
    ),
    ActionId.SYNC: ActionSpec(
        "&Sync now", "sync", ("F5",), "Fetch new comments from every site you moderate",
    ),
    ActionId.CANCEL_WORK: ActionSpec(
        "S&top syncing", "stop", ("Shift+F5",), "Stop the sync after the current page",
    ),
    ActionId.HELP: ActionSpec(
        "&Keyboard shortcuts", "keyboard", ("F1", "?"), "Show every shortcut",
    ),
    ActionId.QUIT: ActionSpec("&Quit", "times", ("Ctrl+Q",), "Close the console"),
}  # fmt: skip

MODERATION_IDS = (ActionId.FLAG, ActionId.HIDE, ActionId.UNHIDE, ActionId.REMOVE, ActionId.KEEP)
# Keys the table itself answers to, listed in the help overlay next to the registry's.
NAVIGATION_KEYS = (
    ("Up / Down", "Previous / next comment"),
    ("Shift+Up / Shift+Down", "Select several comments for one action"),
    ("Ctrl+Home / Ctrl+End", "First / last comment read so far"),
    ("Tab / Shift+Tab", "Move between the filters, the queue and the comment"),
    ("1 … 9, 0", "In an action's dialog: pick a reason code by its number; Enter acts"),
    ("Esc", "Close a dialog or this overlay"),
)


def refusal_for(action: Action, row: QueueRow) -> str | None:
    """Why `action` cannot run on this row now; the service refuses with the same words."""
    return refusal(
        action,
        platform=Platform(row.platform),
        platform_state=PlatformState(row.platform_state),
        acting=row.acting,
        caps=capabilities_of(row.platform),
        reconnect_site=row.site_name if row.reconnect_needed else None,
        disposed=row.status == CommentStatus.DISPOSED,
    )


def shortcut_text(spec: ActionSpec) -> str:
    return " or ".join(
        QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText) for key in spec.keys
    )


class ActionRegistry(QObject):
    """One QAction per ActionId, owned by the window."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._actions: dict[ActionId, QAction] = {}
        for action_id, spec in SPECS.items():
            action = QAction(spec.text, parent)
            action.setObjectName(f"action-{action_id.value}")
            action.setShortcuts([QKeySequence(key) for key in spec.keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setShortcutVisibleInContextMenu(True)
            action.setToolTip(f"{spec.tip} ({shortcut_text(spec)})")
            action.setStatusTip(spec.tip)
            self._actions[action_id] = action
        self.refresh_icons()

    def __getitem__(self, action_id: ActionId) -> QAction:
        return self._actions[action_id]

    def moderation_actions(self) -> list[QAction]:
        return [self._actions[action_id] for action_id in MODERATION_IDS]

    def refresh_icons(self) -> None:
        """Icons take the palette's colours: call again when light/dark mode changes."""
        for action_id, action in self._actions.items():
            action.setIcon(glyph(SPECS[action_id].icon))

    def update_for_selection(self, rows: Sequence[QueueRow]) -> None:
        """Enable each moderation action only if it applies to every selected comment; a
        disabled one says why in its tooltip and status tip."""
        for action_id in MODERATION_IDS:
            spec = SPECS[action_id]
            assert spec.moderation is not None
            refusals = (refusal_for(spec.moderation, row) for row in rows)
            why = next((words for words in refusals if words is not None), None)
            if why is not None and len(rows) > 1:
                why = f"Not for all {len(rows)} selected comments: {why}"
            action = self._actions[action_id]
            action.setEnabled(bool(rows) and why is None)
            action.setToolTip(f"{why or spec.tip} ({shortcut_text(spec)})")
            action.setStatusTip(why or spec.tip)
        self._actions[ActionId.OPEN_PERMALINK].setEnabled(len(rows) == 1)
        self._actions[ActionId.MARK_WRONG].setEnabled(
            len(rows) == 1 and any(not s.marked_wrong for s in rows[0].suggestions)
        )

    def shortcuts(self) -> list[tuple[str, str]]:
        """(keys, what they do) for the help overlay, in registry order."""
        return [
            (shortcut_text(spec), f"{spec.text.replace('&', '').rstrip('…')} — {spec.tip}")
            for spec in SPECS.values()
        ]
