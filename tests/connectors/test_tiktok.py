"""TikTokConnector against the TikTok part of the sandbox: real HTTP over loopback."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from hsm_console.connectors.base import RemoteComment, SiteConfig
from hsm_console.connectors.payload import skips_collected
from hsm_console.connectors.tiktok import TikTokConnector, split_comment_id
from hsm_console.errors import ConfigurationError, NotPossible, PlatformError
from hsm_console.rules.domain import Action, PlatformState
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer, seed
from hsm_sandbox.tiktok import (
    API,
    BUSINESS_ID,
    INLINE_REPLIES,
    PREFIX,
    TikTokSandbox,
    TtComment,
    TtVideo,
    seed_account,
)
from tests.connectors.conftest import FAST, Make, all_comments, all_posts, by_id

SECRET = "act.secret-tiktok-token-0123456789"
NO_REMOVE = (
    "TikTok does not let the City delete other people's comments. "
    "Hide it instead; TikTok lets an account delete only its own comments."
)
HOSTILE = (
    "<b>bold</b><script>alert('x')</script><img src=x onerror=alert(1)> "
    "\x00\x01\x07\x08\x1b[31mred\x1b[0m\r\n\t \u2028\u2029\ufeff\u200b "
    "agenda\u202efdp.exe =SUM(A1) 🎉 שלום"
)


@pytest.fixture
def tt(sandbox_server: SandboxServer) -> TikTokSandbox:
    platform = sandbox_server.state["tiktok"]
    assert isinstance(platform, TikTokSandbox)
    return platform


def key(comment: TtComment) -> str:
    """The id the connector gives a comment (and the console stores)."""
    return f"{comment.video_id}:{comment.comment_id}"


def first_video(tt: TikTokSandbox) -> TtVideo:
    return tt.videos[0]


def a_thread(tt: TikTokSandbox) -> tuple[TtComment, TtComment]:
    """A seeded top-level comment by someone else that has a reply, and that reply."""
    reply = next(c for c in tt.seeded if c.parent_comment_id is not None and not c.owner)
    parent = next(c for c in tt.seeded if c.comment_id == reply.parent_comment_id)
    return parent, reply


# --- seed -----------------------------------------------------------------------------


def test_seed_is_one_parks_account_drawn_from_its_own_seed(tt: TikTokSandbox) -> None:
    videos, comments = seed_account(seed.DEMO)
    assert (videos, comments) == (tt.videos, tt.seeded) == seed_account(seed.build())
    own = seed.DEMO.of("tiktok")
    assert [v.caption for v in videos] == [p.message for p in own.posts]
    assert len(videos) == 3
    assert len({c.comment_id for c in comments}) == len(comments)
    assert any(c.parent_comment_id for c in comments)
    assert [c.owner for c in comments].count(True) == len(videos)  # one reply each by the City
    sources = [c.source for c in comments if c.source is not None]
    assert sources == list(own.comments)  # every comment and reply of its seed, once
    assert len(sources) == len(comments) - len(videos)
    assert all(c.text == c.source.message for c in comments if c.source is not None)
    # Its own voice: none of Facebook's texts (a demo user would see them twice).
    assert not {c.text for c in comments} & {c.message for c in seed.DEMO.comments}
    # Threads are one level deep on TikTok: every parent is a top-level comment.
    tops = {c.comment_id for c in comments if c.parent_comment_id is None}
    assert all(c.parent_comment_id in tops for c in comments if c.parent_comment_id)
    assert {t for s in sources for t in s.tags} >= {"formula", "rtl", "long", "script"}
    assert len({s.expected_code for s in sources if s.expected_code}) >= 5


# --- listing --------------------------------------------------------------------------


def test_lists_every_video_and_comment_once(tt: TikTokSandbox, make: Make) -> None:
    posts = all_posts(make(TikTokConnector, page_size=1))  # one video per page
    newest_first = sorted(tt.videos, key=lambda v: v.create_time, reverse=True)
    assert [p.external_id for p in posts] == [v.item_id for v in newest_first]
    for post, video in zip(posts, newest_first, strict=True):
        assert (post.text, post.permalink, post.created_at) == (
            video.caption,
            video.share_url,
            video.create_time,
        )
    seen: list[str] = []
    for video in tt.videos:
        comments = all_comments(make(TikTokConnector, page_size=3), video.item_id)
        seen.extend(c.external_id for c in comments)
        expected = {key(c): c for c in tt.comments_on(video.item_id)}
        assert len(comments) == len(expected)
        for got in comments:
            want = expected[got.external_id]
            assert (
                got.post_external_id,
                got.parent_external_id,
                got.author_name,
                got.text,
                got.created_at,
                got.permalink,
                got.state,
            ) == (
                video.item_id,
                f"{video.item_id}:{want.parent_comment_id}" if want.parent_comment_id else None,
                want.username,
                want.text,
                want.create_time,
                video.share_url,
                PlatformState.VISIBLE,
            )
            assert got.raw["owner"] is want.owner
            assert got.raw["comment_id"] == want.comment_id
            assert got.author_id == got.raw["unique_identifier"]
            assert "reply_list" not in got.raw  # each reply is kept as a comment of its own
    assert len(seen) == len(set(seen)) == len(tt.seeded)


def test_long_thread_is_completed_from_the_reply_list(
    sandbox_server: SandboxServer, tt: TikTokSandbox, make: Make
) -> None:
    parent, _ = a_thread(tt)
    later = parent.create_time + timedelta(days=1)
    added = [
        tt.add_comment(
            parent.video_id,
            f"reply {n}",
            parent_id=parent.comment_id,
            create_time=later + timedelta(minutes=n),
        )
        for n in range(INLINE_REPLIES + 7)
    ]
    got = all_comments(make(TikTokConnector, page_size=4), parent.video_id)
    ids = [c.external_id for c in got]
    assert len(ids) == len(set(ids)) == len(tt.comments_on(parent.video_id))
    thread = [c.external_id for c in got if c.parent_external_id == key(parent)]
    assert thread[-len(added) :] == [f"{parent.video_id}:{a}" for a in added]
    assert sandbox_server.requests_seen("GET", "/comment/reply/list/")


def test_hidden_comments_are_listed_as_hidden(tt: TikTokSandbox, make: Make) -> None:
    parent, reply = a_thread(tt)
    make(TikTokConnector).hide(key(parent))
    make(TikTokConnector).hide(key(reply))
    got = by_id(all_comments(make(TikTokConnector), parent.video_id))
    assert got[key(parent)].state is PlatformState.HIDDEN
    assert got[key(reply)].state is PlatformState.HIDDEN
    assert got[key(parent)].raw["status"] == "HIDDEN"


def test_since_keeps_newer_comments_only(tt: TikTokSandbox, make: Make) -> None:
    video = first_video(tt)
    everything = all_comments(make(TikTokConnector, page_size=5), video.item_id)
    since = sorted(c.created_at for c in everything)[len(everything) // 2]
    newer = all_comments(make(TikTokConnector, page_size=5), video.item_id, since=since)
    assert {c.external_id for c in newer} == {
        c.external_id for c in everything if c.created_at >= since
    }


# --- moderation -----------------------------------------------------------------------


def test_hide_unhide_round_trip(tt: TikTokSandbox, make: Make) -> None:
    connector = make(TikTokConnector)
    parent, reply = a_thread(tt)
    for comment in (parent, reply):
        assert connector.fetch_state(key(comment)) is PlatformState.VISIBLE
        connector.apply(Action.HIDE, key(comment))
        assert tt.is_hidden(comment.comment_id)
        assert connector.fetch_state(key(comment)) is PlatformState.HIDDEN
        connector.apply(Action.UNHIDE, key(comment))
        assert not tt.is_hidden(comment.comment_id)
        assert connector.fetch_state(key(comment)) is PlatformState.VISIBLE


def test_remove_says_to_hide_instead(tt: TikTokSandbox, make: Make) -> None:
    with pytest.raises(NotPossible) as caught:
        make(TikTokConnector).remove(key(tt.seeded[0]))
    assert str(caught.value) == NO_REMOVE


def test_capabilities_describe_tiktok() -> None:
    caps = TikTokConnector.capabilities
    assert caps.actions == {Action.HIDE, Action.UNHIDE}
    assert not caps.allows(Action.REMOVE)
    assert caps.allows(Action.FLAG)
    assert caps.instead == "Hide it instead; TikTok lets an account delete only its own comments."
    assert "hidden from everyone except its author" in caps.hide_means
    assert not caps.removed_readable


def test_comment_deleted_by_its_author(
    sandbox_server: SandboxServer, tt: TikTokSandbox, make: Make
) -> None:
    connector = make(TikTokConnector)
    parent, reply = a_thread(tt)
    tt.delete_comment(parent.comment_id)
    for comment in (parent, reply):  # the thread went with its first comment
        assert connector.fetch_state(key(comment)) is PlatformState.REMOVED
    for action in (connector.hide, connector.unhide):
        with pytest.raises(PlatformError, match="comment no longer exists on TikTok") as caught:
            action(key(parent))
        assert caught.value.gone
        assert not caught.value.retryable
    assert len(sandbox_server.requests_seen("POST")) == 2  # a gone comment is not retried
    listed = by_id(all_comments(connector, parent.video_id))
    assert key(parent) not in listed
    assert key(reply) not in listed


def test_comment_ids_without_their_video_are_refused_before_any_call(
    sandbox_server: SandboxServer, make: Make
) -> None:
    connector = make(TikTokConnector)
    for bad in ("7350000000000000001", ":7350000000000000001", "7340000000000000001:"):
        with pytest.raises(PlatformError, match="does not say which video") as caught:
            connector.hide(bad)
        assert not caught.value.retryable
    assert split_comment_id("1:2:3") == ("1", "2:3")
    assert sandbox_server.requests_seen() == []


# --- faults ---------------------------------------------------------------------------


def test_failure_while_completing_a_thread_then_resume(
    sandbox_server: SandboxServer, tt: TikTokSandbox, make: Make
) -> None:
    parent, _ = a_thread(tt)
    for n in range(INLINE_REPLIES + 2):
        tt.add_comment(parent.video_id, f"reply {n}", parent_id=parent.comment_id)
    everything = [c.external_id for c in all_comments(make(TikTokConnector), parent.video_id)]
    sandbox_server.faults.add("rate_limit", path="/comment/reply/list/")
    connector = make(TikTokConnector)
    with pytest.raises(PlatformError, match="limiting"):
        connector.list_comments(parent.video_id)
    assert [c.external_id for c in all_comments(connector, parent.video_id)] == everything


def test_errors_arrive_in_http_200_answers(
    sandbox_server: SandboxServer, tt: TikTokSandbox
) -> None:
    sandbox_server.faults.add("rate_limit")
    answer = requests.get(
        f"{sandbox_server.url}{API}/video/list/",
        params={"business_id": BUSINESS_ID},
        headers={"Access-Token": SANDBOX_TOKEN},
        timeout=5,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert (body["code"], body["data"]) == (40100, {})
    assert body["message"].startswith("Too many requests")
    assert body["request_id"]


def test_rate_limit_in_a_200_answer_is_raised_not_retried(
    sandbox_server: SandboxServer, tt: TikTokSandbox, make: Make
) -> None:
    parent, _ = a_thread(tt)
    sandbox_server.faults.add("rate_limit", times=None)
    with pytest.raises(PlatformError, match="about 1 minute") as caught:
        make(TikTokConnector).hide(key(parent))
    assert caught.value.retryable
    assert caught.value.retry_after == 60
    assert len(sandbox_server.requests_seen()) == 1
    assert not tt.is_hidden(parent.comment_id)


def test_http_429_honours_retry_after(
    sandbox_server: SandboxServer, tt: TikTokSandbox, make: Make
) -> None:
    sandbox_server.faults.add("too_many_requests", seconds=42, times=None)
    with pytest.raises(PlatformError, match="about 42 seconds") as caught:
        make(TikTokConnector).list_posts()
    assert caught.value.retry_after == 42
    assert len(sandbox_server.requests_seen()) == 1


@pytest.mark.parametrize("code", [40105, 40102])
def test_revoked_or_expired_token_says_renew(
    sandbox_server: SandboxServer,
    tt: TikTokSandbox,
    make: Make,
    code: int,
) -> None:
    tt.set_token(SECRET)
    connector = make(TikTokConnector, token=SECRET)
    assert connector.list_posts().items  # the token works until it is revoked
    sandbox_server.faults.add("revoked_token", code=code)
    with pytest.raises(PlatformError) as caught:
        connector.list_posts()
    error = caught.value
    assert str(error) == (
        "The TikTok token for this site has expired or was revoked: "
        "ask an administrator to renew it."
    )
    assert str(code) in error.details
    assert not error.retryable
    for seen in sandbox_server.requests_seen():
        assert seen.headers["access-token"] == SECRET


def test_token_echoed_in_an_error_is_scrubbed(
    sandbox_server: SandboxServer, tt: TikTokSandbox, make: Make
) -> None:
    tt.set_token(SECRET)
    body = {"code": 40002, "message": f"bad token {SECRET}", "request_id": "1", "data": {}}
    sandbox_server.faults.add("malformed", body=json.dumps(body))
    with pytest.raises(PlatformError, match="error 40002") as caught:
        make(TikTokConnector, token=SECRET).list_posts()
    assert SECRET not in caught.value.details
    assert "[redacted]" in caught.value.details


def test_wrong_token_is_explained(make: Make) -> None:
    with pytest.raises(PlatformError, match="expired or was revoked") as caught:
        make(TikTokConnector, token=SECRET).list_posts()
    assert SECRET not in str(caught.value) + caught.value.details


def test_missing_permission_is_explained(
    sandbox_server: SandboxServer, tt: TikTokSandbox, make: Make
) -> None:
    parent, _ = a_thread(tt)
    sandbox_server.faults.add("permission", method="POST")
    with pytest.raises(PlatformError, match="lacks the permission") as caught:
        make(TikTokConnector).hide(key(parent))
    assert not caught.value.retryable
    assert "40001" in caught.value.details
    assert not tt.is_hidden(parent.comment_id)


def test_another_accounts_business_id_is_a_permission_error(
    sandbox_server: SandboxServer,
) -> None:
    site = SiteConfig("someone-else", sandbox_server.url + PREFIX, SANDBOX_TOKEN, FAST)
    connector = TikTokConnector(site)
    try:
        with pytest.raises(PlatformError, match="lacks the permission"):
            connector.list_posts()
    finally:
        connector.close()


@pytest.mark.parametrize(
    ("body", "message", "retryable"),
    [
        ({"code": 50000, "message": "System error"}, "temporary problem", True),
        ({"code": 40002, "message": "video_id: Missing data"}, "refused.*40002", False),
        ({"code": "nope", "message": "?"}, "cannot read", True),
        ({"message": "no code at all"}, "cannot read", True),
        ({"code": 0, "data": {"videos": "not a list"}}, "cannot read", True),
        ({"code": 0, "data": {"videos": [], "has_more": True}}, "no way to fetch", True),
    ],
)
def test_odd_envelopes_are_clear_errors(
    sandbox_server: SandboxServer,
    make: Make,
    body: dict[str, Any],
    message: str,
    retryable: bool,
) -> None:
    sandbox_server.faults.add("malformed", body=json.dumps(body))
    with pytest.raises(PlatformError, match=message) as caught:
        make(TikTokConnector).list_posts()
    assert caught.value.retryable is retryable
    assert len(sandbox_server.requests_seen()) == 1


# --- malformed payloads ---------------------------------------------------------------


@pytest.mark.expected_log("has no readable", "Skipped")
def test_malformed_comments_are_listed_with_raw_kept(
    tt: TikTokSandbox, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    video = first_video(tt)
    last = max(c.create_time for c in tt.seeded) + timedelta(minutes=1)
    no_author = tt.add_comment(
        video.item_id,
        "who wrote this?",
        omit=["username", "user_id", "unique_identifier"],
        create_time=last,
    )
    no_text = tt.add_comment(video.item_id, "", omit=["text"], create_time=last)
    odd = tt.add_comment(
        video.item_id,
        "x",
        create_time=last,
        extra={
            "text": 12345,
            "username": None,
            "user_id": 42,
            "unique_identifier": {"x": 1},
            "create_time": 1767225600,
            "status": 7,
            "parent_comment_id": {"not": "an id"},
            "reply_list": "not a list",
            "replies": "many",  # an unreadable count: the replies are fetched to be sure
            "surprise": {"nested": [1, 2, None]},
        },
    )
    bad_time = tt.add_comment(
        video.item_id, "when?", create_time=last, extra={"create_time": "the day before"}
    )
    tt.add_comment(video.item_id, "no id", create_time=last, extra={"comment_id": None})

    with caplog.at_level(logging.WARNING), skips_collected() as skipped:
        got = by_id(all_comments(make(TikTokConnector, page_size=5), video.item_id))

    # Without an id, an author or text: skipped and said, never kept as placeholders.
    left_out = {"no id", "who wrote this?", ""}
    expected = {key(c) for c in tt.comments_on(video.item_id) if c.text not in left_out}
    assert set(got) == expected
    assert sorted(s.why for s in skipped) == ["without an author", "without an id", "without text"]
    assert {f"{video.item_id}:{i}" for i in (no_author, no_text)}.isdisjoint(got)
    odd_key = f"{video.item_id}:{odd}"
    assert (got[odd_key].text, got[odd_key].author_name, got[odd_key].author_id) == (
        "12345",
        "(unknown)",
        "42",
    )
    assert got[odd_key].created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert got[odd_key].state is PlatformState.UNKNOWN
    assert got[odd_key].parent_external_id is None
    assert got[odd_key].raw["surprise"] == {"nested": [1, 2, None]}
    assert got[odd_key].raw["text"] == 12345
    bad = got[f"{video.item_id}:{bad_time}"]
    assert bad.created_at.tzinfo is UTC
    assert bad.raw["create_time"] == "the day before"


@pytest.mark.expected_log("not valid UTF-8")
def test_invalid_utf8_in_a_comment_is_skipped_and_spares_the_rest(
    tt: TikTokSandbox, make: Make
) -> None:
    video = first_video(tt)
    broken = tt.add_comment(video.item_id, "", text_bytes=b"caf\xe9 \xff\xfe ok \xc3")
    with skips_collected() as skipped:
        got = by_id(all_comments(make(TikTokConnector, page_size=5), video.item_id))
    assert len(got) == len(tt.comments_on(video.item_id)) - 1
    assert f"{video.item_id}:{broken}" not in got  # never kept with repaired text
    assert [s.why for s in skipped] == ["with text that is not valid UTF-8"]
    others = [c for c in tt.seeded if c.video_id == video.item_id]
    assert all(got[key(c)].text == c.text for c in others)


@pytest.mark.parametrize(
    "body", ['{"code": 0, "data": {"comments": [{"comment_id": "1", "text": "cut', "[1]", ""]
)
def test_unreadable_page_is_a_clear_retryable_error(
    sandbox_server: SandboxServer, tt: TikTokSandbox, make: Make, body: str
) -> None:
    sandbox_server.faults.add("malformed", path="/comment/list/", body=body)
    connector = make(TikTokConnector)
    with pytest.raises(PlatformError, match="TikTok answered with something") as caught:
        connector.list_comments(first_video(tt).item_id)
    assert caught.value.retryable
    assert connector.list_comments(first_video(tt).item_id).items  # the next try works


# --- text exactly as stored -----------------------------------------------------------


def test_hostile_and_huge_text_comes_back_exactly(tt: TikTokSandbox, make: Make) -> None:
    video = tt.videos[1]
    megabyte = (HOSTILE + " ") * (1_050_000 // len((HOSTILE + " ").encode()))
    hostile = tt.add_comment(video.item_id, HOSTILE)
    huge = tt.add_comment(video.item_id, megabyte)
    tagged = [c for c in tt.seeded if c.source is not None and c.source.tags]
    got: dict[str, RemoteComment] = {}
    for each in tt.videos:
        got.update(by_id(all_comments(make(TikTokConnector), each.item_id)))
    for comment in tagged:
        assert got[key(comment)].text.encode("utf-8") == comment.text.encode("utf-8")
    assert got[f"{video.item_id}:{hostile}"].text == HOSTILE
    assert len(got[f"{video.item_id}:{huge}"].text.encode("utf-8")) > 1_000_000
    assert got[f"{video.item_id}:{huge}"].text == megabyte


def test_an_author_edit_shows_the_new_text(tt: TikTokSandbox, make: Make) -> None:
    _, reply = a_thread(tt)
    connector = make(TikTokConnector)
    assert by_id(all_comments(connector, reply.video_id))[key(reply)].text == reply.text
    tt.edit_comment(reply.comment_id, "Edited: never mind <b>all</b> that")
    assert by_id(all_comments(connector, reply.video_id))[key(reply)].text == (
        "Edited: never mind <b>all</b> that"
    )


# --- configuration and the sandbox's own answers -------------------------------------


@pytest.mark.parametrize("settings", [{"page_size": 0}, {"page_size": 31}, {"retries": -1}])
def test_bad_settings_are_configuration_errors(settings: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        TikTokConnector(SiteConfig(BUSINESS_ID, "http://127.0.0.1:9", SANDBOX_TOKEN, settings))


def test_sandbox_answers_like_tiktok(sandbox_server: SandboxServer, tt: TikTokSandbox) -> None:
    parent, reply = a_thread(tt)
    own = next(c for c in tt.seeded if c.owner)
    base = f"{sandbox_server.url}{API}"
    with requests.Session() as session:

        def get(path: str, **params: Any) -> dict[str, Any]:
            answer = session.get(f"{base}/{path}", params={"business_id": BUSINESS_ID, **params})
            assert answer.status_code == 200
            body: dict[str, Any] = answer.json()
            return body

        def post(path: str, **payload: Any) -> dict[str, Any]:
            answer = session.post(f"{base}/{path}", json={"business_id": BUSINESS_ID, **payload})
            assert answer.status_code == 200
            body: dict[str, Any] = answer.json()
            return body

        assert get("video/list/")["code"] == 40104  # no token
        session.headers["Access-Token"] = SANDBOX_TOKEN
        videos = get("video/list/")["data"]["videos"]
        assert videos == [{"item_id": v.item_id} for v in reversed(tt.videos)]
        assert get("video/list/", fields='["bogus"]')["code"] == 40002
        assert get("comment/list/")["code"] == 40002  # video_id is required
        hidden = post(
            "comment/hide/", video_id=parent.video_id, comment_id=parent.comment_id, action="HIDE"
        )
        assert hidden["code"] == 0
        public = get("comment/list/", video_id=parent.video_id, max_count=30)["data"]
        assert parent.comment_id not in {c["comment_id"] for c in public["comments"]}
        everyone = get("comment/list/", video_id=parent.video_id, status="ALL", max_count=30)
        assert parent.comment_id in {c["comment_id"] for c in everyone["data"]["comments"]}
        replies = get("comment/reply/list/", video_id=parent.video_id, comment_id=parent.comment_id)
        assert reply.comment_id in {c["comment_id"] for c in replies["data"]["comments"]}
        assert post("comment/hide/", comment_id=parent.comment_id, action="HIDE")["code"] == 40002
        refused = post("comment/delete/", comment_id=reply.comment_id)
        assert refused["code"] == 40001
        assert not tt.is_deleted(reply.comment_id)
        assert post("comment/delete/", comment_id=own.comment_id)["code"] == 0
        assert tt.is_deleted(own.comment_id)
