"""Tokens that renew themselves: before they expire, once on a 401, one thread at a time, and a
site marked "needs reconnecting" (and nothing else stopped) when its platform refuses."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from keyrings.alt.file import PlaintextKeyring
from sqlalchemy import func, select

from hsm_console.connectors import oauth
from hsm_console.db.models import Comment, LogEntry, RetainedRecord, Site, SiteConnection
from hsm_console.errors import ConfigurationError, NeedsReconnecting, NotPossible, PlatformError
from hsm_console.host.credentials import (
    KEYRING_SERVICE,
    AppCredentials,
    CredentialStore,
    TokenSet,
    credential_key,
)
from hsm_console.rules.domain import Action, Platform
from hsm_console.services import admin
from hsm_console.services.tokens import TokenProvider, reconnect_needed_since, reconnected
from hsm_sandbox import SandboxServer
from hsm_sandbox.signin import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from tests.conftest import World
from tests.test_credentials import cli, dump

X_USER = "1102323333"
REDIRECT = "http://127.0.0.1:53682/callback"
APP = AppCredentials(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def x_site(world: World) -> Site:
    """The Parks account on X, pointed at the sandbox as if it were X itself."""
    with world.db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        site = admin.ensure_site(
            session, parks, Platform.X, "@HighlandParksIL", X_USER, world.sandbox.url + "/x", {}
        )
        session.expunge(site)
        return site


def x_sign_in(world: World) -> TokenSet:
    """Consent and code exchange as the sandbox plays X (the connect flow's result)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    url = f"{world.sandbox.url}/x/i/oauth2/authorize?" + urlencode({
        "client_id": SANDBOX_CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code",
        "scope": " ".join(oauth.endpoints(Platform.X, "https://api.x.com").scopes),
        "state": "s", "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    })  # fmt: skip
    code = parse_qs(urlsplit(world.sandbox.signin.approve(url)).query)["code"][0]
    answer = requests.post(
        f"{world.sandbox.url}/x/2/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
              "code_verifier": verifier},
        auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
        timeout=10,
    ).json()  # fmt: skip
    return TokenSet(
        answer["access_token"], answer["refresh_token"],
        world.sandbox.signin.tokens.clock.now() + timedelta(seconds=answer["expires_in"]),
    )  # fmt: skip


def connected_x(world: World) -> tuple[Site, TokenSet]:
    site = x_site(world)
    store = CredentialStore()
    store.set_app(Platform.X, APP)
    tokens = x_sign_in(world)
    store.set_tokens(site, tokens)
    return site, tokens


# --- the keyring entry ------------------------------------------------------------------


def test_a_token_set_round_trips_and_a_plain_token_stays_readable(
    world: World, file_keyring: PlaintextKeyring
) -> None:
    site = x_site(world)
    store = CredentialStore()
    full = TokenSet("access-1234567890", "refresh-1234567890", NOW, "bearer")
    store.set_tokens(site, full)
    assert store.get_tokens(site) == full
    assert store.get(site) == "access-1234567890"
    assert "access-1234567890" not in repr(full)
    assert "refresh-1234567890" not in repr(full)

    file_keyring.set_password(KEYRING_SERVICE, credential_key(site), "a-plain-old-token")
    assert store.get_tokens(site) == TokenSet("a-plain-old-token")

    for broken in ('{"refresh_token": "r-secret-999"}', '{"access_token": "a", "expires_at": 5}',
                   '{"access_token": "a", "expires_at": "2026-12-01T12:00:00"}'):  # fmt: skip
        file_keyring.set_password(KEYRING_SERVICE, credential_key(site), broken)
        with pytest.raises(ConfigurationError, match="connect the site again") as refused:
            store.get_tokens(site)
        assert "r-secret-999" not in str(refused.value) + refused.value.details


def test_the_city_app_credentials_are_kept_in_the_keyring(file_keyring: PlaintextKeyring) -> None:
    store = CredentialStore()
    with pytest.raises(ConfigurationError, match="admin app youtube --client-id ID"):
        store.get_app(Platform.YOUTUBE)
    store.set_app(Platform.YOUTUBE, AppCredentials(" client-1 ", " secret-xyz-123 "))
    assert store.get_app(Platform.YOUTUBE) == AppCredentials("client-1", "secret-xyz-123")
    assert "secret-xyz-123" not in repr(store.get_app(Platform.YOUTUBE))
    with pytest.raises(ConfigurationError, match="Both"):
        store.set_app(Platform.X, AppCredentials("id", "  "))


# --- the provider, by its rules -------------------------------------------------------------


class Counting:
    """A refresher that issues numbered tokens, slowly enough for threads to meet."""

    def __init__(self, refuse: bool = False) -> None:
        self.calls: list[str | None] = []
        self.refuse = refuse
        self._lock = threading.Lock()

    def __call__(self, site: Site, tokens: TokenSet, now: datetime) -> TokenSet:
        with self._lock:
            self.calls.append(tokens.refresh_token)
            n = len(self.calls)
        time.sleep(0.05)
        if self.refuse:
            raise oauth.GrantRefused("refused", details="token endpoint: invalid_grant")
        return TokenSet(f"access-{n}", f"refresh-{n}", now + timedelta(hours=2))


def test_renewed_within_the_margin_before_expiry_and_not_before(
    world: World, file_keyring: PlaintextKeyring
) -> None:
    site = x_site(world)
    store = CredentialStore()
    refresher = Counting()
    clock = [NOW]
    provider = TokenProvider(store, refresher, clock=lambda: clock[0])
    store.set_tokens(site, TokenSet("access-0", "refresh-0", NOW + timedelta(minutes=6)))
    assert provider.current(site) == "access-0"
    assert refresher.calls == []
    clock[0] = NOW + timedelta(minutes=1, seconds=1)  # 4 min 59 s left: within the margin
    assert provider.current(site) == "access-1"
    assert refresher.calls == ["refresh-0"]
    # The rotated refresh token was kept, and the next renewal spends it.
    assert store.get_tokens(site).refresh_token == "refresh-1"
    clock[0] = NOW + timedelta(hours=3)
    assert provider.current(site) == "access-2"
    assert refresher.calls == ["refresh-0", "refresh-1"]


def test_two_threads_never_renew_one_site_at_once(
    world: World, file_keyring: PlaintextKeyring
) -> None:
    site = x_site(world)
    store = CredentialStore()
    refresher = Counting()
    provider = TokenProvider(store, refresher, clock=lambda: NOW)
    store.set_tokens(site, TokenSet("access-0", "refresh-0", NOW - timedelta(seconds=1)))
    got: list[str] = []
    start = threading.Barrier(8)

    def use(refused: bool) -> None:
        start.wait()
        got.append(provider.renew(site, "access-0") if refused else provider.current(site))

    threads = [threading.Thread(target=use, args=(n % 2 == 0,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refresher.calls == ["refresh-0"]  # one renewal for eight callers
    assert got == ["access-1"] * 8


def test_a_refused_renewal_marks_the_site_and_says_so_without_a_token(
    world: World, file_keyring: PlaintextKeyring
) -> None:
    site = x_site(world)
    store = CredentialStore()
    marked: list[int] = []
    provider = TokenProvider(
        store, Counting(refuse=True), on_refused=lambda s: marked.append(s.id), clock=lambda: NOW
    )
    store.set_tokens(site, TokenSet("access-0", "refresh-secret-0", NOW))
    with pytest.raises(NeedsReconnecting, match="'@HighlandParksIL' needs reconnecting") as failed:
        provider.current(site)
    assert marked == [site.id]
    said = str(failed.value) + failed.value.details
    assert "refresh-secret-0" not in said
    assert "access-0" not in said
    # Nothing was overwritten: an administrator's reconnect replaces it.
    assert store.get_tokens(site).refresh_token == "refresh-secret-0"
    # No refresh token at all: the same, without asking the platform.
    store.set_tokens(site, TokenSet("access-9", None, NOW))
    with pytest.raises(NeedsReconnecting):
        provider.current(site)
    assert marked == [site.id, site.id]


# --- against the sandbox's X ---------------------------------------------------------------


def test_an_expired_x_token_is_renewed_before_the_call_and_the_rotation_kept(
    world: World, file_keyring: PlaintextKeyring
) -> None:
    site, first = connected_x(world)
    world.sandbox.signin.advance(timedelta(hours=2))
    app = world.app("alice")
    app.tokens._clock = world.sandbox.signin.tokens.clock.now
    connector = app.connectors(site)
    try:
        assert connector.list_posts(None).items
    finally:
        connector.close()
    renewed = CredentialStore().get_tokens(site)
    assert renewed.access_token != first.access_token
    assert renewed.refresh_token != first.refresh_token  # X rotated it, and it was kept
    # The old refresh token is spent: a second renewal must use the kept one, and can.
    with pytest.raises(oauth.GrantRefused):
        oauth.refresh(Platform.X, site.base_url, APP, first, NOW)
    assert oauth.refresh(Platform.X, site.base_url, APP, renewed, NOW).access_token


def test_a_token_refused_with_401_is_renewed_once_and_the_call_goes_on(
    world: World, file_keyring: PlaintextKeyring
) -> None:
    site, first = connected_x(world)
    # The platform ends the access token early (the expiry it gave is still hours away).
    world.sandbox.signin.tokens.revoke(first.access_token)
    connector = world.app("alice").connectors(site)
    try:
        assert connector.list_posts(None).items
    finally:
        connector.close()
    assert CredentialStore().get_tokens(site).access_token != first.access_token


@pytest.mark.expected_log("sync of site")
def test_a_refresh_token_revoked_mid_sync_marks_that_site_and_the_others_sync(
    world: World, file_keyring: PlaintextKeyring, capsys: pytest.CaptureFixture[str]
) -> None:
    site, first = connected_x(world)
    assert world.sandbox.signin.revoke_all("x") == 2
    app = world.app("alice")
    results = {r.site_id: r for r in app.sync.sync()}
    assert "needs reconnecting" in results[site.id].error
    assert "@HighlandParksIL" in results[site.id].error
    assert results[world.parks_site].error == ""
    assert results[world.parks_site].new_comments > 0
    with world.db.session() as session:
        assert reconnect_needed_since(session, site.id) is not None

    # The next sync says so again without calling X.
    again = {r.site_id: r for r in world.app("alice").sync.sync([site.id])}
    assert "needs reconnecting" in again[site.id].error
    # A new credential (as `credentials set` stores it) clears the mark.
    CredentialStore().set_tokens(site, x_sign_in(world))
    reconnected(world.db, site.id)
    with world.db.session() as session:
        assert reconnect_needed_since(session, site.id) is None
    assert [r.error for r in world.app("alice").sync.sync([site.id])] == [""]

    # No token reached the database or the terminal.
    dumped = dump(world.db)
    printed = capsys.readouterr()
    for secret in (first.access_token, first.refresh_token or "", SANDBOX_CLIENT_SECRET):
        assert secret.encode() not in dumped
        assert secret not in printed.out + printed.err


def test_actions_on_a_site_that_needs_reconnecting_are_refused_before_anything_is_recorded(
    synced: World,
) -> None:
    world = synced
    app = world.app("alice")
    with world.db.transaction() as session:
        session.add(SiteConnection(site_id=world.parks_site, reconnect_needed_at=NOW))
    with world.db.session() as session:
        comment_id = session.scalar(
            select(Comment.id).where(Comment.site_id == world.parks_site).limit(1)
        )
        entries = session.scalar(select(func.count()).select_from(LogEntry))
        records = session.scalar(select(func.count()).select_from(RetainedRecord))
    assert comment_id is not None
    with pytest.raises(NotPossible, match=r"needs reconnecting.*Nothing was recorded"):
        app.moderation.act(comment_id, Action.HIDE, "SPM")
    with world.db.session() as session:
        assert session.scalar(select(func.count()).select_from(LogEntry)) == entries
        assert session.scalar(select(func.count()).select_from(RetainedRecord)) == records
    # A local flag touches no platform: it is still allowed.
    assert app.moderation.act(comment_id, Action.FLAG, "SPM").ok


# --- the token endpoint's faults ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "refused"), [("server_error", False), ("malformed", False), ("revoked_token", True)]
)
def test_token_endpoint_faults_refused_or_only_unavailable(
    world: World, file_keyring: PlaintextKeyring, fault: str, refused: bool
) -> None:
    site, first = connected_x(world)
    world.sandbox.faults.add(fault, path="/x/2/oauth2/token")
    with pytest.raises(PlatformError) as failed:
        oauth.refresh(Platform.X, site.base_url, APP, first, NOW)
    assert isinstance(failed.value, oauth.GrantRefused) is refused
    assert failed.value.retryable is not refused
    said = str(failed.value) + failed.value.details
    assert first.refresh_token
    assert first.refresh_token not in said
    assert SANDBOX_CLIENT_SECRET not in said


# --- hsm-console admin app -------------------------------------------------------------------


def test_admin_app_keeps_the_city_app_in_the_keyring(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    database = f"sqlite:///{tmp_path / 'hsm.sqlite3'}"
    env = {"XDG_DATA_HOME": str(tmp_path / "ring")}
    secret = "app-secret-0123456789"
    first = cli(database, "admin", "init", env=env)
    assert first.returncode == 0, first.stderr
    stored = cli(database, "admin", "app", "x", "--client-id", "city-x-app", stdin=secret, env=env)
    assert stored.returncode == 0, stored.stderr
    assert "The City's X app (city-x-app) is stored" in stored.stdout
    assert secret not in stored.stdout + stored.stderr
    assert secret.encode() not in (tmp_path / "hsm.sqlite3").read_bytes()

    instagram = cli(
        database, "admin", "app", "instagram", "--client-id", "i", stdin=secret, env=env
    )
    assert instagram.returncode == 1
    assert "through Facebook" in instagram.stderr
    wordpress = cli(database, "admin", "app", "wordpress", "--client-id", "w", stdin="s", env=env)
    assert wordpress.returncode == 1
    assert "need no app" in wordpress.stderr

    # On the demo's database this account is no administrator.
    demo = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    assert cli(demo, "demo", "--sandbox-url", sandbox.url).returncode == 0
    refused = cli(demo, "admin", "app", "x", "--client-id", "c", stdin=secret, env=env)
    assert refused.returncode == 1
    assert "administrator" in refused.stderr
