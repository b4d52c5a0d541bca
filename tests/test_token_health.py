"""Health shows each site's sign-in (from this computer's keyring, never a token) and warns
administrators a week before it ends; a site that needs reconnecting is a "sign-in lapsed"
gap, read back over once it is connected again."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from keyrings.alt.file import PlaintextKeyring
from sqlalchemy import select

from hsm_console.db.engine import Database
from hsm_console.db.models import CaptureGap, Comment, SiteConnection
from hsm_console.host.credentials import KEYRING_SERVICE, CredentialStore, TokenSet, credential_key
from hsm_console.rules.domain import Platform
from hsm_console.services import admin
from hsm_console.services.health import (
    GapKind,
    TokenState,
    health,
    token_health,
)
from hsm_console.services.tokens import reconnect_needed_since, reconnected
from hsm_sandbox.tiktok import BUSINESS_ID
from tests.conftest import PARKS_PAGE, RECENT_SEED, World
from tests.test_credentials import cli, dump
from tests.test_token_lapsed import make_site, page_token, parks_from_the_keyring, user_token

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SYNC_FAILED = "sync of site"


@pytest.mark.expected_log(SYNC_FAILED)
def test_a_revoked_page_token_marks_its_site_the_gap_is_read_back_after_reconnecting(
    world: World,
    file_keyring: PlaintextKeyring,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    first = page_token(world, user_token(world))
    site = parks_from_the_keyring(world, first)
    app = world.app("alice")
    assert [r.error for r in app.sync.sync()] == ["", ""]
    # The Page's admin changed their password: Graph 190/460 on every call with the token.
    world.sandbox.signin.tokens.revoke(first)
    results = {r.site_id: r for r in app.sync.sync()}
    assert "'Highland Parks & Recreation' needs reconnecting" in results[site.id].error
    assert results[world.police_site].error == ""
    with world.db.session() as session:
        marked = reconnect_needed_since(session, site.id)
    assert marked is not None

    with world.db.session() as session:
        actor = app.moderation.actor(session)
    [parks] = [h for h in health(world.db, actor) if h.site_id == site.id]
    assert parks.token.state is TokenState.NEEDS_RECONNECTING
    assert parks.token.since == marked
    assert parks.gaps[-1].kind == GapKind.TOKEN
    assert parks.gaps[-1].words == "sign-in lapsed"
    assert parks.gaps[-1].ended_at is None

    # Comments keep arriving while the site cannot be read; the next sync refuses at once.
    facebook = world.sandbox.state.facebook
    posts = sorted({c.post_id for c in RECENT_SEED.comments if c.page_id == PARKS_PAGE})
    added = [facebook.add_comment(post, f"While the sign-in lapsed {n}") for n, post in
             enumerate(posts)]  # fmt: skip
    calls = len(world.sandbox.requests_seen())
    again = {r.site_id: r for r in app.sync.sync([site.id])}
    assert "needs reconnecting" in again[site.id].error
    assert len(world.sandbox.requests_seen()) == calls  # nothing sent to Facebook

    # Connected again: the gap closes as a record of its kind and nothing in it is missed.
    second = page_token(world, user_token(world))
    CredentialStore().set_tokens(site, TokenSet(second))
    reconnected(world.db, site.id)
    assert [r.error for r in app.sync.sync([site.id])] == [""]
    with world.db.session() as session:
        [gap] = session.scalars(select(CaptureGap).where(CaptureGap.site_id == site.id)).all()
        assert gap.kind == GapKind.TOKEN.value
        assert gap.ended_at is not None
        got = set(
            session.scalars(select(Comment.external_id).where(Comment.external_id.in_(added)))
        )
    assert got == set(added)
    [parks] = [h for h in health(world.db, actor) if h.site_id == site.id]
    assert parks.token.state is TokenState.NO_EXPIRY
    assert parks.readable

    dumped = dump(world.db)
    printed = capsys.readouterr()
    assert "needs reconnecting" in caplog.text  # the log was captured, and says why
    for secret in (first, second):
        assert secret.encode() not in dumped
        assert secret not in printed.out + printed.err
        assert secret not in caplog.text


# --- token state and the seven-day warning ----------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "since", "state", "words"),
    [
        (None, None, TokenState.NOT_CONNECTED, "not connected on this computer"),
        (TokenSet("a", "r", NOW, refresh_expires_at=NOW + timedelta(days=300)), None,
         TokenState.RENEWS, "renews itself until 2027-09-27 07:00:00 CDT"),
        (TokenSet("a", "r", NOW), None, TokenState.RENEWS, "renews itself"),
        (TokenSet("a", None, NOW + timedelta(days=50)), None, TokenState.EXPIRES,
         "expires 2027-01-20 06:00:00 CST (cannot renew itself)"),
        (TokenSet("a", None, NOW - timedelta(days=1)), None, TokenState.EXPIRES,
         "expired 2026-11-30 06:00:00 CST (cannot renew itself)"),
        (TokenSet("a"), None, TokenState.NO_EXPIRY, "does not expire"),
        (TokenSet("a"), NOW - timedelta(hours=2), TokenState.NEEDS_RECONNECTING,
         "needs reconnecting since 2026-12-01 04:00:00 CST"),
        (None, NOW, TokenState.NEEDS_RECONNECTING, "needs reconnecting since"),
    ],
)  # fmt: skip
def test_token_state_lines(
    tokens: TokenSet | None, since: datetime | None, state: TokenState, words: str
) -> None:
    found = token_health("Parks", tokens, since, NOW)
    assert found.state is state
    assert found.words.startswith(words)
    if tokens is not None:
        assert tokens.access_token not in found.words.split()


@pytest.mark.parametrize(
    "tokens",
    [
        lambda end: TokenSet("a", None, end),  # cannot renew: the access token's own expiry
        lambda end: TokenSet("a", "r", NOW, refresh_expires_at=end),  # the refresh token's
    ],
)
def test_the_warning_comes_seven_days_before_the_sign_in_ends(tokens: Any) -> None:
    assert token_health("Parks", tokens(NOW + timedelta(days=8)), None, NOW).warning == ""
    warned = token_health("Parks", tokens(NOW + timedelta(days=6)), None, NOW).warning
    assert "'Parks' ends 2026-12-07 06:00:00 CST (in about 6 days)" in warned
    assert "administrator must connect the site again" in warned
    ended = token_health("Parks", tokens(NOW - timedelta(minutes=1)), None, NOW).warning
    assert "ended" in ended
    # A refresh token without a known end never warns; neither does one that does not expire.
    assert token_health("Parks", TokenSet("a", "r", NOW), None, NOW).warning == ""
    assert token_health("Parks", TokenSet("a"), None, NOW).warning == ""


def test_health_reads_the_keyring_and_warns_administrators_only(
    world: World, file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    tiktok = make_site(world, Platform.TIKTOK, "Parks on TikTok", BUSINESS_ID, "/tiktok")
    linkedin = make_site(world, Platform.LINKEDIN, "Parks on LinkedIn", "1000001", "/linkedin")
    soon = datetime.now(UTC) + timedelta(days=3)
    CredentialStore().set_tokens(
        tiktok, TokenSet("tt-access-secret", "tt-refresh-secret", soon, refresh_expires_at=soon)
    )
    # Nothing stored for LinkedIn; a keyring entry that cannot be read is said, not quoted.
    file_keyring.set_password(KEYRING_SERVICE, "unrelated", "x")

    def states(username: str) -> dict[int, Any]:
        with world.db.session() as session:
            actor = world.app(username).moderation.actor(session)
        return {h.site_id: h.token for h in health(world.db, actor)}

    ada = states("ada")
    assert ada[tiktok.id].state is TokenState.RENEWS
    assert "'Parks on TikTok' ends" in ada[tiktok.id].warning
    assert ada[linkedin.id].state is TokenState.NOT_CONNECTED
    assert ada[world.parks_site].state is TokenState.NO_EXPIRY  # the demo's public token
    alice = states("alice")
    assert alice[tiktok.id].state is TokenState.RENEWS
    assert alice[tiktok.id].warning == ""

    file_keyring.set_password(KEYRING_SERVICE, credential_key(tiktok), '{"refresh_token": "x"}')
    broken = states("ada")[tiktok.id]
    assert broken.state is TokenState.UNREADABLE
    assert "connect the site again" in broken.words


def test_health_on_the_command_line_shows_sign_ins_and_warns_the_administrator(
    tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path / 'hsm.sqlite3'}"
    env = {"XDG_DATA_HOME": str(tmp_path / "ring")}
    assert cli(database, "admin", "init", env=env).returncode == 0
    db = Database(database)
    with db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        tiktok = admin.ensure_site(
            session, parks, Platform.TIKTOK, "Parks on TikTok", BUSINESS_ID,
            "https://business-api.tiktok.com",
        )  # fmt: skip
        linkedin = admin.ensure_site(
            session, parks, Platform.LINKEDIN, "Parks on LinkedIn", "1000001",
            "https://api.linkedin.com",
        )  # fmt: skip
        session.add(SiteConnection(site_id=linkedin.id, reconnect_needed_at=NOW))
        session.flush()
        session.expunge_all()
    db.dispose()
    # The file the command's keyring (keyrings.alt, under XDG_DATA_HOME) reads.
    ring = PlaintextKeyring()
    ring.file_path = str(tmp_path / "ring" / "python_keyring" / "keyring_pass.cfg")  # type: ignore[misc]
    ends = datetime.now(UTC) + timedelta(days=6, minutes=5)
    stored = TokenSet("tt-secret-access", "tt-secret-refresh", ends, refresh_expires_at=ends)
    ring.set_password(KEYRING_SERVICE, credential_key(tiktok), stored.to_json())

    shown = cli(database, "health", env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("WARNING: The sign-in of 'Parks on TikTok' ends ")
    assert "(in about 6 days)" in lines[0]
    assert "sign-in: renews itself until " in shown.stdout
    assert "sign-in: needs reconnecting since 2026-12-01 06:00:00 CST" in shown.stdout
    listing = json.loads(cli(database, "health", "--json", env=env).stdout)
    token = {site["site_name"]: site["token"] for site in listing}
    assert token["Parks on TikTok"]["state"] == "renews"
    assert token["Parks on LinkedIn"]["state"] == "needs_reconnecting"
    for output in (shown.stdout + shown.stderr, json.dumps(listing)):
        assert "tt-secret" not in output
