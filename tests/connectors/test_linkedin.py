"""LinkedInConnector against the LinkedIn sandbox: real HTTP over loopback, no mocks."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import quote

import pytest
import requests

from hsm_console.connectors.base import RemoteComment, SiteConfig
from hsm_console.connectors.linkedin import (
    ACCESS_DENIED,
    MEMBER_COMMENT_REFUSED,
    LinkedInConnector,
    LinkedInRefused,
)
from hsm_console.connectors.payload import skips_collected
from hsm_console.errors import ConfigurationError, NotPossible, PlatformError
from hsm_console.rules.domain import Action, PlatformState
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer
from hsm_sandbox.linkedin import ORGANIZATION, LinkedInSandbox, SandboxComment
from tests.conftest import RECENT_SEED
from tests.connectors.conftest import Make, all_comments, all_posts, by_id

SECRET = "AQVsecret-linkedin-member-token-0123456789"
HIDE_REFUSED = (
    "LinkedIn does not allow the City to hide a comment. "
    "Flag it and open the permalink; LinkedIn offers no hide."
)


@pytest.fixture
def linkedin(sandbox_server: SandboxServer) -> LinkedInSandbox:
    return cast(LinkedInSandbox, sandbox_server.state["linkedin"])


def busiest_post(linkedin: LinkedInSandbox) -> str:
    return max(linkedin.post_urns(), key=lambda urn: len(linkedin.comments(urn)))


def member_comment(linkedin: LinkedInSandbox) -> SandboxComment:
    return next(
        c
        for urn in linkedin.post_urns()
        for c in linkedin.comments(urn)
        if c.actor != ORGANIZATION and c.parent_urn is None
    )


# --- listing --------------------------------------------------------------------------


def test_lists_every_post_and_comment_once_with_replies_flattened(
    make: Make, linkedin: LinkedInSandbox
) -> None:
    connector = make(LinkedInConnector, page_size=2)  # small pages: many start offsets
    posts = all_posts(connector)
    assert [p.external_id for p in posts] == linkedin.post_urns()
    assert len(posts) == 3
    seen: list[str] = []
    for post in posts:
        expected = linkedin.comments(post.external_id)
        got = all_comments(connector, post.external_id)
        assert [c.external_id for c in got] == [c.urn for c in expected]
        assert [c.parent_external_id for c in got] == [c.parent_urn for c in expected]
        for comment, want in zip(got, expected, strict=True):
            assert comment.text == want.text
            assert comment.author_id == want.actor
            assert comment.post_external_id == post.external_id
            assert comment.state is PlatformState.VISIBLE
            assert comment.created_at.tzinfo is UTC
            if want.seed is not None:
                assert comment.created_at == want.seed.created_time
        seen.extend(c.external_id for c in got)
    # Every seeded comment and the page's own, each once.
    assert len(seen) == len(set(seen)) == len(RECENT_SEED.of("linkedin").comments) + 2
    replies = [urn for urn in seen if any(c.urn == urn and c.parent_urn for c in _all(linkedin))]
    assert len(replies) == sum(1 for c in _all(linkedin) if c.parent_urn) >= 8


def _all(linkedin: LinkedInSandbox) -> list[SandboxComment]:
    return [c for urn in linkedin.post_urns() for c in linkedin.comments(urn)]


def test_posts_have_text_time_and_permalink(make: Make) -> None:
    post = make(LinkedInConnector).list_posts().items[0]
    assert post.text
    assert post.created_at.tzinfo is UTC
    assert post.permalink == f"https://www.linkedin.com/feed/update/{post.external_id}/"
    assert post.raw["author"] == ORGANIZATION


def test_replies_carry_their_parent_and_a_permalink(make: Make, linkedin: LinkedInSandbox) -> None:
    post_urn = busiest_post(linkedin)
    got = all_comments(make(LinkedInConnector, page_size=3), post_urn)
    positions = {c.external_id: i for i, c in enumerate(got)}
    reply = next(c for c in got if c.parent_external_id)
    assert reply.parent_external_id is not None
    assert positions[reply.parent_external_id] < positions[reply.external_id]
    assert reply.raw["parentComment"] == reply.parent_external_id
    thread = reply.external_id.split("(")[1].split(",")[0]
    assert reply.permalink == (
        f"https://www.linkedin.com/feed/update/{thread}"
        f"?commentUrn={quote(reply.parent_external_id, safe='')}"
        f"&replyUrn={quote(reply.external_id, safe='')}"
    )
    first = got[0]
    assert first.parent_external_id is None
    assert first.permalink.endswith(f"?commentUrn={quote(first.external_id, safe='')}")


def test_the_pages_own_comments_are_named_as_the_page(
    make: Make, linkedin: LinkedInSandbox
) -> None:
    connector = make(LinkedInConnector)
    listed: dict[str, RemoteComment] = {}
    for post_urn in linkedin.post_urns():
        listed.update(by_id(all_comments(connector, post_urn)))
    own = linkedin.org_comment_urns()
    assert len(own) == 2
    for urn in own:
        assert (listed[urn].author_id, listed[urn].author_name) == (
            ORGANIZATION,
            "This page (the City)",
        )
    member = member_comment(linkedin)
    assert listed[member.urn].author_name == member.actor  # LinkedIn names no member


def test_urns_are_percent_encoded_and_headers_sent(
    sandbox_server: SandboxServer, make: Make, linkedin: LinkedInSandbox
) -> None:
    connector = make(LinkedInConnector, page_size=5)
    all_comments(connector, busiest_post(linkedin))
    own = linkedin.org_comment_urns()[0]
    assert connector.fetch_state(own) is PlatformState.VISIBLE
    connector.remove(own)
    seen = sandbox_server.requests_seen()
    assert seen
    for request in seen:
        tail = request.path.removeprefix("/linkedin/rest/")
        assert not set(tail) & set(":(),"), request.path
        assert request.headers["linkedin-version"] == "202606"
        assert request.headers["x-restli-protocol-version"] == "2.0.0"
        assert request.headers["authorization"] == f"Bearer {SANDBOX_TOKEN}"
    (delete,) = sandbox_server.requests_seen("DELETE")
    assert delete.query_string == f"actor={quote(ORGANIZATION, safe='')}"
    assert "urn%3Ali%3Aactivity%3A" in delete.path or "urn%3Ali%3AugcPost%3A" in delete.path


# --- moderation -----------------------------------------------------------------------


def test_hide_and_unhide_say_what_to_do_instead(make: Make, linkedin: LinkedInSandbox) -> None:
    connector = make(LinkedInConnector)
    urn = member_comment(linkedin).urn
    with pytest.raises(NotPossible) as caught:
        connector.apply(Action.HIDE, urn)
    assert str(caught.value) == HIDE_REFUSED
    with pytest.raises(NotPossible, match="LinkedIn does not allow the City to unhide"):
        connector.unhide(urn)
    caps = LinkedInConnector.capabilities
    assert not caps.allows(Action.HIDE)
    assert not caps.allows(Action.UNHIDE)
    assert caps.allows(Action.REMOVE)
    assert caps.allows(Action.FLAG)


def test_removing_the_pages_own_comment_works(make: Make, linkedin: LinkedInSandbox) -> None:
    connector = make(LinkedInConnector)
    own = linkedin.org_comment_urns()[0]
    post_urn = next(p for p in linkedin.post_urns() if own in by_id(all_comments(connector, p)))
    connector.apply(Action.REMOVE, own)
    assert linkedin.is_deleted(own)
    assert connector.fetch_state(own) is PlatformState.REMOVED
    assert own not in by_id(all_comments(connector, post_urn))
    with pytest.raises(PlatformError, match="no longer exists on LinkedIn") as caught:
        connector.remove(own)
    assert caught.value.gone


def test_removing_a_members_comment_is_refused_in_plain_words(
    sandbox_server: SandboxServer, make: Make, linkedin: LinkedInSandbox
) -> None:
    connector = make(LinkedInConnector)
    urn = member_comment(linkedin).urn
    with pytest.raises(LinkedInRefused) as caught:
        connector.apply(Action.REMOVE, urn)
    error = caught.value
    assert isinstance(error, PlatformError)
    assert isinstance(error, NotPossible)
    assert str(error) == MEMBER_COMMENT_REFUSED
    assert "the City can delete only its own comments" in str(error)
    assert not error.retryable
    assert not error.gone
    assert "ACCESS_DENIED" in error.details
    assert not linkedin.is_deleted(urn)
    assert connector.fetch_state(urn) is PlatformState.VISIBLE
    assert len(sandbox_server.requests_seen("DELETE")) == 1  # a refusal is not retried


def test_a_refused_delete_of_the_pages_own_comment_names_the_permission(
    sandbox_server: SandboxServer, make: Make, linkedin: LinkedInSandbox
) -> None:
    own = linkedin.org_comment_urns()[0]
    sandbox_server.faults.add("permission", method="DELETE")
    with pytest.raises(PlatformError) as caught:
        make(LinkedInConnector).remove(own)
    assert not isinstance(caught.value, LinkedInRefused)
    assert str(caught.value) == ACCESS_DENIED
    assert "w_organization_social_feed" in str(caught.value)
    assert not linkedin.is_deleted(own)


def test_comment_deleted_by_its_author(
    sandbox_server: SandboxServer, make: Make, linkedin: LinkedInSandbox
) -> None:
    connector = make(LinkedInConnector)
    post_urn = busiest_post(linkedin)
    parent = next(
        c
        for c in linkedin.comments(post_urn)
        if any(r.parent_urn == c.urn for r in linkedin.comments(post_urn))
    )
    reply = next(c for c in linkedin.comments(post_urn) if c.parent_urn == parent.urn)
    linkedin.delete_comment(parent.urn)
    assert connector.fetch_state(parent.urn) is PlatformState.REMOVED
    assert connector.fetch_state(reply.urn) is PlatformState.REMOVED  # replies go with it
    with pytest.raises(PlatformError, match="comment no longer exists on LinkedIn") as caught:
        connector.remove(parent.urn)
    assert caught.value.gone
    assert not caught.value.retryable
    assert len(sandbox_server.requests_seen("DELETE")) == 1
    listed = by_id(all_comments(connector, post_urn))
    assert parent.urn not in listed
    assert reply.urn not in listed


def test_an_id_that_is_not_a_comment_urn_is_refused_without_a_call(
    sandbox_server: SandboxServer, make: Make
) -> None:
    for bad in ("12345", "urn:li:comment:(../../x)", "urn:li:share:1"):
        with pytest.raises(PlatformError, match="not a LinkedIn comment id"):
            make(LinkedInConnector).remove(bad)
    assert sandbox_server.requests_seen() == []


# --- payloads -------------------------------------------------------------------------


@pytest.mark.expected_log("has no readable", "Skipped")
def test_malformed_comments_are_listed_with_raw_kept(
    make: Make, linkedin: LinkedInSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    post_urn = linkedin.post_urns()[-1]
    no_author = linkedin.add_comment(post_urn, "who wrote this?", omit=["actor", "created"])
    no_text = linkedin.add_comment(post_urn, "", omit=["message"])
    odd = linkedin.add_comment(
        post_urn,
        "x",
        extra={
            "message": 12345,
            "actor": ["not", "a", "string"],
            "created": {"time": "the day before yesterday", "actor": "urn:li:person:42"},
            "lastModified": "never",
            "commentsSummary": "lots",
            "content": {"url": "https://media.licdn.example/image.jpg"},
            "surprise": {"nested": [1, 2, None]},
        },
    )
    plain_message = linkedin.add_comment(post_urn, "x", extra={"message": "just a string"})
    no_urn = linkedin.add_comment(post_urn, "built from the id", omit=["commentUrn"])
    linkedin.add_comment(post_urn, "no id at all", extra={"id": None, "commentUrn": None})

    with caplog.at_level(logging.WARNING), skips_collected() as skipped:
        got = by_id(all_comments(make(LinkedInConnector, page_size=3), post_urn))

    # Without an id, an author, or both text and attachment: skipped, never placeholders.
    assert len(got) == len(linkedin.comments(post_urn)) - 3
    assert {no_author, no_text}.isdisjoint(got)
    assert sorted(s.why for s in skipped) == [
        "without an author",
        "without an id",
        "without text or an attachment",
    ]
    # An image alone (`content`, here with a mistyped message) is a real comment.
    assert (got[odd].text, got[odd].author_name) == ("12345", "urn:li:person:42")
    assert got[odd].created_at.tzinfo is UTC
    assert got[odd].updated_at is None
    assert got[odd].attachments == ("https://media.licdn.example/image.jpg",)
    assert got[odd].raw["surprise"] == {"nested": [1, 2, None]}
    assert got[odd].raw["message"] == 12345
    assert got[plain_message].text == "just a string"
    # Without commentUrn the connector builds one on the post, which LinkedIn accepts too.
    built = f"urn:li:comment:({post_urn},{no_urn.rsplit(',', 1)[1]}"
    assert got[built].text == "built from the id"
    assert make(LinkedInConnector).fetch_state(built) is PlatformState.VISIBLE


@pytest.mark.expected_log("not valid UTF-8")
def test_invalid_utf8_in_one_comment_spares_the_rest(make: Make, linkedin: LinkedInSandbox) -> None:
    post_urn = busiest_post(linkedin)
    broken = linkedin.add_comment(post_urn, "", text_bytes=b"caf\xe9 \xff\xfe ok")
    with skips_collected() as skipped:
        got = all_comments(make(LinkedInConnector, page_size=50), post_urn)
    texts = {c.external_id: c.text for c in got}
    assert broken not in texts  # never kept with repaired text
    assert [s.why for s in skipped] == ["with text that is not valid UTF-8"]
    for want in linkedin.comments(post_urn):
        if want.urn != broken:
            assert texts[want.urn] == want.text  # emoji and RTL marks still exact


@pytest.mark.parametrize("body", ['{"elements": [{"id": "1", "mess', "[1, 2]", "", "<html>"])
def test_unreadable_answer(sandbox_server: SandboxServer, make: Make, body: str) -> None:
    sandbox_server.faults.add("malformed", body=body)
    with pytest.raises(PlatformError, match="answered with something the console cannot read"):
        make(LinkedInConnector).list_posts()


def test_hostile_and_very_long_text_comes_back_exactly(
    make: Make, linkedin: LinkedInSandbox
) -> None:
    post_urn = busiest_post(linkedin)
    megabyte = '<script>alert(1)</script>\u202e=SUM(A1)\x00\x07\x1b[2J 🎉 "q" \\ ' * 20_000
    added = linkedin.add_comment(post_urn, megabyte)
    hostile = [(c.urn, c.seed) for c in _all(linkedin) if c.seed is not None and c.seed.tags]
    assert {t for _, seed in hostile for t in seed.tags} >= {"html", "script", "formula", "emoji"}
    connector = make(LinkedInConnector)
    got: dict[str, RemoteComment] = {}
    for urn in linkedin.post_urns():
        got.update(by_id(all_comments(connector, urn)))
    for urn, seed in hostile:
        assert got[urn].text.encode("utf-8") == seed.message.encode("utf-8")
    assert len(got[added].text.encode("utf-8")) > 1_000_000
    assert got[added].text == megabyte


def test_an_author_edit_shows_the_new_text_and_time(make: Make, linkedin: LinkedInSandbox) -> None:
    post_urn = busiest_post(linkedin)
    target = linkedin.comments(post_urn)[2]
    edited_at = datetime(2026, 3, 3, 9, 30, 15, 250_000, tzinfo=UTC)
    linkedin.edit_comment(target.urn, "Edited: never mind, found it.", edited_at)
    got = by_id(all_comments(make(LinkedInConnector), post_urn))
    assert got[target.urn].text == "Edited: never mind, found it."
    assert got[target.urn].updated_at == edited_at
    assert target.seed is not None
    assert got[target.urn].created_at == target.seed.created_time
    assert all(c.updated_at is None for urn, c in got.items() if urn != target.urn)


# --- errors ---------------------------------------------------------------------------


def test_revoked_token_says_renew(
    sandbox_server: SandboxServer,
    make: Make,
    linkedin: LinkedInSandbox,
) -> None:
    linkedin.set_token(SECRET)
    connector = make(LinkedInConnector, token=SECRET)
    assert connector.list_posts().items  # the token works until it is revoked
    sandbox_server.faults.add("revoked_token")
    with pytest.raises(PlatformError) as caught:
        connector.list_posts()
    error = caught.value
    assert "expired or was revoked" in str(error)
    assert "renew" in str(error)
    assert not error.retryable
    assert "REVOKED_ACCESS_TOKEN" in error.details


def test_wrong_token_is_explained(make: Make) -> None:
    with pytest.raises(PlatformError, match="expired or was revoked") as caught:
        make(LinkedInConnector, token=SECRET).list_posts()
    assert "INVALID_ACCESS_TOKEN" in caught.value.details
    assert SECRET not in str(caught.value) + caught.value.details


def test_missing_permission_names_the_products_scopes(
    sandbox_server: SandboxServer, make: Make, linkedin: LinkedInSandbox
) -> None:
    sandbox_server.faults.add("permission", method="GET")
    with pytest.raises(PlatformError) as caught:
        make(LinkedInConnector).list_comments(busiest_post(linkedin))
    assert str(caught.value) == ACCESS_DENIED
    assert "r_organization_social_feed" in str(caught.value)
    assert not caught.value.retryable


def test_a_sunset_api_version_is_explained(make: Make) -> None:
    with pytest.raises(PlatformError, match="newer LinkedIn API version") as caught:
        make(LinkedInConnector, api_version="202401").list_posts()
    assert "202401" in caught.value.details  # not scrubbed: versions are no secret


def test_daily_quota_waits_until_midnight_utc(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("rate_limit")
    before = datetime.now(UTC)
    with pytest.raises(PlatformError, match="daily limit") as caught:
        make(LinkedInConnector).list_posts()
    midnight = (before + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    expected = max(60.0, (midnight - before).total_seconds())
    assert caught.value.retryable
    assert caught.value.retry_after is not None
    assert abs(caught.value.retry_after - expected) < 5
    assert len(sandbox_server.requests_seen()) == 1  # a rate limit is not retried


def test_http_429_with_retry_after_is_honoured(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("too_many_requests", seconds=42)
    with pytest.raises(PlatformError, match="about 42 seconds") as caught:
        make(LinkedInConnector).list_posts()
    assert caught.value.retry_after == 42


def _fail_mid_listing(sandbox_server: SandboxServer, kind: str, path: str) -> dict[str, Any]:
    """Inject `kind` on `path` (a regex) for good, returning the connector settings to use."""
    if kind == "slow":
        sandbox_server.faults.add("slow", path=path, regex=True, times=None, seconds=5)
        return {"timeout": 0.3, "retries": 1}
    sandbox_server.faults.add(kind, path=path, regex=True, times=None)
    return {}


@pytest.mark.parametrize("kind", ["rate_limit", "too_many_requests", "server_error", "slow"])
@pytest.mark.parametrize("where", ["first-level", "replies"])
def test_failure_mid_listing_then_resume_skips_and_repeats_nothing(
    sandbox_server: SandboxServer,
    make: Make,
    linkedin: LinkedInSandbox,
    kind: str,
    where: str,
) -> None:
    post_urn = busiest_post(linkedin)
    expected = [c.urn for c in linkedin.comments(post_urn)]
    firsts = [c for c in linkedin.comments(post_urn) if c.parent_urn is None]
    # Page three (start=6) holds a comment with replies: fail its listing or its replies.
    with_replies = next(
        c.urn for c in firsts[6:9] if any(r.parent_urn == c.urn for r in _all(linkedin))
    )
    path = (
        (
            rf"{quote(post_urn, safe='')}/comments\?start=6&"
            if where == "first-level"
            else rf"{quote(with_replies, safe='')}/comments\?"
        )
        .replace("(", r"\(")
        .replace(")", r"\)")
    )
    collected: list[RemoteComment] = []
    connector = make(LinkedInConnector, page_size=3)
    cursor: str | None = None
    for _ in range(2):
        page = connector.list_comments(post_urn, cursor)
        collected.extend(page.items)
        cursor = page.next_cursor
    assert cursor == "6"

    settings = _fail_mid_listing(sandbox_server, kind, path)
    failing = make(LinkedInConnector, page_size=3, **settings)
    started = time.monotonic()
    with pytest.raises(PlatformError) as caught:
        failing.list_comments(post_urn, cursor)
    assert caught.value.retryable
    assert time.monotonic() - started < 3

    sandbox_server.faults.clear()
    collected.extend(all_comments(connector, post_urn, cursor))
    assert [c.external_id for c in collected] == expected


# --- configuration --------------------------------------------------------------------


def test_capabilities_describe_linkedin() -> None:
    caps = LinkedInConnector.capabilities
    assert caps.actions == frozenset({Action.REMOVE})
    assert caps.hide_means == "LinkedIn has no hide"
    assert caps.instead == "Flag it and open the permalink; LinkedIn offers no hide."
    assert not caps.removed_readable
    assert "midnight UTC" in caps.rate_limits


@pytest.mark.parametrize(
    ("external_id", "settings"),
    [
        ("1000001", {}),
        ("urn:li:person:abc", {}),
        (ORGANIZATION, {"api_version": "2026-06"}),
        (ORGANIZATION, {"api_version": "v2"}),
        (ORGANIZATION, {"page_size": 0}),
        (ORGANIZATION, {"page_size": 101}),
        (ORGANIZATION, {"page_size": "many"}),
        (ORGANIZATION, {"timeout": "soon"}),
    ],
)
def test_bad_settings_are_configuration_errors(
    external_id: str, settings: dict[str, object]
) -> None:
    with pytest.raises(ConfigurationError):
        LinkedInConnector(SiteConfig(external_id, "http://127.0.0.1:9", SANDBOX_TOKEN, settings))


def test_unreadable_cursor_is_explained(make: Make) -> None:
    with pytest.raises(PlatformError, match="sync again from the start"):
        make(LinkedInConnector).list_posts("abc")


# --- the sandbox itself ---------------------------------------------------------------


def test_sandbox_answers_like_linkedin(sandbox_server: SandboxServer) -> None:
    base = f"{sandbox_server.url}/linkedin/rest"
    headers = {
        "Authorization": f"Bearer {SANDBOX_TOKEN}",
        "LinkedIn-Version": "202606",
        "X-Restli-Protocol-Version": "2.0.0",
    }
    with requests.Session() as session:
        session.headers.update(headers)
        unencoded = session.get(f"{base}/socialActions/urn:li:share:1/comments")
        assert unencoded.status_code == 400
        assert unencoded.json()["code"] == "ILLEGAL_ARGUMENT"
        versionless = session.get(
            f"{base}/posts",
            params={"q": "author", "author": ORGANIZATION},
            headers={"LinkedIn-Version": ""},
        )
        assert versionless.json()["code"] == "VERSION_MISSING"
        posts = session.get(f"{base}/posts", params={"q": "author", "author": ORGANIZATION})
        assert posts.headers["Content-Type"] == "application/json"
        assert [link["rel"] for link in posts.json()["paging"]["links"]] == []
        post = quote(posts.json()["elements"][0]["id"], safe="")
        comments = session.get(f"{base}/socialActions/{post}/comments", params={"count": 2})
        assert comments.json()["paging"]["total"] > 2
        assert comments.json()["paging"]["links"][0]["rel"] == "next"
        first = comments.json()["elements"][0]
        no_actor = session.delete(f"{base}/socialActions/{post}/comments/{first['id']}")
        assert no_actor.status_code == 400
        stranger = session.get(f"{base}/posts", params={"q": "author", "author": "urn:li:x:1"})
        assert (stranger.status_code, stranger.json()["code"]) == (403, "ACCESS_DENIED")
