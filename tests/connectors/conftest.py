"""What every connector test shares: the sandbox, connectors built against it, paging helpers.

Test modules use the fixtures by name and import the helpers and constants from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol, TypeVar

import pytest
import requests

from hsm_console.connectors.base import Connector, RemoteComment, RemotePost, SiteConfig
from hsm_console.connectors.discourse import DiscourseConnector
from hsm_console.connectors.facebook import FacebookConnector
from hsm_console.connectors.instagram import InstagramConnector
from hsm_console.connectors.linkedin import LinkedInConnector
from hsm_console.connectors.tiktok import TikTokConnector
from hsm_console.connectors.wordpress import WordPressConnector
from hsm_console.connectors.x import XConnector
from hsm_console.connectors.youtube import YouTubeConnector
from hsm_sandbox import (
    SANDBOX_TOKEN,
    SandboxServer,
    discourse,
    instagram,
    linkedin,
    tiktok,
    wordpress,
    x,
    youtube,
)
from tests.sandbox_fixtures import PARKS, sandbox_server

__all__ = ["FAST", "Make", "all_comments", "all_posts", "by_id", "sandbox_server"]

# Fault tests wait for timeouts and back-off: keep both tiny.
FAST: dict[str, Any] = {"timeout": 0.5, "retries": 2, "backoff": 0.01}

# Each connector's site in the sandbox: (site id, path under the sandbox's address, token).
SANDBOX_SITES: dict[type[Connector], tuple[str, str, str]] = {
    FacebookConnector: (PARKS, "", SANDBOX_TOKEN),
    InstagramConnector: (instagram.IG_USER_ID, instagram.PREFIX, SANDBOX_TOKEN),
    YouTubeConnector: (youtube.CHANNEL_ID, youtube.PREFIX, SANDBOX_TOKEN),
    XConnector: (x.CITY_USER_ID, x.PREFIX, SANDBOX_TOKEN),
    TikTokConnector: (tiktok.BUSINESS_ID, tiktok.PREFIX, SANDBOX_TOKEN),
    LinkedInConnector: (linkedin.ORGANIZATION, linkedin.PREFIX, SANDBOX_TOKEN),
    WordPressConnector: ("highlandil.gov", wordpress.PREFIX, f"admin:{SANDBOX_TOKEN}"),
    DiscourseConnector: ("city-services/5", discourse.PREFIX, SANDBOX_TOKEN),
}

C = TypeVar("C", bound=Connector)


class Make(Protocol):
    def __call__(
        self,
        cls: type[C],
        site_id: str | None = None,
        *,
        token: str | None = None,
        base: str | None = None,
        **settings: Any,
    ) -> C: ...


@pytest.fixture
def make(sandbox_server: SandboxServer) -> Iterator[Make]:
    """Builds connectors of any platform against the sandbox, with FAST network settings
    unless told otherwise; closes them after the test."""
    made: list[Connector] = []

    def build(
        cls: type[C],
        site_id: str | None = None,
        *,
        token: str | None = None,
        base: str | None = None,
        **settings: Any,
    ) -> C:
        default_id, path, default_token = SANDBOX_SITES[cls]
        site = SiteConfig(
            default_id if site_id is None else site_id,
            sandbox_server.url + (path if base is None else base),
            default_token if token is None else token,
            {**FAST, **settings},
        )
        connector = cls(site)
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()


@pytest.fixture
def api(sandbox_server: SandboxServer) -> Iterator[requests.Session]:
    """A plain HTTP session with the sandbox token, to set up or read back what the sandbox
    holds as the platform's own API shows it."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {SANDBOX_TOKEN}"
        yield session


def all_posts(connector: Connector) -> list[RemotePost]:
    """Every page of the site's posts, following the cursors to the end."""
    posts: list[RemotePost] = []
    cursor: str | None = None
    while True:
        page = connector.list_posts(cursor)
        posts.extend(page.items)
        if page.next_cursor is None:
            return posts
        cursor = page.next_cursor


def all_comments(
    connector: Connector,
    post_id: str,
    cursor: str | None = None,
    since: datetime | None = None,
) -> list[RemoteComment]:
    """Every page of a post's comments from `cursor` on, following the cursors to the end."""
    comments: list[RemoteComment] = []
    while True:
        page = connector.list_comments(post_id, cursor, since)
        comments.extend(page.items)
        if page.next_cursor is None:
            return comments
        cursor = page.next_cursor


def by_id(comments: list[RemoteComment]) -> dict[str, RemoteComment]:
    return {c.external_id: c for c in comments}
