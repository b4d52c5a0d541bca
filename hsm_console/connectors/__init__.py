"""Platform connectors behind one interface (`base.Connector`)."""

from __future__ import annotations

import importlib

from hsm_console.connectors.base import Connector, SiteConfig
from hsm_console.errors import ConfigurationError
from hsm_console.rules.domain import Platform

# Imported on first use, so start-up loads only the connectors a department's sites need.
_CONNECTORS: dict[Platform, str] = {
    Platform.WORDPRESS: "hsm_console.connectors.wordpress:WordPressConnector",
    Platform.YOUTUBE: "hsm_console.connectors.youtube:YouTubeConnector",
    Platform.X: "hsm_console.connectors.x:XConnector",
    Platform.INSTAGRAM: "hsm_console.connectors.instagram:InstagramConnector",
    Platform.TIKTOK: "hsm_console.connectors.tiktok:TikTokConnector",
    Platform.LINKEDIN: "hsm_console.connectors.linkedin:LinkedInConnector",
    Platform.DISCOURSE: "hsm_console.connectors.discourse:DiscourseConnector",
    Platform.FACEBOOK: "hsm_console.connectors.facebook:FacebookConnector",
}


def connector_class(platform: Platform) -> type[Connector]:
    try:
        module_name, class_name = _CONNECTORS[platform].split(":")
    except KeyError:
        raise ConfigurationError(f"No connector for {platform.value}.") from None
    cls: type[Connector] = getattr(importlib.import_module(module_name), class_name)
    return cls


def open_connector(platform: Platform, site: SiteConfig) -> Connector:
    return connector_class(platform)(site)
