"""Each platform's sign-in as the sandbox plays it, so every connect flow runs end to end.

OAuth 2.0 authorization code (with PKCE, S256 or plain) at each platform's paths under its
prefix, with its parameter names, answers and error bodies:

    YouTube (Google)  GET|POST /youtube/o/oauth2/v2/auth, POST /youtube/token, /youtube/revoke
    X                 GET|POST /x/i/oauth2/authorize, POST /x/2/oauth2/token, /x/2/oauth2/revoke
    TikTok Business   GET|POST /tiktok/v2/auth/authorize/, POST /tiktok/open_api/v1.3/tt_user/
                      oauth2/token/, .../refresh_token/, .../revoke/ (JSON bodies, envelope)
    LinkedIn          GET|POST /linkedin/oauth/v2/authorization, POST .../accessToken, .../revoke
    Facebook Login    GET|POST /{version}/dialog/oauth, GET|POST /{version}/oauth/access_token
                      (code, or grant_type=fb_exchange_token), GET /{version}/me/accounts (the
                      Pages and their tokens; fields, limit, after), DELETE
                      /{version}/me/permissions; all also under /instagram (Instagram's host)

The authorization step is a consent page without scripts: `GET` answers a form, `POST`ing it
with `decision=approve` (or `deny`) redirects (302) to the `redirect_uri` with `code` and
`state` (or `error=access_denied`). `SignIn.approve(url)` does the same without HTTP and can
forge the `state`, for tests of the client's check.

Tokens go to the shared `tokens.TokenRegistry`, which the platforms' API routes consult; the
lifetimes are each platform's published ones, settable per provider (`access_lifetime`,
`refresh_lifetime`, `rotates`, `offers_refresh`), and the registry's clock moves
with `SignIn.advance`. TikTok's error codes for sign-in are UNVERIFIED (its Business API
reference does not list them): they follow the envelope codes of its other calls.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from hsm_sandbox.faults import Fault, FaultKind, generic_response
from hsm_sandbox.graph import GraphSandbox
from hsm_sandbox.instagram import IG_USER_ID
from hsm_sandbox.meta import VERSION, GraphError, checked_token, revoked
from hsm_sandbox.routing import PlatformSandbox, Request, Response, Router
from hsm_sandbox.seed import SeedData
from hsm_sandbox.store import OneToken
from hsm_sandbox.tiktok import BUSINESS_ID
from hsm_sandbox.tokens import Clock, Grant, TokenRegistry, TokenState

# The sandbox's public app credentials (any platform); tests may register others.
SANDBOX_CLIENT_ID = "hsm-sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 (public on purpose, like the demo token)
CODE_LIFETIME = timedelta(minutes=10)

# The code a platform's revoked-token error carries for a lapsed issued token, where its API
# has one of its own (YouTube and X refuse it as any unknown token).
LAPSED_CODES: dict[str, dict[TokenState, int]] = {
    "tiktok": {TokenState.EXPIRED: 40102, TokenState.REVOKED: 40105},
    "linkedin": {TokenState.EXPIRED: 65602, TokenState.REVOKED: 65601},
}
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


class Refusal(Exception):
    """A token or revoke request refused; `kind` says why, the provider says it its way:
    client, code, redirect, pkce, refresh (unknown), lapsed (expired or revoked), revoke
    (an unknown token to revoke), grant_type, no_refresh (refresh not offered), request."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind, self.detail = kind, detail


@dataclass
class _Consent:
    """An authorization request waiting for the person's decision."""

    client_id: str
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    challenge: str | None
    method: str
    offline: bool  # Google's access_type=offline


@dataclass
class _Code:
    consent: _Consent
    expires: datetime
    family: int
    used: bool = False


class Provider:
    """One platform's OAuth 2.0 authorization server; subclasses give its paths and words."""

    platform: ClassVar[str]
    title: ClassVar[str]  # the consent page's "Sign in with ..."
    authorize_path: ClassVar[str]
    token_path: ClassVar[str]
    refresh_path: ClassVar[str | None] = None  # a separate refresh endpoint (TikTok)
    revoke_path: ClassVar[str | None] = None
    client_param: ClassVar[str] = "client_id"
    code_param: ClassVar[str] = "code"  # the token request's name for the code
    scope_separator: ClassVar[str] = " "
    known_scopes: ClassVar[frozenset[str]]
    pkce_required: ClassVar[bool] = False
    public_clients: ClassVar[bool] = False  # a client may omit its secret (X's public apps)
    access_prefix: ClassVar[str] = ""
    refresh_prefix: ClassVar[str] = ""
    # Defaults of the settable lifetimes and rules (see `reset`).
    default_access: ClassVar[timedelta]
    default_refresh: ClassVar[timedelta | None] = None
    default_rotates: ClassVar[bool] = False
    default_offers_refresh: ClassVar[bool] = True
    echoes_refresh: ClassVar[bool] = False
    _revoke_param: ClassVar[str] = "token"
    _revoke_needs_client: ClassVar[bool] = False
    _revoke_family: ClassVar[bool] = False  # revoking one token ends the whole consent

    def __init__(self, tokens: TokenRegistry) -> None:
        self.tokens = tokens
        self._lock = threading.Lock()
        self.clients: dict[str, str] = {}
        self.reset()

    # --- the PlatformSandbox protocol -------------------------------------------------

    def register(self, router: Router) -> None:
        router.add("GET", self.authorize_path, self._authorize_page, self)
        router.add("POST", self.authorize_path, self._consent_decision, self)
        router.add("POST", self.token_path, self._token_endpoint, self)
        if self.refresh_path:
            router.add("POST", self.refresh_path, self._token_endpoint, self)
        if self.revoke_path:
            router.add("POST", self.revoke_path, self._revoke_endpoint, self)

    def reset(self) -> None:
        with self._lock:
            self.access_lifetime = self.default_access
            self.refresh_lifetime = self.default_refresh
            self.rotates = self.default_rotates
            self.offers_refresh = self.default_offers_refresh
            self.clients = {SANDBOX_CLIENT_ID: SANDBOX_CLIENT_SECRET}
            self._consents: dict[str, _Consent] = {}
            self._codes: dict[str, _Code] = {}

    def fault_response(self, fault: Fault, request: Request) -> Response:
        generic = generic_response(fault)
        if generic is not None:
            return generic
        if fault.kind is FaultKind.REVOKED_TOKEN:
            return self._refused(Refusal("lapsed"))
        raise ValueError(f"no {self.platform} sign-in shape for fault {fault.kind}")

    # --- authorization: the consent page ----------------------------------------------

    def consent_for(self, params: Mapping[str, str]) -> str | Response:
        """The consent id for an authorization request, or the answer refusing it."""
        client_id = params.get(self.client_param, "")
        redirect_uri = params.get("redirect_uri", "")
        if client_id not in self.clients:
            return _error_page(f"Unknown {self.client_param}: the app is not registered.")
        if not _redirect_allowed(redirect_uri):
            return _error_page("redirect_uri must be https, or http on a loopback address.")
        state = params.get("state")
        scopes = tuple(s for s in params.get("scope", "").split(self.scope_separator) if s)
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method", "plain" if challenge else "")
        problem = None
        if params.get("response_type") != "code":
            problem = ("unsupported_response_type", "response_type must be code")
        elif not scopes or not set(scopes) <= self.known_scopes:
            problem = ("invalid_scope", "Some requested scopes were invalid.")
        elif self.pkce_required and not challenge:
            problem = ("invalid_request", "Missing required parameter: code_challenge")
        elif challenge and method not in ("S256", "plain"):
            problem = ("invalid_request", "code_challenge_method must be S256 or plain")
        if problem is not None:
            error = {"error": problem[0], "error_description": problem[1]}
            return _redirect(redirect_uri, {**error, **_state(state)})
        consent = _Consent(
            client_id, redirect_uri, state, scopes, challenge, method,
            params.get("access_type") == "offline",
        )  # fmt: skip
        consent_id = secrets.token_urlsafe(16)
        with self._lock:
            self._consents[consent_id] = consent
        return consent_id

    def decide(self, consent_id: str, approve: bool, state: str | None = None) -> Response:
        """The redirect after the person's decision; `state` forges the one sent back."""
        with self._lock:
            consent = self._consents.pop(consent_id, None)
        if consent is None:
            return _error_page("This sign-in request has expired or was already answered.")
        sent_state = _state(consent.state if state is None else state)
        if not approve:
            error = {"error": "access_denied", "error_description": "The user denied access."}
            return _redirect(consent.redirect_uri, {**error, **sent_state})
        code = secrets.token_urlsafe(24)
        family = self.tokens.new_family()
        with self._lock:
            self._codes[code] = _Code(consent, self.tokens.clock.now() + CODE_LIFETIME, family)
        return _redirect(consent.redirect_uri, {"code": code, **sent_state})

    def _authorize_page(self, request: Request, match: re.Match[str]) -> Response:
        consent_id = self.consent_for(request.query)
        if isinstance(consent_id, Response):
            return consent_id
        with self._lock:
            consent = self._consents[consent_id]
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in consent.scopes)
        page = _PAGE.format(
            title=html.escape(self.title),
            client=html.escape(consent.client_id),
            scopes=scopes,
            action=html.escape(request.path),
            consent=html.escape(consent_id),
        )
        return Response(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def _consent_decision(self, request: Request, match: re.Match[str]) -> Response:
        form = request.form()
        decision = form.get("decision")
        if decision not in ("approve", "deny"):
            return _error_page("decision must be approve or deny.")
        return self.decide(form.get("consent", ""), decision == "approve")

    # --- tokens ---------------------------------------------------------------------------

    def _token_endpoint(self, request: Request, match: re.Match[str]) -> Response:
        params = self._params(request)
        try:
            client_id = self._client(request, params)
            grant_type = params.get("grant_type", "")
            if self._refreshing(request) or grant_type == "refresh_token":
                return self._answer(self._refresh(client_id, params))
            if grant_type != "authorization_code":
                raise Refusal("grant_type", f"Invalid grant_type: {grant_type}")
            return self._answer(self._exchange(client_id, params))
        except Refusal as refusal:
            return self._refused(refusal)

    def _exchange(self, client_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        code = self._redeem(client_id, params, params.get(self.code_param, ""))
        consent = code.consent
        refresh = self._offers_refresh(consent)
        return self._issue(client_id, consent.scopes, code.family, refresh_expires=refresh)

    def _redeem(self, client_id: str, params: Mapping[str, str], raw: str) -> _Code:
        """The code `raw`, checked (once only: a second use revokes what the first gave)."""
        with self._lock:
            code = self._codes.get(raw)
            first_use = code is not None and not code.used
            if code is not None:
                code.used = True
        if code is None or code.consent.client_id != client_id:
            raise Refusal("code", "unknown")
        if not first_use:
            self.tokens.revoke_family(code.family)
            raise Refusal("code", "used")
        if self.tokens.clock.now() >= code.expires:
            raise Refusal("code", "expired")
        if params.get("redirect_uri") != code.consent.redirect_uri:
            raise Refusal("redirect")
        _check_pkce(code.consent, params.get("code_verifier"))
        return code

    def _refresh(self, client_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        if not self._offers_refresh(None):
            raise Refusal("no_refresh", "refresh_token grants are not enabled for this app")
        raw = params.get("refresh_token", "")
        grant = self.tokens.grant(raw)
        found = self.tokens.state(self.platform, raw, kind="refresh")
        if grant is None or found is None or grant.client_id != client_id:
            raise Refusal("refresh")
        if found is not TokenState.LIVE:
            raise Refusal("lapsed", found.value)
        if self.rotates:  # the old one is refused from now on
            self.tokens.revoke(raw)
            return self._issue(client_id, grant.scopes, grant.family, refresh_expires=grant)
        return {**self._issue(client_id, grant.scopes, grant.family), **self._kept(raw, grant)}

    def _issue(
        self,
        client_id: str,
        scopes: tuple[str, ...],
        family: int,
        *,
        refresh_expires: Grant | bool = False,
    ) -> dict[str, Any]:
        """A new access token, and a refresh token when `refresh_expires` is True (a fresh
        lifetime) or the grant it replaces (its remaining lifetime)."""
        access = self.tokens.issue(
            (self.platform,), "access", self.access_lifetime, family=family,
            prefix=self.access_prefix, client_id=client_id, scopes=scopes,
        )  # fmt: skip
        issued: dict[str, Any] = {
            "access_token": access,
            "expires_in": int(self.access_lifetime.total_seconds()),
            "scope": self.scope_separator.join(scopes),
        }
        if refresh_expires is False:
            return issued
        if isinstance(refresh_expires, Grant) and refresh_expires.expires is not None:
            lifetime: timedelta | None = refresh_expires.expires - self.tokens.clock.now()
        else:
            lifetime = self.refresh_lifetime
        refresh = self.tokens.issue(
            (self.platform,), "refresh", lifetime, family=family,
            prefix=self.refresh_prefix, client_id=client_id, scopes=scopes,
        )  # fmt: skip
        issued["refresh_token"] = refresh
        if lifetime is not None:
            issued["refresh_token_expires_in"] = round(lifetime.total_seconds())
        return issued

    def _kept(self, raw: str, grant: Grant) -> dict[str, Any]:
        """What a refresh answer says of a refresh token it does not replace: nothing
        (Google), or the token again and its remaining life (`echoes_refresh`)."""
        if not self.echoes_refresh:
            return {}
        left = (grant.expires or self.tokens.clock.now()) - self.tokens.clock.now()
        return {"refresh_token": raw, "refresh_token_expires_in": round(left.total_seconds())}

    def _revoke_endpoint(self, request: Request, match: re.Match[str]) -> Response:
        params = self._params(request)
        try:
            client_id = self._client(request, params, required=self._revoke_needs_client)
            token = params.get(self._revoke_param, "")
            grant = self.tokens.grant(token)
            if grant is None or self.platform not in grant.platforms:
                raise Refusal("revoke")
            if client_id and grant.client_id != client_id:
                raise Refusal("revoke")
            self.tokens.revoke(token, family=self._revoke_family)
        except Refusal as refusal:
            return self._refused(refusal)
        return self._revoked()

    # --- checks ---------------------------------------------------------------------------

    def _offers_refresh(self, consent: _Consent | None) -> bool:
        """Whether a code exchange for `consent` (None: any) gives a refresh token."""
        return self.offers_refresh

    def _client(self, request: Request, params: Mapping[str, str], *, required: bool = True) -> str:
        """The client id, its secret checked (from HTTP Basic or the parameters)."""
        client_id, secret = params.get(self.client_param, ""), params.get("client_secret")
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential.strip(), validate=True).decode()
            except ValueError:
                raise Refusal("client") from None
            client_id, _, secret = decoded.partition(":")
        if not client_id and not required:
            return ""
        if client_id not in self.clients:
            raise Refusal("client", "unknown")
        if secret is None and self.public_clients:
            return client_id
        if not secrets.compare_digest(secret or "", self.clients[client_id]):
            raise Refusal("client")
        return client_id

    def _params(self, request: Request) -> dict[str, str]:
        return {**request.form(), **request.query}

    def _refreshing(self, request: Request) -> bool:
        """Whether the request came to the separate refresh endpoint (TikTok's)."""
        return self.refresh_path is not None and bool(re.fullmatch(self.refresh_path, request.path))

    # --- the platform's words ---------------------------------------------------------

    def _answer(self, payload: dict[str, Any]) -> Response:
        return Response.json(200, payload, {"Cache-Control": "no-store"})

    def _revoked(self) -> Response:
        return Response.json(200, {})

    # kind, or "kind:detail" for a special case -> status, error, description ("": the detail)
    refusals: ClassVar[Mapping[str, tuple[int, str, str]]] = {}

    def _refused(self, refusal: Refusal) -> Response:
        """RFC 6749's error body, in the words of the platform's `refusals`."""
        found = self.refusals.get(f"{refusal.kind}:{refusal.detail}")
        status, error, description = found or self.refusals.get(
            refusal.kind, (400, "invalid_request", "")
        )
        body = {"error": error, "error_description": description or refusal.detail}
        return Response.json(status, body)


class GoogleSignIn(Provider):
    platform = "youtube"
    title = "Google"
    authorize_path = "/youtube/o/oauth2/v2/auth"
    token_path = "/youtube/token"  # noqa: S105 (a path)
    revoke_path = "/youtube/revoke"
    known_scopes = frozenset({
        "https://www.googleapis.com/auth/youtube.force-ssl",
        "https://www.googleapis.com/auth/youtube",
        "https://www.googleapis.com/auth/youtube.readonly",
    })  # fmt: skip
    access_prefix = "ya29."
    refresh_prefix = "1//"
    default_access = timedelta(hours=1)
    _revoke_family = True  # Google: revoking either token ends the whole grant

    def _offers_refresh(self, consent: _Consent | None) -> bool:
        return self.offers_refresh and (consent is None or consent.offline)  # access_type=offline

    def _answer(self, payload: dict[str, Any]) -> Response:
        payload.pop("refresh_token_expires_in", None)  # Google does not say
        return super()._answer({**payload, "token_type": "Bearer"})

    refusals: ClassVar[Mapping[str, tuple[int, str, str]]] = {
        "client": (401, "invalid_client", "Unauthorized"),
        "client:unknown": (401, "invalid_client", "The OAuth client was not found."),
        "code": (400, "invalid_grant", "Malformed auth code."),
        "redirect": (400, "redirect_uri_mismatch", "Bad Request"),
        "pkce": (400, "invalid_grant", "Invalid code verifier."),
        "refresh": (400, "invalid_grant", "Bad Request"),
        "lapsed": (400, "invalid_grant", "Token has been expired or revoked."),
        "revoke": (400, "invalid_token", "Token expired or revoked"),
        "grant_type": (400, "unsupported_grant_type", ""),
    }


class XSignIn(Provider):
    platform = "x"
    title = "X"
    authorize_path = "/x/i/oauth2/authorize"
    token_path = "/x/2/oauth2/token"  # noqa: S105 (a path)
    revoke_path = "/x/2/oauth2/revoke"
    known_scopes = frozenset({
        "tweet.read", "users.read", "tweet.moderate.write", "offline.access", "tweet.write",
        "follows.read", "like.read",
    })  # fmt: skip
    pkce_required = True
    public_clients = True
    default_access = timedelta(hours=2)
    default_rotates = True  # X: a new refresh token on every use, the old one refused

    def _offers_refresh(self, consent: _Consent | None) -> bool:
        return self.offers_refresh and (consent is None or "offline.access" in consent.scopes)

    def _answer(self, payload: dict[str, Any]) -> Response:
        payload.pop("refresh_token_expires_in", None)
        return super()._answer({"token_type": "bearer", **payload})

    def _revoked(self) -> Response:
        return Response.json(200, {"revoked": True})

    _BAD = "Value passed for the {} was invalid."
    refusals: ClassVar[Mapping[str, tuple[int, str, str]]] = {
        "client": (401, "unauthorized_client", "Missing valid authorization header"),
        "code": (400, "invalid_request", _BAD.format("authorization code")),
        "redirect": (400, "invalid_request", _BAD.format("redirect uri")),
        "pkce": (400, "invalid_request", _BAD.format("code verifier")),
        "refresh": (400, "invalid_request", _BAD.format("token")),
        "lapsed": (400, "invalid_request", _BAD.format("token")),
        "revoke": (400, "invalid_request", _BAD.format("token")),
    }


class TikTokSignIn(Provider):
    platform = "tiktok"
    title = "TikTok for Business"
    authorize_path = "/tiktok/v2/auth/authorize/?"
    token_path = "/tiktok/open_api/v1.3/tt_user/oauth2/token/?"  # noqa: S105 (a path)
    refresh_path = "/tiktok/open_api/v1.3/tt_user/oauth2/refresh_token/?"
    revoke_path = "/tiktok/open_api/v1.3/tt_user/oauth2/revoke/?"
    client_param = "client_key"
    code_param = "auth_code"
    scope_separator = ","
    known_scopes = frozenset(
        {"comment.list", "comment.list.manage", "video.list", "user.info.basic"}
    )
    pkce_required = True
    access_prefix = "act."
    refresh_prefix = "rft."
    default_access = timedelta(hours=24)
    default_refresh = timedelta(days=365)
    _revoke_param = "access_token"
    _revoke_needs_client = True
    _requests = itertools.count(1)

    def _params(self, request: Request) -> dict[str, str]:
        params = super()._params(request)
        if "client_id" in params:  # the token calls name it client_id, the page client_key
            params.setdefault("client_key", params["client_id"])
        if self._refreshing(request):
            params.setdefault("grant_type", "refresh_token")
        return params

    def _answer(self, payload: dict[str, Any]) -> Response:
        data = {"token_type": "Bearer", "open_id": BUSINESS_ID, **payload}
        return self._envelope(0, "OK", data)

    echoes_refresh = True

    def _revoked(self) -> Response:
        return self._envelope(0, "OK", {})

    def _refused(self, refusal: Refusal) -> Response:
        code, message = {
            "client": (40001, "Invalid client_id or client_secret."),
            "code": (40002, "The auth_code is invalid or has expired."),
            "redirect": (40002, "The redirect_uri does not match the authorization request."),
            "pkce": (40002, "The code_verifier does not match the code_challenge."),
            "refresh": (40105, "The refresh token is invalid or has been revoked."),
            "lapsed": (40105, "The refresh token is invalid or has been revoked."),
            "revoke": (40105, "The access token is invalid or has been revoked."),
        }.get(refusal.kind, (40002, refusal.detail))
        if refusal.kind == "lapsed" and refusal.detail == TokenState.EXPIRED:
            code, message = 40102, "The refresh token has expired."
        return self._envelope(code, message, {})

    def _envelope(self, code: int, message: str, data: dict[str, Any]) -> Response:
        request_id = f"{datetime.now(UTC):%Y%m%d%H%M%S}{next(self._requests):020X}"
        body = {"code": code, "message": message, "request_id": request_id, "data": data}
        return Response.json(200, body)


class LinkedInSignIn(Provider):
    platform = "linkedin"
    title = "LinkedIn"
    authorize_path = "/linkedin/oauth/v2/authorization"
    token_path = "/linkedin/oauth/v2/accessToken"  # noqa: S105 (a path)
    revoke_path = "/linkedin/oauth/v2/revoke"
    known_scopes = frozenset({
        "r_organization_social", "w_organization_social", "rw_organization_admin",
        "r_organization_social_feed", "w_organization_social_feed", "openid", "profile",
    })  # fmt: skip
    access_prefix = "AQV"
    refresh_prefix = "AQW"
    default_access = timedelta(days=60)
    default_refresh = timedelta(days=365)
    default_offers_refresh = False  # programmatic refresh: approved partners only
    _revoke_needs_client = True
    _BAD_CODE = (
        "Unable to retrieve access token: appid/redirect uri/code verifier does not match "
        "authorization code. Or authorization code expired. Or external member binding exists"
    )

    echoes_refresh = True

    refusals: ClassVar[Mapping[str, tuple[int, str, str]]] = {
        "client": (401, "invalid_client", "Client authentication failed"),
        "code": (400, "invalid_request", _BAD_CODE),
        "redirect": (400, "invalid_request", _BAD_CODE),
        "pkce": (400, "invalid_request", _BAD_CODE),
        "refresh": (400, "invalid_request", "The provided refresh token is invalid"),
        "lapsed": (
            400,
            "invalid_grant",
            "The provided refresh token is invalid, expired or revoked",
        ),
        "revoke": (400, "invalid_request", "The provided token is invalid"),
        "no_refresh": (400, "unauthorized_client", ""),
    }


class FacebookLogin(Provider):
    """Facebook Login: the dialog, the code for a short-lived user token, that for a
    long-lived one, and `/me/accounts` for each Page's token (no expiry when made from a
    long-lived user token; the linked Instagram account takes it too)."""

    platform = "facebook-user"
    title = "Facebook"
    # Also under /instagram, the sandbox's stand-in for graph.facebook.com as Instagram's API
    # host: an Instagram site pointed at the sandbox signs in where its API is, as on Meta.
    _HOST = "(?:/instagram)?"
    authorize_path = _HOST + VERSION + "/dialog/oauth"
    token_path = _HOST + VERSION + "/oauth/access_token"
    scope_separator = ","
    known_scopes = frozenset({
        "pages_show_list", "pages_read_engagement", "pages_read_user_content",
        "pages_manage_engagement", "pages_manage_metadata", "business_management",
        "instagram_basic", "instagram_manage_comments", "public_profile",
    })  # fmt: skip
    access_prefix = "EAAG"
    default_access = timedelta(hours=1)  # a short-lived user token
    long_lived = timedelta(days=60)
    _traces = itertools.count(1)

    def __init__(self, tokens: TokenRegistry, graph: GraphSandbox, seed: SeedData) -> None:
        self.graph = graph
        self.pages = {page.id: page.name for page in seed.pages}
        super().__init__(tokens)

    def register(self, router: Router) -> None:
        router.add("GET", self.authorize_path, self._authorize_page, self)
        router.add("POST", self.authorize_path, self._consent_decision, self)
        # Graph takes the token request as a GET (Meta's examples) or a POST of the same
        # parameters (what OAuth 2.0 clients send).
        router.add("GET", self.token_path, self._token_endpoint, self)
        router.add("POST", self.token_path, self._token_endpoint, self)
        router.add("GET", self._HOST + VERSION + "/me/accounts", self._accounts, self)
        router.add("DELETE", self._HOST + VERSION + "/me/permissions", self._deauthorize, self)

    def _token_endpoint(self, request: Request, match: re.Match[str]) -> Response:
        params = self._params(request)
        try:
            client_id = self._client(request, params)
            if params.get("grant_type") == "fb_exchange_token":
                return self._answer(self._long_lived(client_id, params))
            code = self._redeem(client_id, params, params.get("code", ""))
            return self._answer(self._user_token(client_id, code.consent.scopes, code.family))
        except Refusal as refusal:
            return self._refused(refusal)
        except GraphError as error:
            return self._graph_error(error)

    def _user_token(
        self, client_id: str, scopes: tuple[str, ...], family: int, *, long: bool = False
    ) -> dict[str, Any]:
        lifetime = self.long_lived if long else self.access_lifetime
        token = self.tokens.issue(
            (self.platform,), "access", lifetime, family=family, prefix=self.access_prefix,
            client_id=client_id, scopes=scopes, long_lived=long,
        )  # fmt: skip
        return {"access_token": token, "expires_in": int(lifetime.total_seconds())}

    def _long_lived(self, client_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        raw = params.get("fb_exchange_token", "")
        found = self.tokens.state(self.platform, raw)
        self._check_user_token(found)
        grant = self.tokens.grant(raw)
        assert grant is not None  # a state was found
        return self._user_token(client_id, grant.scopes, grant.family, long=True)

    def _accounts(self, request: Request, match: re.Match[str]) -> Response:
        try:
            token = checked_token(
                request, lambda t: self.tokens.state(self.platform, t), "Facebook"
            )
        except GraphError as error:
            return self._graph_error(error)
        user = self.tokens.grant(token)
        assert user is not None  # checked_token found it live
        lifetime = (
            None
            if user.long_lived or user.expires is None
            else (user.expires - self.tokens.clock.now())
        )
        pages: list[dict[str, Any]] = []
        for page_id, page_name in self.pages.items():
            instagram = self.graph.instagram_accounts.get(page_id)
            page_token = self.tokens.issue(
                ("facebook", *(("instagram",) if instagram else ())), "access", lifetime,
                family=user.family, prefix=self.access_prefix, account=page_id,
                client_id=user.client_id, scopes=user.scopes,
            )  # fmt: skip
            pages.append({
                "access_token": page_token,
                "category": "Government Organization",
                "category_list": [{"id": "2235", "name": "Government Organization"}],
                "name": page_name,
                "id": page_id,
                "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"],
                # A Page field: Graph gives it only when asked for in `fields`.
                **({"instagram_business_account": {"id": instagram}} if instagram else {}),
            })  # fmt: skip
        return self._answer(_accounts_page(pages, request.query))

    def _deauthorize(self, request: Request, match: re.Match[str]) -> Response:
        try:
            token = checked_token(
                request, lambda t: self.tokens.state(self.platform, t), "Facebook"
            )
        except GraphError as error:
            return self._graph_error(error)
        self.tokens.revoke(token, family=True)  # the app removed: every token it had ends
        return Response.json(200, {"success": True})

    def _check_user_token(self, found: TokenState | None) -> None:
        if found is TokenState.EXPIRED:
            raise GraphError(
                400, 190, "Error validating access token: Session has expired.", subcode=463
            )
        if found is not TokenState.LIVE:
            raise GraphError(400, 190, "Invalid OAuth access token - Cannot parse access token")

    def _answer(self, payload: dict[str, Any]) -> Response:
        if "access_token" in payload:
            payload = {"access_token": payload["access_token"], "token_type": "bearer",
                       "expires_in": payload["expires_in"]}  # fmt: skip
        return super()._answer(payload)

    def _graph_error(self, error: GraphError) -> Response:
        body = error.body(f"SandboxLogin{next(self._traces):06d}")
        return Response.json(error.status, body)

    def _refused(self, refusal: Refusal) -> Response:
        if refusal.kind == "lapsed":
            return self._graph_error(revoked(190, 400, "Facebook"))
        status, code, subcode, message = {
            "client": (400, 1, None, "Error validating client secret."),
            "code": (400, 100, None, "Invalid verification code format."),
            "redirect": (400, 100, 36008, "Error validating verification code. Please make sure "
                         "your redirect_uri is identical to the one you used in the OAuth "
                         "dialog request"),
            "pkce": (400, 100, None, "Invalid code verifier."),
        }.get(refusal.kind, (400, 100, None, refusal.detail))  # fmt: skip
        if refusal.kind == "code" and refusal.detail == "used":
            subcode, message = 36009, "This authorization code has been used."
        elif refusal.kind == "code" and refusal.detail == "expired":
            subcode, message = 36007, "This authorization code has expired."
        elif refusal.kind == "client" and refusal.detail == "unknown":
            code, message = 101, "Error validating application. Invalid application ID."
        return self._graph_error(GraphError(status, code, message, subcode=subcode))


class SignIn:
    """Every platform's sign-in server, the shared token registry, and the test helpers."""

    def __init__(
        self, seed: SeedData, facebook: GraphSandbox, others: Mapping[str, PlatformSandbox]
    ) -> None:
        self.tokens = TokenRegistry()
        self.providers: dict[str, Provider] = {
            "facebook": FacebookLogin(self.tokens, facebook, seed),
            "youtube": GoogleSignIn(self.tokens),
            "x": XSignIn(self.tokens),
            "tiktok": TikTokSignIn(self.tokens),
            "linkedin": LinkedInSignIn(self.tokens),
        }
        facebook.issued = self.tokens
        # Instagram's seeded account is the Parks Page's (the first).
        facebook.instagram_accounts = {seed.pages[0].id: IG_USER_ID}
        for name, platform in others.items():
            if isinstance(platform, OneToken):
                platform.accept_issued(self.tokens, name, LAPSED_CODES.get(name, {}))

    def __getitem__(self, platform: str) -> Provider:
        return self.providers[platform]

    @property
    def clock(self) -> Clock:
        return self.tokens.clock

    def advance(self, delta: timedelta) -> None:
        """Move the sign-in's clock forward: tokens age without anyone sleeping."""
        self.tokens.clock.advance(delta)

    def register(self, router: Router) -> None:
        for provider in self.providers.values():
            provider.register(router)

    def reset(self) -> None:
        for provider in self.providers.values():
            provider.reset()
        self.tokens.clear()

    def approve(self, url: str, *, deny: bool = False, state: str | None = None) -> str:
        """The redirect URL the person's decision on the authorization `url` leads to, as
        the consent page would give it (`state` forges the state sent back). ValueError if
        the platform shows an error page instead."""
        parts = urlsplit(url)
        provider = next(
            (p for p in self.providers.values() if re.fullmatch(p.authorize_path, parts.path)),
            None,
        )
        if provider is None:
            raise ValueError(f"{parts.path} is no authorization endpoint of the sandbox")
        consent_id = provider.consent_for(dict(parse_qsl(parts.query)))
        if isinstance(consent_id, Response):
            answer = consent_id
        else:
            answer = provider.decide(consent_id, not deny, state)
        if answer.status != 302:
            raise ValueError(f"The sign-in page refused: {answer.body.decode(errors='replace')}")
        return answer.headers["Location"]

    def revoke_all(self, platform: str) -> int:
        """Revoke every token issued for `platform` (as the person removing the app would);
        the number revoked."""
        found = [t for kind in ("access", "refresh") for t in self.tokens.tokens(platform, kind)]
        for token in found:
            self.tokens.revoke(token)
        return len(found)


# --- module helpers -------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in with {title}</title></head>
<body><h1>Sign in with {title} (sandbox)</h1>
<p>The app <strong>{client}</strong> asks for:</p><ul>{scopes}</ul>
<form method="post" action="{action}">
<input type="hidden" name="consent" value="{consent}">
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form></body></html>
"""


def _error_page(message: str) -> Response:
    body = f"<!doctype html><title>Sign-in error</title><p>{html.escape(message)}</p>"
    return Response(400, body.encode(), {"Content-Type": "text/html; charset=utf-8"})


def _redirect(uri: str, params: Mapping[str, str]) -> Response:
    joiner = "&" if urlsplit(uri).query else "?"
    return Response(302, b"", {"Location": f"{uri}{joiner}{urlencode(params)}"})


def _state(state: str | None) -> dict[str, str]:
    return {} if state is None else {"state": state}


def _redirect_allowed(uri: str) -> bool:
    """https anywhere, or http on a loopback address (RFC 8252 for desktop apps)."""
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def _check_pkce(consent: _Consent, verifier: str | None) -> None:
    if consent.challenge is None:
        return
    if verifier is None or not _VERIFIER.fullmatch(verifier):
        raise Refusal("pkce")
    if consent.method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        derived = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        derived = verifier
    if not secrets.compare_digest(derived, consent.challenge):
        raise Refusal("pkce")


_DEFAULT_FIELDS = ("access_token", "category", "category_list", "name", "id", "tasks")


def _accounts_page(pages: list[dict[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
    """/me/accounts as Graph pages an edge: `fields` (id always; the default set without it),
    `limit` and the `after` cursor, with `paging.next` only while more follow."""
    asked = [f for f in query.get("fields", "").split(",") if f] or list(_DEFAULT_FIELDS)
    shown = [{k: page[k] for k in ("id", *asked) if k in page} for page in pages]
    ids = [page["id"] for page in pages]
    after = query.get("after")
    start = ids.index(_uncursor(after)) + 1 if after and _uncursor(after) in ids else 0
    limit = int(query["limit"]) if query.get("limit", "").isdigit() else 25
    chunk = shown[start : start + max(1, limit)]
    if not chunk:
        return {"data": []}
    paging: dict[str, Any] = {
        "cursors": {"before": _cursor(chunk[0]["id"]), "after": _cursor(chunk[-1]["id"])}
    }
    if start + len(chunk) < len(shown):
        paging["next"] = f"/me/accounts?limit={limit}&after={_cursor(chunk[-1]['id'])}"
    return {"data": chunk, "paging": paging}


def _uncursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        return ""


def _cursor(page_id: str) -> str:
    return base64.urlsafe_b64encode(page_id.encode()).decode().rstrip("=")
