"""XConnector and the X sandbox: real HTTP over loopback, no mocks."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from hsm_console.connectors.base import RemoteComment, SiteConfig
from hsm_console.connectors.payload import skips_collected
from hsm_console.connectors.x import XConnector
from hsm_console.errors import ConfigurationError, NotPossible, PlatformError
from hsm_console.rules.domain import Action, PlatformState
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer, seed
from hsm_sandbox.x import API, CITY_USER_ID, CITY_USERNAME, XReply, XSandbox
from tests.connectors.conftest import FAST, Make, all_comments, all_posts, by_id

SECRET = "x-user-token-secret-0123456789"


@pytest.fixture
def x(sandbox_server: SandboxServer) -> XSandbox:
    sandbox = sandbox_server.state["x"]
    assert isinstance(sandbox, XSandbox)
    return sandbox


def busiest_post(x: XSandbox) -> str:
    return max(x.posts, key=lambda p: len(x.replies(p.id))).id


def resident_reply(x: XSandbox) -> XReply:
    return next(r for r in x.replies(busiest_post(x)) if r.author_id != CITY_USER_ID)


def live_ids(x: XSandbox, post_id: str) -> set[str]:
    return {r.id for r in x.replies(post_id) if not r.deleted}


# --- sandbox and registry -------------------------------------------------------------


def test_sandbox_seed(x: XSandbox) -> None:
    replies = x.replies()
    assert len(x.posts) == 4  # every post of X's own seed
    assert 30 <= len(replies) <= 50
    assert {t for r in replies for t in r.tags} >= {"html", "script", "rtl", "long", "emoji"}
    assert sum(1 for r in replies if r.expected_code) >= 10
    assert sum(1 for r in replies if r.author_id == CITY_USER_ID) == 2
    posts = {p.id for p in x.posts}
    assert sum(1 for r in replies if r.parent_id not in posts) >= 5  # replies to replies
    own = seed.DEMO.of("x")
    assert [p.text for p in reversed(x.posts)] == [p.message for p in own.posts]
    # Every reply of its own seed, once, besides the City's; none of Facebook's texts.
    residents = [r.text for r in replies if r.author_id != CITY_USER_ID]
    assert sorted(residents) == sorted(c.message for c in own.comments)
    assert not {r.text for r in replies} & {c.message for c in seed.DEMO.comments}


def test_sandbox_speaks_x(
    sandbox_server: SandboxServer, x: XSandbox, api: requests.Session
) -> None:
    url = sandbox_server.url + API
    post = busiest_post(x)
    search = api.get(
        f"{url}/tweets/search/recent",
        params={"query": f"conversation_id:{post}", "max_results": 10},
    )
    body = search.json()
    assert len(body["data"]) == 10
    assert set(body["data"][0]) == {"id", "text", "edit_history_tweet_ids"}  # default fields
    assert body["meta"]["result_count"] == 10
    assert body["meta"]["next_token"]
    limit = int(search.headers["x-rate-limit-limit"])
    assert int(search.headers["x-rate-limit-remaining"]) == limit - 1
    assert int(search.headers["x-rate-limit-reset"]) > time.time()

    bad = api.get(f"{url}/tweets/search/recent", params={"query": "from:someone"})
    assert bad.status_code == 400
    assert bad.json()["type"].endswith("/invalid-request")
    too_old = api.get(
        f"{url}/tweets/search/recent",
        params={"query": f"conversation_id:{post}", "start_time": "2020-01-01T00:00:00Z"},
    )
    assert too_old.status_code == 400
    gone = api.get(f"{url}/tweets/1")
    assert gone.status_code == 200
    assert gone.json()["errors"][0]["title"] == "Not Found Error"
    bad_body = api.put(f"{url}/tweets/{resident_reply(x).id}/hidden", data="hidden=true")
    assert bad_body.status_code == 400
    with requests.Session() as anonymous:
        unauthorized = anonymous.get(f"{url}/tweets/{post}")
    assert unauthorized.status_code == 401
    assert unauthorized.json()["title"] == "Unauthorized"
    for answer in (bad, too_old, gone, bad_body, unauthorized):
        assert {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} <= set(
            answer.headers
        )


# --- listing --------------------------------------------------------------------------


def test_lists_the_citys_posts_newest_first(x: XSandbox, make: Make) -> None:
    posts = all_posts(make(XConnector, page_size=10))
    assert [p.external_id for p in posts] == [p.id for p in x.posts]  # no City replies
    for post, want in zip(posts, x.posts, strict=True):
        assert post.text == want.text
        assert post.created_at == want.created_at
        assert post.permalink == f"https://x.com/{CITY_USERNAME}/status/{want.id}"


def test_lists_every_reply_once_with_authors_and_parents(x: XSandbox, make: Make) -> None:
    connector = make(XConnector, page_size=10)  # several next_tokens per conversation
    seen: list[str] = []
    for post in x.posts:
        replies = all_comments(connector, post.id)
        seen.extend(r.external_id for r in replies)
        expected = {r.id: r for r in x.replies(post.id)}
        assert set(by_id(replies)) == set(expected)
        for got in replies:
            want = expected[got.external_id]
            user = x.user(want.author_id)
            assert got.text == want.text
            assert got.created_at == want.created_at
            assert got.author_id == want.author_id
            assert got.author_name == f"{user.name} (@{user.username})"
            assert got.parent_external_id == (None if want.parent_id == post.id else want.parent_id)
            assert got.permalink == f"https://x.com/{user.username}/status/{want.id}"
            assert got.state is PlatformState.UNKNOWN  # X has no hidden flag
            assert got.post_external_id == post.id
            assert got.raw["includes"]["users"][0]["username"] == user.username
    assert len(seen) == len(set(seen)) == len(x.replies())


def test_the_citys_own_replies_are_kept_and_recognisable(x: XSandbox, make: Make) -> None:
    connector = make(XConnector)
    own = [r for r in x.replies() if r.author_id == CITY_USER_ID]
    for reply in own:
        got = by_id(all_comments(connector, reply.conversation_id))[reply.id]
        assert got.author_id == connector.site.external_id
        assert got.author_name == f"Highland Parks & Recreation (@{CITY_USERNAME})"
        assert got.parent_external_id == reply.parent_id  # an answer to a resident's question


def test_since_becomes_start_time_inside_the_seven_days(
    sandbox_server: SandboxServer, x: XSandbox, make: Make
) -> None:
    post = busiest_post(x)
    now = datetime.now(UTC).replace(microsecond=0)
    fresh = x.add_comment(post, "just now", created_at=now - timedelta(minutes=1))
    got = all_comments(make(XConnector), post, since=now - timedelta(hours=1))
    assert [r.external_id for r in got] == [fresh]
    assert "start_time=" in sandbox_server.requests_seen("GET", "/search/recent")[-1].query_string
    # Older than recent search reaches: asked without start_time rather than refused.
    everything = all_comments(make(XConnector), post, since=now - timedelta(days=30))
    assert len(everything) == len(live_ids(x, post))


def test_author_edit_shows_new_text_under_the_first_id(x: XSandbox, make: Make) -> None:
    reply = resident_reply(x)
    edited_at = reply.created_at + timedelta(minutes=30)
    new_id = x.edit_comment(reply.id, "Edited: found the answer, thanks.", at=edited_at)
    got = by_id(all_comments(make(XConnector), reply.conversation_id))
    assert new_id not in got  # one comment, not one per version
    comment = got[reply.id]
    assert comment.text == "Edited: found the answer, thanks."
    assert comment.created_at == reply.created_at  # from the first id's snowflake
    assert comment.updated_at == edited_at
    assert comment.raw["edit_history_tweet_ids"] == [reply.id, new_id]
    assert comment.raw["id"] == new_id


def test_hostile_and_megabyte_text_come_back_exactly(x: XSandbox, make: Make) -> None:
    megabyte = "<script>alert(1)</script>\u202e=SUM(A1)\x00\x1b[31m 🎉 " * 24_000
    post = busiest_post(x)
    added = x.add_comment(post, megabyte)
    connector = make(XConnector)
    got: dict[str, RemoteComment] = {}
    for each in x.posts:
        got.update(by_id(all_comments(connector, each.id)))
    hostile = [r for r in x.replies() if r.tags]
    assert len(hostile) >= 7  # X's seed has every kind of hostile text:
    kinds = {"html", "script", "img-onerror", "rtl", "formula", "emoji", "long"}
    assert {t for r in hostile for t in r.tags} >= kinds
    for reply in hostile:
        assert got[reply.id].text.encode("utf-8") == reply.text.encode("utf-8")
    assert len(got[added].text.encode("utf-8")) > 1_000_000
    assert got[added].text == megabyte


# --- moderation -----------------------------------------------------------------------


def test_hide_unhide_round_trip(sandbox_server: SandboxServer, x: XSandbox, make: Make) -> None:
    connector = make(XConnector)
    reply = next(r for r in x.replies() if r.parent_id not in {p.id for p in x.posts})
    assert connector.fetch_state(reply.id) is PlatformState.UNKNOWN

    connector.apply(Action.HIDE, reply.id)
    assert x.is_hidden(reply.id)
    assert connector.fetch_state(reply.id) is PlatformState.UNKNOWN  # X will not say
    connector.apply(Action.UNHIDE, reply.id)
    assert not x.is_hidden(reply.id)
    assert connector.fetch_state(reply.id) is PlatformState.UNKNOWN

    calls = sandbox_server.requests_seen("PUT")
    assert [c.path for c in calls] == [f"{API}/tweets/{reply.id}/hidden"] * 2
    assert all(c.headers["content-type"] == "application/json" for c in calls)


def test_hidden_replies_are_still_listed(x: XSandbox, make: Make) -> None:
    connector = make(XConnector)
    reply = resident_reply(x)
    connector.hide(reply.id)
    assert reply.id in by_id(all_comments(connector, reply.conversation_id))


def test_remove_says_to_hide_instead(make: Make) -> None:
    with pytest.raises(NotPossible) as caught:
        make(XConnector).apply(Action.REMOVE, "2027998791726006314")
    assert str(caught.value) == (
        "X does not allow the City to remove a comment through its API. "
        "Hide the reply instead; X lets the City delete only its own posts."
    )


def test_hiding_outside_the_citys_conversations_is_explained(x: XSandbox, make: Make) -> None:
    with pytest.raises(PlatformError, match="conversations its own account started") as caught:
        make(XConnector).hide(x.foreign_reply_id)
    assert not caught.value.retryable
    assert not x.is_hidden(x.foreign_reply_id)


def test_reply_deleted_by_its_author(
    sandbox_server: SandboxServer, x: XSandbox, make: Make
) -> None:
    connector = make(XConnector)
    reply = resident_reply(x)
    x.delete_comment(reply.id)
    assert connector.fetch_state(reply.id) is PlatformState.REMOVED
    for action in (connector.hide, connector.unhide):
        with pytest.raises(PlatformError, match="no longer exists on X") as caught:
            action(reply.id)
        assert caught.value.gone
        assert not caught.value.retryable
    assert len(sandbox_server.requests_seen("PUT")) == 2  # a gone reply is not retried
    assert reply.id not in by_id(all_comments(connector, reply.conversation_id))


# --- errors ---------------------------------------------------------------------------


def test_rate_limit_waits_until_the_reset_header(
    sandbox_server: SandboxServer, x: XSandbox, make: Make
) -> None:
    connector = make(XConnector)
    x.limits["hide"] = 2
    reply = resident_reply(x)
    connector.hide(reply.id)
    connector.unhide(reply.id)
    with pytest.raises(PlatformError, match=r"X is limiting.*about 15 minutes") as caught:
        connector.hide(reply.id)
    error = caught.value
    assert error.retryable
    assert error.retry_after is not None
    assert 14 * 60 < error.retry_after <= 15 * 60
    assert len(sandbox_server.requests_seen("PUT")) == 3  # a rate limit is not retried
    assert not x.is_hidden(reply.id)


@pytest.mark.parametrize("code", [None, 88])
def test_rate_limit_fault_problem_or_v1_body(
    sandbox_server: SandboxServer, make: Make, code: int | None
) -> None:
    sandbox_server.faults.add("rate_limit", seconds=120, code=code)
    with pytest.raises(PlatformError, match="about 2 minutes") as caught:
        make(XConnector).list_posts()
    assert caught.value.retryable
    assert caught.value.retry_after is not None
    assert 100 <= caught.value.retry_after <= 120


def test_revoked_token_says_renew(
    sandbox_server: SandboxServer,
    x: XSandbox,
    make: Make,
) -> None:
    x.set_token(SECRET)
    connector = make(XConnector, token=SECRET)
    assert connector.list_posts().items
    sandbox_server.faults.add("revoked_token")
    with pytest.raises(PlatformError) as caught:
        connector.hide(resident_reply(x).id)
    error = caught.value
    assert "X token for this site has expired or was revoked" in str(error)
    assert not error.retryable
    for seen in sandbox_server.requests_seen():
        assert seen.headers["authorization"] == f"Bearer {SECRET}"


def test_wrong_token_is_explained(make: Make) -> None:
    with pytest.raises(PlatformError, match="expired or was revoked") as caught:
        make(XConnector, token=SECRET).list_posts()
    assert SECRET not in str(caught.value) + caught.value.details


def test_missing_access_is_explained(
    sandbox_server: SandboxServer, x: XSandbox, make: Make
) -> None:
    sandbox_server.faults.add("permission", method="PUT")
    with pytest.raises(PlatformError, match="developer app does not have the access") as caught:
        make(XConnector).hide(resident_reply(x).id)
    assert not caught.value.retryable
    assert "client-forbidden" in caught.value.details
    assert not x.is_hidden(resident_reply(x).id)


@pytest.mark.expected_log("left parts out", "Skipped")
def test_malformed_replies_are_listed_with_raw_kept(
    x: XSandbox, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    post = busiest_post(x)
    suspended = x.add_comment(
        post, "author suspended", author_name="Gone Person", author_unknown=True
    )
    no_author = x.add_comment(post, "who wrote this?", omit=["author_id"])
    no_text = x.add_comment(post, "gone", omit=["text"])
    odd = x.add_comment(
        post,
        "x",
        extra={
            "text": 12345,
            "created_at": "the day before yesterday",
            "referenced_tweets": "not a list",
            "edit_history_tweet_ids": "not a list",
            "surprise": {"nested": [1, 2, None]},
        },
    )
    x.add_comment(post, "no id", extra={"id": None})
    invalid_utf8 = x.add_comment(post, "x", raw_text=b"caf\xe9 \xff\xfe ok")

    with caplog.at_level(logging.WARNING), skips_collected() as skipped:
        got = by_id(all_comments(make(XConnector, page_size=10), post))

    # Without an id, an author or text, or not UTF-8: skipped and said, never placeholders.
    assert len(got) == len(live_ids(x, post)) - 4
    assert sorted(s.why for s in skipped) == [
        "with text that is not valid UTF-8",
        "without an author",
        "without an id",
        "without text",
    ]
    assert {no_author, no_text}.isdisjoint(got)
    assert "Could not find user" in caplog.text  # the partial error is logged, not fatal
    assert got[suspended].author_name == "(unknown)"
    assert got[suspended].author_id  # the id is known, only the profile is missing
    assert got[suspended].permalink == f"https://x.com/i/web/status/{suspended}"
    assert got[odd].text == "12345"
    assert got[odd].parent_external_id is None
    assert got[odd].created_at.tzinfo is UTC  # from the id's snowflake
    assert abs(got[odd].created_at - x.replies(post)[-1].created_at) < timedelta(days=1)
    assert got[odd].raw["surprise"] == {"nested": [1, 2, None]}
    assert invalid_utf8 not in got  # never kept with repaired text


def test_unreadable_answer_is_a_retryable_error(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("malformed", body='{"data": [', path="/tweets")
    with pytest.raises(PlatformError, match="cannot read") as caught:
        make(XConnector).list_posts()
    assert caught.value.retryable


def test_unknown_account_is_explained(sandbox_server: SandboxServer) -> None:
    site = SiteConfig("999", sandbox_server.url + "/x", SANDBOX_TOKEN, FAST)
    connector = XConnector(site)
    try:
        with pytest.raises(PlatformError, match="account of this site was not found"):
            connector.list_posts()
    finally:
        connector.close()


def test_unconfirmed_hide_is_retryable(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("malformed", method="PUT", body=json.dumps({"data": {}}))
    with pytest.raises(PlatformError, match="did not confirm") as caught:
        make(XConnector).hide("2027998791726006314")
    assert caught.value.retryable


# --- capabilities and settings --------------------------------------------------------


def test_capabilities_describe_x() -> None:
    caps = XConnector.capabilities
    assert caps.actions == frozenset({Action.HIDE, Action.UNHIDE})
    assert caps.hide_means == "moved behind 'View hidden replies'; still reachable there"
    assert caps.instead == "Hide the reply instead; X lets the City delete only its own posts."
    assert "50 hide requests per 15 minutes" in caps.rate_limits
    assert "7 days" in caps.rate_limits
    assert not caps.removed_readable
    assert caps.daily_quota is None


@pytest.mark.parametrize(
    ("external_id", "settings"),
    [("HighlandParksIL", {}), (CITY_USER_ID, {"page_size": 5}), (CITY_USER_ID, {"page_size": "x"})],
)
def test_bad_settings_are_configuration_errors(
    external_id: str, settings: dict[str, object]
) -> None:
    with pytest.raises(ConfigurationError):
        XConnector(SiteConfig(external_id, "http://127.0.0.1:9", SANDBOX_TOKEN, settings))


def test_post_ids_cannot_change_the_search_or_the_path(
    sandbox_server: SandboxServer, make: Make
) -> None:
    connector = make(XConnector)
    with pytest.raises(PlatformError, match="not an X post id"):
        connector.list_comments("1 OR from:someone")
    assert sandbox_server.requests_seen() == []
    with pytest.raises(PlatformError, match="X refused the request"):
        connector.fetch_state("../users/1")
    (seen,) = sandbox_server.requests_seen()
    assert seen.path == f"{API}/tweets/..%2Fusers%2F1"
