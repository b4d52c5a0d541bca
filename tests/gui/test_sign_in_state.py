"""The window names the sites whose sign-in needs an administrator: a site that needs
reconnecting (banner, status bar, its actions disabled with the words the service refuses
with, nothing recorded), and for administrators a sign-in that ends within seven days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from keyrings.alt.file import PlaintextKeyring
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from hsm_console.db.models import SiteConnection
from hsm_console.errors import NotPossible
from hsm_console.gui.actions import SPECS, ActionId
from hsm_console.gui.main_window import MainWindow
from hsm_console.host.credentials import CredentialStore, TokenSet
from hsm_console.rules.domain import Action, Platform, Role
from hsm_console.services import admin
from hsm_sandbox.tiktok import BUSINESS_ID
from tests.conftest import World
from tests.gui.conftest import OpenWindow
from tests.gui.helpers import WAIT_MS, count

MARKED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def settled(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not (window.runner.busy() or window.background.busy()), timeout=WAIT_MS)


def test_a_site_that_needs_reconnecting_is_named_and_its_actions_refused(
    qtbot: QtBot, open_window: OpenWindow, gui_world: World
) -> None:
    with gui_world.db.transaction() as session:
        session.add(SiteConnection(site_id=gui_world.parks_site, reconnect_needed_at=MARKED))
    window = open_window("alice")
    qtbot.waitUntil(window.sign_in_banner.isVisible, timeout=WAIT_MS)
    banner = window.sign_in_banner.label.text()
    assert banner.startswith("⚠ Highland Parks & Recreation (Parks & Recreation) needs "
                             "reconnecting since 2026-12-01 03:30:00 CST")  # fmt: skip
    assert "Ask an administrator to connect it again" in banner
    qtbot.waitUntil(
        lambda: (
            "needs reconnecting: Highland Parks & Recreation" in window.sync_status.label.text()
        ),
        timeout=WAIT_MS,
    )
    assert "NEEDS RECONNECTING since" in window.sync_status.label.toolTip()

    row = window.model.queue_row(0)
    assert row is not None
    assert row.site_id == gui_world.parks_site
    hide = window.registry[ActionId.HIDE]
    assert not hide.isEnabled()
    assert "'Highland Parks & Recreation' needs reconnecting" in hide.statusTip()
    entries = count(gui_world, "SELECT count(*) FROM action_log")
    records = count(gui_world, "SELECT count(*) FROM retained_records")
    qtbot.keyClick(window.table, SPECS[ActionId.HIDE].keys[0])  # does nothing
    assert window.problems.current is None
    # The service refuses with the words the disabled action shows, recording nothing.
    with pytest.raises(NotPossible) as refused:
        window.app.moderation.act(row.id, Action.HIDE, "SPM")
    assert refused.value.message == hide.statusTip()
    assert count(gui_world, "SELECT count(*) FROM action_log") == entries
    assert count(gui_world, "SELECT count(*) FROM retained_records") == records
    # A local flag touches no platform: still offered.
    assert window.registry[ActionId.FLAG].isEnabled()


def test_the_banner_is_hidden_while_every_sign_in_is_well(
    qtbot: QtBot, open_window: OpenWindow
) -> None:
    window = open_window("alice")
    settled(qtbot, window)
    assert not window.sign_in_banner.isVisible()
    assert "reconnecting" not in window.sync_status.label.text()


@pytest.mark.parametrize(("days", "warned"), [(8, False), (6, True)])
def test_administrators_are_warned_a_week_before_a_sign_in_ends(
    qtbot: QtBot,
    open_window: OpenWindow,
    gui_world: World,
    file_keyring: PlaintextKeyring,
    days: int,
    warned: bool,
) -> None:
    with gui_world.db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        site = admin.ensure_site(
            session, parks, Platform.TIKTOK, "Parks on TikTok", BUSINESS_ID,
            gui_world.sandbox.url + "/tiktok",
        )  # fmt: skip
        admin.grant(session, admin.ensure_person(session, "ada", "Ada"), Role.MODERATOR, parks)
        session.expunge(site)
    ends = datetime.now(UTC) + timedelta(days=days, minutes=5)
    CredentialStore().set_tokens(
        site,
        TokenSet("tt-access", "tt-refresh", ends - timedelta(days=300), refresh_expires_at=ends),
    )
    administrator = open_window("ada")
    settled(qtbot, administrator)
    assert administrator.sign_in_banner.isVisible() is warned
    if warned:
        text = administrator.sign_in_banner.label.text()
        assert "'Parks on TikTok' ends" in text
        assert "(in about 6 days)" in text
        assert "tt-access" not in text
    moderator = open_window("alice")
    settled(qtbot, moderator)
    assert not moderator.sign_in_banner.isVisible()  # the warning asks an administrator


def test_the_banner_shows_text_as_text(
    qtbot: QtBot, open_window: OpenWindow, gui_world: World
) -> None:
    with gui_world.db.transaction() as session:
        session.add(SiteConnection(site_id=gui_world.parks_site, reconnect_needed_at=MARKED))
        session.execute(
            text("UPDATE sites SET name = :n WHERE id = :i"),
            {"n": "<b>Parks</b>", "i": gui_world.parks_site},
        )
    window = open_window("alice")
    qtbot.waitUntil(window.sign_in_banner.isVisible, timeout=WAIT_MS)
    assert window.sign_in_banner.label.textFormat() is Qt.TextFormat.PlainText
    assert "<b>Parks</b>" in window.sign_in_banner.label.text()
