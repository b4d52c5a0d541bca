"""The Sites tab's Connect button and Sign-in column, clicked as an administrator would: the
real dialog over the sandbox's sign-in servers with a test browser that consents and follows
the redirect to the console's loopback listener, and WordPress against the real WordPress the
suite starts. Nothing secret may show in a widget, the log or the database."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from keyrings.alt.file import PlaintextKeyring
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTableWidget,
    QTabWidget,
    QWidget,
)
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from hsm_console.app import App
from hsm_console.db.engine import Database
from hsm_console.db.models import LogEntry, Site, SiteConnection
from hsm_console.gui.admin import CONNECT_TIP, SIGN_IN_COLUMN, SITE_HEADERS, AdminDialog
from hsm_console.gui.connect_dialog import ConnectFlow, CredentialForm, PageChooser
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.settings import GuiSettings
from hsm_console.gui.ui_files import child
from hsm_console.host.credentials import CredentialStore, TokenSet
from hsm_console.rules.domain import Platform, Role
from hsm_console.rules.policy import load_policy
from hsm_console.services import admin
from hsm_sandbox import SANDBOX_TOKEN
from hsm_sandbox.server import SandboxServer
from hsm_sandbox.signin import SANDBOX_CLIENT_SECRET
from tests.conftest import FAST_NETWORK
from tests.connectors.conftest import (
    WORDPRESS_NETWORK,
    WORDPRESS_TOKEN,
    WORDPRESS_URL,
    needs_wordpress,
)
from tests.gui.conftest import started
from tests.gui.helpers import WAIT_MS
from tests.test_connect import APP, PARKS_PAGE, POLICE_PAGE, Browser, issued
from tests.test_credentials import dump

X_ACCOUNT = "1102323333"
MARKED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)

Opener = Callable[[str], bool]


class Console:
    """A City with one administrator, ada, and the sites a test adds; her window, opened on
    the Sites tab of the administration."""

    def __init__(self, qtbot: QtBot, db: Database, sandbox: SandboxServer, settings: GuiSettings):
        self.qtbot, self.db, self.sandbox, self.settings = qtbot, db, sandbox, settings
        self.windows: list[MainWindow] = []

    def site(self, platform: Platform, external_id: str, base_url: str, **options: Any) -> int:
        demo = options.pop("demo_token", None)
        with self.db.transaction() as session:
            parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
            site = admin.ensure_site(
                session, parks, platform, f"Parks on {platform.label}", external_id, base_url,
                options, demo_token=demo,
            )  # fmt: skip
            return site.id

    def row(self, site: int) -> Site:
        with self.db.session() as session:
            found = session.get(Site, site)
            assert found is not None
            session.expunge(found)
            return found

    def open(
        self, opener: Opener, network: dict[str, Any] | None = None
    ) -> tuple[MainWindow, AdminDialog]:
        app = App(
            self.db, load_policy(), "ada", connector_overrides=dict(network or FAST_NETWORK),
            open_browser=opener,
        )  # fmt: skip
        window = started(self.qtbot, MainWindow(app, self.settings))
        self.windows.append(window)
        assert window.admin_action is not None
        window.admin_action.trigger()
        dialog = window.admin_dialog
        assert dialog is not None
        child(dialog, QTabWidget, "adminTabs").setCurrentIndex(2)
        self.qtbot.waitUntil(lambda: sign_in(dialog, 0) != "", timeout=WAIT_MS)
        return window, dialog

    def entries(self) -> list[LogEntry]:
        with self.db.session() as session:
            return list(session.scalars(select(LogEntry).where(LogEntry.action == "connect")))


@pytest.fixture
def console(
    qtbot: QtBot,
    gui_db: Database,
    sandbox: SandboxServer,
    file_keyring: PlaintextKeyring,
    gui_settings: GuiSettings,
) -> Iterator[Console]:
    with gui_db.transaction() as session:
        admin.ensure_department(session, "PARKS", "Parks & Recreation")
        ada = admin.ensure_person(session, "ada", "Ada Administrator")
        admin.grant(session, ada, Role.ADMINISTRATOR, None)
    for platform in (Platform.X, Platform.FACEBOOK):
        CredentialStore().set_app(platform, APP)
    city = Console(qtbot, gui_db, sandbox, gui_settings)
    yield city
    for window in city.windows:
        window.close()


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def row_of(dialog: AdminDialog, site: int) -> int:
    return next(r for r, s in enumerate(dialog.listing.sites) if s.id == site)


def sign_in(dialog: AdminDialog, row: int) -> str:
    item = dialog.site_table.item(row, SIGN_IN_COLUMN)
    return item.text() if item is not None else ""


def click_connect(qtbot: QtBot, dialog: AdminDialog, site: int) -> None:
    dialog.site_table.selectRow(row_of(dialog, site))
    assert dialog.connect_button.isEnabled()
    assert dialog.connect_button.toolTip() == CONNECT_TIP
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)


def flow_of(dialog: AdminDialog) -> ConnectFlow:
    assert dialog.connect_flow is not None
    return dialog.connect_flow


def settled(qtbot: QtBot, window: MainWindow, dialog: AdminDialog) -> None:
    flow = flow_of(dialog)
    qtbot.waitUntil(lambda: not flow.running and not window.runner.busy(), timeout=WAIT_MS)


def form_of(qtbot: QtBot, dialog: AdminDialog) -> CredentialForm:
    flow = flow_of(dialog)
    qtbot.waitUntil(lambda: flow.form is not None, timeout=WAIT_MS)
    assert flow.form is not None
    return flow.form


def widget_text() -> str:
    """Every text the console's widgets show or hold, typed fields included."""
    parts: list[str] = []
    for top in QApplication.topLevelWidgets():
        for widget in [top, *top.findChildren(QWidget)]:
            parts.append(widget.toolTip())
            if isinstance(widget, QLabel | QAbstractButton | QLineEdit):
                parts.append(widget.text())
            if isinstance(widget, QPlainTextEdit):
                parts.append(widget.toPlainText())
            if isinstance(widget, QTableWidget):
                parts += [
                    item.text()
                    for r in range(widget.rowCount())
                    for c in range(widget.columnCount())
                    if (item := widget.item(r, c)) is not None
                ]
        if isinstance(top, MainWindow):
            parts.append(top.statusBar().currentMessage())
    return "\n".join(parts)


def nowhere(console: Console, caplog: pytest.LogCaptureFixture, secrets: list[str]) -> None:
    secrets = [s for s in secrets if s]
    assert secrets
    shown, stored = widget_text(), dump(console.db)
    assert "Parks on" in shown  # the search reads the widgets
    for secret in secrets:
        assert secret not in shown
        assert secret not in caplog.text
        assert secret.encode() not in stored


def test_an_x_site_connects_from_the_button_and_its_state_and_the_band_follow(
    qtbot: QtBot, console: Console, everything_logged: pytest.LogCaptureFixture
) -> None:
    site = console.site(Platform.X, X_ACCOUNT, console.sandbox.url + "/x")
    with console.db.transaction() as session:
        session.add(SiteConnection(site_id=site, reconnect_needed_at=MARKED))
    browser = Browser(console.sandbox)
    window, dialog = console.open(browser)
    row = row_of(dialog, site)
    assert sign_in(dialog, row) == "needs reconnecting since 2026-12-01 03:30:00 CST"
    item = dialog.site_table.item(row, SIGN_IN_COLUMN)
    assert item is not None
    assert not item.icon().isNull()  # the administrator's attention is drawn
    qtbot.waitUntil(window.sign_in_banner.isVisible, timeout=WAIT_MS)
    assert "Parks on X (Parks & Recreation) needs reconnecting" in (
        window.sign_in_banner.label.text()
    )

    click_connect(qtbot, dialog, site)
    settled(qtbot, window, dialog)
    browser.finish()

    assert dialog.problems.current is None
    [entry] = console.entries()
    message = window.statusBar().currentMessage()
    assert message == f"Connected: Parks on X. Log entry {entry.id}."
    assert json.loads(entry.after or "{}")["renews_itself"] is True
    assert "is connected by OAuth 2.0 sign-in with PKCE" in dialog.result_label.text()
    qtbot.waitUntil(
        lambda: sign_in(dialog, row_of(dialog, site)).startswith("renews itself"), timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: not window.sign_in_banner.isVisible(), timeout=WAIT_MS)
    sent = parse_qs(urlsplit(browser.urls[0]).query)
    assert sent["code_challenge_method"] == ["S256"]
    assert browser.pages[0][0] == 200

    tokens = CredentialStore().get_tokens(console.row(site))
    nowhere(
        console, everything_logged,
        [*browser.codes, tokens.access_token, tokens.refresh_token or "", SANDBOX_CLIENT_SECRET],
    )  # fmt: skip


def test_cancel_while_waiting_for_the_browser_stores_nothing_and_frees_the_port(
    qtbot: QtBot, console: Console
) -> None:
    site = console.site(Platform.X, X_ACCOUNT, console.sandbox.url + "/x")
    asked: list[str] = []

    def no_browser(url: str) -> bool:  # no browser could start: the address is shown
        asked.append(url)
        return False

    window, dialog = console.open(no_browser)
    click_connect(qtbot, dialog, site)
    flow = flow_of(dialog)
    qtbot.waitUntil(lambda: flow.progress is not None, timeout=WAIT_MS)
    progress = flow.progress
    assert progress is not None
    qtbot.waitUntil(
        lambda: "Waiting for the sign-in" in progress.lines.toPlainText(), timeout=WAIT_MS
    )
    shown = progress.lines.toPlainText()
    assert "Open this address in a browser on this computer to sign in:" in shown
    assert asked[0] in shown.splitlines()  # on a line of its own, to select and copy
    assert progress.lines.isReadOnly()
    flags = progress.lines.textInteractionFlags()
    assert flags & Qt.TextInteractionFlag.TextSelectableByMouse
    assert progress.cancel_button.isEnabled()

    qtbot.mouseClick(progress.cancel_button, Qt.MouseButton.LeftButton)
    settled(qtbot, window, dialog)

    assert flow.progress is None
    assert dialog.problems.current is None  # a cancel is not a problem
    assert dialog.result_label.text() == (
        "Not connected: The sign-in was cancelled. Nothing was stored."
    )
    assert CredentialStore().find_tokens(console.row(site)) is None
    assert console.entries() == []
    assert sign_in(dialog, row_of(dialog, site)) == "not connected on this computer"
    port = urlsplit(parse_qs(urlsplit(asked[0]).query)["redirect_uri"][0]).port
    assert port
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_closing_the_screen_mid_sign_in_ends_the_wait(qtbot: QtBot, console: Console) -> None:
    site = console.site(Platform.X, X_ACCOUNT, console.sandbox.url + "/x")
    asked: list[str] = []

    def never_back(url: str) -> bool:  # a browser that never comes back
        asked.append(url)
        return True

    window, dialog = console.open(never_back)
    click_connect(qtbot, dialog, site)
    qtbot.waitUntil(lambda: bool(asked), timeout=WAIT_MS)
    dialog.close()
    qtbot.waitUntil(lambda: not window.runner.busy(), timeout=5_000)  # not the 300 s wait
    assert window.problems.current is None
    assert console.entries() == []
    port = urlsplit(parse_qs(urlsplit(asked[0]).query)["redirect_uri"][0]).port
    assert port
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_a_facebook_page_is_picked_from_the_list(
    qtbot: QtBot, console: Console, everything_logged: pytest.LogCaptureFixture
) -> None:
    site = console.site(Platform.FACEBOOK, "1000000000009", console.sandbox.url)
    browser = Browser(console.sandbox)
    window, dialog = console.open(browser)
    click_connect(qtbot, dialog, site)
    flow = flow_of(dialog)
    qtbot.waitUntil(lambda: flow.chooser is not None, timeout=WAIT_MS)
    chooser = flow.chooser
    assert isinstance(chooser, PageChooser)
    offered = [chooser.pages.item(i).text() for i in range(chooser.pages.count())]
    assert offered == [
        f"Highland Parks & Recreation ({PARKS_PAGE})",
        f"Highland Police Department ({POLICE_PAGE})",
    ]
    assert console.entries() == []  # nothing yet
    assert chooser.ok is not None
    assert not chooser.ok.isEnabled()
    chooser.pages.setCurrentRow(1)
    assert chooser.ok.isEnabled()
    qtbot.mouseClick(chooser.ok, Qt.MouseButton.LeftButton)
    settled(qtbot, window, dialog)
    browser.finish()

    assert dialog.problems.current is None
    [entry] = console.entries()
    assert json.loads(entry.after or "{}")["external_id"] == POLICE_PAGE
    assert f"Its account is now {POLICE_PAGE}" in dialog.result_label.text()
    assert window.statusBar().currentMessage() == (
        f"Connected: Parks on Facebook. Log entry {entry.id}."
    )

    def shown() -> tuple[str, str]:
        row = row_of(dialog, site)
        account = dialog.site_table.item(row, SITE_HEADERS.index("Account id"))
        return (account.text() if account else "", sign_in(dialog, row))

    qtbot.waitUntil(lambda: shown() == (POLICE_PAGE, "does not expire"), timeout=WAIT_MS)
    nowhere(
        console, everything_logged,
        [*browser.codes, *issued(console.sandbox, "facebook-user", "facebook"),
         SANDBOX_CLIENT_SECRET],
    )  # fmt: skip


def test_a_state_that_does_not_match_is_refused_in_plain_words(
    qtbot: QtBot, console: Console
) -> None:
    site = console.site(Platform.X, X_ACCOUNT, console.sandbox.url + "/x")
    browser = Browser(console.sandbox, state="forged-by-someone-else")
    window, dialog = console.open(browser)
    click_connect(qtbot, dialog, site)
    settled(qtbot, window, dialog)
    browser.finish()
    shown = dialog.problems.current
    assert shown is not None
    assert shown.message_label.text() == (
        "The answer that came back from the browser does not belong to this X sign-in (its "
        "state does not match), so it was refused and nothing was stored. Connect the site "
        "again; if this repeats, tell the City's IT."
    )
    assert "Traceback" not in shown.message_label.text()
    assert browser.pages[0][0] == 400
    assert dialog.result_label.text().startswith("Not connected: ")
    assert CredentialStore().find_tokens(console.row(site)) is None
    assert console.entries() == []


def test_plain_http_wordpress_is_refused_before_the_password_is_sent(
    qtbot: QtBot, console: Console
) -> None:
    site = console.site(Platform.WORDPRESS, "news", "http://blog.example.org")
    window, dialog = console.open(lambda url: False)
    click_connect(qtbot, dialog, site)
    form = form_of(qtbot, dialog)
    qtbot.keyClicks(form.user, "editor")
    qtbot.keyClicks(form.secret, "abcd efgh ijkl mnop")
    form.accept()
    settled(qtbot, window, dialog)
    shown = dialog.problems.current
    assert shown is not None
    assert shown.problem.title == "Not possible"
    assert "is plain http: the application password would cross the network unencrypted" in (
        shown.message_label.text()
    )
    assert console.entries() == []
    assert "abcd efgh" not in widget_text()


def test_a_discourse_key_typed_wrong_then_right(
    qtbot: QtBot, console: Console, everything_logged: pytest.LogCaptureFixture
) -> None:
    key, wrong = "dk-0123456789abcdef-secret", "dk-wrong-key-000000"
    console.sandbox.state["discourse"].set_token(key)  # type: ignore[attr-defined]
    site = console.site(
        Platform.DISCOURSE, "city-services", console.sandbox.url + "/discourse",
        api_username="nobody",
    )  # fmt: skip
    window, dialog = console.open(lambda url: False)
    for typed in (wrong, key):
        click_connect(qtbot, dialog, site)
        form = form_of(qtbot, dialog)
        assert form.user.text() == "nobody"  # the user the site acts as, offered
        assert form.secret.echoMode() is QLineEdit.EchoMode.Password
        form.user.setText("system")
        qtbot.keyClicks(form.secret, typed)
        qtbot.keyClick(form.secret, Qt.Key.Key_Return)
        settled(qtbot, window, dialog)
        if typed == wrong:
            shown = dialog.problems.current
            assert shown is not None
            assert shown.message_label.text().startswith("Discourse did not accept that API key")
            assert console.entries() == []
            shown.reject()
    assert dialog.problems.current is None
    [entry] = console.entries()
    assert json.loads(entry.after or "{}")["account"] == "system"
    qtbot.waitUntil(
        lambda: sign_in(dialog, row_of(dialog, site)) == "does not expire", timeout=WAIT_MS
    )
    nowhere(console, everything_logged, [key, wrong])


@pytest.mark.wordpress
def test_the_real_wordpress_refuses_a_wrong_password_typed_then_takes_the_right_one(
    qtbot: QtBot, console: Console, everything_logged: pytest.LogCaptureFixture
) -> None:
    needs_wordpress()
    user, _, password = WORDPRESS_TOKEN.partition(":")
    wrong = "abcd EFGH ijkl MNOP qrst UVWX"
    site = console.site(Platform.WORDPRESS, "test-blog", WORDPRESS_URL)
    window, dialog = console.open(lambda url: False, WORDPRESS_NETWORK)
    assert sign_in(dialog, row_of(dialog, site)) == "not connected on this computer"

    click_connect(qtbot, dialog, site)
    form = form_of(qtbot, dialog)
    assert form.secret.echoMode() is QLineEdit.EchoMode.Password
    assert "Application Password" in widget_text()
    qtbot.keyClicks(form.user, user)
    qtbot.keyClicks(form.secret, wrong)
    qtbot.keyClick(form.secret, Qt.Key.Key_Return)
    settled(qtbot, window, dialog)
    shown = dialog.problems.current
    assert shown is not None
    assert shown.message_label.text().startswith("WordPress did not accept that user name")
    assert console.entries() == []
    shown.reject()

    click_connect(qtbot, dialog, site)
    form = form_of(qtbot, dialog)
    assert form.secret.text() == ""
    qtbot.keyClicks(form.user, user)
    qtbot.keyClicks(form.secret, password)
    qtbot.keyClick(form.secret, Qt.Key.Key_Return)
    settled(qtbot, window, dialog)

    assert dialog.problems.current is None
    [entry] = console.entries()
    assert json.loads(entry.after or "{}")["account"] == user
    assert window.statusBar().currentMessage() == (
        f"Connected: Parks on WordPress. Log entry {entry.id}."
    )
    qtbot.waitUntil(
        lambda: sign_in(dialog, row_of(dialog, site)) == "does not expire", timeout=WAIT_MS
    )
    assert CredentialStore().get(console.row(site)) == f"{user}:{password}"
    nowhere(console, everything_logged, [password, wrong])


def test_the_sign_in_column_says_each_state_and_a_demo_site_has_nothing_to_connect(
    qtbot: QtBot, console: Console
) -> None:
    url = console.sandbox.url
    demo = console.site(Platform.FACEBOOK, PARKS_PAGE, url, demo_token=SANDBOX_TOKEN)
    renews = console.site(Platform.X, X_ACCOUNT, url + "/x")
    expires = console.site(Platform.LINKEDIN, "urn:li:organization:1000001", url + "/linkedin")
    forever = console.site(Platform.DISCOURSE, "city-services", url + "/discourse")
    never = console.site(Platform.YOUTUBE, "UCHighlandParks000000001", url + "/youtube")
    later = datetime.now(UTC) + timedelta(days=60)
    store = CredentialStore()
    store.set_tokens(
        console.row(renews), TokenSet("x-access", "x-refresh", later, refresh_expires_at=None)
    )
    store.set_tokens(console.row(expires), TokenSet("li-access", None, later))
    store.set_tokens(console.row(forever), TokenSet("dk-key"))
    _, dialog = console.open(lambda url: False)

    words = {site: sign_in(dialog, row_of(dialog, site)) for site in (demo, renews, expires,
                                                                      forever, never)}  # fmt: skip
    assert words[demo] == "demo site, nothing to connect"
    assert words[renews] == "renews itself"
    assert words[expires].startswith("expires ")
    assert words[expires].endswith("(cannot renew itself)")
    assert words[forever] == "does not expire"
    assert words[never] == "not connected on this computer"
    assert "Sign-in" in [
        dialog.site_table.horizontalHeaderItem(c).text()  # type: ignore[union-attr]
        for c in range(dialog.site_table.columnCount())
    ]
    assert not dialog.connect_button.isEnabled()  # nothing selected
    dialog.site_table.selectRow(row_of(dialog, demo))
    assert not dialog.connect_button.isEnabled()
    assert "demo site" in dialog.connect_button.toolTip()
    dialog.site_table.selectRow(row_of(dialog, never))
    assert dialog.connect_button.isEnabled()
    assert "x-access" not in widget_text()
