"""Facebook Login for a Page, and for the Instagram account linked to a Page: the person who
manages the Page signs in, and the console keeps the Page's own token.

The steps, as Meta documents them ("Manually Build a Login Flow", "Long-Lived Access Tokens",
Pages API "Get a Page Access Token"):

1. the Login dialog, `www.facebook.com/{version}/dialog/oauth`, with state and PKCE (S256);
2. its code for a short-lived user token (`/{version}/oauth/access_token`);
3. that for a long-lived user token (`grant_type=fb_exchange_token`, 60 days);
4. `/me/accounts`: the Pages the person manages, each with its Page token, which does not
   expire when made from a long-lived user token. Instagram's site is the Page whose
   `instagram_business_account` is the site's account, and takes that Page's token.

Steps 2 and 3 are Authlib's token requests (form bodies, the secret in them); step 4 is read
through the connectors' HTTP client, page by page by Graph's `after` cursor. A site pointed
elsewhere (the sandbox, a proxy) signs in at its own address under the same paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.requests_client import OAuth2Session

from hsm_console.connectors.facebook import graph_error
from hsm_console.connectors.http import ApiClient, HttpSettings
from hsm_console.connectors.http_connector import page_size_setting
from hsm_console.connectors.meta_graph import api_version, graph_data, graph_next_cursor
from hsm_console.connectors.oauth import (
    Authorization,
    authorization_url,
    token_request,
)
from hsm_console.connectors.payload import as_id
from hsm_console.errors import ConfigurationError, PlatformError
from hsm_console.host.credentials import AppCredentials, TokenSet
from hsm_console.rules.administration import SITE_RULES
from hsm_console.rules.domain import Platform

_DIALOG_HOST = "https://www.facebook.com"  # the Login dialog; the token calls go to Graph
_TIMEOUT = 15.0
_MOST_PAGES = 50  # pages of /me/accounts: a person managing more is not the City

# Every permission the Page's reading and moderating calls need (meta_graph's lists), and
# pages_show_list for /me/accounts itself.
FACEBOOK_SCOPES = (
    "pages_show_list",
    "pages_read_engagement",
    "pages_read_user_content",
    "pages_manage_engagement",
)
INSTAGRAM_SCOPES = (*FACEBOOK_SCOPES, "instagram_basic", "instagram_manage_comments")


@dataclass(frozen=True)
class ManagedPage:
    """A Page the signed-in person manages, with its token and its linked Instagram account."""

    id: str
    name: str
    instagram_id: str | None
    token: str = field(repr=False)

    def tokens(self) -> TokenSet:
        """The Page token as kept: no expiry and nothing to renew it with."""
        return TokenSet(access_token=self.token)


class FacebookLogin:
    """The sign-in of one Facebook or Instagram site."""

    def __init__(
        self, platform: Platform, base_url: str, settings: Mapping[str, Any], app: AppCredentials
    ) -> None:
        if platform not in (Platform.FACEBOOK, Platform.INSTAGRAM):
            raise ConfigurationError(f"{platform.label} sites do not sign in with Facebook Login.")
        self.platform = platform
        self._app = app
        self._settings = settings
        version = api_version(settings)
        base = base_url.rstrip("/")
        dialog = _DIALOG_HOST if base == SITE_RULES[platform].api_address else base
        self._dialog = f"{dialog}/{version}/dialog/oauth"
        self._token = f"{base}/{version}/oauth/access_token"
        self._base, self._version = base, version

    def authorization(self, redirect_uri: str) -> Authorization:
        scopes = INSTAGRAM_SCOPES if self.platform is Platform.INSTAGRAM else FACEBOOK_SCOPES
        return authorization_url(self._dialog, scopes, self._app, redirect_uri, scope_separator=",")

    def pages(self, sign_in: Authorization, code: str) -> list[ManagedPage]:
        """Steps 2 to 4: the Pages the person who signed in manages, with their tokens."""
        session = OAuth2Session(
            self._app.client_id,
            self._app.client_secret,
            redirect_uri=sign_in.redirect_uri,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method's name)
        )
        with session:
            short = token_request(
                Platform.FACEBOOK,
                lambda: session.fetch_token(
                    self._token, grant_type="authorization_code", code=code,
                    code_verifier=sign_in.code_verifier, timeout=_TIMEOUT,
                ),
            )  # fmt: skip
            long = token_request(
                Platform.FACEBOOK,
                lambda: session.fetch_token(
                    self._token, grant_type="fb_exchange_token",
                    fb_exchange_token=_access(short), timeout=_TIMEOUT,
                ),
            )  # fmt: skip
        return self._accounts(_access(long))

    def _accounts(self, user_token: str) -> list[ManagedPage]:
        client = ApiClient(
            self._base,
            platform_name="Facebook",
            error_parser=graph_error,
            auth_headers={"Authorization": f"Bearer {user_token}"},
            settings=HttpSettings.from_settings(self._settings),
        )
        params: dict[str, str | int] = {
            "fields": "id,name,access_token,instagram_business_account",
            "limit": page_size_setting(self._settings, 100, most=100),
        }
        found: list[ManagedPage] = []
        try:
            for _ in range(_MOST_PAGES):
                body = client.get(f"{self._version}/me/accounts", params)
                found.extend(p for item in graph_data(body, "Facebook") if (p := _page(item)))
                after = graph_next_cursor(body, "Facebook")
                if after is None:
                    return found
                params["after"] = after
        finally:
            client.close()
        return found


def _access(answer: Mapping[str, Any]) -> str:
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise PlatformError(
            "Facebook's sign-in service did not answer properly, so nothing was stored. Try "
            "connecting the site again in a few minutes.",
            details="token endpoint: an answer without access_token",
            retryable=True,
        )
    return token


def _page(item: object) -> ManagedPage | None:
    """One entry of /me/accounts; None for one without an id or a token (a Page the person
    cannot act for: Meta leaves the token out)."""
    if not isinstance(item, dict):
        return None
    page_id, token = as_id(item.get("id")), item.get("access_token")
    if not page_id or not isinstance(token, str) or not token:
        return None
    linked = item.get("instagram_business_account")
    instagram = as_id(linked.get("id")) if isinstance(linked, dict) else None
    name = item.get("name")
    shown = name if isinstance(name, str) and name else page_id
    return ManagedPage(page_id, shown, instagram or None, token)
