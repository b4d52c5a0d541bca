"""Fixtures that run the sandbox on a free loopback port for one test.

Test modules load them with `pytest_plugins = ["tests.sandbox_fixtures"]` and import the
constants and helpers below. The module has no asserts, so it opts out of pytest's assertion
rewriting, which would otherwise warn that it was imported before being registered:
PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from hsm_console.connectors.base import RemoteComment, SiteConfig
from hsm_console.connectors.facebook import FacebookConnector
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer

PARKS = "1000000000001"
POLICE = "1000000000002"

# Fault tests wait for timeouts and back-off: keep both tiny.
FAST: dict[str, Any] = {"timeout": 0.5, "retries": 2, "backoff": 0.01}

MakeConnector = Callable[..., FacebookConnector]


@pytest.fixture
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(port=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def graph(sandbox_server: SandboxServer) -> Iterator[requests.Session]:
    """A plain HTTP session that sends the sandbox Page token."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {SANDBOX_TOKEN}"
        yield session


@pytest.fixture
def make_connector(sandbox_server: SandboxServer) -> Iterator[MakeConnector]:
    """Builds Facebook connectors against the sandbox; closes them after the test."""
    made: list[FacebookConnector] = []

    def make(
        page_id: str = PARKS, token: str = SANDBOX_TOKEN, **settings: Any
    ) -> FacebookConnector:
        site = SiteConfig(page_id, sandbox_server.url, token, {**FAST, **settings})
        connector = FacebookConnector(site)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


def all_comments(
    connector: FacebookConnector, post_id: str, since: datetime | None = None
) -> list[RemoteComment]:
    """Every page of a post's comments, following the cursors to the end."""
    comments: list[RemoteComment] = []
    cursor: str | None = None
    while True:
        page = connector.list_comments(post_id, cursor, since)
        comments.extend(page.items)
        if page.next_cursor is None:
            return comments
        cursor = page.next_cursor
