"""The contract every connector keeps, whatever its platform.

Each promise is one test, run for every registered connector against its demo site in the
sandbox and, for WordPress, against the real WordPress that scripts/test starts. A new
platform (a connector in the registry, a demo site in the sandbox) is under contract without a
line here; what a platform needs said (which comment may be acted on, how a hidden reply is
read back where the API cannot say) is said once, in QUIRKS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from hsm_console.connectors import open_connector
from hsm_console.connectors.base import Connector, RemoteComment, SiteConfig
from hsm_console.connectors.http_connector import HttpConnector
from hsm_console.connectors.wordpress import WordPressConnector
from hsm_console.errors import ConfigurationError, NotPossible, PlatformError
from hsm_console.rules.domain import Action, Platform, PlatformState
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer
from hsm_sandbox.discourse import DiscourseSandbox
from hsm_sandbox.faults import FaultSet
from hsm_sandbox.server import SeenRequest
from hsm_sandbox.x import XSandbox
from tests.connectors.conftest import (
    FAST,
    SANDBOX_SITES,
    WORDPRESS_NETWORK,
    WORDPRESS_TOKEN,
    WORDPRESS_URL,
    AddComment,
    Make,
    all_comments,
    all_posts,
    by_id,
)

SECRET = "contract-secret-credential-0123456789"
# Each action and the state it leaves, in the order the contract tries them.
STEPS = (
    (Action.HIDE, PlatformState.HIDDEN),
    (Action.UNHIDE, PlatformState.VISIBLE),
    (Action.REMOVE, PlatformState.REMOVED),
)

Connect = Callable[..., Connector]  # (token=None, **settings) -> a connector of the site
Build = Callable[[pytest.FixtureRequest], "Site"]


@dataclass(frozen=True)
class Site:
    """One connector on one site, and the little the contract must be told about it."""

    connect: Connect
    page_size: int  # small enough that `post` has more than one page of comments
    post: str | None  # a post with comments on several pages; None: the busiest one
    wrong_token: str  # a credential the site refuses, which no error may show
    # Which comments the actions may try: by default a resident's top-level comment.
    target: Callable[[Connector, RemoteComment], bool]
    # How a comment's state is read back after an action (by default, fetch_state), and
    # whether the listing says it too (X lists every reply as UNKNOWN).
    read_back: Callable[[Connector, str], PlatformState]
    listing_says_state: bool
    # The platform calls the site has received; None on a real site, which cannot tell.
    requests_seen: Callable[[], list[SeenRequest]] | None
    # The sandbox's faults, to make the site fail on purpose; None on a real site.
    faults: FaultSet | None


def residents_comment(connector: Connector, comment: RemoteComment) -> bool:
    readable = comment.state in (PlatformState.VISIBLE, PlatformState.UNKNOWN)
    theirs = comment.author_id != connector.site.external_id
    return readable and theirs and not comment.parent_external_id


def fetch_state(connector: Connector, comment_id: str) -> PlatformState:
    return connector.fetch_state(comment_id)


def smallest_page_size(cls: type[Connector]) -> int:
    """The smallest `page_size` the connector accepts: the most pages from the sandbox."""
    site_id, _, token = SANDBOX_SITES[cls]
    for size in range(1, 101):
        try:
            made = cls(SiteConfig(site_id, "http://127.0.0.1", token, {"page_size": size}))
        except ConfigurationError:
            continue
        made.close()
        return size
    raise AssertionError(f"{cls.__name__} accepts no page_size from 1 to 100")


def sandbox_site(
    cls: type[Connector],
    *,
    target: Callable[[Connector, RemoteComment], bool] = residents_comment,
    read_back: Callable[[SandboxServer], Callable[[Connector, str], PlatformState]] | None = None,
    prepare: Callable[[SandboxServer], None] | None = None,
) -> tuple[type[Connector], Build]:
    def build(request: pytest.FixtureRequest) -> Site:
        make: Make = request.getfixturevalue("make")
        server: SandboxServer = request.getfixturevalue("sandbox_server")
        if prepare is not None:
            prepare(server)

        def connect(token: str | None = None, **settings: Any) -> Connector:
            return make(cls, token=token, **settings)

        return Site(
            connect=connect,
            page_size=smallest_page_size(cls),
            post=None,
            wrong_token=SANDBOX_SITES[cls][2].replace(SANDBOX_TOKEN, SECRET),
            target=target,
            read_back=fetch_state if read_back is None else read_back(server),
            listing_says_state=read_back is None,
            requests_seen=server.requests_seen,
            faults=server.faults,
        )

    return cls, build


def x_hidden_flag(server: SandboxServer) -> Callable[[Connector, str], PlatformState]:
    # X's API never says whether a reply is hidden: read the sandbox's own record instead.
    sandbox = server.state["x"]
    assert isinstance(sandbox, XSandbox)
    return lambda _, reply_id: (
        PlatformState.HIDDEN if sandbox.is_hidden(reply_id) else PlatformState.VISIBLE
    )


def small_discourse_chunks(server: SandboxServer) -> None:
    forum = server.state["discourse"]
    assert isinstance(forum, DiscourseSandbox)
    forum.chunk_size = 4  # Discourse pages a topic by 20 posts: the seeded topics are smaller


def the_citys_own(connector: Connector, comment: RemoteComment) -> bool:
    # LinkedIn lets a page delete its own comments only.
    return comment.author_id == connector.site.external_id


def real_wordpress(request: pytest.FixtureRequest) -> Site:
    wp_post: int = request.getfixturevalue("wp_post")
    add: AddComment = request.getfixturevalue("add_wp_comment")
    first = add("When does the pool open?")
    add("Memorial Day weekend, says the flyer.", parent=first["id"])
    add("The lifeguards were great this year")
    add("Buy cheap passes at tickets.example", "hold")
    add("Is the diving board open?")

    def connect(token: str | None = None, **settings: Any) -> Connector:
        credential = WORDPRESS_TOKEN if token is None else token
        site = SiteConfig("test-blog", WORDPRESS_URL, credential, {**WORDPRESS_NETWORK, **settings})
        connector = WordPressConnector(site)
        request.addfinalizer(connector.close)
        return connector

    return Site(
        connect=connect,
        page_size=2,
        post=str(wp_post),
        wrong_token=f"{WORDPRESS_TOKEN.partition(':')[0]}:{SECRET}",
        target=lambda _, comment: comment.state is PlatformState.VISIBLE,
        read_back=fetch_state,
        listing_says_state=True,
        requests_seen=None,
        faults=None,
    )


# What the contract must be told about a platform; the rest it finds out for itself.
QUIRKS: dict[Platform, dict[str, Any]] = {
    Platform.X: {"read_back": x_hidden_flag},
    Platform.LINKEDIN: {"target": the_citys_own},
    Platform.DISCOURSE: {"prepare": small_discourse_chunks},
}
SITES: dict[str, tuple[type[Connector], Build]] = {
    **{
        cls.platform.value: sandbox_site(cls, **QUIRKS.get(cls.platform, {}))
        for cls in SANDBOX_SITES
    },
    "wordpress-real": (WordPressConnector, real_wordpress),
}
NEEDS = {"wordpress-real": pytest.mark.wordpress}
SANDBOX = [name for name in SITES if name not in NEEDS]  # sites that can fail on purpose


@pytest.fixture(params=[pytest.param(name, id=name, marks=NEEDS.get(name, ())) for name in SITES])
def site(request: pytest.FixtureRequest) -> Site:
    return SITES[request.param][1](request)


def busiest_post(site: Site, connector: Connector) -> str:
    if site.post is not None:
        return site.post
    return max(
        (post.external_id for post in all_posts(connector)),
        key=lambda post_id: len(all_comments(connector, post_id)),
    )


def target(site: Site, connector: Connector) -> RemoteComment:
    """A comment the actions may try: on the site's own post where it has one."""
    posts = [site.post] if site.post else [p.external_id for p in all_posts(connector)]
    return next(
        comment
        for post in posts
        for comment in all_comments(connector, post)
        if site.target(connector, comment)
    )


def test_every_platform_is_under_contract() -> None:
    # A platform without a demo site in the sandbox would silently escape every test here.
    assert {cls.platform for cls in SANDBOX_SITES} == set(Platform)


# --- listing --------------------------------------------------------------------------


def test_lists_posts_once_each_with_aware_times(site: Site) -> None:
    posts = all_posts(site.connect())
    ids = [post.external_id for post in posts]
    assert ids, "the site has posts"
    assert all(ids)
    assert len(ids) == len(set(ids))
    assert all(post.created_at.utcoffset() is not None for post in posts)
    if site.post is not None:
        assert site.post in ids


def test_lists_comments_across_pages_each_once(site: Site) -> None:
    whole = site.connect()
    post = busiest_post(site, whole)
    expected = [c.external_id for c in all_comments(whole, post)]
    paged = site.connect(page_size=site.page_size)
    first = paged.list_comments(post)
    assert first.next_cursor is not None, "the post has more than one page of comments"
    comments = first.items + all_comments(paged, post, first.next_cursor)
    ids = [c.external_id for c in comments]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(expected)
    assert {c.post_external_id for c in comments} == {post}
    assert all(c.created_at.utcoffset() is not None for c in comments)


def test_fetch_state_reads_what_the_listing_said(site: Site) -> None:
    connector = site.connect()
    comments = all_comments(connector, busiest_post(site, connector))
    sample = comments[:3] + [c for c in comments if c.parent_external_id][:2]
    assert sample
    for comment in sample:
        assert connector.fetch_state(comment.external_id) is comment.state, comment.external_id


@pytest.mark.parametrize(
    ("fault", "settings", "message"),
    [
        ({"kind": "server_error", "times": None}, {}, "temporary problem"),
        ({"kind": "too_many_requests", "seconds": 30}, {}, "limit"),
        ({"kind": "slow", "seconds": 5, "times": None}, {"timeout": 0.3}, "within 0.3 seconds"),
        ({"kind": "malformed", "body": '{"cut off'}, {}, "cannot read"),
    ],
    ids=["server-error", "rate-limit", "slow", "malformed"],
)
@pytest.mark.parametrize("site", SANDBOX, indirect=True)
def test_a_failure_mid_listing_is_retryable_and_resuming_loses_nothing(
    site: Site, fault: dict[str, Any], settings: dict[str, Any], message: str
) -> None:
    assert site.faults is not None
    whole = site.connect()
    post = busiest_post(site, whole)
    expected = [c.external_id for c in all_comments(whole, post)]
    connector = site.connect(page_size=site.page_size, retries=1, **settings)
    first = connector.list_comments(post)
    assert first.next_cursor is not None
    site.faults.add(method="GET", **fault)
    started = time.monotonic()
    with pytest.raises(PlatformError, match=message) as caught:
        connector.list_comments(post, first.next_cursor)
    assert caught.value.retryable
    if fault["kind"] == "too_many_requests":
        assert caught.value.retry_after is not None  # raised at once, with the wait named
    assert time.monotonic() - started < 2.5
    site.faults.clear()
    resumed = first.items + all_comments(connector, post, first.next_cursor)
    assert [c.external_id for c in resumed] == expected


@pytest.mark.parametrize("name", SANDBOX)
def test_an_unreachable_platform_is_a_plain_retryable_error(name: str) -> None:
    cls = SITES[name][0]
    site_id, path, token = SANDBOX_SITES[cls]
    with SandboxServer() as stopped:
        url = stopped.url
    connector = cls(SiteConfig(site_id, url + path, token, FAST))
    try:
        with pytest.raises(PlatformError, match=f"could not reach {cls.platform.label}") as caught:
            connector.list_posts()
    finally:
        connector.close()
    assert caught.value.retryable


# --- actions --------------------------------------------------------------------------


def test_each_offered_action_changes_the_state_as_read_back(site: Site) -> None:
    connector = site.connect()
    comment = target(site, connector)
    assert site.read_back(connector, comment.external_id) is PlatformState.VISIBLE
    steps = [(a, state) for a, state in STEPS if connector.capabilities.allows(a)]
    assert steps, "every platform offers at least one action"
    for action, state in steps:
        connector.apply(action, comment.external_id)
        assert site.read_back(connector, comment.external_id) is state, action
        listed = by_id(all_comments(connector, comment.post_external_id))
        if state is PlatformState.REMOVED and not connector.capabilities.removed_readable:
            assert comment.external_id not in listed
        else:
            shown = state if site.listing_says_state else PlatformState.UNKNOWN
            assert listed[comment.external_id].state is shown, action


UNOFFERED = [
    pytest.param(name, action, id=f"{name}-{action.value}", marks=NEEDS.get(name, ()))
    for name, (cls, _) in SITES.items()
    for action, _ in STEPS
    if not cls.capabilities.allows(action)
]


@pytest.mark.parametrize(("name", "action"), UNOFFERED)
def test_an_action_not_offered_is_not_possible_and_sends_nothing(
    request: pytest.FixtureRequest, name: str, action: Action
) -> None:
    site = SITES[name][1](request)
    connector = site.connect()
    comment = target(site, connector)
    assert site.requests_seen is not None
    before = len(site.requests_seen())
    with pytest.raises(NotPossible, match=connector.platform.label):
        connector.apply(action, comment.external_id)
    assert len(site.requests_seen()) == before


def test_the_registry_opens_this_connector(site: Site, request: pytest.FixtureRequest) -> None:
    connector = site.connect()
    opened = open_connector(connector.platform, connector.site)
    request.addfinalizer(opened.close)
    assert type(opened) is type(connector)
    # The same site's listing, read before or after: another test may add a post to a site
    # shared by every worker (the real WordPress) between two listings.
    before = connector.list_posts().items
    seen = opened.list_posts().items
    assert seen in (before, connector.list_posts().items)


# --- secrets and resources ------------------------------------------------------------


def test_the_credential_never_appears_in_an_error(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    connector = site.connect(token=site.wrong_token)
    with caplog.at_level(logging.DEBUG), pytest.raises(PlatformError) as refused:
        connector.list_posts()
    assert refused.value.message
    errors = [refused.value]
    if site.faults is not None:
        # A proxy or plugin that echoes the request: the excerpt of its answer is kept.
        site.faults.add("malformed", body=f"<html>Unauthorized: {site.wrong_token}</html>")
        with caplog.at_level(logging.DEBUG), pytest.raises(PlatformError) as echoed:
            connector.list_posts()
        assert "[redacted]" in echoed.value.details
        errors.append(echoed.value)
    said = [repr(connector), repr(connector.site), caplog.text]
    for error in errors:
        cause: BaseException | None = error
        while cause is not None:  # the error and every one it was raised from
            said += [str(cause), repr(cause), getattr(cause, "details", "")]
            cause = cause.__cause__ or cause.__context__
    if site.requests_seen is not None:  # it travels in headers only, never in an address
        said += [seen.path + seen.query_string for seen in site.requests_seen()]
    assert not [text for text in said if SECRET in text]


def test_close_releases_the_connection_and_may_be_repeated(site: Site) -> None:
    connector = site.connect()
    connector.list_posts()
    assert isinstance(connector, HttpConnector)
    pools = connector._client._session.get_adapter(connector._client.base_url).poolmanager.pools
    assert len(pools) > 0
    connector.close()
    connector.close()
    assert len(pools) == 0
