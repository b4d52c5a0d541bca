"""The sandbox's sign-in servers, end to end over HTTP: consent, code exchange, API calls with
the issued tokens, refresh and rotation, expiry on a moved clock, revocation, error bodies."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from hsm_console.rules.domain import Platform
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer
from hsm_sandbox.demo import guide
from hsm_sandbox.signin import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

REDIRECT = "http://127.0.0.1:53682/callback"
PARKS = "1000000000001"
IG_USER = "17841400000000001"
YT_SCOPE = "https://www.googleapis.com/auth/youtube.force-ssl"
X_SCOPES = "tweet.read users.read tweet.moderate.write offline.access"
LINKEDIN_HEADERS = {"LinkedIn-Version": "202601", "X-Restli-Protocol-Version": "2.0.0"}


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(port=0) as running:
        yield running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def consent(http: requests.Session, url: str, decision: str = "approve") -> dict[str, str]:
    """Drive the consent page as a person would; the redirect's query parameters."""
    page = http.get(url, allow_redirects=False)
    assert page.status_code == 200, page.text
    assert "<script" not in page.text
    form_action = re.search(r'action="([^"]+)"', page.text)
    consent_id = re.search(r'name="consent" value="([^"]+)"', page.text)
    assert form_action
    assert consent_id
    base = url.split("/", 3)[:3]
    answer = http.post(
        "/".join(base) + form_action[1],
        data={"consent": consent_id[1], "decision": decision},
        allow_redirects=False,
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_url(server: SandboxServer, path: str, **params: str) -> str:
    return f"{server.url}{path}?{urlencode(params)}"


def google_code(server: SandboxServer, http: requests.Session) -> tuple[str, str]:
    verifier, challenge = pkce()
    url = authorize_url(
        server, "/youtube/o/oauth2/v2/auth", client_id=SANDBOX_CLIENT_ID,
        redirect_uri=REDIRECT, response_type="code", scope=YT_SCOPE, state="s-1",
        access_type="offline", code_challenge=challenge, code_challenge_method="S256",
    )  # fmt: skip
    sent = consent(http, url)
    assert sent["state"] == "s-1"
    return sent["code"], verifier


def google_token(server: SandboxServer, http: requests.Session, **form: str) -> requests.Response:
    base = {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET}
    return http.post(f"{server.url}/youtube/token", data={**base, **form})


def google_tokens(server: SandboxServer, http: requests.Session) -> dict[str, Any]:
    """Google's tokens for a consent approved now."""
    code, verifier = google_code(server, http)
    answer = google_token(
        server, http, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
        code_verifier=verifier,
    )  # fmt: skip
    tokens: dict[str, Any] = answer.json()
    return tokens


def youtube_channels(server: SandboxServer, token: str) -> requests.Response:
    return requests.get(
        f"{server.url}/youtube/youtube/v3/channels",
        params={"part": "id", "mine": "true"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


# --- YouTube (Google) ------------------------------------------------------------------


def test_google_code_flow_refresh_expiry_and_revocation(
    server: SandboxServer, http: requests.Session
) -> None:
    code, verifier = google_code(server, http)
    answer = google_token(
        server, http, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
        code_verifier=verifier,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    issued = answer.json()
    assert issued["token_type"] == "Bearer"
    assert issued["expires_in"] == 3600
    assert issued["scope"] == YT_SCOPE
    assert issued["access_token"].startswith("ya29.")
    refresh = issued["refresh_token"]
    assert youtube_channels(server, issued["access_token"]).status_code == 200

    server.signin.advance(timedelta(hours=1))
    expired = youtube_channels(server, issued["access_token"])
    assert expired.status_code == 401
    assert expired.json()["error"]["errors"][0]["reason"] == "authError"

    renewed = google_token(server, http, grant_type="refresh_token", refresh_token=refresh)
    assert renewed.status_code == 200
    assert "refresh_token" not in renewed.json()  # Google keeps the same refresh token
    assert youtube_channels(server, renewed.json()["access_token"]).status_code == 200

    revoked = http.post(f"{server.url}/youtube/revoke", data={"token": refresh})
    assert revoked.status_code == 200
    assert youtube_channels(server, renewed.json()["access_token"]).status_code == 401
    again = google_token(server, http, grant_type="refresh_token", refresh_token=refresh)
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    unknown = http.post(f"{server.url}/youtube/revoke", data={"token": "nonsense"})
    assert unknown.json()["error"] == "invalid_token"


def test_google_without_offline_access_gives_no_refresh_token(
    server: SandboxServer, http: requests.Session
) -> None:
    url = authorize_url(
        server, "/youtube/o/oauth2/v2/auth", client_id=SANDBOX_CLIENT_ID,
        redirect_uri=REDIRECT, response_type="code", scope=YT_SCOPE,
    )  # fmt: skip
    sent = consent(http, url)
    assert "state" not in sent
    answer = google_token(
        server, http, grant_type="authorization_code", code=sent["code"], redirect_uri=REDIRECT
    )
    assert answer.status_code == 200
    assert "refresh_token" not in answer.json()


@pytest.mark.parametrize(
    ("change", "status", "error", "description"),
    [
        ({"code": "forged"}, 400, "invalid_grant", "Malformed auth code."),
        ({"redirect_uri": "http://127.0.0.1:1/other"}, 400, "redirect_uri_mismatch", "Bad Request"),
        ({"code_verifier": "x" * 50}, 400, "invalid_grant", "Invalid code verifier."),
        ({"code_verifier": None}, 400, "invalid_grant", "Invalid code verifier."),
        ({"client_secret": "wrong"}, 401, "invalid_client", "Unauthorized"),
        ({"client_id": "stranger"}, 401, "invalid_client", "The OAuth client was not found."),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", "Invalid grant_type: password"),
    ],
)
def test_google_token_errors(
    server: SandboxServer,
    http: requests.Session,
    change: dict[str, str | None],
    status: int,
    error: str,
    description: str,
) -> None:
    code, verifier = google_code(server, http)
    form: dict[str, Any] = {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier, "client_id": SANDBOX_CLIENT_ID,
        "client_secret": SANDBOX_CLIENT_SECRET,
    }  # fmt: skip
    form.update(change)
    answer = http.post(f"{server.url}/youtube/token", data=form)
    assert answer.status_code == status
    assert answer.json() == {"error": error, "error_description": description}


def test_a_code_works_once_and_its_second_use_revokes_the_first(
    server: SandboxServer, http: requests.Session
) -> None:
    code, verifier = google_code(server, http)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier}  # fmt: skip
    first = google_token(server, http, **form)
    assert first.status_code == 200
    second = google_token(server, http, **form)
    assert second.json()["error"] == "invalid_grant"
    assert youtube_channels(server, first.json()["access_token"]).status_code == 401


def test_a_code_expires_after_ten_minutes(server: SandboxServer, http: requests.Session) -> None:
    code, verifier = google_code(server, http)
    server.signin.advance(timedelta(minutes=10))
    answer = google_token(
        server, http, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
        code_verifier=verifier,
    )  # fmt: skip
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_lifetimes_are_settable(server: SandboxServer, http: requests.Session) -> None:
    server.signin["youtube"].access_lifetime = timedelta(seconds=30)
    code, verifier = google_code(server, http)
    issued = google_token(
        server, http, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
        code_verifier=verifier,
    ).json()  # fmt: skip
    assert issued["expires_in"] == 30
    server.signin.advance(timedelta(seconds=29))
    assert youtube_channels(server, issued["access_token"]).status_code == 200
    server.signin.advance(timedelta(seconds=1))
    assert youtube_channels(server, issued["access_token"]).status_code == 401
    server.reset()  # back to the published lifetime, and the issued tokens are gone
    assert server.signin["youtube"].access_lifetime == timedelta(hours=1)
    assert youtube_channels(server, issued["access_token"]).status_code == 401
    assert youtube_channels(server, SANDBOX_TOKEN).status_code == 200


def test_the_clock_only_moves_forward(server: SandboxServer) -> None:
    with pytest.raises(ValueError, match="only moves forward"):
        server.signin.advance(timedelta(seconds=-1))


# --- the consent page -------------------------------------------------------------------


def test_deny_redirects_with_access_denied_and_the_state(
    server: SandboxServer, http: requests.Session
) -> None:
    _, challenge = pkce()
    url = authorize_url(
        server, "/x/i/oauth2/authorize", client_id=SANDBOX_CLIENT_ID, redirect_uri=REDIRECT,
        response_type="code", scope=X_SCOPES, state="st", code_challenge=challenge,
        code_challenge_method="S256",
    )  # fmt: skip
    sent = consent(http, url, decision="deny")
    assert sent["error"] == "access_denied"
    assert sent["state"] == "st"
    assert "code" not in sent


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"client_id": "stranger"}, "Unknown client_id"),
        ({"redirect_uri": "http://example.org/cb"}, "loopback"),
        ({"redirect_uri": ""}, "loopback"),
    ],
)
def test_an_unknown_app_or_unsafe_redirect_gets_an_error_page_not_a_redirect(
    server: SandboxServer, http: requests.Session, params: dict[str, str], words: str
) -> None:
    base = {"client_id": SANDBOX_CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code",
            "scope": YT_SCOPE}  # fmt: skip
    answer = http.get(
        authorize_url(server, "/youtube/o/oauth2/v2/auth", **{**base, **params}),
        allow_redirects=False,
    )
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert words in answer.text


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"scope": "tweet.read everything"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": ""}, "invalid_request"),  # X requires PKCE
        ({"code_challenge_method": "MD5"}, "invalid_request"),
    ],
)
def test_a_bad_authorization_request_redirects_with_the_error(
    server: SandboxServer, http: requests.Session, params: dict[str, str], error: str
) -> None:
    _, challenge = pkce()
    base = {"client_id": SANDBOX_CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code",
            "scope": X_SCOPES, "state": "q", "code_challenge": challenge,
            "code_challenge_method": "S256"}  # fmt: skip
    merged = {k: v for k, v in {**base, **params}.items() if v}
    answer = http.get(
        authorize_url(server, "/x/i/oauth2/authorize", **merged), allow_redirects=False
    )
    assert answer.status_code == 302
    sent = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert sent["error"] == [error]
    assert sent["state"] == ["q"]


def test_a_consent_is_answered_once(server: SandboxServer, http: requests.Session) -> None:
    url = authorize_url(
        server, "/youtube/o/oauth2/v2/auth", client_id=SANDBOX_CLIENT_ID,
        redirect_uri=REDIRECT, response_type="code", scope=YT_SCOPE,
    )  # fmt: skip
    page = http.get(url).text
    consent_id = re.search(r'name="consent" value="([^"]+)"', page)
    assert consent_id
    target = f"{server.url}/youtube/o/oauth2/v2/auth"
    form = {"consent": consent_id[1], "decision": "approve"}
    assert http.post(target, data=form, allow_redirects=False).status_code == 302
    again = http.post(target, data=form, allow_redirects=False)
    assert again.status_code == 400
    assert "already answered" in again.text
    odd = http.post(target, data={**form, "decision": "maybe"}, allow_redirects=False)
    assert odd.status_code == 400


def test_approve_helper_gives_the_redirect_and_can_forge_the_state(
    server: SandboxServer, http: requests.Session
) -> None:
    url = authorize_url(
        server, "/youtube/o/oauth2/v2/auth", client_id=SANDBOX_CLIENT_ID,
        redirect_uri=REDIRECT, response_type="code", scope=YT_SCOPE, state="mine",
    )  # fmt: skip
    honest = parse_qs(urlsplit(server.signin.approve(url)).query)
    assert honest["state"] == ["mine"]
    answer = google_token(
        server, http, grant_type="authorization_code", code=honest["code"][0],
        redirect_uri=REDIRECT,
    )  # fmt: skip
    assert answer.status_code == 200
    forged = parse_qs(urlsplit(server.signin.approve(url, state="forged")).query)
    assert forged["state"] == ["forged"]
    denied = parse_qs(urlsplit(server.signin.approve(url, deny=True)).query)
    assert denied["error"] == ["access_denied"]
    with pytest.raises(ValueError, match="refused"):
        server.signin.approve(url.replace(SANDBOX_CLIENT_ID, "stranger"))
    with pytest.raises(ValueError, match="no authorization endpoint"):
        server.signin.approve(f"{server.url}/youtube/token")


# --- X ----------------------------------------------------------------------------------


def x_tokens(server: SandboxServer, http: requests.Session) -> dict[str, Any]:
    verifier, challenge = pkce()
    url = authorize_url(
        server, "/x/i/oauth2/authorize", client_id=SANDBOX_CLIENT_ID, redirect_uri=REDIRECT,
        response_type="code", scope=X_SCOPES, state="x", code_challenge=challenge,
        code_challenge_method="S256",
    )  # fmt: skip
    code = consent(http, url)["code"]
    answer = http.post(
        f"{server.url}/x/2/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
              "code_verifier": verifier},
        auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    issued: dict[str, Any] = answer.json()
    return issued


def x_posts(server: SandboxServer, token: str) -> requests.Response:
    return requests.get(
        f"{server.url}/x/2/users/1102323333/tweets",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_x_rotates_the_refresh_token_and_refuses_the_old_one(
    server: SandboxServer, http: requests.Session
) -> None:
    issued = x_tokens(server, http)
    assert issued["token_type"] == "bearer"
    assert issued["expires_in"] == 7200
    assert issued["scope"] == X_SCOPES
    assert x_posts(server, issued["access_token"]).status_code == 200
    server.signin.advance(timedelta(hours=2))
    expired = x_posts(server, issued["access_token"])
    assert expired.status_code == 401
    assert expired.json()["title"] == "Unauthorized"

    # A public client refreshes with its id alone.
    form = {"grant_type": "refresh_token", "client_id": SANDBOX_CLIENT_ID}
    first = http.post(
        f"{server.url}/x/2/oauth2/token", data={**form, "refresh_token": issued["refresh_token"]}
    )
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != issued["refresh_token"]
    assert x_posts(server, rotated["access_token"]).status_code == 200
    old = http.post(
        f"{server.url}/x/2/oauth2/token", data={**form, "refresh_token": issued["refresh_token"]}
    )
    assert old.status_code == 400
    assert old.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the token was invalid.",
    }
    revoke = http.post(
        f"{server.url}/x/2/oauth2/revoke",
        data={"token": rotated["access_token"], "client_id": SANDBOX_CLIENT_ID},
    )
    assert revoke.json() == {"revoked": True}
    assert x_posts(server, rotated["access_token"]).status_code == 401


def test_x_errors(server: SandboxServer, http: requests.Session) -> None:
    bad_code = http.post(
        f"{server.url}/x/2/oauth2/token",
        data={"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT,
              "client_id": SANDBOX_CLIENT_ID, "code_verifier": "v" * 43},
    )  # fmt: skip
    assert bad_code.status_code == 400
    assert bad_code.json()["error_description"] == (
        "Value passed for the authorization code was invalid."
    )
    wrong_secret = http.post(
        f"{server.url}/x/2/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": "r"},
        auth=(SANDBOX_CLIENT_ID, "wrong"),
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "unauthorized_client"


def test_an_issued_token_opens_its_own_platform_only(
    server: SandboxServer, http: requests.Session
) -> None:
    issued = x_tokens(server, http)
    assert youtube_channels(server, issued["access_token"]).status_code == 401
    assert server.signin.revoke_all("x") == 2  # the access and the refresh token
    assert x_posts(server, issued["access_token"]).status_code == 401
    assert x_posts(server, SANDBOX_TOKEN).status_code == 200


# --- TikTok -----------------------------------------------------------------------------

TT_TOKEN = "/tiktok/open_api/v1.3/tt_user/oauth2/token/"
TT_REFRESH = "/tiktok/open_api/v1.3/tt_user/oauth2/refresh_token/"
TT_CLIENT = {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET}


def tiktok_videos(server: SandboxServer, token: str) -> dict[str, Any]:
    answer = requests.get(
        f"{server.url}/tiktok/open_api/v1.3/business/video/list/",
        params={"business_id": "highland-parks-open-id"},
        headers={"Access-Token": token},
        timeout=10,
    )
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def tiktok_code(server: SandboxServer, http: requests.Session) -> tuple[str, str]:
    """An authorization code and its PKCE verifier, as TikTok's consent gives them."""
    verifier, challenge = pkce()
    url = authorize_url(
        server, "/tiktok/v2/auth/authorize/", client_key=SANDBOX_CLIENT_ID,
        redirect_uri=REDIRECT, response_type="code", scope="comment.list,comment.list.manage",
        state="t", code_challenge=challenge, code_challenge_method="S256",
    )  # fmt: skip
    return consent(http, url)["code"], verifier


def test_tiktok_flow_in_its_envelope(server: SandboxServer, http: requests.Session) -> None:
    code, verifier = tiktok_code(server, http)
    answer = http.post(
        server.url + TT_TOKEN,
        json={**TT_CLIENT, "grant_type": "authorization_code", "auth_code": code,
              "redirect_uri": REDIRECT, "code_verifier": verifier},
    )  # fmt: skip
    envelope = answer.json()
    assert (envelope["code"], envelope["message"]) == (0, "OK")
    data = envelope["data"]
    assert data["open_id"] == "highland-parks-open-id"
    assert data["expires_in"] == 86400
    assert data["refresh_token_expires_in"] == 365 * 86400
    assert data["scope"] == "comment.list,comment.list.manage"
    assert tiktok_videos(server, data["access_token"])["code"] == 0

    server.signin.advance(timedelta(hours=24))
    expired = tiktok_videos(server, data["access_token"])
    assert (expired["code"], expired["message"]) == (40102, "Access token has expired.")

    renewed = http.post(
        server.url + TT_REFRESH, json={**TT_CLIENT, "refresh_token": data["refresh_token"]}
    ).json()
    assert renewed["code"] == 0
    assert renewed["data"]["refresh_token"] == data["refresh_token"]
    assert renewed["data"]["refresh_token_expires_in"] == 364 * 86400
    new_access = renewed["data"]["access_token"]
    assert tiktok_videos(server, new_access)["code"] == 0

    revoked = http.post(
        server.url + "/tiktok/open_api/v1.3/tt_user/oauth2/revoke/",
        json={**TT_CLIENT, "access_token": new_access},
    ).json()
    assert revoked["code"] == 0
    assert tiktok_videos(server, new_access)["code"] == 40105

    server.signin.advance(timedelta(days=365))
    lapsed = http.post(
        server.url + TT_REFRESH, json={**TT_CLIENT, "refresh_token": data["refresh_token"]}
    ).json()
    assert (lapsed["code"], lapsed["message"]) == (40102, "The refresh token has expired.")


def test_tiktok_bad_code_and_client(server: SandboxServer, http: requests.Session) -> None:
    bad = http.post(
        server.url + TT_TOKEN,
        json={**TT_CLIENT, "grant_type": "authorization_code", "auth_code": "x",
              "redirect_uri": REDIRECT},
    ).json()  # fmt: skip
    assert (bad["code"], bad["data"]) == (40002, {})
    assert "request_id" in bad
    stranger = http.post(
        server.url + TT_REFRESH, json={**TT_CLIENT, "client_secret": "no", "refresh_token": "r"}
    ).json()
    assert stranger["code"] == 40001


# --- LinkedIn ---------------------------------------------------------------------------


def linkedin_code(server: SandboxServer, http: requests.Session) -> str:
    url = authorize_url(
        server, "/linkedin/oauth/v2/authorization", client_id=SANDBOX_CLIENT_ID,
        redirect_uri=REDIRECT, response_type="code",
        scope="r_organization_social w_organization_social", state="li",
    )  # fmt: skip
    return consent(http, url)["code"]


def linkedin_tokens(server: SandboxServer, http: requests.Session) -> dict[str, Any]:
    code = linkedin_code(server, http)
    answer = http.post(
        f"{server.url}/linkedin/oauth/v2/accessToken",
        data={**TT_CLIENT, "grant_type": "authorization_code", "code": code,
              "redirect_uri": REDIRECT},
    )  # fmt: skip
    assert answer.status_code == 200
    issued: dict[str, Any] = answer.json()
    return issued


def linkedin_posts(server: SandboxServer, token: str) -> requests.Response:
    return requests.get(
        f"{server.url}/linkedin/rest/posts",
        params={"q": "author", "author": "urn:li:organization:1000001"},
        headers={"Authorization": f"Bearer {token}", **LINKEDIN_HEADERS},
        timeout=10,
    )


def test_linkedin_sixty_day_token_without_refresh(
    server: SandboxServer, http: requests.Session
) -> None:
    token_url = f"{server.url}/linkedin/oauth/v2/accessToken"
    issued = linkedin_tokens(server, http)
    assert issued["expires_in"] == 60 * 86400
    assert "refresh_token" not in issued  # programmatic refresh: approved partners only
    assert linkedin_posts(server, issued["access_token"]).status_code == 200
    server.signin.advance(timedelta(days=60))
    expired = linkedin_posts(server, issued["access_token"])
    assert expired.status_code == 401
    assert expired.json()["code"] == "EXPIRED_ACCESS_TOKEN"
    assert expired.json()["serviceErrorCode"] == 65602
    refused = http.post(
        token_url, data={**TT_CLIENT, "grant_type": "refresh_token", "refresh_token": "r"}
    )
    assert refused.json()["error"] == "unauthorized_client"


def test_linkedin_partner_refresh_and_revocation(
    server: SandboxServer, http: requests.Session
) -> None:
    server.signin["linkedin"].offers_refresh = True
    token_url = f"{server.url}/linkedin/oauth/v2/accessToken"
    issued = linkedin_tokens(server, http)
    renewed = http.post(
        token_url,
        data={**TT_CLIENT, "grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
    ).json()
    assert renewed["refresh_token"] == issued["refresh_token"]
    access = renewed["access_token"]
    assert linkedin_posts(server, access).status_code == 200
    http.post(f"{server.url}/linkedin/oauth/v2/revoke", data={**TT_CLIENT, "token": access})
    revoked = linkedin_posts(server, access)
    assert revoked.json()["code"] == "REVOKED_ACCESS_TOKEN"


def test_linkedin_bad_code_body(server: SandboxServer, http: requests.Session) -> None:
    code = linkedin_code(server, http)
    answer = http.post(
        f"{server.url}/linkedin/oauth/v2/accessToken",
        data={**TT_CLIENT, "grant_type": "authorization_code", "code": code,
              "redirect_uri": REDIRECT + "/elsewhere"},
    )  # fmt: skip
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert answer.json()["error_description"].startswith("Unable to retrieve access token")


# --- Facebook Login and Instagram through the Page --------------------------------------


def facebook_code(server: SandboxServer, http: requests.Session) -> str:
    url = authorize_url(
        server, "/v25.0/dialog/oauth", client_id=SANDBOX_CLIENT_ID, redirect_uri=REDIRECT,
        response_type="code", state="fb",
        scope="pages_show_list,pages_read_engagement,pages_manage_engagement",
    )  # fmt: skip
    sent = consent(http, url)
    assert sent["state"] == "fb"
    return sent["code"]


def facebook_short_token(server: SandboxServer, http: requests.Session) -> str:
    short = http.get(
        f"{server.url}/v25.0/oauth/access_token",
        params={**TT_CLIENT, "redirect_uri": REDIRECT, "code": facebook_code(server, http)},
    ).json()
    assert short["token_type"] == "bearer"
    assert short["expires_in"] == 3600
    token: str = short["access_token"]
    return token


def facebook_user_token(server: SandboxServer, http: requests.Session) -> str:
    long = http.get(
        f"{server.url}/v25.0/oauth/access_token",
        params={**TT_CLIENT, "grant_type": "fb_exchange_token",
                "fb_exchange_token": facebook_short_token(server, http)},
    ).json()  # fmt: skip
    assert long["expires_in"] == 60 * 86400
    token: str = long["access_token"]
    return token


def test_facebook_login_to_page_tokens_that_do_not_expire_and_instagram(
    server: SandboxServer, http: requests.Session
) -> None:
    user_token = facebook_user_token(server, http)
    accounts = http.get(
        f"{server.url}/v25.0/me/accounts", headers={"Authorization": f"Bearer {user_token}"}
    ).json()
    pages = {page["id"]: page for page in accounts["data"]}
    assert set(pages) == {PARKS, "1000000000002"}
    assert pages[PARKS]["name"] == "Highland Parks & Recreation"
    parks_token = pages[PARKS]["access_token"]
    page_auth = {"Authorization": f"Bearer {parks_token}"}

    server.signin.advance(timedelta(days=400))  # a Page token from a long-lived one lives on
    posts = http.get(f"{server.url}/v25.0/{PARKS}/published_posts", headers=page_auth)
    assert posts.status_code == 200
    assert posts.json()["data"]
    police = pages["1000000000002"]["access_token"]
    wrong_page = http.get(
        f"{server.url}/v25.0/{PARKS}/published_posts",
        headers={"Authorization": f"Bearer {police}"},
    )
    assert wrong_page.json()["error"]["code"] == 200

    linked = http.get(
        f"{server.url}/v25.0/{PARKS}",
        params={"fields": "instagram_business_account"},
        headers=page_auth,
    ).json()
    assert linked["instagram_business_account"] == {"id": IG_USER}
    media = http.get(f"{server.url}/instagram/v25.0/{IG_USER}/media", headers=page_auth)
    assert media.status_code == 200
    police_on_ig = http.get(
        f"{server.url}/instagram/v25.0/{IG_USER}/media",
        headers={"Authorization": f"Bearer {police}"},
    )
    assert police_on_ig.json()["error"]["code"] == 190


def test_facebook_deauthorization_ends_the_page_tokens(
    server: SandboxServer, http: requests.Session
) -> None:
    user_token = facebook_user_token(server, http)
    user_auth = {"Authorization": f"Bearer {user_token}"}
    parks_token = next(
        page["access_token"]
        for page in http.get(f"{server.url}/v25.0/me/accounts", headers=user_auth).json()["data"]
        if page["id"] == PARKS
    )
    removed = http.delete(f"{server.url}/v25.0/me/permissions", headers=user_auth)
    assert removed.json() == {"success": True}
    for url in (f"{server.url}/v25.0/{PARKS}/published_posts",
                f"{server.url}/instagram/v25.0/{IG_USER}/media"):  # fmt: skip
        error = http.get(url, headers={"Authorization": f"Bearer {parks_token}"}).json()["error"]
        assert (error["code"], error["error_subcode"]) == (190, 460)
    assert (
        http.get(f"{server.url}/v25.0/me/accounts", headers=user_auth).json()["error"][
            "error_subcode"
        ]
        == 460
    )
    seeded = http.get(
        f"{server.url}/v25.0/{PARKS}/published_posts",
        headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
    )
    assert seeded.status_code == 200


def test_facebook_short_lived_user_token_expires(
    server: SandboxServer, http: requests.Session
) -> None:
    short = facebook_short_token(server, http)
    server.signin.advance(timedelta(hours=1))
    error = http.get(
        f"{server.url}/v25.0/oauth/access_token",
        params={**TT_CLIENT, "grant_type": "fb_exchange_token", "fb_exchange_token": short},
    ).json()["error"]
    assert (error["code"], error["error_subcode"]) == (190, 463)
    assert error["type"] == "OAuthException"


@pytest.mark.parametrize(
    ("change", "code", "subcode"),
    [
        ({"client_secret": "wrong"}, 1, None),
        ({"redirect_uri": REDIRECT + "x"}, 100, 36008),
        ({"code": "forged"}, 100, None),
    ],
)
def test_facebook_code_errors(
    server: SandboxServer,
    http: requests.Session,
    change: dict[str, str],
    code: int,
    subcode: int | None,
) -> None:
    sent = facebook_code(server, http)
    params = {**TT_CLIENT, "redirect_uri": REDIRECT, "code": sent, **change}
    answer = http.get(f"{server.url}/v25.0/oauth/access_token", params=params)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error.get("error_subcode")) == (code, subcode)
    assert error["fbtrace_id"]


def test_facebook_code_used_twice(server: SandboxServer, http: requests.Session) -> None:
    code = facebook_code(server, http)
    params = {**TT_CLIENT, "redirect_uri": REDIRECT, "code": code}
    assert http.get(f"{server.url}/v25.0/oauth/access_token", params=params).status_code == 200
    error = http.get(f"{server.url}/v25.0/oauth/access_token", params=params).json()["error"]
    assert (error["error_subcode"], error["message"]) == (
        36009,
        "This authorization code has been used.",
    )


# --- faults and logs --------------------------------------------------------------------


def test_faults_hit_the_token_endpoints_too(server: SandboxServer, http: requests.Session) -> None:
    server.faults.add("server_error", path="/youtube/token")
    server.faults.add("malformed", path="/x/2/oauth2/token")
    server.faults.add("revoked_token", path="/youtube/token")
    assert http.post(f"{server.url}/youtube/token").status_code == 500
    assert http.post(f"{server.url}/x/2/oauth2/token").text.startswith('{"data"')
    lapsed = http.post(f"{server.url}/youtube/token")
    assert lapsed.json()["error_description"] == "Token has been expired or revoked."


def test_no_code_token_or_secret_reaches_the_sandbox_log(
    server: SandboxServer, http: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hsm_sandbox")
    code, verifier = google_code(server, http)
    issued = google_token(
        server, http, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
        code_verifier=verifier,
    ).json()  # fmt: skip
    google_token(server, http, grant_type="refresh_token", refresh_token=issued["refresh_token"])
    http.post(f"{server.url}/youtube/revoke", params={"token": issued["access_token"]})
    logged = caplog.text
    assert "/youtube/token" in logged  # the paths are logged
    for secret in (code, verifier, issued["access_token"], issued["refresh_token"],
                   SANDBOX_CLIENT_SECRET):  # fmt: skip
        assert secret not in logged


def test_the_clock_moves_over_http_too(server: SandboxServer, http: requests.Session) -> None:
    issued = google_tokens(server, http)
    for bad in (b"", b"[]", b'{"advance_seconds": -5}', b'{"advance_seconds": "1"}', b"{"):
        refused = http.post(f"{server.url}/_sandbox/clock", data=bad)
        assert refused.status_code == 400
    assert youtube_channels(server, issued["access_token"]).status_code == 200
    moved = http.post(f"{server.url}/_sandbox/clock", json={"advance_seconds": 3600})
    assert moved.status_code == 200
    assert youtube_channels(server, issued["access_token"]).status_code == 401


def test_a_platforms_tokens_are_revoked_over_http_too(
    server: SandboxServer, http: requests.Session
) -> None:
    issued = google_tokens(server, http)
    for bad in (b"", b"{", b"[]", b'{"platform": "myspace"}', b'{"platform": []}'):
        refused = http.post(f"{server.url}/_sandbox/revoke", data=bad)
        assert refused.status_code == 400
        assert "youtube" in refused.json()["error"]["message"]  # names the platforms it knows
    assert youtube_channels(server, issued["access_token"]).status_code == 200
    done = http.post(f"{server.url}/_sandbox/revoke", json={"platform": "youtube"})
    assert done.json() == {"revoked": 2}  # the access and the refresh token
    assert youtube_channels(server, issued["access_token"]).status_code == 401
    renewed = google_token(
        server, http, grant_type="refresh_token", refresh_token=issued["refresh_token"]
    )
    assert renewed.status_code == 400


def test_the_sandbox_lists_what_a_new_user_types(server: SandboxServer) -> None:
    said = "\n".join(guide(server.url))
    for platform in Platform:
        assert f"  {platform.value} " in said
    assert f"--api-url {server.url}/youtube" in said
    assert SANDBOX_CLIENT_ID in said
    assert SANDBOX_CLIENT_SECRET in said
    assert "/_sandbox/revoke" in said


def test_page_tokens_from_a_short_lived_user_token_expire_with_it(
    server: SandboxServer, http: requests.Session
) -> None:
    short = facebook_short_token(server, http)
    pages = http.get(
        f"{server.url}/v25.0/me/accounts", headers={"Authorization": f"Bearer {short}"}
    ).json()["data"]
    parks = next(page["access_token"] for page in pages if page["id"] == PARKS)
    page_auth = {"Authorization": f"Bearer {parks}"}
    posts = f"{server.url}/v25.0/{PARKS}/published_posts"
    assert http.get(posts, headers=page_auth).status_code == 200
    server.signin.advance(timedelta(hours=1))
    error = http.get(posts, headers=page_auth).json()["error"]
    assert (error["code"], error["error_subcode"]) == (190, 463)


def test_pkce_plain_is_checked_too(server: SandboxServer, http: requests.Session) -> None:
    verifier = secrets.token_urlsafe(48)
    url = authorize_url(
        server, "/x/i/oauth2/authorize", client_id=SANDBOX_CLIENT_ID, redirect_uri=REDIRECT,
        response_type="code", scope="tweet.read", code_challenge=verifier,
        code_challenge_method="plain",
    )  # fmt: skip
    form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT,
            "client_id": SANDBOX_CLIENT_ID}  # fmt: skip
    wrong = http.post(
        f"{server.url}/x/2/oauth2/token",
        data={**form, "code": consent(http, url)["code"], "code_verifier": verifier + "x"},
    )
    assert wrong.json()["error_description"] == "Value passed for the code verifier was invalid."
    right = http.post(
        f"{server.url}/x/2/oauth2/token",
        data={**form, "code": consent(http, url)["code"], "code_verifier": verifier},
    )
    assert right.status_code == 200
    assert "refresh_token" not in right.json()  # no offline.access asked


def test_me_accounts_pages_and_gives_the_fields_asked_for(
    server: SandboxServer, http: requests.Session
) -> None:
    auth = {"Authorization": f"Bearer {facebook_user_token(server, http)}"}
    accounts = f"{server.url}/v25.0/me/accounts"
    default = http.get(accounts, headers=auth).json()
    assert "instagram_business_account" not in default["data"][0]  # a field to ask for
    assert "next" not in default["paging"]
    fields = "name,access_token,instagram_business_account"
    first = http.get(accounts, headers=auth, params={"fields": fields, "limit": 1}).json()
    assert [set(p) for p in first["data"]] == [
        {"id", "name", "access_token", "instagram_business_account"}
    ]
    assert first["data"][0]["instagram_business_account"] == {"id": IG_USER}
    assert first["paging"]["next"]
    after = first["paging"]["cursors"]["after"]
    second = http.get(
        accounts, headers=auth, params={"fields": fields, "limit": 1, "after": after}
    ).json()
    assert [p["id"] for p in second["data"]] == ["1000000000002"]
    assert "instagram_business_account" not in second["data"][0]  # Police has none linked
    assert "next" not in second["paging"]
    # Instagram's host (graph.facebook.com, /instagram in the sandbox) answers the same.
    same = http.get(f"{server.url}/instagram/v25.0/me/accounts", headers=auth).json()
    assert [p["id"] for p in same["data"]] == [PARKS, "1000000000002"]
