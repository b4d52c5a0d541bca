"""DiscourseConnector against the Discourse sandbox: real HTTP over loopback, no mocks."""

from __future__ import annotations

import json
import logging
import math
import time
from datetime import UTC, datetime
from typing import Any, cast

import pytest
import requests

from hsm_console.connectors.base import RemoteComment, RemotePost, SiteConfig
from hsm_console.connectors.discourse import DiscourseConnector, discourse_error
from hsm_console.connectors.payload import skips_collected
from hsm_console.errors import ConfigurationError, NotPossible, PlatformError
from hsm_console.rules.domain import Action, PlatformState
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer
from hsm_sandbox.discourse import DiscourseSandbox
from tests.conftest import RECENT_SEED
from tests.connectors.conftest import Make, all_comments, all_posts, by_id

SECRET = "d1sc0urse-secret-api-key-0123456789abcdef"
CATEGORY = "city-services/5"


@pytest.fixture
def forum(sandbox_server: SandboxServer) -> DiscourseSandbox:
    forum = cast(DiscourseSandbox, sandbox_server.state["discourse"])
    forum.chunk_size = 4  # Discourse answers 20 posts at a time; small topics need less
    return forum


def biggest_topic(forum: DiscourseSandbox) -> str:
    return max(forum.topic_ids(), key=lambda t: len(forum.posts(t)))


def listed(connector: DiscourseConnector, topic_id: str) -> dict[str, RemoteComment]:
    all_posts(connector)  # as a sync does: the topic list first
    return by_id(all_comments(connector, topic_id))


# --- listing --------------------------------------------------------------------------


def test_lists_every_topic_and_post_once(make: Make, forum: DiscourseSandbox) -> None:
    connector = make(DiscourseConnector, page_size=1)  # one topic per page
    topics = all_posts(connector)
    assert [t.external_id for t in topics] == forum.topic_ids()
    assert len(topics) == 3
    seen: list[str] = []
    for topic in topics:
        expected = forum.posts(topic.external_id)
        got = all_comments(connector, topic.external_id)
        assert [c.external_id for c in got] == [p.id for p in expected]
        assert [c.parent_external_id for c in got] == [p.parent_id for p in expected]
        assert [c.text for c in got] == [p.raw for p in expected]
        for comment, want in zip(got, expected, strict=True):
            assert comment.post_external_id == topic.external_id
            assert comment.state is PlatformState.VISIBLE
            assert comment.permalink.endswith(f"/{topic.external_id}/{want.number}")
            if want.seed is not None:
                assert comment.created_at == want.seed.created_time
                assert comment.author_name == want.seed.author_name
        seen.extend(c.external_id for c in got)
    # Every seeded comment and the City's answer, each once.
    assert len(seen) == len(set(seen)) == len(RECENT_SEED.of("discourse").comments) + 1
    assert sum(1 for t in topics for p in forum.posts(t.external_id) if p.parent_id) >= 8


def test_topics_are_the_citys_posts(make: Make, forum: DiscourseSandbox) -> None:
    for category in ("city-services", "5", CATEGORY):
        topics = all_posts(make(DiscourseConnector, category))
        assert [t.external_id for t in topics] == forum.topic_ids()
    topic = topics[0]
    assert topic.text == topic.raw["title"]
    assert topic.created_at.tzinfo is UTC
    assert topic.permalink.endswith(f"/discourse/t/{topic.raw['slug']}/{topic.external_id}")


def test_post_one_and_small_actions_are_not_comments(make: Make, forum: DiscourseSandbox) -> None:
    topic = biggest_topic(forum)
    note = forum.add_comment(topic, "closed the topic", extra={"post_type": 3})
    got = listed(make(DiscourseConnector), topic)
    numbers = {c.raw["post_number"] for c in got.values()}
    assert 1 not in numbers
    assert note not in got


def test_listing_stops_at_the_topics_highest_post_number(
    sandbox_server: SandboxServer, make: Make, forum: DiscourseSandbox
) -> None:
    connector = make(DiscourseConnector)
    topic = biggest_topic(forum)
    all_posts(connector)
    all_comments(connector, topic)
    pages = len(sandbox_server.requests_seen("GET", f"/t/{topic}/posts.json"))
    assert pages == math.ceil(len(forum.posts(topic)) / forum.chunk_size)  # no empty last call


def test_parents_resolve_when_resuming_on_a_later_page(
    sandbox_server: SandboxServer, make: Make, forum: DiscourseSandbox
) -> None:
    topic = biggest_topic(forum)
    expected = forum.posts(topic)
    late = next(
        p
        for p in expected
        if p.parent_id and next(q.number for q in expected if q.id == p.parent_id) < p.number - 4
    )
    cursor = str(late.number - 1)
    fresh = make(DiscourseConnector)  # knows nothing of earlier pages or the topic list
    got = all_comments(fresh, topic, cursor)
    assert [c.external_id for c in got] == [p.id for p in expected if p.number > late.number - 1]
    assert [c.parent_external_id for c in got] == [
        p.parent_id for p in expected if p.number > late.number - 1
    ]
    assert sandbox_server.requests_seen("GET", "/posts/by_number/")


# --- moderation -----------------------------------------------------------------------


def test_hide_unhide_remove_recover_round_trip(make: Make, forum: DiscourseSandbox) -> None:
    connector = make(DiscourseConnector)
    topic = biggest_topic(forum)
    post_id = forum.posts(topic)[3].id
    assert connector.fetch_state(post_id) is PlatformState.VISIBLE

    connector.apply(Action.HIDE, post_id)
    assert forum.is_hidden(post_id)
    assert forum.flags(post_id) == [("system", 4)]  # "inappropriate", by default
    assert connector.fetch_state(post_id) is PlatformState.HIDDEN
    assert listed(connector, topic)[post_id].state is PlatformState.HIDDEN

    connector.apply(Action.UNHIDE, post_id)
    assert not forum.is_hidden(post_id)
    assert connector.fetch_state(post_id) is PlatformState.VISIBLE

    connector.apply(Action.REMOVE, post_id)
    assert forum.is_deleted(post_id)
    assert connector.fetch_state(post_id) is PlatformState.REMOVED
    removed = listed(connector, topic)[post_id]  # staff still read it: a soft delete
    assert removed.state is PlatformState.REMOVED
    assert removed.text == forum.posts(topic, deleted=True)[3].raw

    connector.recover(post_id)
    assert not forum.is_deleted(post_id)
    assert connector.fetch_state(post_id) is PlatformState.VISIBLE
    with pytest.raises(NotPossible, match="not deleted on Discourse"):
        connector.recover(post_id)


def test_the_hide_flag_type_is_a_setting(make: Make, forum: DiscourseSandbox) -> None:
    post_id = forum.posts(biggest_topic(forum))[0].id
    make(DiscourseConnector, hide_flag="spam").hide(post_id)
    assert forum.flags(post_id) == [("system", 8)]


def test_post_deleted_by_its_author(
    sandbox_server: SandboxServer, make: Make, forum: DiscourseSandbox
) -> None:
    connector = make(DiscourseConnector)
    post_id = forum.posts(biggest_topic(forum))[1].id
    forum.delete_comment(post_id)
    assert connector.fetch_state(post_id) is PlatformState.REMOVED
    for action in (connector.hide, connector.unhide, connector.remove):
        with pytest.raises(PlatformError, match="no longer exists on Discourse") as caught:
            action(post_id)
        assert caught.value.gone
        assert not caught.value.retryable
    assert len(sandbox_server.requests_seen("PUT")) == 1  # a gone post is not retried
    forum.purge_comment(post_id)
    assert connector.fetch_state(post_id) is PlatformState.REMOVED  # now a 404


def test_a_key_of_a_user_who_is_not_staff(make: Make, forum: DiscourseSandbox) -> None:
    connector = make(DiscourseConnector, api_username="resident_reader")
    post_id = forum.posts(biggest_topic(forum))[0].id
    with pytest.raises(PlatformError, match="did not hide the post") as caught:
        connector.hide(post_id)
    assert "review queue" in str(caught.value)
    assert not forum.is_hidden(post_id)
    with pytest.raises(PlatformError, match="may not moderate this category"):
        connector.remove(post_id)
    assert not forum.is_deleted(post_id)


def test_ids_cannot_change_the_path(sandbox_server: SandboxServer, make: Make) -> None:
    for bad in ("../1", "4001/recover", "-1", ""):
        with pytest.raises(PlatformError, match="not a Discourse post id"):
            make(DiscourseConnector).remove(bad)
    assert sandbox_server.requests_seen() == []


# --- payloads -------------------------------------------------------------------------


@pytest.mark.expected_log("has no readable", "Skipped")
def test_malformed_posts_are_listed_with_raw_kept(
    make: Make, forum: DiscourseSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    topic = biggest_topic(forum)
    no_author = forum.add_comment(
        topic, "who wrote this?", omit=["username", "name", "user_id", "created_at"]
    )
    no_raw = forum.add_comment(topic, "<b>bold</b> & <script>x()</script>\nline", omit=["raw"])
    no_text = forum.add_comment(topic, "gone", omit=["raw", "cooked"])
    odd = forum.add_comment(
        topic,
        "x",
        extra={
            "raw": 12345,
            "cooked": ["not", "html"],
            "name": {"first": "x"},
            "user_id": "not a number",
            "reply_to_post_number": "abc",
            "hidden": "yes",
            "version": "two",
            "updated_at": 17,
            "surprise": {"nested": [1, 2, None]},
        },
    )
    no_number = forum.add_comment(topic, "where am I?", omit=["post_number"])
    forum.add_comment(topic, "no id", extra={"id": None})

    with caplog.at_level(logging.WARNING), skips_collected() as skipped:
        got = listed(make(DiscourseConnector), topic)

    # No id, no author, no text at all: skipped and said, never kept as placeholders.
    assert len(got) == len(forum.posts(topic)) - 3
    assert no_author not in got
    assert no_text not in got
    assert sorted(s.why for s in skipped) == ["without an author", "without an id", "without text"]
    assert f"a Discourse post in topic {topic} ({no_text}) came without text" in map(str, skipped)
    # Without raw, the cooked HTML read as text gives the author's words back.
    assert got[no_raw].text == "<b>bold</b> & <script>x()</script>\nline"
    assert (got[odd].text, got[odd].author_name) == ("12345", "sandbox_tester")
    assert got[odd].author_id == "sandbox_tester"
    assert (got[odd].parent_external_id, got[odd].state, got[odd].updated_at) == (
        None,
        PlatformState.VISIBLE,
        None,
    )
    assert got[odd].raw["surprise"] == {"nested": [1, 2, None]}
    assert got[odd].raw["raw"] == 12345
    assert got[no_number].permalink.endswith(f"/p/{no_number}")


def test_attachments_are_absolute_urls(
    sandbox_server: SandboxServer, make: Make, forum: DiscourseSandbox
) -> None:
    photo = next(
        (t, p) for t in forum.topic_ids() for p in forum.posts(t) if p.seed and p.seed.attachment
    )
    got = listed(make(DiscourseConnector), photo[0])[photo[1].id]
    (url,) = got.attachments
    assert url.startswith(f"{sandbox_server.url}/discourse/uploads/default/original/")


@pytest.mark.expected_log("not valid UTF-8")
def test_invalid_utf8_in_one_post_spares_the_rest(make: Make, forum: DiscourseSandbox) -> None:
    topic = biggest_topic(forum)
    broken = forum.add_comment(topic, "", raw_bytes=b"caf\xe9 \xff\xfe ok")
    with skips_collected() as skipped:
        got = listed(make(DiscourseConnector), topic)
    assert broken not in got  # never kept with repaired text
    assert [str(s) for s in skipped] == [
        f"a Discourse post in topic {topic} ({broken}) came with text that is not valid UTF-8"
    ]
    for want in forum.posts(topic):
        if want.id != broken:
            assert got[want.id].text == want.raw


@pytest.mark.parametrize("body", ['{"post_stream": {"posts": [{"id": 1, "raw": "cut', "[]", ""])
def test_unreadable_answer(
    sandbox_server: SandboxServer,
    make: Make,
    forum: DiscourseSandbox,
    body: str,
) -> None:
    sandbox_server.faults.add("malformed", body=body)
    with pytest.raises(PlatformError, match="answered with something the console cannot read"):
        make(DiscourseConnector).list_comments(biggest_topic(forum))


def test_hostile_and_very_long_text_comes_back_exactly(make: Make, forum: DiscourseSandbox) -> None:
    topic = biggest_topic(forum)
    megabyte = '<script>alert(1)</script>\u202e=SUM(A1)\x00\x07\x1b[2J 🎉 "q" \\ ' * 20_000
    added = forum.add_comment(topic, megabyte)
    connector = make(DiscourseConnector)
    all_posts(connector)
    got: dict[str, RemoteComment] = {}
    for topic_id in forum.topic_ids():
        got.update(by_id(all_comments(connector, topic_id)))
    hostile = [p for t in forum.topic_ids() for p in forum.posts(t) if p.seed and p.seed.tags]
    assert {tag for p in hostile if p.seed for tag in p.seed.tags} >= {
        "img-onerror",
        "rtl",
        "long",
        "emoji",
        "formula",
    }
    for post in hostile:
        assert post.seed is not None
        assert got[post.id].text.encode("utf-8") == post.seed.message.encode("utf-8")
    assert len(got[added].text.encode("utf-8")) > 1_000_000
    assert got[added].text == megabyte


def test_an_author_edit_shows_the_new_text_and_time(make: Make, forum: DiscourseSandbox) -> None:
    topic = biggest_topic(forum)
    target = forum.posts(topic)[2]
    edited_at = datetime(2026, 3, 3, 9, 30, 15, tzinfo=UTC)
    forum.edit_comment(target.id, "Edited: never mind, found it.", edited_at)
    got = listed(make(DiscourseConnector), topic)
    assert got[target.id].text == "Edited: never mind, found it."
    assert got[target.id].updated_at == edited_at
    assert got[target.id].raw["version"] == 2
    assert all(c.updated_at is None for post_id, c in got.items() if post_id != target.id)


# --- errors ---------------------------------------------------------------------------


def test_revoked_key_says_renew(
    sandbox_server: SandboxServer,
    make: Make,
    forum: DiscourseSandbox,
) -> None:
    forum.set_token(SECRET)
    connector = make(DiscourseConnector, token=SECRET)
    assert connector.list_posts().items  # the key works until it is revoked
    sandbox_server.faults.add("revoked_token")
    with pytest.raises(PlatformError) as caught:
        connector.list_posts()
    error = caught.value
    assert "not valid any more" in str(error)
    assert "renew" in str(error)
    assert not error.retryable
    assert "key is invalid" in error.details
    for seen in sandbox_server.requests_seen():
        assert seen.headers["api-key"] == SECRET
        assert seen.headers["api-username"] == "system"


def test_wrong_key_or_unknown_user_is_explained(make: Make) -> None:
    for connector in (
        make(DiscourseConnector, token=SECRET),
        make(DiscourseConnector, api_username="nobody"),
    ):
        with pytest.raises(PlatformError, match="not valid any more") as caught:
            connector.list_posts()
        assert SECRET not in str(caught.value) + caught.value.details


def test_missing_permission_is_explained(
    sandbox_server: SandboxServer, make: Make, forum: DiscourseSandbox
) -> None:
    sandbox_server.faults.add("permission", method="DELETE")
    post_id = forum.posts(biggest_topic(forum))[0].id
    with pytest.raises(PlatformError, match="may not moderate this category") as caught:
        make(DiscourseConnector).remove(post_id)
    assert not caught.value.retryable
    assert not forum.is_deleted(post_id)


def test_rate_limit_waits_as_long_as_discourse_asks(
    sandbox_server: SandboxServer, make: Make, forum: DiscourseSandbox
) -> None:
    sandbox_server.faults.add("rate_limit", seconds=39)
    with pytest.raises(PlatformError, match="about 39 seconds") as caught:
        make(DiscourseConnector).hide(forum.posts(biggest_topic(forum))[0].id)
    assert caught.value.retryable
    assert caught.value.retry_after == 39
    assert len(sandbox_server.requests_seen()) == 1  # a rate limit is not retried


def test_rate_limit_without_retry_after_reads_wait_seconds() -> None:
    response = requests.Response()
    response.status_code = 429
    response._content = json.dumps(
        {"errors": ["Slow down."], "error_type": "rate_limit", "extras": {"wait_seconds": 17}}
    ).encode()
    error = discourse_error(response)
    assert (error.retryable, error.retry_after) == (True, 17)


def test_422_says_what_discourse_said(
    sandbox_server: SandboxServer, make: Make, forum: DiscourseSandbox
) -> None:
    body = {"errors": ["Body is too similar to what you recently posted"], "action": "x"}
    sandbox_server.faults.add("malformed", status=422, body=json.dumps(body))
    with pytest.raises(PlatformError) as caught:
        make(DiscourseConnector).hide(forum.posts(biggest_topic(forum))[0].id)
    assert str(caught.value) == (
        "Discourse refused the request: Body is too similar to what you recently posted"
    )
    assert not caught.value.retryable


def _fail(sandbox_server: SandboxServer, kind: str, path: str) -> dict[str, Any]:
    """Inject `kind` on `path` for good, returning the connector settings to use."""
    if kind == "slow":
        sandbox_server.faults.add("slow", path=path, times=None, seconds=5)
        return {"timeout": 0.3, "retries": 1}
    sandbox_server.faults.add(kind, path=path, times=None)
    return {}


KINDS = ["rate_limit", "too_many_requests", "server_error", "slow"]


@pytest.mark.parametrize("kind", KINDS)
def test_failure_mid_topic_then_resume_skips_and_repeats_nothing(
    sandbox_server: SandboxServer, make: Make, forum: DiscourseSandbox, kind: str
) -> None:
    topic = biggest_topic(forum)
    expected = [p.id for p in forum.posts(topic)]
    connector = make(DiscourseConnector)
    all_posts(connector)
    collected: list[RemoteComment] = []
    cursor: str | None = None
    for _ in range(2):
        page = connector.list_comments(topic, cursor)
        collected.extend(page.items)
        cursor = page.next_cursor
    assert cursor is not None

    settings = _fail(sandbox_server, kind, f"/t/{topic}/posts.json?post_number={cursor}&")
    started = time.monotonic()
    with pytest.raises(PlatformError) as caught:
        make(DiscourseConnector, **settings).list_comments(topic, cursor)
    assert caught.value.retryable
    assert time.monotonic() - started < 3

    sandbox_server.faults.clear()
    collected.extend(all_comments(connector, topic, cursor))
    assert [c.external_id for c in collected] == expected


@pytest.mark.parametrize("kind", KINDS)
def test_failure_mid_topic_list_then_resume(
    sandbox_server: SandboxServer, make: Make, forum: DiscourseSandbox, kind: str
) -> None:
    connector = make(DiscourseConnector, page_size=1)
    first = connector.list_posts()
    assert first.next_cursor == "1"
    settings = _fail(sandbox_server, kind, "page=1&")
    with pytest.raises(PlatformError) as caught:
        make(DiscourseConnector, page_size=1, **settings).list_posts(first.next_cursor)
    assert caught.value.retryable
    sandbox_server.faults.clear()
    rest: list[RemotePost] = []
    cursor: str | None = first.next_cursor
    while cursor is not None:
        page = connector.list_posts(cursor)
        rest.extend(page.items)
        cursor = page.next_cursor
    assert [t.external_id for t in first.items + rest] == forum.topic_ids()


# --- configuration --------------------------------------------------------------------


def test_capabilities_describe_discourse() -> None:
    caps = DiscourseConnector.capabilities
    assert caps.actions == frozenset({Action.HIDE, Action.UNHIDE, Action.REMOVE})
    assert caps.hide_means.startswith("Hidden by a staff flag: collapsed for readers")
    # What else a staff flag does, by Discourse's own behaviour: the author hears of it, and
    # a topic with every post hidden is unlisted.
    assert "sends the author a system message" in caps.hide_means
    assert "unlists a topic once all its posts are hidden" in caps.hide_means
    assert caps.remove_means == "deleted (soft): staff can still see and recover it"
    assert caps.removed_readable
    assert "60 admin API requests per minute" in caps.rate_limits


@pytest.mark.parametrize(
    ("category", "settings"),
    [
        ("city services", {}),
        ("../admin", {}),
        ("a/b/c", {}),
        (CATEGORY, {"hide_flag": "notify_moderators"}),
        (CATEGORY, {"api_username": " "}),
        (CATEGORY, {"page_size": 0}),
        (CATEGORY, {"retries": -1}),
    ],
)
def test_bad_settings_are_configuration_errors(category: str, settings: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        DiscourseConnector(SiteConfig(category, "http://127.0.0.1:9", SANDBOX_TOKEN, settings))


def test_unknown_category_is_explained(make: Make) -> None:
    with pytest.raises(PlatformError, match="category was not found"):
        make(DiscourseConnector, "parks/9").list_posts()


# --- the sandbox itself ---------------------------------------------------------------


def test_sandbox_answers_like_discourse(
    sandbox_server: SandboxServer, forum: DiscourseSandbox
) -> None:
    base = f"{sandbox_server.url}/discourse"
    post_id = forum.posts(biggest_topic(forum))[0].id
    with requests.Session() as session:
        session.headers.update({"Api-Key": SANDBOX_TOKEN, "Api-Username": "system"})
        sandbox_server.faults.add("rate_limit", seconds=12)
        limited = session.get(f"{base}/posts/{post_id}.json")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "12"
        assert limited.json()["error_type"] == "rate_limit"
        assert limited.json()["extras"]["wait_seconds"] == 12
        deleted = session.delete(f"{base}/posts/{post_id}")
        assert (deleted.status_code, deleted.content) == (200, b"")
        shown = session.get(f"{base}/posts/{post_id}.json").json()
        assert shown["deleted_at"]
        assert shown["can_recover"]
        reader = session.get(
            f"{base}/posts/{post_id}.json", headers={"Api-Username": "resident_reader"}
        )
        assert (reader.status_code, reader.json()["error_type"]) == (404, "not_found")
        missing = session.post(f"{base}/post_actions", data={"post_action_type_id": "4"})
        assert missing.status_code == 400
        topics = session.get(f"{base}/c/{CATEGORY}.json", params={"per_page": 2}).json()
        assert topics["topic_list"]["more_topics_url"].endswith("page=1")
        stream = session.get(f"{base}/t/{biggest_topic(forum)}/posts.json").json()
        assert stream["post_stream"]["posts"][0]["post_number"] == 1
        assert "raw" not in stream["post_stream"]["posts"][0]  # only with include_raw
