"""Each platform's site profile, read over HTTP from the sandbox through its connector: the
field each platform publishes about the account (Policy, Section 2's checks read it)."""

from __future__ import annotations

import pytest

from hsm_console.connectors.base import Connector
from hsm_console.connectors.discourse import DiscourseConnector
from hsm_console.connectors.facebook import FacebookConnector
from hsm_console.connectors.instagram import InstagramConnector
from hsm_console.connectors.linkedin import LinkedInConnector
from hsm_console.connectors.tiktok import TikTokConnector
from hsm_console.connectors.wordpress import WordPressConnector
from hsm_console.connectors.x import XConnector
from hsm_console.connectors.youtube import YouTubeConnector
from hsm_console.errors import PlatformError
from hsm_sandbox import SandboxServer
from tests.connectors.conftest import SANDBOX_SITES, Make

POLICY = "https://www.highlandil.gov/social-media-policy"

# connector -> (words its demo profile holds, a link the platform gives beside the text or "")
EXPECTED: dict[type[Connector], tuple[str, str]] = {
    FacebookConnector: ("official Facebook Page of the City of Highland", "https://www.highlandil.gov/parks"),
    InstagramConnector: ("Official account of the City of Highland", "https://www.highlandil.gov/parks"),
    XConnector: ("Parks, trails and events in Highland, IL", POLICY),  # t.co expanded
    YouTubeConnector: ("The official YouTube channel of the City of Highland", ""),
    TikTokConnector: ("Official City of Highland Parks & Rec", ""),
    LinkedInConnector: ("maintained by the City of Highland", "https://www.highlandil.gov"),
    WordPressConnector: ("Official news of the City of Highland", "https://www.highlandil.gov"),
    DiscourseConnector: ("run by the City", ""),
}  # fmt: skip


def test_every_registered_connector_reads_a_profile() -> None:
    assert set(EXPECTED) == set(SANDBOX_SITES)


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_profile_is_read_from_the_platforms_own_fields(make: Make, cls: type[Connector]) -> None:
    words, link = EXPECTED[cls]
    profile = make(cls).profile()
    assert profile is not None
    assert words in profile.text
    if link:
        assert link in profile.links


def test_facebook_asks_for_the_pages_about_description_and_website(
    make: Make, sandbox_server: SandboxServer
) -> None:
    sandbox_server.state.facebook.profiles["1000000000001"] = {
        "about": "<b>About</b>", "description": "Desc", "website": "https://a.example https://b.example"
    }  # fmt: skip
    profile = make(FacebookConnector).profile()
    assert profile.text == "<b>About</b>\nDesc"  # as received: shown as plain text later
    assert profile.links == ("https://a.example", "https://b.example")


def test_a_profile_without_its_fields_reads_as_empty(
    make: Make, sandbox_server: SandboxServer
) -> None:
    sandbox_server.state.others["instagram"].profile = {}  # type: ignore[attr-defined]
    profile = make(InstagramConnector).profile()
    assert (profile.text, profile.links) == ("", ())


def test_x_profile_of_a_missing_account_says_so(make: Make) -> None:
    with pytest.raises(PlatformError, match="account of this site was not found"):
        make(XConnector, "999").profile()


def test_linkedin_profile_of_another_organization_says_so(make: Make) -> None:
    with pytest.raises(PlatformError, match="LinkedIn page of this site was not found"):
        make(LinkedInConnector, "urn:li:organization:42").profile()


def test_x_post_links_are_the_expanded_short_links(make: Make) -> None:
    connector = make(XConnector)
    post = connector.list_posts().items[0]
    raw = {**post.raw, "entities": {"urls": [{"url": "https://t.co/x", "expanded_url": POLICY}]}}
    assert connector.post_links(type(post)(**{**post.__dict__, "raw": raw})) == (POLICY,)


def test_discourse_reads_post_one_only_where_the_topic_names_no_link(
    make: Make, sandbox_server: SandboxServer
) -> None:
    connector = make(DiscourseConnector)
    topic = connector.list_posts().items[0]
    before = len(sandbox_server.requests_seen())
    links = connector.post_links(topic)
    assert any(link.startswith("https://www.highlandil.gov/") for link in links)
    assert len(sandbox_server.requests_seen()) == before + 1  # post #1, once
    featured = type(topic)(**{**topic.__dict__, "raw": {**topic.raw, "featured_link": POLICY}})
    assert connector.post_links(featured) == (POLICY,)
    assert len(sandbox_server.requests_seen()) == before + 1  # no call for it
    gone = type(topic)(**{**topic.__dict__, "external_id": "999999"})
    assert connector.post_links(gone) == ()
