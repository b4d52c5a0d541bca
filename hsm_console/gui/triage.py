"""Carrying out a moderator's action: dialog, confirmation, the record-first call, the result.

The moderation service does the work on a worker thread (it records first, then calls the
platform); this module only asks, shows progress and reports. Nothing here blocks the
window: every dialog is opened window-modal and answers through signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from hsm_console.display import local_time, one_line
from hsm_console.errors import UserError
from hsm_console.gui.action_dialog import VERBS, ActionChoice, ActionDialog
from hsm_console.gui.icons import platform_name
from hsm_console.gui.problems import Problem, ProblemReporter, problem_from
from hsm_console.gui.workers import JobContext, TaskRunner
from hsm_console.rules.domain import Action, EntryState
from hsm_console.rules.policy import Policy
from hsm_console.services.moderation import ActionResult, ModerationService
from hsm_console.services.presence import Holder, open_by_words
from hsm_console.services.queue_view import QueueRow

log = logging.getLogger(__name__)

BulkResults = list[ActionResult | UserError]
# Who else has these comments open (PresenceService.others): asked before anything is recorded.
PresenceCheck = Callable[[Sequence[int]], dict[int, list[Holder]]]


class Question(QMessageBox):
    answered = Signal(bool)  # whether the person chose to go on


class Triage(QObject):
    # The comments about to be acted on (the choice is made; the work starts).
    acting = Signal(list)
    # The comments acted on (to read again), and whether every action was applied.
    finished = Signal(list, bool)
    message = Signal(str)  # a line for the status bar

    def __init__(
        self,
        window: QWidget,
        runner: TaskRunner,
        moderation: Callable[[], ModerationService],
        policy: Policy,
        problems: ProblemReporter,
        presence: PresenceCheck | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._runner = runner
        self._moderation = moderation
        self._policy = policy
        self._problems = problems
        self._presence = presence
        self.dialog: ActionDialog | None = None
        self.presence_question: Question | None = None
        self.confirmation: Question | None = None
        self.progress: QProgressDialog | None = None

    def begin(self, action: Action, rows: Sequence[QueueRow]) -> None:
        """Ask for the reason (and, to remove, for confirmation), then act."""
        if not rows or self.dialog is not None:
            return
        chosen = list(rows)
        dialog = ActionDialog(action, chosen, self._policy, self._window)
        self.dialog = dialog

        def closed(result: int) -> None:
            self.dialog = None
            dialog.deleteLater()
            # The one-key shortcuts work in the active window; not every window manager
            # (nor none, as under Xvfb) hands activation back when a dialog closes.
            self._window.activateWindow()
            if result == int(ActionDialog.DialogCode.Accepted):
                self._ask_if_open(action, chosen, dialog.choice())

        dialog.finished.connect(closed)
        dialog.open()

    def _ask_if_open(self, action: Action, rows: list[QueueRow], choice: ActionChoice) -> None:
        """Someone else has one of these comments open: ask before anything is recorded."""
        check = self._presence
        if check is None:
            self._confirm_then_act(action, rows, choice)
            return
        ids = [row.id for row in rows]

        def ask(_: JobContext) -> dict[int, list[Holder]]:
            return check(ids)

        def unknown(exc: Exception) -> None:  # the action itself will say what is wrong
            log.info("who has the comments open could not be read: %s", exc)
            self._confirm_then_act(action, rows, choice)

        self._runner.start(ask, lambda found: self._warn(action, rows, choice, found), unknown)

    def _warn(
        self,
        action: Action,
        rows: list[QueueRow],
        choice: ActionChoice,
        found: dict[int, list[Holder]],
    ) -> None:
        if not found:
            self._confirm_then_act(action, rows, choice)
            return
        box = self._ask(
            QMessageBox.Icon.Question, "Someone else has it open",
            presence_words(action, rows, found), f"{VERBS[action]} &anyway",
            QMessageBox.ButtonRole.AcceptRole, "presenceWarning",
        )  # fmt: skip
        self.presence_question = box

        def answered(go_on: bool) -> None:
            self.presence_question = None
            if go_on:
                self._confirm_then_act(action, rows, choice)
            else:
                self.message.emit("Nothing was recorded.")

        box.answered.connect(answered)

    def _confirm_then_act(self, action: Action, rows: list[QueueRow], choice: ActionChoice) -> None:
        if action is not Action.REMOVE:
            self._act(action, rows, choice)
            return
        platforms = ", ".join(sorted({platform_name(r.platform) for r in rows}))
        what = "this comment" if len(rows) == 1 else f"these {len(rows)} comments"
        box = self._ask(
            QMessageBox.Icon.Warning, "Remove for good?",
            f"{platforms} will delete {what} permanently; it cannot be undone there. "
            "The console keeps the retained record and the history.\n\nRemove?",
            "&Remove", QMessageBox.ButtonRole.DestructiveRole, "removeConfirmation",
        )  # fmt: skip
        self.confirmation = box

        def answered(remove: bool) -> None:
            self.confirmation = None
            if remove:
                self._act(action, rows, choice)
            else:
                self.message.emit("Nothing was removed.")

        box.answered.connect(answered)

    def _ask(
        self,
        icon: QMessageBox.Icon,
        title: str,
        words: str,
        button: str,
        role: QMessageBox.ButtonRole,
        name: str,
    ) -> Question:
        """A window-modal question in plain text (names and comments are untrusted), Cancel
        by default; `answered` says whether `button` was chosen."""
        box = Question(icon, title, words, QMessageBox.StandardButton.Cancel, self._window)
        box.setTextFormat(Qt.TextFormat.PlainText)
        go_on = box.addButton(button, role)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setObjectName(name)

        def finished(_: int) -> None:
            box.deleteLater()
            box.answered.emit(box.clickedButton() is go_on)

        box.finished.connect(finished)
        box.open()
        return box

    def _act(self, action: Action, rows: list[QueueRow], choice: ActionChoice) -> None:
        service = self._moderation()
        self.acting.emit([row.id for row in rows])
        if len(rows) == 1:
            row = rows[0]

            def act_once(_: JobContext) -> ActionResult:
                return service.act(row.id, action, choice.code, choice.note, row.version)

            self._runner.start(
                act_once,
                lambda result: self._single_done(row, result),
                lambda exc: self._single_failed(row, action, exc),
            )
            self.message.emit(f"{VERBS[action]}: recording, then asking the platform…")
            return
        self._act_many(service, action, rows, choice)

    def _single_done(self, row: QueueRow, result: ActionResult) -> None:
        if result.ok or result.sent:  # sent: the agent's outcome updates the row later
            self.message.emit(result.message)
        else:
            self._problems.show(failed_action(row, result))
        self.finished.emit([row.id], result.ok or result.sent)

    def _single_failed(self, row: QueueRow, action: Action, exc: Exception) -> None:
        self._problems.show(problem_from(exc, f"trying to {action.value} the comment"))
        self.finished.emit([row.id], False)

    def _act_many(
        self, service: ModerationService, action: Action, rows: list[QueueRow], choice: ActionChoice
    ) -> None:
        ids = [row.id for row in rows]
        progress = QProgressDialog(
            f"{VERBS[action]}: 0 of {len(ids)} comments…", "&Stop", 0, len(ids), self._window
        )
        progress.setObjectName("bulkProgress")
        progress.setWindowTitle(f"{VERBS[action]} {len(ids)} comments")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        self.progress = progress

        def act_all(context: JobContext) -> BulkResults:
            def step(done: int, total: int) -> bool:
                context.report(done)
                return not context.cancelled()

            return service.act_many(ids, action, choice.code, choice.note, progress=step)

        def advanced(done: object) -> None:
            if isinstance(done, int):
                progress.setValue(done)
                progress.setLabelText(f"{VERBS[action]}: {done} of {len(ids)} comments…")

        handle = self._runner.start(
            act_all,
            lambda results: self._bulk_done(action, ids, results),
            lambda exc: self._bulk_failed(action, ids, exc),
            advanced,
        )
        # A lambda, not handle.cancel: Qt holds bound methods of plain objects weakly.
        progress.canceled.connect(lambda: handle.cancel())
        progress.open()

    def _close_progress(self) -> None:
        if self.progress is not None:
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None

    def _bulk_done(self, action: Action, ids: list[int], results: BulkResults) -> None:
        self._close_progress()
        applied = [r for r in results if isinstance(r, ActionResult) and (r.ok or r.sent)]
        failed = [r for r in results if not (isinstance(r, ActionResult) and (r.ok or r.sent))]
        untouched = len(ids) - len(results)
        summary = f"{VERBS[action]}: {len(applied)} of {len(ids)} comments done"
        summary += ", each recorded separately."
        if untouched:
            summary += f" Stopped before the other {untouched}; they were not touched."
        self.message.emit(summary)
        if failed:
            lines = [
                f"Comment {r.comment_id}: {r.message}"
                if isinstance(r, ActionResult)
                else f"{type(r).__name__}: {r.message}"
                for r in failed
            ]
            self._problems.show(
                Problem(
                    f"{len(failed)} of {len(ids)} comments were not changed",
                    f"{summary} The others are as they were; their attempts are in their "
                    f"history.\n\n" + "\n".join(lines[:8]),
                    "\n".join(lines),
                )
            )
        self.finished.emit(ids, not failed and not untouched)

    def _bulk_failed(self, action: Action, ids: list[int], exc: Exception) -> None:
        self._close_progress()
        self._problems.show(problem_from(exc, f"trying to {action.value} several comments"))
        self.finished.emit(ids, False)


def presence_words(action: Action, rows: Sequence[QueueRow], found: dict[int, list[Holder]]) -> str:
    """The question before acting on comments others have open, in plain words."""
    verb = VERBS[action].lower()
    if len(rows) == 1:
        people = found.get(rows[0].id, [])
        since = f" (since {local_time(people[0].since)})" if people else ""
        head = f"{one_line(open_by_words(people), 300)}{since}. They may be deciding it now."
        return f"{head}\n\nNothing has been recorded yet. {VERBS[action]} it anyway?"
    lines = [
        f"Comment {row.id}: {one_line(open_by_words(found[row.id]), 200)}"
        for row in rows
        if row.id in found
    ]
    head = f"{len(lines)} of these {len(rows)} comments are open on someone else's screen:"
    shown = "\n".join(lines[:8]) + ("\n…" if len(lines) > 8 else "")
    return f"{head}\n{shown}\n\nNothing has been recorded yet. {verb.capitalize()} them anyway?"


def failed_action(row: QueueRow, result: ActionResult) -> Problem:
    """A platform that refused, failed or could not confirm: say so and what to do."""
    name = platform_name(row.platform)
    if result.state is EntryState.UNCONFIRMED:
        title = f"{name} could not confirm the result"
        advice = f"Open the comment on {name} to see how it stands now."
    else:
        title = f"{name} did not {result.action.value} the comment"
        advice = (
            "The comment is as it was. The attempt is recorded in its history. Try again in a "
            f"few minutes; if it keeps failing, open it on {name} or copy the details for IT."
        )
    details = (
        f"Comment {result.comment_id}; log entries {result.pending_entry_id} (pending) and "
        f"{result.outcome_entry_id} ({result.state.value})."
    )
    return Problem(title, f"{result.message}\n\n{advice}", details)
