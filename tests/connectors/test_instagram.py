"""InstagramConnector against the Instagram part of the sandbox: real HTTP over loopback."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests

from hsm_console.connectors.base import RemoteComment, SiteConfig
from hsm_console.connectors.instagram import InstagramConnector, instagram_error
from hsm_console.connectors.meta_graph import INSTAGRAM_LOGIN_PERMISSIONS, INSTAGRAM_PERMISSIONS
from hsm_console.connectors.payload import skips_collected
from hsm_console.errors import ConfigurationError, PlatformError
from hsm_console.rules.domain import Action, PlatformState
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer, seed
from hsm_sandbox.instagram import (
    IG_USER_ID,
    NESTED_REPLIES,
    PREFIX,
    IgComment,
    IgMedia,
    InstagramSandbox,
    seed_account,
)
from tests.connectors.conftest import Make, all_comments, all_posts, by_id

SECRET = "IGQVJsecret-instagram-token-0123456789"
V = "v25.0"
HOSTILE = (
    "<b>bold</b><script>alert('x')</script><img src=x onerror=alert(1)> "
    "\x00\x01\x07\x08\x1b[31mred\x1b[0m\r\n\t \u2028\u2029\ufeff\u200b "
    "agenda\u202efdp.exe =SUM(A1) 🎉 שלום"
)


@pytest.fixture
def ig(sandbox_server: SandboxServer) -> InstagramSandbox:
    platform = sandbox_server.state["instagram"]
    assert isinstance(platform, InstagramSandbox)
    return platform


def first_media(ig: InstagramSandbox) -> IgMedia:
    return ig.media[0]


def a_thread(ig: InstagramSandbox) -> tuple[IgComment, IgComment]:
    """A seeded top-level comment that has a reply, and that reply."""
    reply = next(c for c in ig.seeded if c.parent_id is not None)
    parent = next(c for c in ig.seeded if c.id == reply.parent_id)
    return parent, reply


# --- seed -----------------------------------------------------------------------------


def test_seed_is_one_parks_account_drawn_from_its_own_seed(ig: InstagramSandbox) -> None:
    media, comments = seed_account(seed.DEMO)
    assert (media, comments) == (ig.media, ig.seeded) == seed_account(seed.build())
    own = seed.DEMO.of("instagram")
    assert [m.caption for m in media] == [p.message for p in own.posts]
    assert len(media) == 3
    assert len({c.id for c in comments}) == len(comments)
    assert any(c.parent_id for c in comments)
    sources = [c.source for c in comments if c.source is not None]
    assert sources == list(own.comments)  # every comment and reply of its seed, once
    assert all(c.text == s.message for c, s in zip(comments, sources, strict=True))
    # Its own voice: none of Facebook's texts (a demo user would see them twice).
    assert not {c.text for c in comments} & {c.message for c in seed.DEMO.comments}
    assert {t for s in sources for t in s.tags} >= {
        "script",
        "img-onerror",
        "rtl",
        "formula",
        "long",
    }
    assert len({s.expected_code for s in sources if s.expected_code}) >= 5
    # Threads are one level deep on Instagram: every parent is a top-level comment.
    tops = {c.id for c in comments if c.parent_id is None}
    assert all(c.parent_id in tops for c in comments if c.parent_id)


# --- listing --------------------------------------------------------------------------


def test_lists_every_media_and_comment_once(ig: InstagramSandbox, make: Make) -> None:
    connector = make(InstagramConnector, page_size=2)  # small pages: many cursors
    posts = all_posts(connector)
    newest_first = sorted(ig.media, key=lambda m: m.timestamp, reverse=True)
    assert [p.external_id for p in posts] == [m.id for m in newest_first]
    for post, media in zip(posts, newest_first, strict=True):
        assert (post.text, post.permalink, post.created_at) == (
            media.caption,
            media.permalink,
            media.timestamp,
        )
        assert post.raw["media_type"] == media.media_type
    seen: list[str] = []
    for media in ig.media:
        comments = all_comments(make(InstagramConnector, page_size=3), media.id)
        seen.extend(c.external_id for c in comments)
        expected = {c.id: c for c in ig.comments_on(media.id)}
        assert len(comments) == len(expected)
        for got in comments:
            want = expected[got.external_id]
            assert (
                got.post_external_id,
                got.parent_external_id,
                got.author_id,
                got.author_name,
                got.text,
                got.created_at,
                got.permalink,
                got.state,
            ) == (
                media.id,
                want.parent_id,
                want.user_id,
                want.username,
                want.text,
                want.timestamp,
                media.permalink,
                PlatformState.VISIBLE,
            )
            assert "replies" not in got.raw  # each reply is kept as a comment of its own
    assert len(seen) == len(set(seen)) == len(ig.seeded)


def test_replies_follow_their_parent_on_the_same_page(ig: InstagramSandbox, make: Make) -> None:
    parent, reply = a_thread(ig)
    connector = make(InstagramConnector, page_size=1)  # one thread per page
    page = connector.list_comments(parent.media_id)
    while parent.id not in by_id(page.items):
        page = connector.list_comments(parent.media_id, page.next_cursor)
    got = by_id(page.items)
    assert got[reply.id].parent_external_id == parent.id
    assert all(c.parent_external_id == parent.id for c in page.items[1:])


def test_long_thread_is_completed_from_the_replies_edge(
    sandbox_server: SandboxServer, ig: InstagramSandbox, make: Make
) -> None:
    parent, _ = a_thread(ig)
    later = parent.timestamp + timedelta(days=1)
    added = [
        ig.add_comment(
            parent.media_id,
            f"reply {n}",
            parent_id=parent.id,
            timestamp=later + timedelta(minutes=n),
        )
        for n in range(NESTED_REPLIES + 5)
    ]
    got = all_comments(make(InstagramConnector, page_size=4), parent.media_id)
    ids = [c.external_id for c in got]
    assert len(ids) == len(set(ids)) == len(ig.comments_on(parent.media_id))
    thread = [c for c in got if c.parent_external_id == parent.id]
    assert [c.external_id for c in thread][-len(added) :] == added
    assert [c.text for c in thread][-3:] == [f"reply {n}" for n in range(27, 30)]
    assert sandbox_server.requests_seen("GET", f"{parent.id}/replies")


def test_since_keeps_newer_comments_only(ig: InstagramSandbox, make: Make) -> None:
    media = first_media(ig)
    everything = all_comments(make(InstagramConnector, page_size=5), media.id)
    since = sorted(c.created_at for c in everything)[len(everything) // 2]
    newer = all_comments(make(InstagramConnector, page_size=5), media.id, since=since)
    assert {c.external_id for c in newer} == {
        c.external_id for c in everything if c.created_at >= since
    }


def test_permalink_is_read_when_posts_were_not_listed(
    sandbox_server: SandboxServer, ig: InstagramSandbox, make: Make
) -> None:
    media = first_media(ig)
    connector = make(InstagramConnector)
    comments = connector.list_comments(media.id).items
    assert {c.permalink for c in comments} == {media.permalink}
    connector.list_comments(media.id)
    assert len(sandbox_server.requests_seen("GET", f"/{V}/{media.id}")) == 3  # 1 read + 2 lists


# --- moderation -----------------------------------------------------------------------


def test_hide_unhide_remove_round_trip(ig: InstagramSandbox, make: Make) -> None:
    connector = make(InstagramConnector)
    parent, reply = a_thread(ig)
    assert connector.fetch_state(reply.id) is PlatformState.VISIBLE

    connector.apply(Action.HIDE, reply.id)
    assert ig.is_hidden(reply.id)
    assert connector.fetch_state(reply.id) is PlatformState.HIDDEN
    assert by_id(all_comments(connector, reply.media_id))[reply.id].state is PlatformState.HIDDEN

    connector.apply(Action.UNHIDE, reply.id)
    assert not ig.is_hidden(reply.id)
    assert connector.fetch_state(reply.id) is PlatformState.VISIBLE

    connector.apply(Action.REMOVE, parent.id)
    assert ig.is_deleted(parent.id)
    assert ig.is_deleted(reply.id)  # a thread goes with its first comment
    assert connector.fetch_state(parent.id) is PlatformState.REMOVED
    listed = by_id(all_comments(connector, parent.media_id))
    assert parent.id not in listed
    assert reply.id not in listed


def test_comment_deleted_by_its_author(
    sandbox_server: SandboxServer, ig: InstagramSandbox, make: Make
) -> None:
    connector = make(InstagramConnector)
    comment = ig.seeded[0]
    ig.delete_comment(comment.id)
    assert connector.fetch_state(comment.id) is PlatformState.REMOVED
    for action in (connector.hide, connector.unhide, connector.remove):
        with pytest.raises(PlatformError, match="comment no longer exists on Instagram") as caught:
            action(comment.id)
        assert caught.value.gone
        assert not caught.value.retryable
    assert len(sandbox_server.requests_seen("POST")) == 2  # a gone comment is not retried


def test_capabilities_describe_instagram() -> None:
    caps = InstagramConnector.capabilities
    assert all(caps.allows(a) for a in Action)
    assert "hidden from everyone except its author" in caps.hide_means
    assert "permanently" in caps.remove_means
    assert not caps.removed_readable
    assert "80002" in caps.rate_limits
    assert caps.daily_quota is None


# --- faults ---------------------------------------------------------------------------


def test_rate_limit_80002_waits_the_minutes_instagram_names(
    sandbox_server: SandboxServer, ig: InstagramSandbox, make: Make
) -> None:
    sandbox_server.faults.add("rate_limit", seconds=15 * 60)
    with pytest.raises(PlatformError, match=r"Instagram is limiting.*about 15 minutes") as caught:
        make(InstagramConnector).remove(ig.seeded[0].id)
    assert caught.value.retryable
    assert caught.value.retry_after == 15 * 60
    assert "80002" in caught.value.details
    assert len(sandbox_server.requests_seen()) == 1  # a rate limit is not hammered
    assert not ig.is_deleted(ig.seeded[0].id)


def test_server_error_once_is_retried(
    sandbox_server: SandboxServer, ig: InstagramSandbox, make: Make
) -> None:
    sandbox_server.faults.add("server_error", method="POST")
    make(InstagramConnector).hide(ig.seeded[1].id)
    assert ig.is_hidden(ig.seeded[1].id)
    assert len(sandbox_server.requests_seen("POST")) == 2


def test_revoked_token_says_renew(
    sandbox_server: SandboxServer,
    ig: InstagramSandbox,
    make: Make,
) -> None:
    ig.set_token(SECRET)
    connector = make(InstagramConnector, token=SECRET)
    assert connector.list_posts().items  # the token works until it is revoked
    sandbox_server.faults.add("revoked_token")
    with pytest.raises(PlatformError) as caught:
        connector.list_posts()
    error = caught.value
    assert str(error) == (
        "The Instagram token for this site has expired or was revoked: "
        "ask an administrator to renew it."
    )
    assert not error.retryable
    for seen in sandbox_server.requests_seen():
        assert seen.headers["authorization"] == f"Bearer {SECRET}"


def test_wrong_token_is_explained(make: Make) -> None:
    with pytest.raises(PlatformError, match="expired or was revoked") as caught:
        make(InstagramConnector, token=SECRET).list_posts()
    assert SECRET not in str(caught.value) + caught.value.details


def test_missing_permission_names_the_permission(
    sandbox_server: SandboxServer, ig: InstagramSandbox, make: Make
) -> None:
    sandbox_server.faults.add("permission", method="POST")
    with pytest.raises(PlatformError, match="instagram_manage_comments") as caught:
        make(InstagramConnector).hide(ig.seeded[0].id)
    needed = INSTAGRAM_PERMISSIONS
    assert needed == (
        "pages_read_engagement",
        "pages_read_user_content",
        "pages_manage_engagement",
        "instagram_basic",
        "instagram_manage_comments",
    )
    for permission in needed:  # for the moderator, and in the details for IT
        assert permission in caught.value.message
        assert permission in caught.value.details
    assert "Facebook" not in str(caught.value)
    assert not caught.value.retryable
    assert not ig.is_hidden(ig.seeded[0].id)


def test_instagram_login_refusal_names_its_own_permissions() -> None:
    refusal = requests.Response()
    refusal.status_code = 403
    refusal.url = "https://graph.instagram.com/v25.0/17841400000000001/comments"
    refusal._content = (
        b'{"error": {"message": "(#10) denied", "type": "OAuthException", "code": 10}}'
    )
    error = instagram_error(refusal)
    for permission in INSTAGRAM_LOGIN_PERMISSIONS:
        assert permission in error.message
        assert permission in error.details
    assert "pages_" not in error.message  # Instagram Login has no Page


# --- malformed payloads ---------------------------------------------------------------


@pytest.mark.expected_log("has no readable", "Skipped")
def test_malformed_comments_are_listed_with_raw_kept(
    ig: InstagramSandbox, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    media = first_media(ig)
    last = max(c.timestamp for c in ig.seeded) + timedelta(minutes=1)
    no_author = ig.add_comment(
        media.id, "who wrote this?", omit=["from", "username"], timestamp=last
    )
    no_text = ig.add_comment(media.id, "", omit=["text"], timestamp=last)
    odd = ig.add_comment(
        media.id,
        "x",
        timestamp=last,
        extra={
            "text": 12345,
            "from": {"id": 17841400000000042},
            "username": None,
            "timestamp": 1767225600,
            "hidden": "true",
            "parent_id": ["not", "an", "id"],
            "replies": "not an edge",
            "surprise": {"nested": [1, 2, None]},
        },
    )
    bad_time = ig.add_comment(
        media.id, "when?", timestamp=last, extra={"timestamp": "the day before yesterday"}
    )
    odd_replies = ig.add_comment(
        media.id,
        "replies of the wrong shape",
        timestamp=last,
        extra={
            "replies": {
                "data": [
                    None,
                    "x",
                    {"id": "17990000000000001", "text": "ok", "username": "resident_c"},
                ]
            }
        },
    )
    ig.add_comment(media.id, "no id", timestamp=last, extra={"id": None})

    with caplog.at_level(logging.WARNING), skips_collected() as skipped:
        got = by_id(all_comments(make(InstagramConnector, page_size=5), media.id))

    # Every comment but those without an id, author or text, plus the one readable nested
    # reply (the nested ones without an id or author are skipped too).
    skipped_ids = {no_author, no_text}
    assert set(got) == {
        c.id for c in ig.comments_on(media.id) if c.text != "no id" and c.id not in skipped_ids
    } | {"17990000000000001"}
    assert {"without an id", "without an author", "without text"} <= {s.why for s in skipped}
    assert (got[odd].text, got[odd].author_name, got[odd].author_id) == (
        "12345",
        "(unknown)",
        "17841400000000042",
    )
    assert got[odd].created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert got[odd].state is PlatformState.HIDDEN
    assert got[odd].parent_external_id is None
    assert got[odd].raw["surprise"] == {"nested": [1, 2, None]}
    assert got[odd].raw["text"] == 12345
    assert got[bad_time].created_at.tzinfo is UTC
    assert got[bad_time].raw["timestamp"] == "the day before yesterday"
    assert got["17990000000000001"].parent_external_id == odd_replies


@pytest.mark.expected_log("not valid UTF-8")
def test_invalid_utf8_in_a_comment_is_skipped_and_spares_the_rest(
    ig: InstagramSandbox, make: Make
) -> None:
    media = first_media(ig)
    broken = ig.add_comment(media.id, "", text_bytes=b"caf\xe9 \xff\xfe ok \xc3")
    with skips_collected() as skipped:
        got = by_id(all_comments(make(InstagramConnector, page_size=5), media.id))
    assert len(got) == len(ig.comments_on(media.id)) - 1
    assert broken not in got  # never kept with repaired text
    assert [s.why for s in skipped] == ["with text that is not valid UTF-8"]
    others = [c for c in ig.seeded if c.media_id == media.id]
    assert all(got[c.id].text == c.text for c in others)


@pytest.mark.parametrize(
    "body",
    [
        '{"data": [{"id": "1", "text": "cut',
        "[1, 2]",
        "",
        "<html><body>Bad gateway</body></html>",
        '{"data": "not a list"}',
        '{"data": [], "paging": {"next": "http://x/y"}}',
    ],
)
def test_unreadable_page_is_a_clear_retryable_error(
    sandbox_server: SandboxServer, ig: InstagramSandbox, make: Make, body: str
) -> None:
    sandbox_server.faults.add("malformed", path="/comments", body=body)
    connector = make(InstagramConnector)
    with pytest.raises(PlatformError, match="Instagram") as caught:
        connector.list_comments(first_media(ig).id)
    assert caught.value.retryable
    assert "cannot read" in str(caught.value) or "no way to fetch" in str(caught.value)
    assert connector.list_comments(first_media(ig).id).items  # the next try works


# --- text exactly as stored -----------------------------------------------------------


def test_hostile_and_huge_text_comes_back_exactly(ig: InstagramSandbox, make: Make) -> None:
    megabyte = (HOSTILE + " ") * (1_050_000 // len((HOSTILE + " ").encode()))
    hostile = ig.add_comment(ig.media[1].id, HOSTILE)
    huge = ig.add_comment(ig.media[1].id, megabyte)
    tagged = [c for c in ig.seeded if c.source is not None and c.source.tags]
    got: dict[str, RemoteComment] = {}
    for media in ig.media:
        got.update(by_id(all_comments(make(InstagramConnector), media.id)))
    for comment in tagged:
        assert got[comment.id].text.encode("utf-8") == comment.text.encode("utf-8")
    assert got[hostile].text == HOSTILE
    assert len(got[huge].text.encode("utf-8")) > 1_000_000
    assert got[huge].text == megabyte


def test_an_author_edit_shows_the_new_text(ig: InstagramSandbox, make: Make) -> None:
    _, reply = a_thread(ig)
    connector = make(InstagramConnector)
    assert by_id(all_comments(connector, reply.media_id))[reply.id].text == reply.text
    ig.edit_comment(reply.id, "Edited: never mind <b>all</b> that")
    assert by_id(all_comments(connector, reply.media_id))[reply.id].text == (
        "Edited: never mind <b>all</b> that"
    )


# --- configuration and the sandbox's own answers -------------------------------------


@pytest.mark.parametrize(
    "settings",
    [{"api_version": "25"}, {"api_version": "v25.0/../me"}, {"page_size": 0}, {"timeout": 0}],
)
def test_bad_settings_are_configuration_errors(settings: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        InstagramConnector(SiteConfig(IG_USER_ID, "http://127.0.0.1:9", SANDBOX_TOKEN, settings))


def test_ids_cannot_change_the_path(sandbox_server: SandboxServer, make: Make) -> None:
    assert make(InstagramConnector).fetch_state(f"../{IG_USER_ID}") is PlatformState.REMOVED
    (seen,) = sandbox_server.requests_seen()
    assert seen.path == f"{PREFIX}/{V}/..%2F{IG_USER_ID}"


def test_sandbox_answers_like_graph(sandbox_server: SandboxServer, ig: InstagramSandbox) -> None:
    base = f"{sandbox_server.url}{PREFIX}/{V}"
    parent, reply = a_thread(ig)
    with requests.Session() as session:
        anonymous = session.get(f"{base}/{IG_USER_ID}/media")
        assert anonymous.status_code == 400
        assert anonymous.json()["error"]["code"] == 190
        session.headers["Authorization"] = f"Bearer {SANDBOX_TOKEN}"
        unknown = session.get(f"{base}/{parent.media_id}/comments", params={"fields": "id,bogus"})
        assert unknown.json()["error"]["message"].startswith("(#100) Tried accessing")
        listed = session.get(
            f"{base}/{parent.media_id}/comments",
            params={"fields": "id,text,replies{id,parent_id}", "limit": "2"},
        )
        assert '"type": "instagram"' in listed.headers["X-Business-Use-Case-Usage"]
        body = listed.json()
        assert len(body["data"]) == 2
        assert set(body["paging"]["cursors"]) == {"before", "after"}
        assert session.get(body["paging"]["next"]).json()["data"]  # the next URL works
        read = session.get(f"{base}/{parent.id}", params={"fields": "id,replies{id,parent_id}"})
        nested = read.json()["replies"]["data"]
        assert {"id": reply.id, "parent_id": parent.id} in nested
        hidden = session.post(f"{base}/{reply.id}", data={"hide": "true"})
        assert hidden.json() == {"success": True}
        assert ig.is_hidden(reply.id)
        assert session.delete(f"{base}/{reply.id}").json() == {"success": True}
        gone = session.get(f"{base}/{reply.id}", params={"fields": "hidden"}).json()["error"]
        assert (gone["code"], gone["error_subcode"]) == (100, 33)
