"""Connecting a site to its platform: the one way a site's credential gets into the keyring.

Each platform grants access its own way (design.md, "Connecting a site"):

- YouTube, X, TikTok, LinkedIn: OAuth 2.0 authorization code with PKCE in the system browser,
  back through a loopback redirect (`host/loopback.py`), the code exchanged for tokens
  (`connectors/oauth.py`) with the City's app from the keyring (`admin app`);
- Facebook, Instagram: Facebook Login, the long-lived user token, and the Page's own token
  from the Pages the person manages (`connectors/facebook_login.py`);
- WordPress: a user name and Application Password; Discourse: an API key and user name;
  each checked at once with one read call through the site's connector.

Only an administrator connects, checked before anything is opened; the keyring and the City's
app are checked before the browser is. The credential goes to the keyring, then one
transaction writes the `connect` entry of the hash-chained log (subject `site:N`: the method,
the token's expiry; never a token), and the site's "needs reconnecting" mark is cleared.

Driving it from a window (no Qt here: run `connect` and `choose` on a worker thread; both
block while the person signs in):

    service = app.connect
    how = service.how(site)             # what to ask first: how.method is BROWSER (nothing),
                                        # PASSWORD (WordPress: user and application password)
                                        # or API_KEY (Discourse: key; user defaults to how.user)
    cancel = threading.Event()          # the Cancel button sets it; the wait ends within 0.1 s
    result = service.connect(site, progress=emit, cancel=cancel, user=..., secret=...)
    if isinstance(result, PageChoice):  # Facebook/Instagram: the site's Page is not among the
        pick from result.pages          # person's Pages: list them (name, id), then
        result = service.choose(result, page.id)
    show result.message                 # Connected

`sign_ins()` gives each site's sign-in state on this computer for the list of sites.

`progress` receives plain sentences as the sign-in moves on (one names the address to open
when no browser could be started). Every refusal is a `UserError` in plain words, for
`gui/problems.py`; `SignInCancelled` means the person cancelled, in the browser or here.
Nothing is stored unless the whole flow succeeded.
"""

from __future__ import annotations

import enum
import threading
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from hsm_console.connectors import oauth, open_connector
from hsm_console.connectors.base import SiteConfig
from hsm_console.connectors.facebook_login import FacebookLogin, ManagedPage
from hsm_console.db.chain import append_admin_entry
from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, Site, SiteConnection
from hsm_console.display import local_time
from hsm_console.errors import InvalidInput, NotPossible, PlatformError
from hsm_console.host.credentials import CredentialStore, TokenSet
from hsm_console.host.loopback import LoopbackRedirect
from hsm_console.rules.administration import is_loopback
from hsm_console.rules.domain import AdminChange, Platform
from hsm_console.services.access import require_administrator, resolve_actor
from hsm_console.services.admin import find_site
from hsm_console.services.health import TokenHealth, TokenState, site_token_health
from hsm_console.services.tokens import reconnect_needed_since, reconnected

DEFAULT_TIMEOUT = 300.0  # seconds for the person to sign in in the browser
_DISCOURSE_DEFAULT_USER = "system"

Progress = Callable[[str], None]
BrowserOpener = Callable[[str], bool]  # webbrowser.open: False when no browser could start


class ConnectMethod(enum.StrEnum):
    BROWSER = "browser"  # OAuth 2.0 / Facebook Login in the system browser
    PASSWORD = "password"  # noqa: S105 (a method's name). WordPress: user name and application password
    API_KEY = "api_key"  # Discourse: API key and the user it acts as


_METHODS: dict[Platform, ConnectMethod] = {
    Platform.WORDPRESS: ConnectMethod.PASSWORD,
    Platform.DISCOURSE: ConnectMethod.API_KEY,
}
_METHOD_WORDS = {
    Platform.FACEBOOK: "Facebook Login, the Page's own token",
    Platform.INSTAGRAM: "Facebook Login, the linked Page's token",
    Platform.WORDPRESS: "user name and Application Password",
    Platform.DISCOURSE: "API key and user name",
}
_OAUTH_WORDS = "OAuth 2.0 sign-in with PKCE in the browser"
_DEMO_WORDS = "demo site, nothing to connect"


@dataclass(frozen=True)
class HowToConnect:
    """What connecting a site asks of the person, for the window to show first."""

    site_id: int
    site_name: str
    platform: Platform
    method: ConnectMethod
    user: str  # the user name to offer (Discourse: the one the site acts as); "" for none
    words: str  # what will happen, in one sentence


@dataclass(frozen=True)
class Connected:
    site_id: int
    site_name: str
    expires_at: datetime | None
    entry_id: int
    message: str


@dataclass(frozen=True)
class PageChoice:
    """Facebook/Instagram: the person manages other Pages than the site's; pick one.

    Holds the Pages' tokens in memory (never in its repr) until `ConnectService.choose`.
    """

    site_id: int
    site_name: str
    platform: Platform
    pages: tuple[ManagedPage, ...]
    message: str


class ConnectService:
    """Connecting sites, as the acting person (an administrator) does it."""

    def __init__(
        self,
        db: Database,
        username: str,
        credentials: CredentialStore,
        *,
        open_browser: BrowserOpener = webbrowser.open,
        network: Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`network` adds settings to the check calls' connectors (timeouts, retries)."""
        self.db = db
        self.username = username
        self._credentials = credentials
        self._open_browser = open_browser
        self._network = dict(network or {})
        self._clock = clock

    def sign_ins(self) -> dict[int, TokenHealth]:
        """Each site's sign-in on this computer by site id (the keyring and the "needs
        reconnecting" mark; never a token), for the administrator's list of sites."""
        now = self._clock()
        with self.db.session() as session:
            require_administrator(resolve_actor(session, self.username), "see the sign-ins")
            marks = {
                mark.site_id: mark.reconnect_needed_at
                for mark in session.scalars(select(SiteConnection))
            }
            return {
                site.id: TokenHealth(TokenState.NO_EXPIRY, _DEMO_WORDS)
                if site.is_sandbox
                else site_token_health(self._credentials, site, marks.get(site.id), now)
                for site in session.scalars(select(Site).order_by(Site.id))
            }

    def how(self, site_key: str) -> HowToConnect:
        site = self._site(site_key)
        on = Platform(site.platform)
        method = _METHODS.get(on, ConnectMethod.BROWSER)
        user = ""
        if on is Platform.DISCOURSE:
            user = str(site.settings.get("api_username") or _DISCOURSE_DEFAULT_USER)
        words = {
            ConnectMethod.BROWSER: f"Sign in to {on.label} in the browser as a person who "
            "manages the account; the console keeps what the platform grants.",
            ConnectMethod.PASSWORD: "Enter the user name and an Application Password of an "
            "Editor or Administrator of the blog (wp-admin: Users, Profile).",
            ConnectMethod.API_KEY: "Enter an admin API key of the forum and the user it acts "
            "as (Discourse admin: API).",
        }[method]
        return HowToConnect(site.id, site.name, on, method, user, words)

    def connect(
        self,
        site_key: str,
        *,
        progress: Progress = lambda words: None,
        cancel: threading.Event | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        user: str | None = None,
        secret: str | None = None,
        page: str | None = None,
    ) -> Connected | PageChoice:
        """Connect the site by its platform's own way. `user` and `secret` are WordPress's
        user name and application password or Discourse's user name and key; `page` picks
        the Facebook Page (or the Page of the Instagram account) when it is not the site's."""
        site = self._site(site_key)
        on = Platform(site.platform)
        if timeout <= 0:
            raise InvalidInput("The time to wait for the sign-in must be more than 0 seconds.")
        self._credentials.check_usable()  # before anyone signs in for nothing
        if on is Platform.WORDPRESS:
            return self._wordpress(site, user, secret, progress)
        if on is Platform.DISCOURSE:
            return self._discourse(site, user, secret, progress)
        if on in (Platform.FACEBOOK, Platform.INSTAGRAM):
            return self._facebook(site, on, page, progress, cancel, timeout)
        return self._oauth(site, on, progress, cancel, timeout)

    def choose(self, choice: PageChoice, page_id: str) -> Connected:
        """The second step after a `PageChoice`: connect with the Page the person picked."""
        site = self._site(str(choice.site_id))
        picked = _pick(choice.pages, choice.platform, page_id.strip())
        if picked is None:
            raise InvalidInput(
                f"{page_id!r} is not one of the Pages offered: {_page_list(choice.pages)}."
            )
        return self._store_page(site, choice.platform, picked)

    # --- the platforms' ways ----------------------------------------------------------

    def _oauth(
        self,
        site: Site,
        on: Platform,
        progress: Progress,
        cancel: threading.Event | None,
        timeout: float,
    ) -> Connected:
        app = self._credentials.get_app(on)
        with LoopbackRedirect() as loopback:
            sign_in = oauth.authorization(on, site.base_url, app, loopback.redirect_uri)
            code = self._browser(on, sign_in, loopback, progress, cancel, timeout)
        progress(f"Signed in. Asking {on.label} for the site's tokens...")
        granted = oauth.exchange(on, site.base_url, app, sign_in, code, self._clock())
        if granted.account is not None and granted.account != site.external_id:
            raise PlatformError(
                f"The {on.label} account that signed in ({granted.account}) is not this "
                f"site's ({site.external_id}), so nothing was stored. Sign in as the site's "
                "account, or correct the site's id.",
                details=f"open_id {granted.account} != site {site.external_id}",
            )
        return self._store(site, granted.tokens, _OAUTH_WORDS, progress)

    def _facebook(
        self,
        site: Site,
        on: Platform,
        page: str | None,
        progress: Progress,
        cancel: threading.Event | None,
        timeout: float,
    ) -> Connected | PageChoice:
        login = FacebookLogin(
            on, site.base_url, {**site.settings, **self._network},
            self._credentials.get_app(Platform.FACEBOOK),
        )  # fmt: skip
        with LoopbackRedirect() as loopback:
            sign_in = login.authorization(loopback.redirect_uri)
            code = self._browser(Platform.FACEBOOK, sign_in, loopback, progress, cancel, timeout)
        progress("Signed in. Asking Facebook for the Pages you manage and their tokens...")
        pages = tuple(login.pages(sign_in, code))
        offered = tuple(p for p in pages if on is Platform.FACEBOOK or p.instagram_id)
        if not offered:
            linked = " linked to an Instagram professional account" * (on is Platform.INSTAGRAM)
            raise NotPossible(
                f"The Facebook account that signed in manages no Page{linked}, so nothing was "
                "stored. Sign in as a person who manages the site's Page (its Moderate task "
                "at least)."
            )
        picked = _pick(offered, on, page or site.external_id)
        if picked is not None:
            return self._store_page(site, on, picked)
        if page:
            raise InvalidInput(
                f"{page!r} is not among the Pages the person who signed in manages: "
                f"{_page_list(offered)}. Nothing was stored."
            )
        what = "the Instagram account" if on is Platform.INSTAGRAM else "the Page"
        return PageChoice(
            site.id, site.name, on, offered,
            f"{what.capitalize()} {site.external_id} of the site {site.name!r} is not among "
            f"those the person who signed in manages. Pick one: {_page_list(offered)}.",
        )  # fmt: skip

    def _wordpress(
        self, site: Site, user: str | None, secret: str | None, progress: Progress
    ) -> Connected:
        user, password = _needed(user, "WordPress user name"), _needed(secret, "password")
        parts = urlsplit(site.base_url)
        if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
            raise NotPossible(
                f"The blog's address {site.base_url} is plain http: the application password "
                "would cross the network unencrypted, so it was not sent. Change the site's "
                "address to https:// first."
            )
        self._check(site, f"{user}:{password}", {}, progress)
        return self._store(
            site, TokenSet(access_token=f"{user}:{password}"), _METHOD_WORDS[Platform.WORDPRESS],
            progress, account=user,
        )  # fmt: skip

    def _discourse(
        self, site: Site, user: str | None, secret: str | None, progress: Progress
    ) -> Connected:
        key = _needed(secret, "API key")
        acting = (user or "").strip() or str(
            site.settings.get("api_username") or _DISCOURSE_DEFAULT_USER
        )
        self._check(site, key, {"api_username": acting}, progress)
        return self._store(
            site, TokenSet(access_token=key), _METHOD_WORDS[Platform.DISCOURSE], progress,
            account=acting, settings={"api_username": acting},
        )  # fmt: skip

    # --- the steps they share -----------------------------------------------------------

    def _browser(
        self,
        on: Platform,
        sign_in: oauth.Authorization,
        loopback: LoopbackRedirect,
        progress: Progress,
        cancel: threading.Event | None,
        timeout: float,
    ) -> str:
        if self._open_browser(sign_in.url):
            progress(f"Sign in to {on.label} in the browser that opened.")
        else:  # --no-browser, or none could start: never say a browser opened
            progress(f"Open this address in a browser on this computer to sign in:\n{sign_in.url}")
        progress(f"Waiting for the sign-in in the browser (at most {timeout:g} seconds)...")
        return loopback.wait(sign_in.state, timeout, cancel, platform=on.label)

    def _check(
        self, site: Site, credential: str, settings: Mapping[str, Any], progress: Progress
    ) -> None:
        """One read call with the credential before it is kept: a wrong one is said now."""
        on = Platform(site.platform)
        progress(f"Checking the {on.label} credential with one read call...")
        config = SiteConfig(
            site.external_id, site.base_url, credential,
            {**site.settings, **settings, **self._network},
        )  # fmt: skip
        connector = open_connector(on, config)
        try:
            connector.list_posts(None)
        except PlatformError as exc:
            refused = exc.details.startswith(("HTTP 401", "HTTP 403")) and not exc.retryable
            if refused:  # the connector's words ask for a renewal: here they are new
                raise PlatformError(
                    f"{on.label} did not accept that {_METHOD_WORDS[on]}, so nothing was "
                    "stored. Check both and connect the site again.",
                    details=f"{exc.message} [{exc.details}]",
                ) from None
            raise PlatformError(
                f"The check with one read call failed, so nothing was stored: {exc.message}",
                details=exc.details,
                retryable=exc.retryable,
            ) from None
        finally:
            connector.close()

    def _store_page(self, site: Site, on: Platform, page: ManagedPage) -> Connected:
        account = page.instagram_id if on is Platform.INSTAGRAM else page.id
        assert account is not None  # Instagram offers only Pages with a linked account
        return self._store(
            site, page.tokens(), _METHOD_WORDS[on], lambda words: None,
            external_id=account, page=f"{page.name} ({page.id})",
        )  # fmt: skip

    def _store(
        self,
        site: Site,
        tokens: TokenSet,
        method: str,
        progress: Progress,
        *,
        account: str | None = None,
        external_id: str | None = None,
        page: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Connected:
        """The keyring first (a keyring that refuses leaves no entry claiming a connection),
        then the log entry, then the mark cleared."""
        new_id = external_id or site.external_id
        if new_id != site.external_id:
            self._may_change_account(site, new_id)
        progress(f"Storing the credential in {self._credentials.kept_in}...")
        stored = Site(
            platform=site.platform, base_url=site.base_url, external_id=new_id, name=site.name
        )  # a detached copy: the keyring's entry is named by the account it opens
        self._credentials.set_tokens(stored, tokens)
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            require_administrator(actor, "connect a site")
            row = session.get(Site, site.id)
            assert row is not None  # sites are never deleted
            since = reconnect_needed_since(session, site.id)
            before: dict[str, Any] = {"external_id": row.external_id,
                                      "needs_reconnecting": since is not None}  # fmt: skip
            row.external_id = new_id
            if settings:
                before["settings"] = {k: row.settings.get(k) for k in settings}
                row.settings = {**row.settings, **settings}
            after: dict[str, Any] = {
                "external_id": new_id,
                "connected_by": method,
                "token_expires_at": tokens.expires_at.isoformat() if tokens.expires_at else None,
                "renews_itself": tokens.refreshable,
                **({"account": account} if account else {}),
                **({"page": page} if page else {}),
                **({"settings": dict(settings)} if settings else {}),
            }
            entry = append_admin_entry(
                session, actor.username, AdminChange.CONNECT, f"site:{row.id}", before, after,
                department_id=row.department_id, site_id=row.id,
            )  # fmt: skip
            entry_id = entry.id
        reconnected(self.db, site.id)
        moved = f" Its account is now {new_id}." if new_id != site.external_id else ""
        return Connected(
            site.id, site.name, tokens.expires_at, entry_id,
            f"Site {site.id}, {site.name!r} ({Platform(site.platform).label}), is connected "
            f"by {method}.{moved} {_lifetime(tokens)} Log entry {entry_id}.",
        )  # fmt: skip

    def _may_change_account(self, site: Site, new_id: str) -> None:
        """Another Page is another site, unless this one has read nothing yet."""
        with self.db.session() as session:
            kept = session.scalar(
                select(func.count()).select_from(Comment).where(Comment.site_id == site.id)
            )
            same = session.scalar(
                select(Site.id).where(
                    Site.platform == site.platform,
                    Site.base_url == site.base_url,
                    Site.external_id == new_id,
                )
            )
        if kept:
            raise NotPossible(
                f"The site {site.name!r} already holds comments of {site.external_id}: another "
                "account is another site. Add it as a new site, or sign in as a person who "
                "manages this one. Nothing was stored."
            )
        if same is not None:
            raise NotPossible(
                f"{new_id} is already site {same}: connect that site instead. Nothing was stored."
            )

    def _site(self, site_key: str) -> Site:
        """The site, once the person is known to be an administrator."""
        with self.db.session() as session:
            require_administrator(resolve_actor(session, self.username), "connect a site")
            site = find_site(session, site_key)
            session.expunge(site)
        if site.is_sandbox:
            raise NotPossible(
                f"{site.name!r} is a demo site: it uses the sandbox's public token and has "
                "nothing to connect."
            )
        return site


def _pick(pages: tuple[ManagedPage, ...], on: Platform, wanted: str) -> ManagedPage | None:
    """The Page by its id, or (Instagram) by its linked account's id."""
    for page in pages:
        if wanted == page.id or (on is Platform.INSTAGRAM and wanted == page.instagram_id):
            return page
    return None


def _page_list(pages: tuple[ManagedPage, ...]) -> str:
    return "; ".join(
        f"{page.name} ({page.id}"
        + (f", Instagram {page.instagram_id})" if page.instagram_id else ")")
        for page in pages
    )


def _needed(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"The {what} is needed to connect this site; nothing was stored.")
    return text


def _lifetime(tokens: TokenSet) -> str:
    if tokens.refreshable:
        return "Its access renews itself before it expires."
    if tokens.expires_at is not None:
        return (
            f"Its token expires on {local_time(tokens.expires_at)}: connect it again before then."
        )
    return "Its credential does not expire; it lasts until revoked."
