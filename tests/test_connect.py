"""Connecting a site (`services/connect.py`), end to end over real HTTP: the sandbox's sign-in
servers, a test "browser" that consents on the sandbox and follows the redirect to the
console's real loopback listener, the keyring, the log; then a sync with what was stored.
WordPress against the real WordPress the test suite starts."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import keyring
import pytest
from keyring.backends.fail import Keyring as NoKeyring
from keyrings.alt.file import PlaintextKeyring
from sqlalchemy import select

from hsm_console.app import App
from hsm_console.connectors import oauth
from hsm_console.connectors.facebook_login import FacebookLogin
from hsm_console.db.engine import Database
from hsm_console.db.models import LogEntry, Site, SiteConnection
from hsm_console.errors import (
    ConfigurationError,
    InvalidInput,
    NotPossible,
    PermissionDenied,
    PlatformError,
    UserError,
)
from hsm_console.host.credentials import NO_BACKEND_HELP, AppCredentials, CredentialStore
from hsm_console.host.identity import os_username
from hsm_console.host.loopback import (
    LoopbackRedirect,
    SignInCancelled,
    SignInTimedOut,
    StateMismatch,
)
from hsm_console.rules.domain import Platform, Role
from hsm_console.rules.policy import load_policy
from hsm_console.services import admin
from hsm_console.services.connect import (
    Connected,
    ConnectMethod,
    ConnectService,
    PageChoice,
)
from hsm_console.services.tokens import reconnect_needed_since
from hsm_console.services.verify import verify_log
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer
from hsm_sandbox.signin import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from tests.conftest import FAST_NETWORK
from tests.connectors.conftest import (
    WORDPRESS_NETWORK,
    WORDPRESS_TOKEN,
    WORDPRESS_URL,
    needs_wordpress,
)
from tests.test_credentials import ROOT, cli, dump

PARKS_PAGE = "1000000000001"
POLICE_PAGE = "1000000000002"
IG_USER = "17841400000000001"
APP = AppCredentials(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)

# platform: the site's id, where the sandbox serves it, its token path, access lifetime (s),
# whether it renews itself
OAUTH_SITES = {
    Platform.YOUTUBE: ("UCHighlandParks000000001", "/youtube", "/youtube/token", 3600, True),
    Platform.X: ("1102323333", "/x", "/x/2/oauth2/token", 7200, True),
    Platform.TIKTOK: (
        "highland-parks-open-id", "/tiktok", "/tiktok/open_api/v1.3/tt_user/oauth2/token/",
        86400, True,
    ),
    Platform.LINKEDIN: (
        "urn:li:organization:1000001", "/linkedin", "/linkedin/oauth/v2/accessToken",
        60 * 86400, False,
    ),
}  # fmt: skip


class Browser:
    """The person at the browser: decides on the sandbox's consent step (approve, deny, or a
    forged state), then follows the redirect to the console's loopback listener, in a thread
    of its own as a real browser would."""

    def __init__(
        self, sandbox: SandboxServer, *, deny: bool = False, state: str | None = None
    ) -> None:
        self.sandbox, self.deny, self.state = sandbox, deny, state
        self.urls: list[str] = []
        self.codes: list[str] = []
        self.pages: list[tuple[int, str]] = []
        self._threads: list[threading.Thread] = []

    def __call__(self, url: str) -> bool:
        self.urls.append(url)
        redirect = self.sandbox.signin.approve(url, deny=self.deny, state=self.state)
        self.codes += parse_qs(urlsplit(redirect).query).get("code", [])
        visit = threading.Thread(target=self._visit, args=(redirect,))
        visit.start()
        self._threads.append(visit)
        return True

    def _visit(self, url: str) -> None:
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
                self.pages.append((answer.status, answer.read().decode()))
        except urllib.error.HTTPError as refused:
            self.pages.append((refused.code, refused.read().decode()))

    def finish(self) -> None:
        for thread in self._threads:
            thread.join(10)

    @property
    def port(self) -> int:
        redirect = parse_qs(urlsplit(self.urls[-1]).query)["redirect_uri"][0]
        return int(urlsplit(redirect).port or 0)


@dataclass
class City:
    """A City set up as a new user would: Parks, ada administers, alice moderates Parks."""

    db: Database
    sandbox: SandboxServer
    opened: list[str] = field(default_factory=list)

    def site(self, platform: Platform, external_id: str, base_url: str, **settings: object) -> Site:
        with self.db.transaction() as session:
            parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
            site = admin.ensure_site(
                session, parks, platform, f"Parks on {platform.label}", external_id, base_url,
                dict(settings),
            )  # fmt: skip
            session.expunge(site)
            return site

    def service(self, browser: Browser | None = None, username: str = "ada") -> ConnectService:
        def nobody(url: str) -> bool:
            self.opened.append(url)
            return True

        return ConnectService(
            self.db, username, CredentialStore(), open_browser=browser or nobody,
            network=FAST_NETWORK,
        )  # fmt: skip

    def app(self, username: str = "alice") -> App:
        return App(self.db, load_policy(), username, connector_overrides=dict(FAST_NETWORK))

    def entries(self) -> list[LogEntry]:
        with self.db.session() as session:
            return list(session.scalars(select(LogEntry).where(LogEntry.action == "connect")))


@pytest.fixture
def city(db: Database, sandbox: SandboxServer, file_keyring: PlaintextKeyring) -> City:
    with db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        ada = admin.ensure_person(session, "ada", "Ada Administrator")
        admin.grant(session, ada, Role.ADMINISTRATOR, None)
        alice = admin.ensure_person(session, "alice", "Alice Moderator")
        admin.grant(session, alice, Role.MODERATOR, parks)
    store = CredentialStore()
    for platform in (Platform.FACEBOOK, Platform.YOUTUBE, Platform.X, Platform.TIKTOK,
                     Platform.LINKEDIN):  # fmt: skip
        store.set_app(platform, APP)
    return City(db, sandbox)


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_nowhere(
    city: City,
    secrets: list[str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    *said: str,
) -> None:
    """None of `secrets` is in the database, the log, the terminal or what was said."""
    secrets = [s for s in secrets if s]
    assert secrets
    dumped = dump(city.db)
    printed = capsys.readouterr()
    for secret in secrets:
        assert secret.encode() not in dumped
        assert secret not in caplog.text
        assert secret not in printed.out + printed.err
        for words in said:
            assert secret not in words


def issued(sandbox: SandboxServer, *platforms: str) -> list[str]:
    """Every live token the sandbox's sign-in issued for `platforms`."""
    return [
        token
        for platform in platforms
        for kind in ("access", "refresh")
        for token in sandbox.signin.tokens.tokens(platform, kind)
    ]


def nothing_stored(city: City, site: Site) -> None:
    with pytest.raises(ConfigurationError, match="is not connected"):
        CredentialStore().get_tokens(site)
    assert city.entries() == []


# --- OAuth 2.0 with PKCE, each platform end to end ---------------------------------------


@pytest.mark.parametrize("platform", list(OAUTH_SITES), ids=lambda p: p.value)
def test_each_oauth_platform_connects_in_the_browser_and_its_site_syncs(
    city: City,
    platform: Platform,
    everything_logged: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    external_id, prefix, _, lifetime, renews = OAUTH_SITES[platform]
    site = city.site(platform, external_id, city.sandbox.url + prefix)
    browser = Browser(city.sandbox)
    said: list[str] = []
    service = city.service(browser)
    assert service.how(str(site.id)).method is ConnectMethod.BROWSER

    started = datetime.now(UTC)
    done = service.connect(str(site.id), progress=said.append, timeout=20)
    browser.finish()

    assert isinstance(done, Connected)
    sent = parse_qs(urlsplit(browser.urls[0]).query)
    assert sent["code_challenge_method"] == ["S256"]
    assert len(sent["state"][0]) >= 32
    assert sent["redirect_uri"][0].startswith("http://127.0.0.1:")
    assert browser.pages[0][0] == 200
    assert "You can close this window" in browser.pages[0][1]
    tokens = CredentialStore().get_tokens(site)
    assert tokens.refreshable is renews
    assert tokens.expires_at is not None
    expected = started + timedelta(seconds=lifetime)
    assert abs((tokens.expires_at - expected).total_seconds()) < 30
    assert "is connected by OAuth 2.0 sign-in with PKCE" in done.message
    assert any("Waiting for the sign-in" in words for words in said)

    [entry] = city.entries()
    assert (entry.kind, entry.subject, entry.actor) == ("admin", f"site:{site.id}", "ada")
    after = json.loads(entry.after or "{}")
    assert after["connected_by"] == "OAuth 2.0 sign-in with PKCE in the browser"
    assert after["renews_itself"] is renews
    assert after["token_expires_at"] == tokens.expires_at.isoformat()
    assert verify_log(city.db).ok

    [result] = city.app().sync.sync([site.id])
    assert result.error == ""
    assert result.new_posts > 0

    assert_nowhere(
        city,
        [*browser.codes, tokens.access_token, tokens.refresh_token or "", SANDBOX_CLIENT_SECRET,
         *issued(city.sandbox, platform.value)],
        everything_logged, capsys, done.message, *said,
    )  # fmt: skip


def test_connecting_again_clears_needs_reconnecting(city: City) -> None:
    site = city.site(Platform.X, "1102323333", city.sandbox.url + "/x")
    with city.db.transaction() as session:
        session.add(SiteConnection(site_id=site.id, reconnect_needed_at=datetime.now(UTC)))
    done = city.service(Browser(city.sandbox)).connect(str(site.id), timeout=20)
    assert isinstance(done, Connected)
    with city.db.session() as session:
        assert reconnect_needed_since(session, site.id) is None
    [entry] = city.entries()
    assert json.loads(entry.before or "{}")["needs_reconnecting"] is True


def test_a_tiktok_sign_in_as_another_account_stores_nothing(city: City) -> None:
    site = city.site(Platform.TIKTOK, "another-open-id", city.sandbox.url + "/tiktok")
    with pytest.raises(PlatformError, match=r"highland-parks-open-id.*is not this site's"):
        city.service(Browser(city.sandbox)).connect(str(site.id), timeout=20)
    nothing_stored(city, site)


def test_sign_in_addresses_are_the_platforms_own_for_their_real_apis() -> None:
    redirect = "http://127.0.0.1:50000/callback"
    google = oauth.authorization(Platform.YOUTUBE, "https://youtube.googleapis.com", APP, redirect)
    assert google.url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    sent = parse_qs(urlsplit(google.url).query)
    assert (sent["access_type"], sent["prompt"]) == (["offline"], ["consent"])
    assert sent["scope"] == ["https://www.googleapis.com/auth/youtube.force-ssl"]
    assert sent["state"] == [google.state]
    assert google.code_verifier not in google.url
    assert google.code_verifier not in repr(google)
    tiktok = oauth.authorization(Platform.TIKTOK, "https://business-api.tiktok.com", APP, redirect)
    sent = parse_qs(urlsplit(tiktok.url).query)
    assert (sent["client_key"], sent["scope"]) == (
        [SANDBOX_CLIENT_ID],
        ["comment.list,comment.list.manage"],
    )
    x = oauth.authorization(Platform.X, "https://api.x.com", APP, redirect)
    assert x.url.startswith("https://x.com/i/oauth2/authorize?")
    assert x.state != google.state
    login = FacebookLogin(Platform.INSTAGRAM, "https://graph.facebook.com", {}, APP)
    facebook = login.authorization(redirect).url
    assert facebook.startswith("https://www.facebook.com/v25.0/dialog/oauth?")
    assert "instagram_manage_comments" in parse_qs(urlsplit(facebook).query)["scope"][0]


# --- Facebook Login and Instagram through the Page --------------------------------------


def test_facebook_login_stores_the_page_token_that_does_not_expire(
    city: City,
    everything_logged: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site = city.site(Platform.FACEBOOK, PARKS_PAGE, city.sandbox.url, api_version="v25.0")
    browser = Browser(city.sandbox)
    done = city.service(browser).connect(str(site.id), timeout=20)
    browser.finish()
    assert isinstance(done, Connected)
    assert "does not expire" in done.message
    sent = parse_qs(urlsplit(browser.urls[0]).query)
    assert urlsplit(browser.urls[0]).path == "/v25.0/dialog/oauth"
    assert set(sent["scope"][0].split(",")) >= {"pages_show_list", "pages_manage_engagement"}
    tokens = CredentialStore().get_tokens(site)
    assert (tokens.expires_at, tokens.refreshable) == (None, False)

    city.sandbox.signin.advance(timedelta(days=90))  # past the user token's 60 days
    [result] = city.app().sync.sync([site.id])
    assert result.error == ""
    assert result.new_comments > 0
    [entry] = city.entries()
    assert json.loads(entry.after or "{}")["page"] == f"Highland Parks & Recreation ({PARKS_PAGE})"
    assert_nowhere(
        city, [*browser.codes, tokens.access_token, SANDBOX_CLIENT_SECRET,
               *issued(city.sandbox, "facebook-user", "facebook")],
        everything_logged, capsys, done.message,
    )  # fmt: skip


def test_instagram_takes_the_token_of_the_page_it_is_linked_to(city: City) -> None:
    site = city.site(Platform.INSTAGRAM, IG_USER, city.sandbox.url + "/instagram")
    browser = Browser(city.sandbox)
    done = city.service(browser).connect(str(site.id), timeout=20)
    assert isinstance(done, Connected)
    assert "instagram_manage_comments" in parse_qs(urlsplit(browser.urls[0]).query)["scope"][0]
    [result] = city.app().sync.sync([site.id])
    assert result.error == ""
    assert result.new_comments > 0


def test_instagram_offers_only_pages_with_a_linked_account(city: City) -> None:
    site = city.site(Platform.INSTAGRAM, "17841400000000099", city.sandbox.url + "/instagram")
    choice = city.service(Browser(city.sandbox)).connect(str(site.id), timeout=20)
    assert isinstance(choice, PageChoice)
    assert [(p.id, p.instagram_id) for p in choice.pages] == [(PARKS_PAGE, IG_USER)]
    assert f"Highland Parks & Recreation ({PARKS_PAGE}, Instagram {IG_USER})" in choice.message
    with pytest.raises(InvalidInput):
        city.service().choose(choice, POLICE_PAGE)  # managed, but not linked to Instagram
    done = city.service().choose(choice, IG_USER)
    assert f"Its account is now {IG_USER}" in done.message
    [result] = city.app().sync.sync([site.id])
    assert result.error == ""


def test_a_tiktok_app_refused_in_the_envelope_is_the_citys_app(city: City) -> None:
    CredentialStore().set_app(Platform.TIKTOK, AppCredentials(SANDBOX_CLIENT_ID, "wrong-one"))
    site = city.site(Platform.TIKTOK, "highland-parks-open-id", city.sandbox.url + "/tiktok")
    with pytest.raises(ConfigurationError, match="admin app tiktok") as failed:
        city.service(Browser(city.sandbox)).connect(str(site.id), timeout=20)
    assert failed.value.details == "token endpoint: tiktok_40001"
    nothing_stored(city, site)


def test_pages_are_offered_when_the_sites_page_is_not_managed_then_one_is_chosen(
    city: City,
) -> None:
    # page_size 1: the Pages come in two pages of /me/accounts, both read.
    site = city.site(Platform.FACEBOOK, "1000000000009", city.sandbox.url, page_size=1)
    service = city.service(Browser(city.sandbox))
    choice = service.connect(str(site.id), timeout=20)
    assert isinstance(choice, PageChoice)
    assert [(p.id, p.name) for p in choice.pages] == [
        (PARKS_PAGE, "Highland Parks & Recreation"),
        (POLICE_PAGE, "Highland Police Department"),
    ]
    assert "1000000000009" in choice.message
    assert "Highland Police Department (1000000000002)" in choice.message
    assert all(p.token not in repr(choice) for p in choice.pages)
    nothing_stored(city, site)

    with pytest.raises(InvalidInput, match="not one of the Pages offered"):
        service.choose(choice, "42")
    done = service.choose(choice, POLICE_PAGE)
    assert f"Its account is now {POLICE_PAGE}" in done.message
    with city.db.session() as session:
        row = session.get(Site, site.id)
        assert row is not None
        assert row.external_id == POLICE_PAGE
    [result] = city.app().sync.sync([site.id])
    assert result.error == ""
    [entry] = city.entries()
    assert json.loads(entry.before or "{}")["external_id"] == "1000000000009"
    assert json.loads(entry.after or "{}")["external_id"] == POLICE_PAGE


def test_a_page_named_up_front_is_taken_unless_unknown_or_another_sites(city: City) -> None:
    site = city.site(Platform.FACEBOOK, "1000000000009", city.sandbox.url)
    with pytest.raises(InvalidInput, match=r"'77' is not among.*Highland Parks & Recreation"):
        city.service(Browser(city.sandbox)).connect(str(site.id), page="77", timeout=20)
    nothing_stored(city, site)
    parks = city.site(Platform.FACEBOOK, PARKS_PAGE, city.sandbox.url + "/")
    with city.db.transaction() as session:  # the same address as the first site
        moved = session.get(Site, parks.id)
        assert moved is not None
        moved.base_url = city.sandbox.url
    with pytest.raises(NotPossible, match=f"{PARKS_PAGE} is already site {parks.id}"):
        city.service(Browser(city.sandbox)).connect(str(site.id), page=PARKS_PAGE, timeout=20)
    nothing_stored(city, site)
    done = city.service(Browser(city.sandbox)).connect(str(site.id), page=POLICE_PAGE, timeout=20)
    assert isinstance(done, Connected)
    assert f"Its account is now {POLICE_PAGE}" in done.message


# --- the browser step's faults -------------------------------------------------------------


def test_denied_in_the_browser_stores_nothing(city: City) -> None:
    site = city.site(Platform.X, "1102323333", city.sandbox.url + "/x")
    browser = Browser(city.sandbox, deny=True)
    with pytest.raises(SignInCancelled, match="cancelled in the browser"):
        city.service(browser).connect(str(site.id), timeout=20)
    browser.finish()
    assert "did not complete" in browser.pages[0][1]
    nothing_stored(city, site)


def test_a_browser_that_never_returns_times_out_and_frees_the_port(city: City) -> None:
    site = city.site(Platform.YOUTUBE, "UCHighlandParks000000001", city.sandbox.url + "/youtube")
    started = time.monotonic()
    with pytest.raises(SignInTimedOut, match=r"within 0\.5 seconds"):
        city.service().connect(str(site.id), timeout=0.5)
    assert time.monotonic() - started < 5
    redirect = parse_qs(urlsplit(city.opened[0]).query)["redirect_uri"][0]
    port = urlsplit(redirect).port
    assert port
    with socket.socket() as again:  # the port is free: it can be bound again at once
        again.bind(("127.0.0.1", port))
    nothing_stored(city, site)


def test_cancel_from_another_thread_ends_the_wait(city: City) -> None:
    site = city.site(Platform.X, "1102323333", city.sandbox.url + "/x")
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(SignInCancelled, match="cancelled"):
        city.service().connect(str(site.id), cancel=cancel, timeout=30)
    assert time.monotonic() - started < 5
    nothing_stored(city, site)


def test_a_state_that_does_not_match_is_refused(city: City) -> None:
    site = city.site(
        Platform.LINKEDIN, "urn:li:organization:1000001", city.sandbox.url + "/linkedin"
    )
    browser = Browser(city.sandbox, state="forged-by-someone-else")
    with pytest.raises(StateMismatch, match="does not belong to this LinkedIn sign-in"):
        city.service(browser).connect(str(site.id), timeout=20)
    browser.finish()
    assert browser.pages[0][0] == 400
    nothing_stored(city, site)


def test_the_listener_ignores_other_paths_and_takes_the_redirect_on_loopback_only() -> None:
    with LoopbackRedirect() as loopback:
        assert loopback.redirect_uri == f"http://127.0.0.1:{loopback.port}/callback"
        answers: list[int] = []

        def browse() -> None:
            for path in ("/favicon.ico", "/callback?code=the-code&state=s-1"):
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{loopback.port}{path}", timeout=10
                    ) as answer:
                        answers.append(answer.status)
                except urllib.error.HTTPError as refused:
                    answers.append(refused.code)

        visit = threading.Thread(target=browse)
        visit.start()
        assert loopback.wait("s-1", 10, platform="X") == "the-code"
        visit.join(10)
    assert answers == [404, 200]
    with socket.socket() as again:  # as a new listener would: closed connections may linger
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", loopback.port))
        again.listen()


# --- the token endpoint's faults -----------------------------------------------------------

TOKEN_FAULTS = {
    "400": (dict(kind="malformed", status=400, body='{"error": "invalid_grant"}'),
            PlatformError, "did not accept this sign-in"),
    "401": (dict(kind="malformed", status=401, body='{"error": "invalid_client"}'),
            ConfigurationError, "did not accept the City's app"),
    "401 plain": (dict(kind="server_error", status=401), ConfigurationError,
                  "did not accept the City's app"),
    "500": (dict(kind="server_error"), PlatformError, "did not answer properly"),
    "malformed JSON": (dict(kind="malformed"), PlatformError, "did not answer properly"),
}  # fmt: skip


@pytest.mark.parametrize("platform", [Platform.X, Platform.TIKTOK], ids=lambda p: p.value)
@pytest.mark.parametrize("fault", list(TOKEN_FAULTS))
def test_token_endpoint_faults_in_plain_words_and_nothing_stored(
    city: City,
    platform: Platform,
    fault: str,
    everything_logged: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    external_id, prefix, token_path, _, _ = OAUTH_SITES[platform]
    site = city.site(platform, external_id, city.sandbox.url + prefix)
    given, kind, words = TOKEN_FAULTS[fault]
    city.sandbox.faults.add(path=token_path, **given)  # type: ignore[arg-type]
    browser = Browser(city.sandbox)
    with pytest.raises(kind, match=words) as failed:
        city.service(browser).connect(str(site.id), timeout=20)
    assert isinstance(failed.value, UserError)
    assert "nothing was stored" in failed.value.message
    nothing_stored(city, site)
    assert_nowhere(
        city, [*browser.codes, SANDBOX_CLIENT_SECRET], everything_logged, capsys,
        failed.value.message, failed.value.details,
    )  # fmt: skip


def test_a_wrong_client_secret_is_the_citys_app_not_the_sign_in(city: City) -> None:
    CredentialStore().set_app(Platform.YOUTUBE, AppCredentials(SANDBOX_CLIENT_ID, "wrong-one"))
    site = city.site(Platform.YOUTUBE, "UCHighlandParks000000001", city.sandbox.url + "/youtube")
    with pytest.raises(ConfigurationError, match="admin app") as failed:
        city.service(Browser(city.sandbox)).connect(str(site.id), timeout=20)
    assert failed.value.details == "token endpoint: invalid_client"
    nothing_stored(city, site)


# --- who may connect, and where it is kept -------------------------------------------------


def test_a_non_administrator_is_refused_before_anything_is_opened(city: City) -> None:
    site = city.site(Platform.X, "1102323333", city.sandbox.url + "/x")
    browser = Browser(city.sandbox)
    with pytest.raises(PermissionDenied, match="Only an administrator may connect a site"):
        city.service(browser, username="alice").connect(str(site.id), timeout=20)
    with pytest.raises(PermissionDenied):
        city.service(browser, username="alice").how(str(site.id))
    assert browser.urls == []
    nothing_stored(city, site)


def test_no_keyring_backend_is_said_before_the_browser_opens(city: City) -> None:
    site = city.site(Platform.X, "1102323333", city.sandbox.url + "/x")
    browser = Browser(city.sandbox)
    previous = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())
    try:
        with pytest.raises(ConfigurationError) as failed:
            city.service(browser).connect(str(site.id), timeout=20)
    finally:
        keyring.set_keyring(previous)
    assert failed.value.message == NO_BACKEND_HELP
    assert browser.urls == []
    nothing_stored(city, site)


def test_a_demo_site_has_nothing_to_connect(city: City) -> None:
    with city.db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        demo = admin.ensure_site(
            session, parks, Platform.X, "Demo X", "1102323333", city.sandbox.url + "/x", {},
            demo_token=SANDBOX_TOKEN,
        )  # fmt: skip
        demo_id = demo.id
    with pytest.raises(NotPossible, match="is a demo site"):
        city.service().connect(str(demo_id))


# --- WordPress and Discourse: checked with one read call --------------------------------------


def test_plain_http_wordpress_off_this_computer_is_refused(city: City) -> None:
    site = city.site(Platform.WORDPRESS, "news", "http://blog.example.org")
    with pytest.raises(NotPossible, match="plain http"):
        city.service().connect(str(site.id), user="editor", secret="abcd efgh ijkl mnop")
    nothing_stored(city, site)


def test_wordpress_and_discourse_need_their_user_and_secret(city: City) -> None:
    site = city.site(Platform.WORDPRESS, "news", "https://blog.example.org")
    how = city.service().how(str(site.id))
    assert how.method is ConnectMethod.PASSWORD
    with pytest.raises(InvalidInput, match="WordPress user name"):
        city.service().connect(str(site.id), secret="x")
    with pytest.raises(InvalidInput, match="password"):
        city.service().connect(str(site.id), user="editor", secret="  ")
    nothing_stored(city, site)


def test_discourse_wrong_key_then_right_key(
    city: City,
    everything_logged: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = "dk-0123456789abcdef-secret"
    city.sandbox.state["discourse"].set_token(key)  # type: ignore[attr-defined]
    site = city.site(
        Platform.DISCOURSE, "city-services", city.sandbox.url + "/discourse", api_username="nobody"
    )
    service = city.service()
    how = service.how(str(site.id))
    assert (how.method, how.user) == (ConnectMethod.API_KEY, "nobody")
    with pytest.raises(PlatformError, match="Discourse did not accept that API key") as wrong:
        service.connect(str(site.id), user="system", secret="dk-wrong-key-000000")
    nothing_stored(city, site)
    done = service.connect(str(site.id), user="system", secret=key)
    assert isinstance(done, Connected)
    with city.db.session() as session:
        row = session.get(Site, site.id)
        assert row is not None
        assert row.settings["api_username"] == "system"
    [result] = city.app().sync.sync([site.id])
    assert result.error == ""
    [entry] = city.entries()
    after = json.loads(entry.after or "{}")
    assert (after["account"], after["connected_by"]) == ("system", "API key and user name")
    assert_nowhere(
        city, [key, "dk-wrong-key-000000"], everything_logged, capsys, done.message,
        wrong.value.message, wrong.value.details,
    )  # fmt: skip


@pytest.mark.wordpress
def test_the_real_wordpress_refuses_a_wrong_password_and_connects_with_the_right_one(
    city: City,
    everything_logged: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    needs_wordpress()
    user, _, password = WORDPRESS_TOKEN.partition(":")
    site = city.site(Platform.WORDPRESS, "test-blog", WORDPRESS_URL)
    service = ConnectService(
        city.db, "ada", CredentialStore(), open_browser=lambda url: False,
        network=WORDPRESS_NETWORK,
    )  # fmt: skip
    wrong = "abcd EFGH ijkl MNOP qrst UVWX"
    with pytest.raises(PlatformError, match="WordPress did not accept that user name") as failed:
        service.connect(str(site.id), user=user, secret=wrong)
    nothing_stored(city, site)

    done = service.connect(str(site.id), user=user, secret=password)
    assert isinstance(done, Connected)
    assert "until revoked" in done.message
    assert CredentialStore().get(site) == f"{user}:{password}"
    app = App(city.db, load_policy(), "alice", connector_overrides=dict(WORDPRESS_NETWORK))
    [result] = app.sync.sync([site.id])
    assert result.error == ""
    [entry] = city.entries()
    assert json.loads(entry.after or "{}")["account"] == user
    assert_nowhere(
        city, [password, wrong], everything_logged, capsys, done.message,
        failed.value.message, failed.value.details,
    )  # fmt: skip


# --- hsm-console admin connect ----------------------------------------------------------------


def new_city_on_the_command_line(tmp_path: Path, *site: str) -> tuple[str, dict[str, str]]:
    """As the README has a new City do it: first administrator, a department, a site. The
    database's URL, and the environment whose keyring the commands share."""
    database = f"sqlite:///{tmp_path / 'hsm.sqlite3'}"
    env = {"XDG_DATA_HOME": str(tmp_path / "ring")}
    for step in (
        ("admin", "init"),
        ("admin", "department", "add", "PARKS", "Parks & Recreation"),
        ("admin", "site", "add", *site, "--name", "Parks site", "--department", "PARKS"),
    ):
        done = cli(database, *step, env=env)
        assert done.returncode == 0, done.stderr
    return database, env


def test_admin_connect_without_a_browser_prints_the_address_then_sync_reads_the_site(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    database, env = new_city_on_the_command_line(
        tmp_path, "x", "1102323333", "--api-url", sandbox.url + "/x"
    )
    added = cli(database, "admin", "site", "list", env=env)
    assert "1102323333" in added.stdout
    app = cli(database, "admin", "app", "x", "--client-id", SANDBOX_CLIENT_ID,
              stdin=SANDBOX_CLIENT_SECRET, env=env)  # fmt: skip
    assert app.returncode == 0, app.stderr

    running = subprocess.Popen(
        [sys.executable, "-m", "hsm_console", "--database", database, "admin", "connect", "1",
         "--no-browser", "--timeout", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip
    assert running.stdout is not None
    printed: list[str] = []
    for line in running.stdout:
        printed.append(line)
        if line.startswith("http"):
            break
    url = printed[-1].strip()
    assert "Open this address in a browser" in "".join(printed)
    redirect = sandbox.signin.approve(url)
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    with urllib.request.urlopen(redirect, timeout=10) as page:  # noqa: S310 (loopback)
        assert "You can close this window" in page.read().decode()
    rest, errors = running.communicate(timeout=60)
    assert running.returncode == 0, errors
    assert "is connected by OAuth 2.0 sign-in with PKCE" in rest
    assert "Its access renews itself" in rest

    me = os_username()
    granted = cli(database, "admin", "role", "grant", me, "moderator", "--department", "PARKS",
                  env=env)  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    synced = cli(database, "sync", env=env)
    assert synced.returncode == 0, synced.stderr
    assert "Parks site" in synced.stdout
    assert "error" not in synced.stdout.lower()

    said = "".join(printed) + rest + errors + synced.stdout + synced.stderr
    for secret in [code, SANDBOX_CLIENT_SECRET, *issued(sandbox, "x")]:
        assert secret not in said
        assert secret.encode() not in (tmp_path / "hsm.sqlite3").read_bytes()


def test_admin_connect_reads_a_discourse_key_from_a_pipe_and_refuses_a_wrong_one(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    key = "dk-cli-0123456789abcdef"
    sandbox.state["discourse"].set_token(key)  # type: ignore[attr-defined]
    database, env = new_city_on_the_command_line(
        tmp_path, "discourse", "city-services", "--api-url", sandbox.url + "/discourse"
    )
    wrong = cli(database, "admin", "connect", "1", "--user", "system", stdin="dk-wrong-0000000",
                env=env)  # fmt: skip
    assert wrong.returncode == 1
    assert "Discourse did not accept that API key and user name" in wrong.stderr
    right = cli(database, "admin", "connect", "1", "--user", "system", stdin=key, env=env)
    assert right.returncode == 0, right.stderr
    assert "is connected by API key and user name" in right.stdout
    for said in (wrong.stdout + wrong.stderr, right.stdout + right.stderr):
        assert key not in said
        assert "dk-wrong-0000000" not in said
    assert key.encode() not in (tmp_path / "hsm.sqlite3").read_bytes()


def test_admin_connect_a_wordpress_site_asks_for_the_user_name_first(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    database, env = new_city_on_the_command_line(
        tmp_path, "wordpress", "parks-news", "--api-url", sandbox.url + "/wordpress"
    )
    refused = cli(database, "admin", "connect", "1", stdin="pw", env=env)
    assert refused.returncode == 1
    assert "--user NAME" in refused.stderr
    done = cli(database, "admin", "connect", "parks site", "--user", "admin",
               stdin=SANDBOX_TOKEN, env=env)  # fmt: skip
    assert done.returncode == 1  # no site of that name: names are exact
    done = cli(database, "admin", "connect", "Parks site", "--user", "admin",
               stdin=SANDBOX_TOKEN, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "until revoked" in done.stdout
