"""What every connector test shares: the sandbox, connectors built against it, paging helpers,
and the real WordPress that scripts/test starts.

Test modules use the fixtures by name and import the helpers and constants from here.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Protocol, TypeVar

import pytest
import requests

from hsm_console.connectors import connector_class
from hsm_console.connectors.base import Connector, RemoteComment, RemotePost, SiteConfig
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer
from hsm_sandbox.demo import DEMO_SITES, sandbox_token
from tests.sandbox_fixtures import sandbox_server as sandbox_server  # the fixture, by name

# Fault tests wait for timeouts and back-off: keep both tiny.
FAST: dict[str, Any] = {"timeout": 0.5, "retries": 2, "backoff": 0.01}

# --- the sandbox ---------------------------------------------------------------------


def _sandbox_sites() -> dict[type[Connector], tuple[str, str, str]]:
    """Each registered connector's demo site in the sandbox: (site id, path, token)."""
    sites: dict[type[Connector], tuple[str, str, str]] = {}
    for demo in DEMO_SITES:
        site = (demo.external_id, demo.prefix, sandbox_token(demo.platform.value))
        sites.setdefault(connector_class(demo.platform), site)
    return sites


SANDBOX_SITES = _sandbox_sites()

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


# --- the real WordPress that scripts/test starts ----------------------------------------

WORDPRESS_URL = os.environ.get("HSM_TEST_WORDPRESS_URL", "").rstrip("/")
WORDPRESS_TOKEN = os.environ.get("HSM_TEST_WORDPRESS_TOKEN", "")
REQUIRE_SERVICES = os.environ.get("HSM_REQUIRE_SERVICES") == "1"
# A real site on loopback, under load from the whole suite: patient, with one retry.
WORDPRESS_NETWORK: dict[str, Any] = {"timeout": 15.0, "retries": 1, "backoff": 0.05}

AddComment = Callable[..., dict[str, Any]]


def needs_wordpress() -> None:
    if not (WORDPRESS_URL and WORDPRESS_TOKEN):
        if REQUIRE_SERVICES:
            pytest.fail(
                "HSM_TEST_WORDPRESS_URL / HSM_TEST_WORDPRESS_TOKEN are not set: "
                "scripts/test starts WordPress"
            )
        pytest.skip("no WordPress server (run scripts/test)")


def wp_api(path: str) -> str:
    return f"{WORDPRESS_URL}/wp-json/wp/v2/{path}"


def checked(response: requests.Response, *expected: int) -> dict[str, Any]:
    assert response.status_code in (expected or (200,)), response.text[:500]
    body = response.json()
    assert isinstance(body, dict)
    return body


@pytest.fixture(scope="module")
def wp_admin() -> Iterator[requests.Session]:
    """The site's Administrator over REST, with the City's time zone set on the site."""
    needs_wordpress()
    user, _, password = WORDPRESS_TOKEN.partition(":")
    with requests.Session() as session:
        session.auth = (user, password)
        before = checked(session.get(wp_api("settings"), timeout=15))["timezone"]
        checked(session.post(wp_api("settings"), json={"timezone": "America/Chicago"}, timeout=15))
        yield session
        checked(session.post(wp_api("settings"), json={"timezone": before}, timeout=15))


@pytest.fixture
def wp_post(wp_admin: requests.Session) -> Iterator[int]:
    """A fresh published post; deleting it for good deletes its comments too."""
    created = checked(
        wp_admin.post(
            wp_api("posts"),
            json={
                "title": f"Pool hours for the summer ({uuid.uuid4().hex[:8]})",
                "content": "Details: https://www.highlandil.gov/parks/aquatic-center",
                "status": "publish",
            },
            timeout=15,
        ),
        201,
    )
    yield int(created["id"])
    checked(wp_admin.delete(wp_api(f"posts/{created['id']}"), params={"force": "true"}, timeout=15))


@pytest.fixture
def add_wp_comment(wp_admin: requests.Session, wp_post: int) -> AddComment:
    def add(content: str, status: str = "approved", **fields: Any) -> dict[str, Any]:
        # An explicit author_ip keeps these out of the flood check of the visitor test.
        payload = {
            "post": wp_post,
            "author_name": "Highland Resident",
            "author_email": f"resident-{uuid.uuid4().hex[:8]}@example.test",
            "author_ip": "192.0.2.44",
            "author_user_agent": "Mozilla/5.0 (Windows NT 10.0) Firefox/133.0",
            "content": content,
            "status": status,
            **fields,
        }
        return checked(wp_admin.post(wp_api("comments"), json=payload, timeout=15), 201)

    return add
