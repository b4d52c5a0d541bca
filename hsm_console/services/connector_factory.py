"""Opening a connector for a configured site: settings from the database, token from the keyring."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hsm_console.connectors import open_connector
from hsm_console.connectors.base import Connector, SiteConfig
from hsm_console.db.models import Site
from hsm_console.host.credentials import DEMO_TOKEN, CredentialStore
from hsm_console.rules.domain import Platform

ConnectorFactory = Callable[[Site], Connector]


def connector_factory(
    credentials: CredentialStore | None = None, overrides: dict[str, Any] | None = None
) -> ConnectorFactory:
    """A factory of connectors; `overrides` adds settings to every site's (e.g. timeouts)."""
    store = credentials or CredentialStore()

    def make(site: Site) -> Connector:
        config = SiteConfig(
            external_id=site.external_id,
            base_url=site.base_url,
            token=store.get(site),
            # The demo token reaches the connector as its token, never among its settings.
            settings={
                **{k: v for k, v in site.settings.items() if k != DEMO_TOKEN},
                **(overrides or {}),
            },
        )
        return open_connector(Platform(site.platform), config)

    return make
