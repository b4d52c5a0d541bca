"""A platform saying "your token is dead" in its own way (TikTok's envelope code on HTTP 200,
Graph's error 190 on HTTP 400) renews the token once like a 401, and a token that cannot renew
marks its site "needs reconnecting"; the keyring keeps the refresh token's expiry where the
platform gives it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from keyrings.alt.file import PlaintextKeyring
from sqlalchemy import select

from hsm_console.connectors import oauth
from hsm_console.connectors.base import Connector
from hsm_console.connectors.tiktok import envelope_error
from hsm_console.db.models import RoleGrant, Site
from hsm_console.errors import ConfigurationError, NeedsReconnecting
from hsm_console.host.credentials import KEYRING_SERVICE, CredentialStore, TokenSet, credential_key
from hsm_console.rules.domain import Platform, Role
from hsm_console.services import admin
from hsm_console.services.connector_factory import connector_factory
from hsm_console.services.tokens import TokenProvider, marks_in, reconnect_needed_since
from hsm_sandbox.instagram import IG_USER_ID
from hsm_sandbox.tiktok import BUSINESS_ID
from tests.conftest import FAST_NETWORK, PARKS_PAGE, World
from tests.test_sandbox_signin import (
    REDIRECT,
    TT_CLIENT,
    TT_TOKEN,
    facebook_short_token,
    facebook_user_token,
    tiktok_code,
)
from tests.test_tokens import APP

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def make_site(world: World, platform: Platform, name: str, external_id: str, path: str) -> Site:
    with world.db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        site = admin.ensure_site(
            session, parks, platform, name, external_id, world.sandbox.url + path,
            {"api_version": "v25.0"} if platform in (Platform.FACEBOOK, Platform.INSTAGRAM)
            else {},
        )  # fmt: skip
        session.expunge(site)
        return site


def listed(world: World, site: Site) -> list[str]:
    """The ids of the site's first page of posts, through the app's own connector."""
    connector: Connector = world.app("alice").connectors(site)
    try:
        return [post.external_id for post in connector.list_posts(None).items]
    finally:
        connector.close()


# --- TikTok: a dead token is a code in an HTTP 200 envelope ---------------------------------


def tiktok_sign_in(world: World) -> TokenSet:
    server = world.sandbox
    with requests.Session() as http:
        code, verifier = tiktok_code(server, http)
        answer = http.post(
            server.url + TT_TOKEN,
            json={**TT_CLIENT, "grant_type": "authorization_code", "auth_code": code,
                  "redirect_uri": REDIRECT, "code_verifier": verifier},
        ).json()  # fmt: skip
    # As the connect flow keeps it; the console's clock, not the sandbox's moved one.
    return oauth._token_set(answer["data"], datetime.now(UTC))


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_a_dead_tiktok_token_is_renewed_once_and_the_call_goes_on(
    world: World, file_keyring: PlaintextKeyring, how: str
) -> None:
    site = make_site(world, Platform.TIKTOK, "Parks on TikTok", BUSINESS_ID, "/tiktok")
    store = CredentialStore()
    store.set_app(Platform.TIKTOK, APP)
    first = tiktok_sign_in(world)
    assert first.refresh_expires_at is not None  # TikTok's refresh token lives a year
    store.set_tokens(site, first)
    assert listed(world, site)
    if how == "expired":  # TikTok's clock passes the day; the console's still says it is live
        world.sandbox.signin.advance(timedelta(hours=24))
    else:
        world.sandbox.signin.tokens.revoke(first.access_token)
    seen = len(world.sandbox.requests_seen(path_contains="/business/video/list/"))
    assert listed(world, site)
    # Refused once (code 40102 or 40105 in an HTTP 200 answer), renewed, sent once more.
    assert len(world.sandbox.requests_seen(path_contains="/business/video/list/")) == seen + 2
    renewed = store.get_tokens(site)
    assert renewed.access_token != first.access_token
    assert renewed.refresh_token == first.refresh_token  # TikTok keeps it
    assert renewed.refresh_expires_at is not None
    with world.db.session() as session:
        assert reconnect_needed_since(session, site.id) is None


# --- Facebook and Instagram: Graph error 190 (HTTP 400), no refresh token -------------------


def page_token(world: World, user_token: str, page: str = PARKS_PAGE) -> str:
    """The Page's token from `/me/accounts`, as the connect flow picks it."""
    accounts = requests.get(
        f"{world.sandbox.url}/v25.0/me/accounts",
        headers={"Authorization": f"Bearer {user_token}"},
        timeout=10,
    ).json()
    return str(next(p["access_token"] for p in accounts["data"] if p["id"] == page))


def user_token(world: World, *, long_lived: bool = True) -> str:
    with requests.Session() as http:
        if long_lived:
            return facebook_user_token(world.sandbox, http)
        return facebook_short_token(world.sandbox, http)


@pytest.mark.parametrize(
    ("platform", "external_id", "path", "how"),
    # "/": a City site beside the world's demo site of the same Page
    [(Platform.FACEBOOK, PARKS_PAGE, "/", "expired"),
     (Platform.INSTAGRAM, IG_USER_ID, "/instagram", "revoked")],
)  # fmt: skip
def test_a_graph_token_refused_with_190_is_renewed_once_and_the_call_goes_on(
    world: World,
    file_keyring: PlaintextKeyring,
    platform: Platform,
    external_id: str,
    path: str,
    how: str,
) -> None:
    """Graph says a token is dead with error 190 on HTTP 400 (subcode 463 expired, 460
    password changed): the same renewal as a 401. Facebook has no refresh grant, so a
    refresher that signs in again through the sandbox stands in for one here."""
    site = make_site(world, platform, f"Parks on {platform.label}", external_id, path)
    store = CredentialStore()
    # A Page token made from a short-lived user token lapses with it, within the hour.
    old = page_token(world, user_token(world, long_lived=False))
    store.set_tokens(site, TokenSet(old, "stand-in-refresh"))
    fresh: list[str] = []

    def sign_in_again(site: Site, tokens: TokenSet, now: datetime) -> TokenSet:
        fresh.append(page_token(world, user_token(world)))
        return TokenSet(fresh[-1], tokens.refresh_token)

    provider = TokenProvider(store, sign_in_again, on_refused=marks_in(world.db))
    connector = connector_factory(store, FAST_NETWORK, provider, world.db)(site)
    try:
        if how == "expired":
            world.sandbox.signin.advance(timedelta(hours=1))
        else:
            world.sandbox.signin.tokens.revoke(old)
        assert connector.list_posts(None).items
    finally:
        connector.close()
    listing = "/published_posts" if platform is Platform.FACEBOOK else "/media"
    sent = [s.headers["authorization"] for s in world.sandbox.requests_seen("GET", listing)]
    assert sent == [f"Bearer {old}", f"Bearer {fresh[0]}"]  # refused once, renewed, sent again
    assert len(fresh) == 1
    assert store.get_tokens(site).access_token == fresh[0]


def parks_from_the_keyring(world: World, token: str) -> Site:
    """The world's Parks Page as a connected City site (not the demo's public token)."""
    with world.db.transaction() as session:
        site = session.get(Site, world.parks_site)
        assert site is not None
        site.is_sandbox = False
        site.settings = {"api_version": "v25.0"}
        # alice moderates Police too, to see the other sites go on
        alice = session.scalars(select(RoleGrant).where(RoleGrant.role == "moderator")).first()
        assert alice is not None
        session.add(
            RoleGrant(person_id=alice.person_id, role=Role.MODERATOR.value, department_id=2)
        )
        session.flush()
        session.expunge(site)
    CredentialStore().set_tokens(site, TokenSet(token))
    return site


def test_a_page_token_that_cannot_renew_is_never_sent_twice(
    world: World, file_keyring: PlaintextKeyring
) -> None:
    first = page_token(world, user_token(world))
    site = parks_from_the_keyring(world, first)
    world.sandbox.signin.tokens.revoke(first)
    seen = len(world.sandbox.requests_seen())
    with pytest.raises(NeedsReconnecting, match="needs reconnecting") as failed:
        listed(world, site)
    assert len(world.sandbox.requests_seen()) == seen + 1
    assert first not in str(failed.value) + failed.value.details


# --- the refresh token's expiry in the keyring -----------------------------------------------


@pytest.mark.parametrize(
    ("platform", "answer", "refresh_lives"),
    [
        (Platform.LINKEDIN, {"expires_in": 5184000, "refresh_token": "r",
                             "refresh_token_expires_in": 31536000}, timedelta(days=365)),
        (Platform.TIKTOK, {"expires_in": 86400, "refresh_token": "r",
                           "refresh_expires_in": 31536000}, timedelta(days=365)),
        (Platform.X, {"expires_in": 7200, "refresh_token": "r"}, None),
        (Platform.YOUTUBE, {"expires_in": "3599", "refresh_token": "r"}, None),
    ],
)  # fmt: skip
def test_the_refresh_tokens_expiry_is_kept_where_the_platform_gives_it(
    platform: Platform, answer: dict[str, Any], refresh_lives: timedelta | None
) -> None:
    made = oauth._token_set({"access_token": "a", **answer}, NOW)
    assert made.expires_at == NOW + timedelta(seconds=int(answer["expires_in"]))
    assert made.refresh_expires_at == (NOW + refresh_lives if refresh_lives else None)


def test_a_renewal_keeps_the_refresh_expiry_unless_the_token_rotated() -> None:
    before = TokenSet("a", "r", NOW, refresh_expires_at=NOW + timedelta(days=30))
    kept = oauth._token_set({"access_token": "b", "expires_in": 60}, NOW, before)
    assert kept.refresh_expires_at == before.refresh_expires_at
    rotated = oauth._token_set(
        {"access_token": "b", "refresh_token": "r2", "expires_in": 60}, NOW, before
    )
    assert rotated.refresh_expires_at is None
    with pytest.raises(ValueError, match="unreadable refresh_token_expires_in"):
        oauth._token_set({"access_token": "b", "refresh_token_expires_in": "soon"}, NOW, before)


def test_the_refresh_expiry_round_trips_and_an_entry_without_it_still_reads(
    world: World, file_keyring: PlaintextKeyring
) -> None:
    site = make_site(world, Platform.TIKTOK, "Parks on TikTok", BUSINESS_ID, "/tiktok")
    store = CredentialStore()
    full = TokenSet("access-1", "refresh-1", NOW, refresh_expires_at=NOW + timedelta(days=365))
    store.set_tokens(site, full)
    assert store.get_tokens(site) == full
    assert "refresh-1" not in repr(full)
    # As the keyring held it before this field was kept.
    old = {"access_token": "access-2", "refresh_token": "refresh-2",
           "expires_at": NOW.isoformat(), "token_type": "bearer"}  # fmt: skip
    file_keyring.set_password(KEYRING_SERVICE, credential_key(site), json.dumps(old))
    assert store.get_tokens(site) == TokenSet("access-2", "refresh-2", NOW)
    for broken in ("2026-12-01T12:00:00", 5):  # naive, or not a time
        file_keyring.set_password(
            KEYRING_SERVICE, credential_key(site), json.dumps({**old, "refresh_expires_at": broken})
        )
        with pytest.raises(ConfigurationError, match="connect the site again") as refused:
            store.get_tokens(site)
        assert "refresh-2" not in str(refused.value) + refused.value.details


def test_a_tiktok_envelope_names_its_code_even_beside_a_stray_byte() -> None:
    """Read as the client reads answers: an invalid byte in the message must not hide the
    code (the answer is built by hand: the sandbox sends only valid UTF-8 in its errors)."""
    answer = requests.Response()
    answer.status_code = 200
    answer._content = b'{"code": 40105, "message": "caf\xe9 revoked", "data": {}}'
    failure = envelope_error(answer)
    assert failure is not None
    assert failure.token_lapsed
    assert "TikTok code 40105" in failure.details
    answer._content = b'{"code": 0, "message": "OK", "data": {"text": "caf\xe9"}}'
    assert envelope_error(answer) is None
