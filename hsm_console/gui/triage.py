"""Carrying out a moderator's action: dialog, confirmation, the record-first call, the result.

The moderation service does the work on a worker thread (it records first, then calls the
platform); this module only asks, shows progress and reports. Nothing here blocks the
window: every dialog is opened window-modal and answers through signals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from hsm_console.errors import UserError
from hsm_console.gui.action_dialog import VERBS, ActionChoice, ActionDialog
from hsm_console.gui.icons import platform_name
from hsm_console.gui.problems import Problem, ProblemReporter, problem_from
from hsm_console.gui.workers import JobContext, TaskRunner
from hsm_console.rules.domain import Action, EntryState
from hsm_console.rules.policy import Policy
from hsm_console.services.moderation import ActionResult, ModerationService
from hsm_console.services.queue_view import QueueRow

BulkResults = list[ActionResult | UserError]


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
    ) -> None:
        super().__init__(window)
        self._window = window
        self._runner = runner
        self._moderation = moderation
        self._policy = policy
        self._problems = problems
        self.dialog: ActionDialog | None = None
        self.confirmation: QMessageBox | None = None
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
                self._confirm_then_act(action, chosen, dialog.choice())

        dialog.finished.connect(closed)
        dialog.open()

    def _confirm_then_act(self, action: Action, rows: list[QueueRow], choice: ActionChoice) -> None:
        if action is not Action.REMOVE:
            self._act(action, rows, choice)
            return
        platforms = ", ".join(sorted({platform_name(r.platform) for r in rows}))
        what = "this comment" if len(rows) == 1 else f"these {len(rows)} comments"
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Remove for good?",
            f"{platforms} will delete {what} permanently; it cannot be undone there. "
            "The console keeps the retained record and the history.\n\nRemove?",
            QMessageBox.StandardButton.Cancel,
            self._window,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)
        remove = box.addButton("&Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setObjectName("removeConfirmation")
        self.confirmation = box

        def answered(_: int) -> None:
            self.confirmation = None
            box.deleteLater()
            if box.clickedButton() is remove:
                self._act(action, rows, choice)
            else:
                self.message.emit("Nothing was removed.")

        box.finished.connect(answered)
        box.open()

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
        if result.ok:
            self.message.emit(result.message)
        else:
            self._problems.show(failed_action(row, result))
        self.finished.emit([row.id], result.ok)

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
        applied = [r for r in results if isinstance(r, ActionResult) and r.ok]
        failed = [r for r in results if not (isinstance(r, ActionResult) and r.ok)]
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
