"""Platform connectors behind one interface (`base.Connector`)."""

from __future__ import annotations

from hsm_console.connectors.base import Connector, SiteConfig
from hsm_console.domain import Platform
from hsm_console.errors import ConfigurationError


def connector_class(platform: Platform) -> type[Connector]:
    """The connector for a platform. Imported lazily so start-up loads only what is used."""
    from hsm_console.connectors.facebook import FacebookConnector

    classes: dict[Platform, type[Connector]] = {Platform.FACEBOOK: FacebookConnector}
    try:
        return classes[platform]
    except KeyError:
        raise ConfigurationError(f"No connector for {platform.value} yet.") from None


def open_connector(platform: Platform, site: SiteConfig) -> Connector:
    return connector_class(platform)(site)
