"""FacebookConnector against the running sandbox: real HTTP over loopback, no mocks."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from hsm_console.connectors.base import RemoteComment, SiteConfig
from hsm_console.connectors.facebook import FacebookConnector
from hsm_console.connectors.http import USER_AGENT, retry_after_seconds, wait_text
from hsm_console.connectors.payload import skips_collected
from hsm_console.errors import ConfigurationError, PlatformError
from hsm_console.rules.domain import Action, PlatformState
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer, seed
from tests.connectors.conftest import Make, all_comments, all_posts, by_id
from tests.sandbox_fixtures import PARKS, POLICE

SECRET = "EAAGsecret-page-token-0123456789"


def parks_post() -> seed.SeedPost:
    return next(p for p in seed.DEMO.posts if p.page_id == PARKS)


# --- listing --------------------------------------------------------------------------


def test_lists_every_post_and_comment_of_both_pages_once(make: Make) -> None:
    seen: list[str] = []
    for page_id in (PARKS, POLICE):
        connector = make(FacebookConnector, page_id, page_size=3)  # small pages: many cursors
        posts = all_posts(connector)
        assert [p.external_id for p in posts] == [
            p.id
            for p in sorted(
                (p for p in seed.DEMO.posts if p.page_id == page_id),
                key=lambda p: p.created_time,
                reverse=True,
            )
        ]
        for post in posts:
            comments = all_comments(connector, post.external_id)
            expected = seed.DEMO.comments_on(post.external_id)
            assert [c.external_id for c in comments] == [c.id for c in expected]
            for got, want in zip(comments, expected, strict=True):
                assert (
                    got.parent_external_id,
                    got.author_id,
                    got.author_name,
                    got.text,
                    got.created_at,
                    got.permalink,
                ) == (
                    want.parent_id,
                    want.author_id,
                    want.author_name,
                    want.message,
                    want.created_time,
                    want.permalink_url,
                )
                assert got.post_external_id == post.external_id
                assert got.state is PlatformState.VISIBLE
            seen.extend(c.external_id for c in comments)
    assert len(seen) == len(set(seen)) == len(seed.SEEDED_COMMENTS)


def test_posts_have_text_time_and_permalink(make: Make) -> None:
    post = make(FacebookConnector).list_posts().items[0]
    assert "https://www.highlandil.gov/" in post.text
    assert post.created_at.tzinfo is UTC
    assert post.permalink.startswith("https://www.facebook.com/")
    assert post.raw["id"] == post.external_id


def test_since_narrows_to_newer_comments(make: Make) -> None:
    connector = make(FacebookConnector, page_size=4)
    expected = seed.DEMO.comments_on(parks_post().id)
    since = expected[12].created_time
    got = all_comments(connector, parks_post().id, since=since)
    assert [c.external_id for c in got] == [c.id for c in expected if c.created_time >= since]


def test_attachments_and_times(make: Make) -> None:
    with_attachment = next(c for c in seed.SEEDED_COMMENTS if c.attachment)
    got = by_id(
        all_comments(make(FacebookConnector, with_attachment.page_id), with_attachment.post_id)
    )
    comment = got[with_attachment.id]
    assert with_attachment.attachment is not None
    assert comment.attachments == (
        with_attachment.attachment.url,
        with_attachment.attachment.image_src,
    )
    assert all(c.created_at.tzinfo is UTC for c in got.values())


def test_hostile_text_comes_back_byte_exact(sandbox_server: SandboxServer, make: Make) -> None:
    megabyte = "<script>alert(1)</script>\u202e=SUM(A1) 🎉 " * 26_000
    added = sandbox_server.state.facebook.add_comment(parks_post().id, megabyte)
    hostile = [c for c in seed.SEEDED_COMMENTS if c.tags]
    assert {t for c in hostile for t in c.tags} >= {
        "html",
        "script",
        "img-onerror",
        "rtl",
        "formula",
        "emoji",
        "long",
    }
    got: dict[str, RemoteComment] = {}
    for post_id in {c.post_id for c in hostile} | {parks_post().id}:
        page_id = post_id.split("_")[0]
        got.update(by_id(all_comments(make(FacebookConnector, page_id), post_id)))
    for comment in hostile:
        assert got[comment.id].text.encode("utf-8") == comment.message.encode("utf-8")
    assert len(got[added].text.encode("utf-8")) > 1_000_000
    assert got[added].text == megabyte


# --- moderation round trip ------------------------------------------------------------


def test_comment_deleted_by_its_author(sandbox_server: SandboxServer, make: Make) -> None:
    connector = make(FacebookConnector)
    comment_id = seed.DEMO.comments_on(parks_post().id)[0].id
    sandbox_server.state.facebook.delete_comment(comment_id)
    assert connector.fetch_state(comment_id) is PlatformState.REMOVED
    for action in (connector.hide, connector.unhide, connector.remove):
        with pytest.raises(PlatformError, match="comment no longer exists on Facebook") as caught:
            action(comment_id)
        assert caught.value.gone
        assert not caught.value.retryable
    assert len(sandbox_server.requests_seen("POST")) == 2  # a gone comment is not retried


def test_capabilities_describe_facebook() -> None:
    caps = FacebookConnector.capabilities
    assert all(caps.allows(a) for a in Action)
    assert "except the author and their friends" in caps.hide_means
    assert "permanently" in caps.remove_means
    assert not caps.removed_readable
    assert "4,800" in caps.rate_limits
    assert "BUC" in caps.rate_limits


# --- faults ---------------------------------------------------------------------------


def test_server_error_once_is_retried(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("server_error", method="GET", path="/comments")
    comments = make(FacebookConnector).list_comments(parks_post().id)
    assert comments.items
    assert len(sandbox_server.requests_seen("GET", "/comments")) == 2


def test_server_error_forever_is_retryable_error(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("server_error", times=None)
    with pytest.raises(PlatformError, match="temporary problem") as caught:
        make(FacebookConnector, retries=2).hide(seed.SEEDED_COMMENTS[0].id)
    assert caught.value.retryable
    assert len(sandbox_server.requests_seen("POST")) == 3  # the first try and two retries
    assert not sandbox_server.state.facebook.is_hidden(seed.SEEDED_COMMENTS[0].id)


def test_http_429_is_raised_with_retry_after_not_retried(
    sandbox_server: SandboxServer, make: Make
) -> None:
    sandbox_server.faults.add("too_many_requests", seconds=42, times=None)
    with pytest.raises(PlatformError, match="about 42 seconds") as caught:
        make(FacebookConnector).list_posts()
    assert caught.value.retryable
    assert caught.value.retry_after == 42
    assert len(sandbox_server.requests_seen()) == 1


@pytest.mark.parametrize(("code", "status"), [(80001, 400), (4, 403), (17, 400)])
def test_graph_rate_limit_waits_regain_access_minutes(
    sandbox_server: SandboxServer, make: Make, code: int, status: int
) -> None:
    sandbox_server.faults.add("rate_limit", code=code, status=status, seconds=15 * 60)
    with pytest.raises(PlatformError, match=r"limiting.*about 15 minutes") as caught:
        make(FacebookConnector).remove(seed.SEEDED_COMMENTS[0].id)
    assert caught.value.retryable
    assert caught.value.retry_after == 15 * 60
    assert len(sandbox_server.requests_seen()) == 1
    assert not sandbox_server.state.facebook.is_deleted(seed.SEEDED_COMMENTS[0].id)


def test_slow_answer_past_the_timeout(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("slow", seconds=5, times=None)
    started = time.monotonic()
    with pytest.raises(PlatformError, match=r"did not answer within 0\.3 seconds") as caught:
        make(FacebookConnector, timeout=0.3, retries=1).fetch_state(seed.SEEDED_COMMENTS[0].id)
    assert caught.value.retryable
    assert time.monotonic() - started < 2.5
    assert len(sandbox_server.requests_seen()) == 2


def test_slow_answer_once_then_retry_succeeds(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("slow", seconds=5)
    state = make(FacebookConnector, timeout=0.3, retries=1).fetch_state(seed.SEEDED_COMMENTS[0].id)
    assert state is PlatformState.VISIBLE


@pytest.mark.parametrize("body", ['{"data": [{"id": "1", "message": "cut', "[1, 2]", "", "<html>"])
def test_unreadable_answer(sandbox_server: SandboxServer, make: Make, body: str) -> None:
    sandbox_server.faults.add("malformed", body=body)
    with pytest.raises(
        PlatformError, match="answered with something the console cannot read"
    ) as caught:
        make(FacebookConnector).list_posts()
    assert body[:20] in caught.value.details


def test_revoked_token_says_renew(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.state.facebook.set_token(PARKS, SECRET)
    connector = make(FacebookConnector, token=SECRET)
    assert connector.list_posts().items  # the token works until it is revoked
    sandbox_server.faults.add("revoked_token")
    with pytest.raises(PlatformError) as caught:
        connector.list_posts()
    error = caught.value
    assert "expired or was revoked" in str(error)
    assert "renew" in str(error)
    assert not error.retryable
    for seen in sandbox_server.requests_seen():
        assert seen.headers["authorization"] == f"Bearer {SECRET}"


def test_wrong_token_is_explained(make: Make) -> None:
    with pytest.raises(PlatformError, match="expired or was revoked") as caught:
        make(FacebookConnector, token=SECRET).list_posts()
    assert SECRET not in str(caught.value) + caught.value.details


def test_permission_error_names_the_permission(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("permission", method="POST")
    with pytest.raises(PlatformError, match="pages_manage_engagement") as caught:
        make(FacebookConnector).hide(seed.SEEDED_COMMENTS[0].id)
    # Every permission the calls need, for the moderator and in the details for IT, so an
    # administrator grants them all at once.
    for permission in (
        "pages_read_engagement",
        "pages_read_user_content",
        "pages_manage_engagement",
    ):
        assert permission in caught.value.message
        assert permission in caught.value.details
    assert not caught.value.retryable
    assert not sandbox_server.state.facebook.is_hidden(seed.SEEDED_COMMENTS[0].id)


# --- malformed payloads ---------------------------------------------------------------


@pytest.mark.expected_log("has no readable", "Skipped")
def test_malformed_comments_are_listed_with_raw_kept(
    sandbox_server: SandboxServer, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    facebook = sandbox_server.state.facebook
    post_id = parks_post().id
    last = seed.DEMO.comments_on(post_id)[-1].created_time + timedelta(minutes=1)
    no_author = facebook.add_comment(post_id, "who wrote this?", omit=["from"], created_time=last)
    no_text = facebook.add_comment(post_id, "", omit=["message"], created_time=last)
    photo = facebook.add_comment(
        post_id,
        "",
        omit=["message"],
        created_time=last,
        extra={"attachment": {"type": "photo", "url": "https://example.invalid/p.jpg"}},
    )
    odd = facebook.add_comment(
        post_id,
        "x",
        created_time=last,
        extra={
            "message": 12345,
            "from": {"id": 42},
            "created_time": 1767225600,
            "is_hidden": "true",
            "parent": ["not", "an", "object"],
            "attachment": "nope",
            "surprise": {"nested": [1, 2, None]},
            "permalink_url": None,
        },
    )
    bad_time = facebook.add_comment(
        post_id, "when?", created_time=last, extra={"created_time": "the day before yesterday"}
    )
    facebook.add_comment(post_id, "no id", created_time=last, extra={"id": None})

    with caplog.at_level(logging.WARNING), skips_collected() as skipped:
        got = by_id(all_comments(make(FacebookConnector, page_size=5), post_id))

    # Without id, author, or both text and attachment: skipped and said, never placeholders.
    assert len(got) == len(seed.DEMO.comments_on(post_id)) + 3
    assert no_author not in got
    assert no_text not in got
    assert sorted(s.why.split(" (")[0] for s in skipped) == [
        "without an author",
        "without an id",
        "without text or an attachment",
    ]
    # A photo alone is a real comment: kept, with its empty text and its picture.
    assert (got[photo].text, got[photo].attachments) == ("", ("https://example.invalid/p.jpg",))
    assert (got[odd].text, got[odd].author_name, got[odd].author_id) == ("12345", "(unknown)", "42")
    assert got[odd].created_at.isoformat() == "2026-01-01T00:00:00+00:00"
    assert got[odd].state is PlatformState.HIDDEN
    assert (got[odd].parent_external_id, got[odd].attachments, got[odd].permalink) == (None, (), "")
    assert got[odd].raw["surprise"] == {"nested": [1, 2, None]}
    assert got[odd].raw["message"] == 12345
    assert got[bad_time].created_at.tzinfo is UTC
    assert got[bad_time].raw["created_time"] == "the day before yesterday"


# --- configuration and requests -------------------------------------------------------


def test_settings_choose_version_and_requests_carry_agent(
    sandbox_server: SandboxServer, make: Make
) -> None:
    make(FacebookConnector, api_version="v26.0").list_posts()
    (seen,) = sandbox_server.requests_seen()
    assert seen.path == f"/v26.0/{PARKS}/published_posts"
    assert seen.headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("HSM-Console/")
    assert "access_token" not in seen.query_string


@pytest.mark.parametrize(
    "settings",
    [
        {"api_version": "25"},
        {"api_version": "v25.0/../me"},
        {"timeout": "soon"},
        {"timeout": 0},
        {"retries": -1},
        {"page_size": 0},
        {"page_size": "many"},
    ],
)
def test_bad_settings_are_configuration_errors(settings: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        FacebookConnector(SiteConfig(PARKS, "http://127.0.0.1:9", SANDBOX_TOKEN, settings))


def test_ids_cannot_change_the_path(sandbox_server: SandboxServer, make: Make) -> None:
    assert make(FacebookConnector).fetch_state("../1000000000001") is PlatformState.REMOVED
    (seen,) = sandbox_server.requests_seen()
    assert seen.path == "/v25.0/..%2F1000000000001"


def test_retry_after_in_seconds_or_as_a_date() -> None:
    response = requests.Response()
    assert retry_after_seconds(response) is None
    response.headers["Retry-After"] = "120"
    assert retry_after_seconds(response) == 120
    response.headers["Retry-After"] = format_datetime(
        datetime.now(UTC) + timedelta(minutes=5), usegmt=True
    )
    assert 290 <= (retry_after_seconds(response) or 0) <= 300
    response.headers["Retry-After"] = "soon"
    assert retry_after_seconds(response) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.2, "about 1 second"),
        (42, "about 42 seconds"),
        (60, "about 1 minute"),
        (61, "about 2 minutes"),
        (3600, "about 1 hour"),
        (3 * 3600 + 300, "about 3 hours 5 minutes"),
    ],
)
def test_waits_are_said_as_a_person_would(seconds: float, text: str) -> None:
    assert wait_text(seconds) == text
