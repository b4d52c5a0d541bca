"""Connecting a site from the Sites tab: `services/connect.py`'s recipe with a person at it.

`ConnectFlow` asks the service how the site connects, asks the person for a user name and a
password or key when the platform needs them (echo off), then runs `connect` on the window's
`TaskRunner` behind a small progress dialog that lists the service's sentences (the address
to open among them when no browser could start, selectable to copy) and whose Cancel sets
the job's cancel event, which ends the wait for the browser within a tenth of a second. A
Facebook or Instagram site whose Page the person does not manage gets the Pages offered in a
list, and `choose` finishes. Refusals go through `gui/problems.py`; a cancel is no problem.
The widgets never see a token: the password or key goes from the form to the job and no
further than the service.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hsm_console.gui.plain_text import set_plain
from hsm_console.gui.problems import ProblemReporter, problem_from
from hsm_console.gui.workers import JobContext, TaskHandle, TaskRunner
from hsm_console.host.loopback import SignInCancelled
from hsm_console.rules.domain import Platform
from hsm_console.services.connect import (
    Connected,
    ConnectMethod,
    ConnectService,
    HowToConnect,
    PageChoice,
)

Answer = Connected | PageChoice


class CredentialForm(QDialog):
    """WordPress's user name and application password, or Discourse's user and API key."""

    def __init__(self, how: HowToConnect, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("credentialForm")
        self.setWindowTitle(f"Connect {how.site_name}")
        words = QLabel(self)
        set_plain(words, how.words)
        words.setWordWrap(True)
        self.user = QLineEdit(how.user, self)
        self.user.setObjectName("connectUser")
        self.secret = QLineEdit(self)
        self.secret.setObjectName("connectSecret")
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        api_key = how.method is ConnectMethod.API_KEY
        secret_words = "&API key" if api_key else "Application &password"
        self.secret.setAccessibleName(secret_words.replace("&", ""))
        self.user.setAccessibleName("User name")
        fields = QFormLayout()
        fields.addRow("&User name", self.user)
        fields.addRow(secret_words, self.secret)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        ok.setText("&Connect")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(words)
        layout.addLayout(fields)
        layout.addWidget(buttons)
        self.setMinimumWidth(480)
        (self.secret if how.user else self.user).setFocus()

    def take(self) -> tuple[str, str]:
        """The user name and the secret, the secret then wiped from the field."""
        entered = self.user.text(), self.secret.text()
        self.secret.clear()
        return entered


class PageChooser(QDialog):
    """The Pages the person who signed in manages, to pick the site's (name and id)."""

    def __init__(self, choice: PageChoice, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pageChooser")
        self.setWindowTitle(f"Pick the Page of {choice.site_name}")
        words = QLabel(self)
        set_plain(words, choice.message)
        words.setWordWrap(True)
        self.pages = QListWidget(self)
        self.pages.setObjectName("pageList")
        self.pages.setAccessibleName("Pages you manage")
        for page in choice.pages:
            instagram = choice.platform is Platform.INSTAGRAM and page.instagram_id
            linked = f", Instagram {page.instagram_id}" if instagram else ""
            item = QListWidgetItem(f"{page.name} ({page.id}{linked})")  # QListWidget: plain
            item.setData(Qt.ItemDataRole.UserRole, page.id)
            self.pages.addItem(item)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert self.ok is not None
        self.ok.setText("&Connect this Page")
        self.ok.setEnabled(False)
        self.pages.itemSelectionChanged.connect(
            lambda: self._ok().setEnabled(bool(self.pages.selectedItems()))
        )
        self.pages.itemDoubleClicked.connect(lambda _: self.accept())
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(words)
        layout.addWidget(self.pages)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

    def _ok(self) -> QPushButton:
        assert self.ok is not None
        return self.ok

    def picked(self) -> str:
        items = self.pages.selectedItems()
        return str(items[0].data(Qt.ItemDataRole.UserRole)) if items else ""


class ConnectProgress(QDialog):
    """The service's sentences as the sign-in moves on, and Cancel while it can stop."""

    def __init__(
        self, site_name: str, cancel: Callable[[], None] | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("connectProgress")
        self.setWindowTitle(f"Connecting {site_name}")
        self._cancel = cancel
        self.ended = False
        heading = QLabel(self)
        set_plain(heading, f"Connecting {site_name}")
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        self.lines = QPlainTextEdit(self)  # plain text only; selectable, to copy an address
        self.lines.setObjectName("connectProgressLines")
        self.lines.setReadOnly(True)
        self.lines.setAccessibleName("What the sign-in is doing")
        self.lines.setMinimumSize(560, 110)
        self.cancel_button = QPushButton("&Cancel", self)
        self.cancel_button.setObjectName("cancelConnectButton")
        self.cancel_button.setEnabled(cancel is not None)
        if cancel is None:
            self.cancel_button.setToolTip("The check takes a moment and cannot be stopped")
        self.cancel_button.clicked.connect(self.reject)
        buttons = QDialogButtonBox(self)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.lines)
        layout.addWidget(buttons)

    def say(self, words: object) -> None:
        self.lines.appendPlainText(str(words))

    def reject(self) -> None:
        """Cancel (button, Escape, the close box): ask the job to stop; the dialog closes
        when it has, so nothing finishes unseen."""
        if self._cancel is not None and not self.ended:
            self._cancel()
            self.cancel_button.setEnabled(False)
            self.say("Cancelling...")

    def end(self) -> None:
        self.ended = True
        self.done(QDialog.DialogCode.Rejected)


class ConnectFlow:
    """One site's connection at a time, each service call on the runner."""

    def __init__(
        self,
        service: ConnectService,
        runner: TaskRunner,
        parent: QWidget,
        problems: ProblemReporter,
        connected: Callable[[Connected], None],
        ended: Callable[[str], None],
    ) -> None:
        """`connected` gets the result; `ended` the words when it stopped short of it."""
        self.service = service
        self.runner = runner
        self.parent = parent
        self.problems = problems
        self._connected = connected
        self._ended = ended
        self.running = False
        self.abandoned = False
        self.form: CredentialForm | None = None
        self.chooser: PageChooser | None = None
        self.progress: ConnectProgress | None = None
        self.task: TaskHandle | None = None

    def start(self, site_key: str) -> None:
        if self.running:
            return
        self.running = True
        service = self.service
        self.runner.start(lambda _: service.how(site_key), self._asked, self._failed)

    def abandon(self) -> None:
        """The screen closes: a sign-in still waiting ends now, and no answer is shown."""
        self.abandoned = True
        self._cancel()

    def _asked(self, how: HowToConnect) -> None:
        if self.abandoned:
            return
        if how.method is ConnectMethod.BROWSER:
            self._connect(how, None, None)
            return
        form = CredentialForm(how, self.parent)
        self.form = form

        def closed(result: int) -> None:
            self.form = None
            form.deleteLater()
            if result == QDialog.DialogCode.Accepted:
                user, secret = form.take()
                self._connect(how, user, secret)
            else:
                self._stop("Not connected: nothing was entered, nothing was stored.")

        form.finished.connect(closed)
        form.open()

    def _connect(self, how: HowToConnect, user: str | None, secret: str | None) -> None:
        service, key = self.service, str(how.site_id)
        cancel = None if how.method is not ConnectMethod.BROWSER else self._cancel
        self._show_progress(how.site_name, cancel)

        def run(context: JobContext) -> Answer:
            return service.connect(
                key, progress=context.report, cancel=context.cancel_event, user=user,
                secret=secret,
            )  # fmt: skip

        assert self.progress is not None
        self.task = self.runner.start(run, self._answered, self._failed, self.progress.say)

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _show_progress(self, site_name: str, cancel: Callable[[], None] | None) -> None:
        self.progress = ConnectProgress(site_name, cancel, self.parent)
        self.progress.open()

    def _close_progress(self) -> None:
        if self.progress is not None:
            self.progress.end()
            self.progress.deleteLater()
            self.progress = None
        self.task = None

    def _answered(self, answer: Answer) -> None:
        if self.abandoned:
            return
        self._close_progress()
        if isinstance(answer, Connected):
            self.running = False
            self._connected(answer)
            return
        chooser = PageChooser(answer, self.parent)
        self.chooser = chooser

        def closed(result: int) -> None:
            self.chooser = None
            chooser.deleteLater()
            page = chooser.picked()
            if result == QDialog.DialogCode.Accepted and page:
                self._choose(answer, page)
            else:
                self._stop("Not connected: no Page was picked, nothing was stored.")

        chooser.finished.connect(closed)
        chooser.open()

    def _choose(self, choice: PageChoice, page_id: str) -> None:
        service = self.service
        self._show_progress(choice.site_name, None)
        assert self.progress is not None
        self.progress.say("Storing the Page's token in this computer's keyring...")
        self.task = self.runner.start(
            lambda _: service.choose(choice, page_id), self._answered, self._failed
        )

    def _failed(self, exc: Exception) -> None:
        if self.abandoned:
            return
        self._close_progress()
        if isinstance(exc, SignInCancelled):
            self._stop(f"Not connected: {exc.message}")
            return
        problem = problem_from(exc, "connecting a site")
        self._stop(f"Not connected: {problem.message}")
        self.problems.show(problem)

    def _stop(self, words: str) -> None:
        self.running = False
        self._ended(words)
