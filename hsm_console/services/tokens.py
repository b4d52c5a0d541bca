"""Access tokens that renew themselves: before they expire, and once when a platform refuses one.

The keyring holds each site's `TokenSet`. A renewal runs under the site's own lock and reads
the keyring again inside it, so two threads never spend the same refresh token (X rotates it
on every use: a second use would be refused and end the sign-in). The rotated refresh token
is written to the keyring before the new access token is handed to anyone. A refusal from the
token endpoint marks the site "needs reconnecting" (`on_refused`) and raises
`NeedsReconnecting`; a token endpoint that is down only fails this call. Where several
processes hold one site's tokens (two agents), `shared` adds a lock between them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from hsm_console.db.engine import Database
from hsm_console.db.models import Site, SiteConnection, utcnow
from hsm_console.errors import NeedsReconnecting
from hsm_console.host.credentials import CredentialStore, TokenSet, credential_key
from hsm_console.rules.actions import needs_reconnecting
from hsm_console.rules.domain import Platform

log = logging.getLogger(__name__)

# New tokens for a site's current ones; raises `GrantRefused` when only signing in helps.
Refresher = Callable[[Site, TokenSet, datetime], TokenSet]

# Renew this long before the expiry the platform gave, so a call never leaves with a token
# that lapses on its way (YouTube's last an hour, X's two).
RENEWAL_MARGIN = timedelta(minutes=5)


def platform_refresher(store: CredentialStore) -> Refresher:
    """Refresh at the site's platform with the City's app credentials from the keyring."""

    def refresh(site: Site, tokens: TokenSet, now: datetime) -> TokenSet:
        from hsm_console.connectors import oauth  # requests and authlib: loaded when needed

        platform = Platform(site.platform)
        return oauth.refresh(platform, site.base_url, store.get_app(platform), tokens, now)

    return refresh


def reconnect_needed_since(session: Session, site_id: int) -> datetime | None:
    """When the site's platform refused its sign-in; None while it is connected."""
    found = session.get(SiteConnection, site_id)
    return found.reconnect_needed_at if found else None


def marks_in(db: Database) -> Callable[[Site], None]:
    """Record in the database that `site` needs reconnecting (once: the first refusal's time)."""

    def mark(site: Site) -> None:
        with db.transaction() as session:
            found = session.get(SiteConnection, site.id)
            if found is None:
                session.add(SiteConnection(site_id=site.id, reconnect_needed_at=utcnow()))
            elif found.reconnect_needed_at is None:
                found.reconnect_needed_at = utcnow()
        log.info("site %s needs reconnecting: its platform refused to renew its sign-in", site.id)

    return mark


def reconnected(db: Database, site_id: int) -> None:
    """The site has a new sign-in: it syncs and acts again."""
    with db.transaction() as session:
        found = session.get(SiteConnection, site_id)
        if found is not None:
            found.reconnect_needed_at = None


class TokenProvider:
    """Hands out each site's access token, renewed when due. Safe to share between threads."""

    def __init__(
        self,
        store: CredentialStore,
        refresher: Refresher | None = None,
        *,
        on_refused: Callable[[Site], None] = lambda site: None,
        margin: timedelta = RENEWAL_MARGIN,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        shared: Callable[[Site], AbstractContextManager[object]] = lambda site: nullcontext(),
    ) -> None:
        self._store = store
        self._refresher = refresher or platform_refresher(store)
        self._on_refused = on_refused
        self._margin = margin
        self._clock = clock
        self._shared = shared
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def current(self, site: Site) -> str:
        """The site's access token, renewed first when it expires within the margin."""
        tokens = self._store.get_tokens(site)
        if not self._due(tokens):
            return tokens.access_token
        with self._lock(site), self._shared(site):
            tokens = self._store.get_tokens(site)  # another thread may have renewed it
            if self._due(tokens):
                tokens = self._renew(site, tokens)
            return tokens.access_token

    def renew(self, site: Site, refused: str) -> str:
        """A token to use instead of `refused`, which the platform just refused."""
        with self._lock(site), self._shared(site):
            tokens = self._store.get_tokens(site)
            if tokens.access_token != refused:  # renewed meanwhile by another call
                return tokens.access_token
            return self._renew(site, tokens).access_token

    def source(self, site: Site) -> SiteTokens:
        return SiteTokens(self, site)

    def _due(self, tokens: TokenSet) -> bool:
        return tokens.expires_at is not None and tokens.expires_at - self._margin <= self._clock()

    def _lock(self, site: Site) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(credential_key(site), threading.Lock())

    def _renew(self, site: Site, tokens: TokenSet) -> TokenSet:
        from hsm_console.connectors.oauth import GrantRefused

        try:
            if not tokens.refreshable:
                raise GrantRefused("no refresh token")
            renewed = self._refresher(site, tokens, self._clock())
        except GrantRefused as refused:
            self._on_refused(site)
            words = needs_reconnecting(site.name)
            raise NeedsReconnecting(words, details=refused.details) from None
        self._store.set_tokens(site, renewed)  # before anyone uses it: X rotates on every use
        return renewed


class SiteTokens:
    """One site's tokens from a `TokenProvider`, as a connector asks for them."""

    def __init__(self, provider: TokenProvider, site: Site) -> None:
        self._provider, self._site = provider, site

    def current(self) -> str:
        return self._provider.current(self._site)

    def renew(self, refused: str) -> str:
        return self._provider.renew(self._site, refused)
