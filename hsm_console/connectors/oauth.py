"""The platforms' OAuth 2.0 sign-in: where it is, how each answers a refresh, and the
authorization code flow with PKCE that connects a site.

The protocol itself is Authlib's (RFC 6749 grants, RFC 7636 PKCE with S256, client
authentication, error bodies); this module adds each platform's addresses and its departures
from the RFC (TikTok names the client `client_key` on its consent page, takes the token request
as JSON with the code as `auth_code`, wraps every answer in its `{code, message, data}`
envelope and refreshes at its own path; Google gives a refresh token only with
`access_type=offline`; X wants confidential clients to authenticate with HTTP Basic).
A site whose API address is pointed elsewhere (a proxy, the sandbox) is signed in at that
address too, under the same paths as the real ones.

Nothing this module raises quotes a token, a code, a verifier or the client secret: the
platform's error code and the HTTP status are the details.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.security import generate_token
from authlib.common.urls import url_decode
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from hsm_console.errors import ConfigurationError, PlatformError, UserError
from hsm_console.host.credentials import AppCredentials, TokenSet
from hsm_console.rules.administration import SITE_RULES
from hsm_console.rules.domain import Platform

_TIMEOUT = 15.0  # seconds, as `HttpSettings`' default


@dataclass(frozen=True)
class OAuthEndpoints:
    """One platform's sign-in addresses, as published."""

    authorize: str
    token: str
    refresh: str  # the same as `token` except on TikTok
    scopes: tuple[str, ...]
    enveloped: bool = False  # TikTok: {code, message, data}, HTTP 200 even when refused


_REAL: dict[Platform, OAuthEndpoints] = {
    Platform.YOUTUBE: OAuthEndpoints(
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://oauth2.googleapis.com/token",
        "https://oauth2.googleapis.com/token",
        ("https://www.googleapis.com/auth/youtube.force-ssl",),
    ),
    Platform.X: OAuthEndpoints(
        "https://x.com/i/oauth2/authorize",
        "https://api.x.com/2/oauth2/token",
        "https://api.x.com/2/oauth2/token",
        ("tweet.read", "users.read", "tweet.moderate.write", "offline.access"),
    ),
    Platform.TIKTOK: OAuthEndpoints(
        "https://www.tiktok.com/v2/auth/authorize/",
        "https://business-api.tiktok.com/open_api/v1.3/tt_user/oauth2/token/",
        "https://business-api.tiktok.com/open_api/v1.3/tt_user/oauth2/refresh_token/",
        ("comment.list", "comment.list.manage"),
        enveloped=True,
    ),
    Platform.LINKEDIN: OAuthEndpoints(
        "https://www.linkedin.com/oauth/v2/authorization",
        "https://www.linkedin.com/oauth/v2/accessToken",
        "https://www.linkedin.com/oauth/v2/accessToken",
        ("r_organization_social", "w_organization_social", "rw_organization_admin"),
    ),
}


def endpoints(platform: Platform, base_url: str) -> OAuthEndpoints:
    """The platform's sign-in addresses for a site at `base_url`."""
    real = _REAL.get(platform)
    if real is None:
        raise ConfigurationError(f"{platform.label} sites do not sign in with OAuth 2.0.")
    if base_url.rstrip("/") == SITE_RULES[platform].api_address:
        return real
    base = base_url.rstrip("/")

    def moved(url: str) -> str:
        return base + urlsplit(url).path

    return OAuthEndpoints(
        moved(real.authorize), moved(real.token), moved(real.refresh), real.scopes,
        real.enveloped,
    )  # fmt: skip


class GrantRefused(PlatformError):
    """The token endpoint refused the refresh token (expired, revoked, unknown): only
    signing in again helps. Other failures (5xx, an unreadable answer) may pass."""


def refresh(
    platform: Platform, base_url: str, app: AppCredentials, tokens: TokenSet, now: datetime
) -> TokenSet:
    """New tokens for `tokens.refresh_token`, with the refresh token the platform rotated to
    (or the same one where it keeps it)."""
    if not tokens.refresh_token:
        raise GrantRefused(
            f"The {platform.label} sign-in cannot renew itself (no refresh token was granted)."
        )
    where = endpoints(platform, base_url)
    session = OAuth2Session(
        app.client_id,
        app.client_secret,
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method's name)
    )
    if where.enveloped:
        session.register_compliance_hook("refresh_token_response", _unwrap_envelope)
    try:
        with session:
            answer: dict[str, Any] = session.refresh_token(
                where.refresh, refresh_token=tokens.refresh_token, timeout=_TIMEOUT
            )
    except OAuthError as exc:
        raise GrantRefused(
            f"{platform.label} no longer accepts this site's sign-in.",
            details=f"token endpoint: {exc.error}",  # the error code only, never a token
        ) from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status in (400, 401):
            raise GrantRefused(
                f"{platform.label} no longer accepts this site's sign-in.",
                details=f"token endpoint: HTTP {status}",
            ) from None
        raise _unavailable(platform, f"HTTP {status}") from None
    except (requests.RequestException, ValueError) as exc:
        raise _unavailable(platform, type(exc).__name__) from None
    try:
        return _token_set(answer, now, tokens)
    except ValueError as exc:
        raise _unavailable(platform, str(exc)) from None


def _unavailable(platform: Platform, why: str) -> PlatformError:
    return PlatformError(
        f"{platform.label}'s sign-in service could not renew the site's access just now. "
        "The console tries again at the next sync.",
        details=f"token endpoint: {why}",
        retryable=True,
    )


# Where a platform says how long its refresh token lives: LinkedIn and Google (an app in
# testing) as `refresh_token_expires_in`, TikTok's Business API likewise, its Login Kit as
# `refresh_expires_in`.
_REFRESH_LIFETIME_FIELDS = ("refresh_token_expires_in", "refresh_expires_in")
_SIGNED_IN = TokenSet(access_token="")


def _token_set(answer: dict[str, Any], now: datetime, kept: TokenSet = _SIGNED_IN) -> TokenSet:
    """The tokens of a token endpoint's answer; the refresh token (with its lifetime) and type
    it does not repeat are kept from `kept`. ValueError (naming the field, never its value)
    if it is unusable."""
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise ValueError("an answer without access_token")
    rotated = answer.get("refresh_token")
    refresh = rotated if isinstance(rotated, str) and rotated else kept.refresh_token
    expires_at = _after(now, answer.get("expires_in"), "expires_in")
    refresh_expires_at = None
    for name in _REFRESH_LIFETIME_FIELDS:
        if answer.get(name):
            refresh_expires_at = _after(now, answer[name], name)
            break
    else:
        if refresh == kept.refresh_token:  # the same refresh token keeps its lifetime
            refresh_expires_at = kept.refresh_expires_at
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=expires_at,
        token_type=str(answer.get("token_type") or kept.token_type),
        refresh_expires_at=refresh_expires_at if refresh else None,
    )


def _after(now: datetime, seconds: object, name: str) -> datetime | None:
    """`now` plus a lifetime in seconds as the platform gave it (None: none given)."""
    if not seconds:
        return None
    try:
        return now + timedelta(seconds=int(str(seconds)))  # 3600 or "3600", as sent
    except (ValueError, OverflowError):
        raise ValueError(f"an unreadable {name}") from None


def _unwrap_envelope(response: requests.Response) -> requests.Response:
    """TikTok: a refused grant is HTTP 200 with a non-zero `code`; make it RFC 6749's shape."""
    try:
        body = response.json()
    except ValueError:
        return response  # Authlib reports the unreadable body
    if not isinstance(body, dict) or "code" not in body:
        return response
    if body.get("code") == 0 and isinstance(body.get("data"), dict):
        inner: dict[str, Any] = body["data"]
    else:
        inner = {"error": f"tiktok_{body.get('code')}", "error_description": body.get("message")}
    response._content = json.dumps(inner).encode()  # the hook's way to rewrite a body
    return response


# --- connecting a site: the authorization code flow with PKCE (RFC 6749 4.1, RFC 7636) ----

# How the City's app proves itself at the token endpoint: X asks confidential clients for
# HTTP Basic; Google and LinkedIn take the secret in the form; TikTok in its JSON body.
_CLIENT_AUTH: dict[Platform, str] = {Platform.X: "client_secret_basic"}
_TIKTOK_JSON = "tiktok_json"
_VERIFIER_LENGTH = 64  # RFC 7636: 43 to 128 characters


@dataclass(frozen=True)
class Authorization:
    """One sign-in under way: the address the person opens in the browser, and what checks
    its answer (the state) and redeems its code (the verifier). Kept in memory only."""

    url: str
    state: str
    code_verifier: str
    redirect_uri: str

    def __repr__(self) -> str:  # the state and the verifier stay out of logs
        return f"Authorization(redirect_uri={self.redirect_uri!r})"


@dataclass(frozen=True)
class Granted:
    """What a code was exchanged for; `account` is the account the platform says signed in,
    where it says (TikTok's open_id, the business_id its API is called with)."""

    tokens: TokenSet
    account: str | None = None


def authorization_url(
    authorize: str,
    scopes: tuple[str, ...],
    app: AppCredentials,
    redirect_uri: str,
    *,
    scope_separator: str = " ",
    **extra: str,
) -> Authorization:
    """The authorization request at `authorize`, with a fresh state and PKCE (S256)."""
    verifier = generate_token(_VERIFIER_LENGTH)
    with OAuth2Session(
        app.client_id,
        scope=scope_separator.join(scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    ) as session:
        url, state = session.create_authorization_url(
            authorize, state=generate_token(32), code_verifier=verifier, **extra
        )
    return Authorization(url, state, verifier, redirect_uri)


def authorization(
    platform: Platform, base_url: str, app: AppCredentials, redirect_uri: str
) -> Authorization:
    """Where to send the person to grant the City's app access to a site on `platform`."""
    where = endpoints(platform, base_url)
    if platform is Platform.YOUTUBE:
        # A refresh token only for offline access, and again on a second consent.
        return authorization_url(
            where.authorize, where.scopes, app, redirect_uri, access_type="offline",
            prompt="consent",
        )  # fmt: skip
    if platform is Platform.TIKTOK:
        return authorization_url(
            where.authorize, where.scopes, app, redirect_uri, scope_separator=",",
            client_key=app.client_id,
        )  # fmt: skip
    return authorization_url(where.authorize, where.scopes, app, redirect_uri)


def exchange(
    platform: Platform,
    base_url: str,
    app: AppCredentials,
    sign_in: Authorization,
    code: str,
    now: datetime,
) -> Granted:
    """The tokens for the `code` the browser brought back from `sign_in`."""
    where = endpoints(platform, base_url)
    session = OAuth2Session(
        app.client_id,
        app.client_secret,
        redirect_uri=sign_in.redirect_uri,
        token_endpoint_auth_method=_TIKTOK_JSON
        if where.enveloped
        else _CLIENT_AUTH.get(platform, "client_secret_post"),
    )
    if where.enveloped:
        session.register_client_auth_method((_TIKTOK_JSON, _tiktok_json))
        session.register_compliance_hook("access_token_response", _unwrap_envelope)
    with session:
        answer = token_request(
            platform,
            lambda: session.fetch_token(
                where.token, grant_type="authorization_code", code=code,
                code_verifier=sign_in.code_verifier, timeout=_TIMEOUT,
            ),
        )  # fmt: skip
    try:
        tokens = _token_set(answer, now)
    except ValueError as exc:
        raise _sign_in_unavailable(platform.label, str(exc)) from None
    account = answer.get("open_id")
    return Granted(tokens, account if isinstance(account, str) and account else None)


def token_request(platform: Platform, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one token request of a sign-in; its failures in plain words, the platform's error
    code and HTTP status as the details (never a body: it may quote what was sent)."""
    try:
        return dict(call())
    except OAuthError as exc:
        raise _sign_in_refused(platform, str(exc.error or ""), None) from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status in (400, 401, 403):
            raise _sign_in_refused(platform, "", status) from None
        raise _sign_in_unavailable(platform.label, f"HTTP {status}") from None
    except (requests.RequestException, ValueError) as exc:
        raise _sign_in_unavailable(platform.label, type(exc).__name__) from None


def _sign_in_refused(platform: Platform, error: str, status: int | None) -> UserError:
    label = platform.label
    details = f"token endpoint: {error}" if error else f"token endpoint: HTTP {status}"
    # TikTok's envelope code 40001 is its invalid client (see `_unwrap_envelope`).
    if error in ("invalid_client", "unauthorized_client", "tiktok_40001") or status == 401:
        return ConfigurationError(
            f"{label} did not accept the City's app (its client id and secret) stored on this "
            f"computer, so nothing was stored. Check them in the City's {label} developer "
            f"account and enter them again with: hsm-console admin app {platform.value} "
            "--client-id ID",
            details=details,
        )
    return PlatformError(
        f"{label} did not accept this sign-in, so nothing was stored. Its one-time code may "
        "have expired or been used already: connect the site again.",
        details=details,
    )


def _sign_in_unavailable(label: str, why: str) -> PlatformError:
    return PlatformError(
        f"{label}'s sign-in service did not answer properly, so nothing was stored. Try "
        "connecting the site again in a few minutes.",
        details=f"token endpoint: {why}",
        retryable=True,
    )


def _tiktok_json(
    client: Any, method: str, uri: str, headers: Any, body: str
) -> tuple[str, Any, str]:
    """TikTok's token request: one JSON object with the client in it and the code named
    `auth_code` (an Authlib client authentication method, the hook it offers for this)."""
    form = dict(url_decode(body or ""))
    if "code" in form:
        form["auth_code"] = form.pop("code")
    form.update(client_id=client.client_id, client_secret=client.client_secret)
    text = json.dumps(form)
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(len(text.encode()))
    return uri, headers, text
