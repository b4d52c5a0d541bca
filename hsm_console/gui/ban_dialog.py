""" "Propose a ban…" for the selected comment's author (docs/design.md, "Blocked accounts"):
the reason codes and basis it rests on and its end date, sent to `BanService.propose` on the
window's `TaskRunner`. The service decides; its refusals are shown in its words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from hsm_console.gui.plain_text import set_plain
from hsm_console.gui.problems import ProblemReporter, problem_from
from hsm_console.gui.ui_files import child, load_form
from hsm_console.gui.workers import JobContext, TaskRunner
from hsm_console.rules.bans import MAX_BAN_DAYS, city_today
from hsm_console.rules.capabilities import capabilities_of
from hsm_console.rules.domain import Action, Platform
from hsm_console.rules.policy import Policy
from hsm_console.services.bans import BanRow, BanService
from hsm_console.services.queue_view import QueueRow

DEFAULT_DAYS = 30


class BanDialog(QDialog):
    """Proposes one ban; `proposed` is called with the register's row once it is recorded."""

    def __init__(
        self,
        service: Callable[[], BanService],
        runner: TaskRunner,
        policy: Policy,
        comment: QueueRow,
        proposed: Callable[[BanRow], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.service, self.runner, self.comment, self.proposed = service, runner, comment, proposed
        self.problems = ProblemReporter(self)
        self.sending = False
        self.setObjectName("banDialog")
        self.setWindowTitle("Propose a ban — HSM Console")
        form = load_form("ban_dialog.ui", self)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("&Propose")
        self.buttons.accepted.connect(self.send)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(form)
        layout.addWidget(self.buttons)
        self.who = child(form, QLabel, "whoLabel")
        self.means = child(form, QLabel, "meansLabel")
        self.codes = child(form, QListWidget, "codeList")
        self.basis = child(form, QPlainTextEdit, "basisText")
        self.ends = child(form, QDateEdit, "endDate")
        platform = Platform(comment.platform)
        set_plain(
            self.who,
            f"Ban {comment.author_name} from {comment.site_name} ({platform.label}), for "
            f"comment {comment.id}. A supervisor other than you decides it.",
        )
        set_plain(self.means, capabilities_of(platform).ban_means)
        for code in policy.codes.values():
            if code.actions & {Action.HIDE, Action.REMOVE}:
                item = QListWidgetItem(f"{code.code} — {code.name}", self.codes)
                item.setData(Qt.ItemDataRole.UserRole, code.code)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
        today = city_today(datetime.now(UTC))
        self.ends.setMinimumDate(_qdate(today + timedelta(days=1)))
        self.ends.setMaximumDate(_qdate(today + timedelta(days=MAX_BAN_DAYS)))
        self.ends.setDate(_qdate(today + timedelta(days=DEFAULT_DAYS)))
        self.resize(640, 600)

    def chosen_codes(self) -> list[str]:
        items = (self.codes.item(i) for i in range(self.codes.count()))
        return [
            str(item.data(Qt.ItemDataRole.UserRole))
            for item in items
            if item.checkState() == Qt.CheckState.Checked
        ]

    def send(self) -> None:
        if self.sending:
            return
        self.sending = True
        self.buttons.setEnabled(False)
        comment_id, basis, codes = self.comment.id, self.basis.toPlainText(), self.chosen_codes()
        ends = self.ends.date().toPython()
        assert isinstance(ends, date)

        def run(_: JobContext) -> BanRow:
            return self.service().propose(comment_id, basis, codes, ends)

        self.runner.start(run, self._done, self._failed)

    def _done(self, row: BanRow) -> None:
        self.sending = False
        self.proposed(row)
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self.sending = False
        self.buttons.setEnabled(True)
        self.problems.show(problem_from(exc, "proposing the ban"))


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)
