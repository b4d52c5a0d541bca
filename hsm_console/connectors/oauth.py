"""The platforms' OAuth 2.0 token endpoints: where they are and how each answers a refresh.

The protocol itself is Authlib's (RFC 6749 refresh grant, client authentication, error
bodies); this module adds each platform's addresses and its departures from the RFC (TikTok
wraps every answer in its `{code, message, data}` envelope and refreshes at its own path).
A site whose API address is pointed elsewhere (a proxy, the sandbox) is signed in at that
address too, under the same paths as the real ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from hsm_console.errors import ConfigurationError, PlatformError
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
    return _token_set(platform, answer, tokens, now)


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


def _token_set(
    platform: Platform, answer: dict[str, Any], before: TokenSet, now: datetime
) -> TokenSet:
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise _unavailable(platform, "an answer without access_token")
    rotated = answer.get("refresh_token")
    refresh = rotated if isinstance(rotated, str) and rotated else before.refresh_token
    expires_at = _after(platform, now, answer.get("expires_in"), "expires_in")
    refresh_expires_at = None
    for name in _REFRESH_LIFETIME_FIELDS:
        if answer.get(name):
            refresh_expires_at = _after(platform, now, answer[name], name)
            break
    else:
        if refresh == before.refresh_token:  # the same refresh token keeps its lifetime
            refresh_expires_at = before.refresh_expires_at
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=expires_at,
        token_type=str(answer.get("token_type") or before.token_type),
        refresh_expires_at=refresh_expires_at if refresh else None,
    )


def _after(platform: Platform, now: datetime, seconds: object, name: str) -> datetime | None:
    """`now` plus a lifetime in seconds as the platform gave it (None: none given)."""
    if not seconds:
        return None
    try:
        return now + timedelta(seconds=int(str(seconds)))  # 3600 or "3600", as sent
    except (ValueError, OverflowError):
        raise _unavailable(platform, f"an unreadable {name}") from None


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
