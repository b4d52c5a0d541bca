"""Opening a connector for a configured site: settings from the database, token from the keyring.

A platform sign-in's token reaches the connector with its `TokenProvider`, so that it is
renewed before it lapses and once when the platform says it lapsed; one that cannot renew
then marks its site "needs reconnecting".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hsm_console.connectors import open_connector
from hsm_console.connectors.base import Connector, SiteConfig
from hsm_console.db.engine import Database
from hsm_console.db.models import Site
from hsm_console.errors import NeedsReconnecting
from hsm_console.host.credentials import DEMO_TOKEN, CredentialStore
from hsm_console.rules.actions import needs_reconnecting
from hsm_console.rules.administration import SITE_RULES
from hsm_console.rules.domain import Platform
from hsm_console.services.tokens import TokenProvider, reconnect_needed_since

ConnectorFactory = Callable[[Site], Connector]


def connector_factory(
    credentials: CredentialStore | None = None,
    overrides: dict[str, Any] | None = None,
    tokens: TokenProvider | None = None,
    db: Database | None = None,
) -> ConnectorFactory:
    """A factory of connectors; `overrides` adds settings to every site's (e.g. timeouts).
    Share one `tokens` between factories: its per-site locks keep renewals one at a time.
    With `db`, a site marked "needs reconnecting" there is refused without a call."""
    store = credentials or CredentialStore()
    provider = tokens or TokenProvider(store)

    def make(site: Site) -> Connector:
        if db is not None:
            with db.session() as session:
                if reconnect_needed_since(session, site.id):
                    raise NeedsReconnecting(needs_reconnecting(site.name))
        stored = store.get_tokens(site)
        platform = Platform(site.platform)
        # A platform sign-in's token goes through the provider, even one that cannot renew
        # (a Facebook Page's): when the platform says it lapsed, the site is marked. Keys of
        # self-hosted sites (WordPress, Discourse) and the demo's token stay as they are.
        renewable = not site.is_sandbox and SITE_RULES[platform].api_address is not None
        config = SiteConfig(
            external_id=site.external_id,
            base_url=site.base_url,
            token=provider.current(site) if renewable else stored.access_token,
            tokens=provider.source(site) if renewable else None,
            # The demo token reaches the connector as its token, never among its settings.
            settings={
                **{k: v for k, v in site.settings.items() if k != DEMO_TOKEN},
                **(overrides or {}),
            },
        )
        return open_connector(platform, config)

    return make
