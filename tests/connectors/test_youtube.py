"""YouTubeConnector and the YouTube sandbox: real HTTP over loopback, no mocks."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from hsm_console.connectors.base import RemoteComment, SiteConfig
from hsm_console.connectors.payload import skips_collected
from hsm_console.connectors.youtube import YouTubeConnector, seconds_until_quota_reset
from hsm_console.errors import ConfigurationError, NotPossible, PlatformError
from hsm_console.rules.domain import Action, PlatformState
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer, seed
from hsm_sandbox.youtube import API, CHANNEL_ID, YouTubeComment, YouTubeSandbox
from tests.connectors.conftest import FAST, Make, all_comments, all_posts, by_id

SECRET = "ya29.secret-owner-token-0123456789"


@pytest.fixture
def youtube(sandbox_server: SandboxServer) -> YouTubeSandbox:
    sandbox = sandbox_server.state["youtube"]
    assert isinstance(sandbox, YouTubeSandbox)
    return sandbox


def first_video(youtube: YouTubeSandbox) -> str:
    """The video with the most comments (its threads include every moderation status)."""
    return max(youtube.videos, key=lambda v: len(youtube.comments(v.id))).id


def top_level(youtube: YouTubeSandbox, status: str = "published") -> YouTubeComment:
    return next(
        c
        for c in youtube.comments(first_video(youtube))
        if c.parent_id is None and c.status == status
    )


def a_reply(youtube: YouTubeSandbox) -> YouTubeComment:
    return next(c for c in youtube.comments(first_video(youtube)) if c.parent_id)


# --- sandbox and registry -------------------------------------------------------------


def test_sandbox_seed(youtube: YouTubeSandbox) -> None:
    comments = youtube.comments()
    assert len(youtube.videos) == 3
    assert 40 <= len(comments) <= 60
    assert len({c.id for c in comments}) == len(comments)
    statuses = Counter(c.status for c in comments)
    assert statuses["heldForReview"] >= 2
    assert statuses["likelySpam"] >= 2
    assert {t for c in comments for t in c.tags} >= {"html", "script", "rtl", "long", "emoji"}
    assert sum(1 for c in comments if c.expected_code) >= 10
    assert sum(1 for c in comments if c.parent_id) >= 10
    for reply in (c for c in comments if c.parent_id):
        assert reply.id.startswith(reply.parent_id + ".")  # YouTube's reply id shape
    own = seed.DEMO.of("youtube")
    assert [v.description for v in reversed(youtube.videos)] == [p.message for p in own.posts]
    # Every comment and reply of its own seed, once; none of Facebook's texts.
    assert sorted(c.text for c in comments) == sorted(c.message for c in own.comments)
    assert not {c.text for c in comments} & {c.message for c in seed.DEMO.comments}
    # The channel's own replies carry its channel id, as the owner's comments do.
    assert any(c.author_channel_id == CHANNEL_ID for c in comments if c.parent_id)


def test_sandbox_speaks_youtube(
    sandbox_server: SandboxServer, youtube: YouTubeSandbox, api: requests.Session
) -> None:
    url = sandbox_server.url + API
    comment = top_level(youtube)
    threads = api.get(
        f"{url}/commentThreads",
        params={"part": "snippet,replies", "videoId": comment.video_id, "maxResults": 2},
    ).json()
    assert threads["kind"] == "youtube#commentThreadListResponse"
    assert len(threads["items"]) == 2
    assert threads["nextPageToken"]
    snippet = threads["items"][0]["snippet"]["topLevelComment"]["snippet"]
    assert snippet["moderationStatus"] == "published"
    by_id_answer = api.get(f"{url}/comments", params={"part": "snippet", "id": comment.id})
    assert "moderationStatus" not in by_id_answer.json()["items"][0]["snippet"]

    moderated = api.post(
        f"{url}/comments/setModerationStatus",
        params={"id": comment.id, "moderationStatus": "heldForReview"},
    )
    assert (moderated.status_code, moderated.content) == (204, b"")
    assert youtube.moderation_status(comment.id) == "heldForReview"
    assert youtube.quota_used == 1 + 1 + 50  # two reads and one change

    ban_alone = api.post(
        f"{url}/comments/setModerationStatus",
        params={"id": comment.id, "moderationStatus": "published", "banAuthor": "true"},
    )
    error = ban_alone.json()["error"]
    assert (ban_alone.status_code, error["errors"][0]["reason"]) == (400, "banWithoutReject")
    bad_token = api.get(f"{url}/commentThreads", params={"pageToken": "nope", "part": "id"})
    assert bad_token.status_code == 400
    unknown = api.get(f"{url}/commentThreads", params={"part": "id", "videoId": "nosuchvideo"})
    assert (unknown.status_code, unknown.json()["error"]["errors"][0]["reason"]) == (
        404,
        "videoNotFound",
    )
    rejected = api.get(
        f"{url}/commentThreads",
        params={"part": "id", "videoId": comment.video_id, "moderationStatus": "rejected"},
    )
    assert rejected.json()["items"] == []
    anonymous = requests.get(f"{url}/channels", params={"part": "id", "id": CHANNEL_ID}, timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["status"] == "UNAUTHENTICATED"


# --- listing --------------------------------------------------------------------------


def test_lists_every_video_newest_first(youtube: YouTubeSandbox, make: Make) -> None:
    posts = all_posts(make(YouTubeConnector, page_size=1))  # one video a page: three tokens
    assert [p.external_id for p in posts] == [v.id for v in youtube.videos]
    for post, video in zip(posts, youtube.videos, strict=True):
        assert post.text.startswith(video.title)
        assert post.created_at == video.published_at
        assert post.permalink == f"https://www.youtube.com/watch?v={video.id}"
        assert post.raw["contentDetails"]["videoId"] == video.id


def test_lists_every_comment_once_in_all_three_listings(
    youtube: YouTubeSandbox, make: Make
) -> None:
    connector = make(YouTubeConnector, page_size=2)  # many pages in each listing
    seen: list[str] = []
    for video in youtube.videos:
        comments = all_comments(connector, video.id)
        seen.extend(c.external_id for c in comments)
        expected = {c.id: c for c in youtube.comments(video.id)}
        assert set(by_id(comments)) == youtube.listed_ids(video.id) == set(expected)
        for got in comments:
            want = expected[got.external_id]
            assert (got.text, got.author_name, got.created_at, got.parent_external_id) == (
                want.text,
                want.author_name,
                want.published_at,
                want.parent_id,
            )
            assert got.author_id == want.author_channel_id
            assert got.post_external_id == video.id
            assert got.permalink == f"https://www.youtube.com/watch?v={video.id}&lc={want.id}"
            assert got.state is (
                PlatformState.VISIBLE if want.status == "published" else PlatformState.HIDDEN
            )
            assert got.updated_at is None
            assert got.raw["id"] == want.id
    assert len(seen) == len(set(seen)) == len(youtube.comments())


def test_replies_beyond_those_embedded_are_read_with_parent_id(
    sandbox_server: SandboxServer, youtube: YouTubeSandbox, make: Make
) -> None:
    parent = top_level(youtube)
    added = [
        youtube.add_comment(parent.video_id, f"reply {n}", parent_id=parent.id) for n in range(8)
    ]
    held = youtube.add_comment(
        parent.video_id, "held reply", parent_id=parent.id, status="heldForReview"
    )
    got = by_id(all_comments(make(YouTubeConnector, page_size=3), parent.video_id))
    replies = {i: c for i, c in got.items() if c.parent_external_id == parent.id}
    assert set(added) | {held} <= set(replies)
    assert len(replies) == len([c for c in youtube.comments() if c.parent_id == parent.id])
    assert replies[held].state is PlatformState.HIDDEN
    assert replies[added[0]].text == "reply 0"
    assert sandbox_server.requests_seen("GET", "/comments")  # comments.list?parentId was used
    assert any("parentId=" in r.query_string for r in sandbox_server.requests_seen("GET"))


def test_since_narrows_to_new_and_edited_comments(youtube: YouTubeSandbox, make: Make) -> None:
    video = first_video(youtube)
    cut = datetime(2026, 6, 1, tzinfo=UTC)
    new = youtube.add_comment(video, "new one", published_at=cut + timedelta(hours=1))
    edited = top_level(youtube).id
    youtube.edit_comment(edited, "edited later", at=cut + timedelta(hours=2))
    got = all_comments(make(YouTubeConnector), video, since=cut)
    assert {c.external_id for c in got} == {new, edited}


def test_author_edit_shows_new_text_and_updated_at(youtube: YouTubeSandbox, make: Make) -> None:
    comment = top_level(youtube)
    edited_at = comment.published_at + timedelta(days=2)
    youtube.edit_comment(comment.id, "Edited: never mind, found it.", at=edited_at)
    got = by_id(all_comments(make(YouTubeConnector), comment.video_id))[comment.id]
    assert got.text == "Edited: never mind, found it."
    assert got.created_at == comment.published_at
    assert got.updated_at == edited_at


def test_comments_turned_off_list_nothing(youtube: YouTubeSandbox, make: Make) -> None:
    video = first_video(youtube)
    youtube.disable_comments(video)
    page = make(YouTubeConnector).list_comments(video)
    assert (page.items, page.next_cursor) == ([], None)


def test_hostile_and_megabyte_text_come_back_exactly(youtube: YouTubeSandbox, make: Make) -> None:
    megabyte = "<script>alert(1)</script>\u202e=SUM(A1)\x00\x1b[31m 🎉 " * 24_000
    video = first_video(youtube)
    added = youtube.add_comment(video, megabyte)
    connector = make(YouTubeConnector)
    got: dict[str, RemoteComment] = {}
    for each in youtube.videos:
        got.update(by_id(all_comments(connector, each.id)))
    hostile = [c for c in youtube.comments() if c.tags]
    assert len(hostile) >= 8
    for comment in hostile:
        assert got[comment.id].text.encode("utf-8") == comment.text.encode("utf-8")
    assert len(got[added].text.encode("utf-8")) > 1_000_000
    assert got[added].text == megabyte


# --- moderation -----------------------------------------------------------------------


def test_hide_unhide_round_trip_with_fetch_state(
    sandbox_server: SandboxServer, youtube: YouTubeSandbox, make: Make
) -> None:
    connector = make(YouTubeConnector, page_size=3)
    for comment in (top_level(youtube), a_reply(youtube)):
        assert connector.fetch_state(comment.id) is PlatformState.VISIBLE

        connector.apply(Action.HIDE, comment.id)
        assert youtube.moderation_status(comment.id) == "heldForReview"
        assert connector.fetch_state(comment.id) is PlatformState.HIDDEN
        listed = by_id(all_comments(connector, comment.video_id))
        assert listed[comment.id].state is PlatformState.HIDDEN

        connector.apply(Action.UNHIDE, comment.id)
        assert youtube.moderation_status(comment.id) == "published"
        assert connector.fetch_state(comment.id) is PlatformState.VISIBLE
    moderated = sandbox_server.requests_seen("POST", "/setModerationStatus")
    assert len(moderated) == 4
    assert all("banAuthor" not in r.query_string for r in moderated)


def _thread_ids(sandbox_server: SandboxServer, video: str, status: str) -> set[str]:
    """The thread ids of one listing, read the way a client reads YouTube."""
    answer = requests.get(
        f"{sandbox_server.url}{API}/commentThreads",
        params={"part": "id", "videoId": video, "moderationStatus": status, "maxResults": 100},
        headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
        timeout=10,
    )
    answer.raise_for_status()
    return {item["id"] for item in answer.json()["items"]}


def question_with_held_answer(youtube: YouTubeSandbox, status: str) -> tuple[str, str, str]:
    """(video, a published top-level comment, its reply with `status`)."""
    video = first_video(youtube)
    top = youtube.add_comment(video, "a published question")
    return video, top, youtube.add_comment(video, "a held answer", parent_id=top, status=status)


@pytest.mark.parametrize("status", ["heldForReview", "likelySpam"])
def test_sandbox_lists_a_thread_under_a_status_its_reply_has(
    sandbox_server: SandboxServer, youtube: YouTubeSandbox, status: str
) -> None:
    # As Google documents: a thread is in the heldForReview (likelySpam) listing when its
    # top-level comment or any of its replies is; in the published one for its top comment.
    video, top, _ = question_with_held_answer(youtube, status)
    assert top in _thread_ids(sandbox_server, video, status)
    assert top in _thread_ids(sandbox_server, video, "published")
    held_top = youtube.add_comment(video, "held itself", status=status)
    assert held_top not in _thread_ids(sandbox_server, video, "published")


@pytest.mark.parametrize("status", ["heldForReview", "likelySpam"])
def test_a_comment_is_not_held_because_its_thread_is_listed_as_held(
    youtube: YouTubeSandbox, make: Make, status: str
) -> None:
    # The old way read a top-level comment's state from the listing its thread is in, and
    # called this published question hidden because of its held answer.
    video, top, reply = question_with_held_answer(youtube, status)
    connector = make(YouTubeConnector, page_size=3)
    assert connector.fetch_state(top) is PlatformState.VISIBLE
    assert connector.fetch_state(reply) is PlatformState.HIDDEN
    # Listed twice (published listing, held listing), each time with its own state.
    pages = all_comments(connector, video)
    assert {c.state for c in pages if c.external_id == top} == {PlatformState.VISIBLE}
    assert {c.state for c in pages if c.external_id == reply} == {PlatformState.HIDDEN}
    assert sum(c.external_id == top for c in pages) == 2


def test_a_comment_without_its_status_is_not_given_its_listing_s(
    youtube: YouTubeSandbox, make: Make
) -> None:
    # Only the published listing says anything of a top-level comment it carries; a held
    # listing may carry it for a reply, so without its own status the state is UNKNOWN.
    video = first_video(youtube)
    top = youtube.add_comment(video, "no status sent", omit=["moderationStatus"])
    youtube.add_comment(video, "held", parent_id=top, status="heldForReview")
    connector = make(YouTubeConnector)
    states = {}
    for listing in ("published", "heldForReview"):
        page = connector.list_comments(video, f"{listing}:")
        states[listing] = next(c.state for c in page.items if c.external_id == top)
    assert states == {"published": PlatformState.VISIBLE, "heldForReview": PlatformState.UNKNOWN}


def test_likely_spam_is_hidden_and_can_be_published(youtube: YouTubeSandbox, make: Make) -> None:
    spam = top_level(youtube, "likelySpam")
    connector = make(YouTubeConnector)
    assert connector.fetch_state(spam.id) is PlatformState.HIDDEN
    connector.unhide(spam.id)
    assert youtube.moderation_status(spam.id) == "published"
    assert connector.fetch_state(spam.id) is PlatformState.VISIBLE


def test_remove_rejects_for_good(
    sandbox_server: SandboxServer, youtube: YouTubeSandbox, make: Make
) -> None:
    connector = make(YouTubeConnector)
    comment = next(
        c
        for c in youtube.comments(first_video(youtube))
        if c.parent_id is None and any(r.parent_id == c.id for r in youtube.comments())
    )
    replies = [c.id for c in youtube.comments() if c.parent_id == comment.id]
    connector.apply(Action.REMOVE, comment.id)
    assert youtube.moderation_status(comment.id) == "rejected"
    (call,) = sandbox_server.requests_seen("POST", "/setModerationStatus")
    assert "moderationStatus=rejected" in call.query_string
    assert "banAuthor=false" in call.query_string  # banning is a separate, approved step
    assert youtube.banned_authors() == set()
    assert connector.fetch_state(comment.id) is PlatformState.REMOVED

    with pytest.raises(NotPossible, match="does not publish a rejected comment again"):
        connector.unhide(comment.id)
    with pytest.raises(NotPossible, match="rejected"):
        connector.hide(comment.id)
    assert youtube.moderation_status(comment.id) == "rejected"
    listed = by_id(all_comments(connector, comment.video_id))
    assert comment.id not in listed
    assert not set(replies) & set(listed)  # rejecting a comment hides its replies too


def test_comment_deleted_by_its_author(
    sandbox_server: SandboxServer, youtube: YouTubeSandbox, make: Make
) -> None:
    connector = make(YouTubeConnector)
    comment = top_level(youtube)
    youtube.delete_comment(comment.id)
    assert connector.fetch_state(comment.id) is PlatformState.REMOVED
    for action in (connector.hide, connector.unhide, connector.remove):
        with pytest.raises(PlatformError, match="no longer exists on YouTube") as caught:
            action(comment.id)
        assert caught.value.gone
        assert not caught.value.retryable
    # YouTube answers processingFailure; one read tells "deleted" from other failures.
    assert len(sandbox_server.requests_seen("POST")) == 3
    assert comment.id not in by_id(all_comments(connector, comment.video_id))


def test_unknown_comment_is_gone(make: Make) -> None:
    connector = make(YouTubeConnector)
    assert connector.fetch_state("UgzNoSuchComment0000004AaABAg") is PlatformState.REMOVED
    with pytest.raises(PlatformError, match="no longer exists") as caught:
        connector.hide("UgzNoSuchComment0000004AaABAg")
    assert caught.value.gone


@pytest.mark.expected_log("came without its video id")
def test_fetch_state_says_unknown_when_it_cannot_tell(youtube: YouTubeSandbox, make: Make) -> None:
    video = first_video(youtube)
    no_video = youtube.add_comment(video, "where am I?", omit=["videoId"])
    assert make(YouTubeConnector).fetch_state(no_video) is PlatformState.UNKNOWN
    published = top_level(youtube).id
    assert make(YouTubeConnector, page_size=2).fetch_state(published) is PlatformState.VISIBLE
    for n in range(4):  # a held-for-review listing longer than the connector may read
        youtube.add_comment(video, f"held {n}", status="heldForReview")
    connector = make(YouTubeConnector, page_size=2, state_scan_pages=1)
    assert connector.fetch_state(published) is PlatformState.UNKNOWN


# --- errors ---------------------------------------------------------------------------


def test_quota_exceeded_says_when_it_resets(
    sandbox_server: SandboxServer, youtube: YouTubeSandbox, make: Make
) -> None:
    connector = make(YouTubeConnector)
    youtube.set_quota_used(youtube.daily_quota - 60)
    connector.hide(top_level(youtube).id)  # 50 units: 10 left
    with pytest.raises(PlatformError, match="daily quota is used up") as caught:
        connector.remove(top_level(youtube).id)
    error = caught.value
    assert "midnight Pacific time" in error.message
    assert error.retryable
    assert error.retry_after is not None
    assert abs(error.retry_after - seconds_until_quota_reset()) < 5
    assert "reason=quotaExceeded domain=youtube.quota" in error.details
    assert len(sandbox_server.requests_seen("POST")) == 2  # a spent quota is not retried
    assert connector.list_posts().items  # reads (1 unit) still fit in the 10 left

    sandbox_server.faults.add("rate_limit")
    with pytest.raises(PlatformError, match="daily quota is used up"):
        connector.list_comments(first_video(youtube))


def test_quota_resets_at_pacific_midnight() -> None:
    # 2026-03-08 is a 23-hour day in Los Angeles (DST starts at 2 am).
    before = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 23:00 on March 7, Pacific
    assert seconds_until_quota_reset(before) == 3600
    morning = datetime(2026, 3, 8, 8, 30, tzinfo=UTC)  # 00:30 PST on March 8
    assert seconds_until_quota_reset(morning) == 22.5 * 3600
    summer = datetime(2026, 7, 1, 6, 59, 30, tzinfo=UTC)  # 23:59:30 PDT
    assert seconds_until_quota_reset(summer) == 30


def test_revoked_token_says_renew(
    sandbox_server: SandboxServer,
    youtube: YouTubeSandbox,
    make: Make,
) -> None:
    youtube.set_token(SECRET)
    connector = make(YouTubeConnector, token=SECRET)
    assert connector.list_posts().items
    sandbox_server.faults.add("revoked_token")
    with pytest.raises(PlatformError) as caught:
        connector.list_comments(first_video(youtube))
    error = caught.value
    assert "token for this site has expired or was revoked" in str(error)
    assert "renew" in str(error)
    assert not error.retryable
    for seen in sandbox_server.requests_seen():
        assert seen.headers["authorization"] == f"Bearer {SECRET}"


def test_wrong_token_is_explained(make: Make) -> None:
    with pytest.raises(PlatformError, match="expired or was revoked") as caught:
        make(YouTubeConnector, token=SECRET).list_posts()
    assert SECRET not in str(caught.value) + caught.value.details


def test_missing_permission_is_explained(
    sandbox_server: SandboxServer, youtube: YouTubeSandbox, make: Make
) -> None:
    connector = make(YouTubeConnector)
    comment = top_level(youtube)
    sandbox_server.faults.add("permission", method="GET")
    with pytest.raises(PlatformError, match=r"youtube\.force-ssl") as scope:
        connector.list_comments(comment.video_id)
    sandbox_server.faults.add("permission", method="POST")
    with pytest.raises(PlatformError, match="Only the channel's owner") as forbidden:
        connector.hide(comment.id)
    for error in (scope.value, forbidden.value):
        assert not error.retryable
        assert not error.gone
        assert SANDBOX_TOKEN not in error.message + error.details
    assert youtube.moderation_status(comment.id) == "published"


@pytest.mark.expected_log("has no readable", "Skipped")
def test_malformed_comments_are_listed_with_raw_kept(
    youtube: YouTubeSandbox, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    video = first_video(youtube)
    no_author = youtube.add_comment(
        video, "who wrote this?", omit=["authorDisplayName", "authorChannelId"]
    )
    no_text = youtube.add_comment(video, "gone", omit=["textDisplay", "textOriginal"])
    display_only = youtube.add_comment(video, "shown text", omit=["textOriginal"])
    odd = youtube.add_comment(
        video,
        "x",
        extra={
            "textOriginal": 12345,
            "textDisplay": ["not", "text"],
            "authorChannelId": "not an object",
            "authorDisplayName": 7,
            "publishedAt": "the day before yesterday",
            "updatedAt": 7,
            "moderationStatus": "somethingNew",
            "surprise": {"nested": [1, 2, None]},
        },
    )
    no_snippet = youtube.add_comment(video, "x", resource_extra={"snippet": "broken"})
    youtube.add_comment(video, "no id", resource_extra={"id": None})
    invalid_utf8 = youtube.add_comment(video, "x", raw_text=b"caf\xe9 \xff\xfe ok")

    with caplog.at_level(logging.WARNING), skips_collected() as skipped:
        got = by_id(all_comments(make(YouTubeConnector, page_size=4), video))

    # No id, author, text (nor a snippet to hold them), or not UTF-8: skipped, never kept.
    gone = {no_author, no_text, no_snippet, invalid_utf8}
    assert len(got) == len(youtube.listed_ids(video)) - len(gone) - 1  # and the one without id
    assert not gone & set(got)
    assert sorted({s.why for s in skipped}) == [
        "with text that is not valid UTF-8",
        "without an author",
        "without an id",
        "without text",
    ]
    assert got[display_only].text == "shown text"
    assert (got[odd].text, got[odd].author_name, got[odd].author_id) == ("12345", "7", "")
    assert got[odd].created_at.tzinfo is UTC
    assert got[odd].state is PlatformState.VISIBLE  # no status known: the published listing's
    assert got[odd].raw["snippet"]["surprise"] == {"nested": [1, 2, None]}
    assert got[odd].raw["snippet"]["publishedAt"] == "the day before yesterday"


def test_unreadable_answer_is_a_retryable_error(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("malformed", body="<html>Bad Gateway</html>", path="/playlistItems")
    with pytest.raises(PlatformError, match="cannot read") as caught:
        make(YouTubeConnector).list_posts()
    assert caught.value.retryable
    assert "<html>" in caught.value.details


def test_processing_failure_of_a_live_comment_is_reported(
    sandbox_server: SandboxServer, youtube: YouTubeSandbox, make: Make
) -> None:
    body = (
        '{"error": {"code": 400, "message": "The API server failed to successfully process '
        'the request.", "errors": [{"domain": "youtube.comment", "reason": "processingFailure",'
        ' "message": "x"}]}}'
    )
    sandbox_server.faults.add("malformed", status=400, body=body, method="POST")
    with pytest.raises(PlatformError, match="could not process") as caught:
        make(YouTubeConnector).hide(top_level(youtube).id)
    assert not caught.value.gone


# --- capabilities and settings --------------------------------------------------------


def test_capabilities_describe_youtube() -> None:
    caps = YouTubeConnector.capabilities
    assert all(caps.allows(a) for a in Action)
    assert caps.hide_means == "held for review: hidden from the public until published again"
    # Only what Google documents: no "for good", no "can never be restored".
    assert caps.remove_means == (
        "rejected: hidden from the public, with its replies; YouTube's API cannot publish "
        "a rejected comment again and no longer lists it"
    )
    assert "for good" not in caps.remove_means
    assert "restored" not in caps.remove_means
    assert not caps.removed_readable
    assert (caps.daily_quota, caps.read_cost, caps.action_cost) == (10_000, 1, 50)
    assert "Pacific" in caps.rate_limits


@pytest.mark.parametrize(
    "settings",
    [{"page_size": 0}, {"page_size": 101}, {"page_size": "many"}, {"state_scan_pages": 0}],
)
def test_bad_settings_are_configuration_errors(settings: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        YouTubeConnector(SiteConfig(CHANNEL_ID, "http://127.0.0.1:9", SANDBOX_TOKEN, settings))


def test_unknown_channel_is_explained(sandbox_server: SandboxServer) -> None:
    site = SiteConfig("UCnobody", sandbox_server.url + "/youtube", SANDBOX_TOKEN, FAST)
    connector = YouTubeConnector(site)
    try:
        with pytest.raises(PlatformError, match="channel was not found"):
            connector.list_posts()
    finally:
        connector.close()


def test_cursor_from_elsewhere_is_refused(make: Make) -> None:
    with pytest.raises(ValueError, match="not a YouTube comment cursor"):
        make(YouTubeConnector).list_comments("video", "rejected:abc")


def test_missing_parameter_is_not_a_token_problem(
    sandbox_server: SandboxServer, make: Make
) -> None:
    body = (
        '{"error": {"code": 400, "message": "Required parameter: part", "errors": [{"domain":'
        ' "global", "reason": "required", "message": "Required parameter: part"}]}}'
    )
    sandbox_server.faults.add("malformed", status=400, body=body)
    with pytest.raises(PlatformError, match=r"refused the request \(required\)") as caught:
        make(YouTubeConnector).list_posts()
    assert "token" not in caught.value.message


@pytest.mark.expected_log("not valid UTF-8")
def test_a_video_with_invalid_utf8_is_skipped_not_stored(
    sandbox_server: SandboxServer, make: Make
) -> None:
    # An unpaired JSON escape arrives as a lone surrogate, as undecodable bytes do.
    when = {"videoId": "vidOK", "videoPublishedAt": "2026-03-01T10:00:00Z"}
    good = {"id": "a", "contentDetails": when, "snippet": {"title": "ok"}}
    bad = {"id": "b", "contentDetails": {"videoId": "vidBad"}, "snippet": {"title": "\ud800"}}
    body = json.dumps({"items": [good, bad]})  # ASCII: the escape stays an escape
    assert "\\ud800" in body
    sandbox_server.faults.add("malformed", body=body, path="/playlistItems")
    with skips_collected() as skipped:
        posts = make(YouTubeConnector).list_posts().items
    assert [p.external_id for p in posts] == ["vidOK"]
    assert [str(s) for s in skipped] == [
        "a YouTube video (vidBad) came with text that is not valid UTF-8"
    ]
