"""WordPressConnector against the sandbox's WordPress: real HTTP over loopback, no mocks."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import Counter
from datetime import UTC
from typing import Any

import pytest
import requests

from hsm_console.connectors.base import RemoteComment, SiteConfig
from hsm_console.connectors.payload import skips_collected
from hsm_console.connectors.wordpress import WordPressConnector
from hsm_console.errors import ConfigurationError, NotFound, PlatformError
from hsm_console.rules.domain import Action, PlatformState
from hsm_sandbox import SANDBOX_TOKEN, SandboxServer
from hsm_sandbox.wordpress import FIRST_COMMENT_ID, WordPressSandbox
from tests.conftest import RECENT_SEED
from tests.connectors.conftest import Make, all_comments, by_id

TOKEN = f"admin:{SANDBOX_TOKEN}"
SECRET = "Xq7p Lm2R 9vTn Kc4W Hs8J Bd3Z"  # an application password as wp-admin shows it
MASTER_PLAN, KORTE_FEES, TRAIL_BRIDGE = "1841", "1867", "1902"
STATES = {
    "approved": PlatformState.VISIBLE,
    "hold": PlatformState.HIDDEN,
    "spam": PlatformState.HIDDEN,
    "trash": PlatformState.REMOVED,
}


@pytest.fixture
def blog(sandbox_server: SandboxServer) -> WordPressSandbox:
    wordpress = sandbox_server.state["wordpress"]
    assert isinstance(wordpress, WordPressSandbox)
    return wordpress


def blog_comments(connector: WordPressConnector) -> dict[str, RemoteComment]:
    found: list[RemoteComment] = []
    for post_id in (MASTER_PLAN, KORTE_FEES, TRAIL_BRIDGE):
        found.extend(all_comments(connector, post_id))
    listed = by_id(found)
    assert len(listed) == len(found)  # no comment twice
    return listed


# --- listing --------------------------------------------------------------------------


def test_lists_every_comment_in_every_status_once(blog: WordPressSandbox, make: Make) -> None:
    listed = blog_comments(make(WordPressConnector, page_size=3))  # small pages: many cursors
    seeded = dict(blog.seeded())
    assert 30 <= len(seeded) <= 50
    assert set(listed) == {str(i) for i in seeded}
    statuses = Counter(blog.status_of(int(i)) for i in listed)
    assert set(statuses) == {"approved", "hold", "spam", "trash"}
    wp_id = {seed.id: str(i) for i, seed in seeded.items()}
    for external_id, comment in listed.items():
        seed = seeded[int(external_id)]
        assert comment.state is STATES[str(blog.status_of(int(external_id)))]
        assert comment.raw["status"] == blog.status_of(int(external_id))
        assert (comment.text, comment.author_name, comment.created_at) == (
            seed.message,
            seed.author_name,
            seed.created_time,
        )
        assert comment.parent_external_id == (wp_id[seed.parent_id] if seed.parent_id else None)
        assert comment.author_id == ""  # guests have no account
        assert comment.permalink.startswith("https://www.highlandil.gov/news/")
        assert comment.permalink.endswith(f"/#comment-{external_id}")
        assert comment.raw["author_email"].endswith("@example.org")  # context=edit
        assert comment.attachments == ()
    replies = [c for c in listed.values() if c.parent_external_id]
    assert len(replies) >= 5
    assert {c.state for c in replies} >= {PlatformState.VISIBLE, PlatformState.HIDDEN}


def test_comments_come_oldest_first_and_pages_follow_each_other(
    sandbox_server: SandboxServer, make: Make
) -> None:
    connector = make(WordPressConnector, page_size=4)
    first = connector.list_comments(MASTER_PLAN)
    assert first.next_cursor == "2"
    second = connector.list_comments(MASTER_PLAN, first.next_cursor)
    ids = [int(c.external_id) for c in first.items + second.items]
    assert ids == sorted(ids)
    seen = sandbox_server.requests_seen("GET", "/comments")
    assert [s.path for s in seen] == ["/wordpress/wp-json/wp/v2/comments"] * 2
    query = dict(p.split("=", 1) for p in seen[1].query_string.split("&"))
    assert query == {
        "post": MASTER_PLAN,
        "status": "any",
        "context": "edit",
        "per_page": "4",
        "page": "2",
        "orderby": "id",
        "order": "asc",
    }
    basic = base64.b64encode(TOKEN.encode()).decode()
    assert seen[0].headers["authorization"] == f"Basic {basic}"


def test_posts_newest_first_one_page_at_a_time(make: Make) -> None:
    connector = make(WordPressConnector, page_size=1)
    pages = [connector.list_posts()]
    while pages[-1].next_cursor is not None:
        pages.append(connector.list_posts(pages[-1].next_cursor))
    assert [p.next_cursor for p in pages] == ["2", "3", None]
    posts = [p.items[0] for p in pages]
    assert [p.external_id for p in posts] == [TRAIL_BRIDGE, KORTE_FEES, MASTER_PLAN]
    assert posts[2].text == "Draft Parks and Recreation Master Plan: tell us what you think"
    assert all(p.permalink.startswith("https://www.highlandil.gov/news/") for p in posts)
    assert all(p.created_at.tzinfo is UTC for p in posts)
    assert posts[0].created_at > posts[1].created_at > posts[2].created_at


def test_cursors_past_the_end_give_empty_last_pages(make: Make) -> None:
    connector = make(WordPressConnector)
    assert connector.list_posts("9").items == []  # WordPress: 400 rest_post_invalid_page_number
    assert connector.list_posts("9").next_cursor is None
    past = connector.list_comments(MASTER_PLAN, "99")
    assert (past.items, past.next_cursor) == ([], None)
    with pytest.raises(ValueError, match="cursor"):
        connector.list_comments(MASTER_PLAN, "next")


def test_since_asks_wordpress_for_newer_comments(make: Make) -> None:
    connector = make(WordPressConnector, page_size=5)
    everything = all_comments(connector, MASTER_PLAN)
    since = sorted(c.created_at for c in everything)[len(everything) // 2]
    newer = all_comments(connector, MASTER_PLAN, since=since)
    assert {c.external_id for c in newer} == {
        c.external_id for c in everything if c.created_at > since
    }


def test_a_new_comment_while_paging_joins_the_end(blog: WordPressSandbox, make: Make) -> None:
    connector = make(WordPressConnector, page_size=5)
    first = connector.list_comments(KORTE_FEES)
    added = blog.add_comment(int(KORTE_FEES), "Posted while the console was reading")
    rest = all_comments(connector, KORTE_FEES, first.next_cursor)
    ids = [c.external_id for c in first.items + rest]
    assert len(ids) == len(set(ids))
    assert ids[-1] == str(added)


# --- moderation round trip ------------------------------------------------------------


def approved_comment(blog: WordPressSandbox) -> int:
    return next(i for i, _ in blog.seeded() if blog.status_of(i) == "approved")


def test_hide_unhide_spam_remove_round_trip(
    sandbox_server: SandboxServer, blog: WordPressSandbox, make: Make
) -> None:
    connector = make(WordPressConnector)
    comment_id = approved_comment(blog)
    external_id = str(comment_id)
    before = blog.comment_json(comment_id)
    assert connector.fetch_state(external_id) is PlatformState.VISIBLE

    for act, status, state in (
        (lambda: connector.apply(Action.HIDE, external_id), "hold", PlatformState.HIDDEN),
        (lambda: connector.apply(Action.UNHIDE, external_id), "approved", PlatformState.VISIBLE),
        (lambda: connector.mark_spam(external_id), "spam", PlatformState.HIDDEN),
        (lambda: connector.apply(Action.UNHIDE, external_id), "approved", PlatformState.VISIBLE),
        (lambda: connector.apply(Action.REMOVE, external_id), "trash", PlatformState.REMOVED),
    ):
        act()
        assert blog.status_of(comment_id) == status
        assert connector.fetch_state(external_id) is state

    # Trashed, not deleted: still listed and readable, text intact.
    listed = blog_comments(connector)[external_id]
    assert listed.state is PlatformState.REMOVED
    assert listed.text == before["content"]["raw"]
    assert WordPressConnector.capabilities.removed_readable
    # The commenter's address and browser survive the moderator's changes.
    after = blog.comment_json(comment_id)
    assert (after["author_ip"], after["author_user_agent"]) == (
        before["author_ip"],
        before["author_user_agent"],
    )
    posts = sandbox_server.requests_seen("POST")
    assert len(posts) == 5
    assert all(p.headers["content-type"] == "application/json" for p in posts)
    assert not sandbox_server.requests_seen("DELETE")  # never deleted for good


def test_status_already_in_place_sends_no_change(
    sandbox_server: SandboxServer, blog: WordPressSandbox, make: Make
) -> None:
    held = next(i for i, _ in blog.seeded() if blog.status_of(i) == "hold")
    make(WordPressConnector).hide(str(held))
    assert blog.status_of(held) == "hold"
    assert not sandbox_server.requests_seen("POST")


def test_comment_deleted_for_good_is_gone(
    sandbox_server: SandboxServer, blog: WordPressSandbox, make: Make
) -> None:
    connector = make(WordPressConnector)
    comment_id = approved_comment(blog)
    blog.delete_comment(comment_id)
    assert connector.fetch_state(str(comment_id)) is PlatformState.REMOVED
    for action in (connector.hide, connector.unhide, connector.remove, connector.mark_spam):
        with pytest.raises(PlatformError, match="no longer exists on WordPress") as caught:
            action(str(comment_id))
        assert caught.value.gone
        assert not caught.value.retryable
    assert not sandbox_server.requests_seen("POST")
    assert str(comment_id) not in blog_comments(connector)


def test_capabilities_describe_wordpress() -> None:
    caps = WordPressConnector.capabilities
    assert caps.actions == frozenset({Action.HIDE, Action.UNHIDE, Action.REMOVE})
    assert all(caps.allows(a) for a in Action)
    assert "held for moderation (pending): not shown on the site" in caps.hide_means
    assert "moved to the trash: WordPress keeps it for 30 days" in caps.remove_means
    assert caps.removed_readable


# --- hostile and large text -----------------------------------------------------------


def test_hostile_and_megabyte_text_comes_back_exactly(blog: WordPressSandbox, make: Make) -> None:
    megabyte = '<script>alert(1)</script>\u202e=SUM(A1) 🎉 \\/ "q" ' * 24_000
    added = blog.add_comment(int(TRAIL_BRIDGE), megabyte, status="hold")
    listed = blog_comments(make(WordPressConnector))
    hostile = [(i, seed) for i, seed in blog.seeded() if seed.tags]
    assert {t for _, seed in hostile for t in seed.tags} >= {
        "html",
        "script",
        "img-onerror",
        "rtl",
        "formula",
        "emoji",
        "long",
    }
    for comment_id, seed in hostile:
        assert listed[str(comment_id)].text.encode("utf-8") == seed.message.encode("utf-8")
    assert len(listed[str(added)].text.encode("utf-8")) > 1_000_000
    assert listed[str(added)].text == megabyte


# --- malformed payloads ---------------------------------------------------------------


@pytest.mark.expected_log("has no readable", "unknown status", "Skipped")
def test_odd_comments_are_listed_with_raw_kept(
    blog: WordPressSandbox, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    post = int(MASTER_PLAN)
    no_author = blog.add_comment(post, "who wrote this?", omit=["author_name"])
    no_text = blog.add_comment(post, "x", omit=["content"])
    nobody = blog.add_comment(post, "x", omit=["author", "author_name"])
    odd = blog.add_comment(
        post,
        "x",
        extra={
            "content": {"rendered": "<p>only rendered</p>"},
            "author_name": 12345,
            "author": 7,
            "parent": "not a number",
            "status": "post-trashed",
            "date_gmt": "yesterday",
            "link": None,
            "surprise": {"nested": [1, 2, None]},
        },
    )
    unknown = blog.add_comment(post, "?", extra={"status": "pending-review"})
    blog.add_comment(post, "no id", extra={"id": None})
    blog.add_comment(post, "bool id", extra={"id": True})

    with caplog.at_level(logging.WARNING), skips_collected() as skipped:
        listed = by_id(all_comments(make(WordPressConnector, page_size=7), MASTER_PLAN))

    assert "without an id" in caplog.text
    # A guest without a name is still an author; no content or no author field at all is
    # an incomplete item: skipped and said, never a placeholder.
    assert listed[str(no_author)].author_name == "(unknown)"
    assert listed[str(no_author)].text == "who wrote this?"
    assert {str(no_text), str(nobody)}.isdisjoint(listed)
    assert {s.why for s in skipped} == {"without an id", "without text", "without an author"}
    comment = listed[str(odd)]
    assert (comment.text, comment.author_name, comment.author_id) == (
        "<p>only rendered</p>",
        "12345",
        "7",
    )
    assert comment.parent_external_id is None
    assert comment.state is PlatformState.REMOVED  # its post went to the trash
    assert comment.created_at.tzinfo is UTC
    assert comment.permalink == ""
    assert comment.raw["surprise"] == {"nested": [1, 2, None]}
    assert comment.raw["date_gmt"] == "yesterday"
    assert listed[str(unknown)].state is PlatformState.UNKNOWN
    assert "unknown status" in caplog.text


@pytest.mark.expected_log("belongs to another post")
def test_a_comment_listed_for_another_post_is_left_out(
    blog: WordPressSandbox, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    stray = blog.add_comment(int(MASTER_PLAN), "misfiled", extra={"post": int(KORTE_FEES)})
    with caplog.at_level(logging.WARNING):
        listed = by_id(all_comments(make(WordPressConnector), MASTER_PLAN))
    assert str(stray) not in listed
    assert "another post" in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        '[{"id": 1, "content": {"raw": "cut',  # cut off
        "",
        '{"id": 1}',  # an object where a list belongs
        "null",
        "[" * 50_000 + "]" * 50_000,  # nested past any sane depth
        '[{"id": 1, "content": {"raw": "caf\udce9"}}]',  # 0xE9 alone: not UTF-8
        '["\udcc0\udcaf"]',  # an overlong sequence
    ],
)
def test_unreadable_answers(sandbox_server: SandboxServer, make: Make, body: str) -> None:
    sandbox_server.faults.add("malformed", path="/comments", body=body)
    with pytest.raises(PlatformError, match="WordPress answered with something") as caught:
        make(WordPressConnector).list_comments(MASTER_PLAN)
    assert caught.value.retryable


def test_web_page_instead_of_the_api(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("malformed", body="<!DOCTYPE html><title>Hello world!</title>")
    with pytest.raises(PlatformError, match="answered with a web page") as caught:
        make(WordPressConnector).list_posts()
    assert "blog's home page" in str(caught.value)
    assert "text/html" in caught.value.details


def test_invalid_utf8_inside_a_comment_is_refused_not_repaired(
    blog: WordPressSandbox, make: Make
) -> None:
    blog.add_comment(int(KORTE_FEES), "placeholder", content_bytes=b"caf\xe9 \xff")
    with pytest.raises(PlatformError, match="cannot read") as caught:
        all_comments(make(WordPressConnector), KORTE_FEES)
    assert "can't decode byte 0xe9" in caught.value.details


@pytest.mark.expected_log("has no readable")
def test_paging_without_wordpress_headers_reads_on_while_pages_are_full(
    sandbox_server: SandboxServer, make: Make
) -> None:
    # A proxy that drops X-WP-TotalPages and Link: only a full page may have more.
    one = {
        "id": 9001,
        "post": 1841,
        "status": "approved",
        "content": {"rendered": "x"},
        "author": 0,
    }
    full = json.dumps([one] * 2)
    sandbox_server.faults.add("malformed", path="page=1&", body=full)
    page = make(WordPressConnector, page_size=2).list_comments(MASTER_PLAN)
    assert page.next_cursor == "2"
    assert [c.external_id for c in page.items] == ["9001"]  # the same id once


# --- errors ---------------------------------------------------------------------------


def texts_of(error: PlatformError, *more: str) -> list[str]:
    return [str(error), error.details, repr(error), *more]


def test_wrong_application_password_is_plain_and_secret(
    blog: WordPressSandbox, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    blog.set_password("admin", "the-real-one-0123456789")
    connector = make(WordPressConnector, token=f"admin:{SECRET}")
    with caplog.at_level(logging.DEBUG), pytest.raises(PlatformError) as caught:
        connector.list_comments(MASTER_PLAN)
    error = caught.value
    assert str(error) == (
        "The WordPress application password for this site was rejected: "
        "ask an administrator to renew it."
    )
    assert "rest_forbidden_context" in error.details  # WordPress 6.1 treats it as anonymous
    assert not error.retryable
    basic = base64.b64encode(f"admin:{SECRET}".encode()).decode()
    for text in texts_of(error, repr(connector), repr(connector.site), caplog.text):
        for secret in (SECRET, SECRET.replace(" ", ""), basic):
            assert secret not in text


def test_revoked_password_error_scrubs_an_echoed_password(
    sandbox_server: SandboxServer, blog: WordPressSandbox, make: Make
) -> None:
    blog.set_password("admin", SECRET)
    connector = make(WordPressConnector, token=f"admin:{SECRET}")
    assert connector.list_posts().items  # the password works until it is revoked
    # A broken plugin that echoes what it was sent.
    echo = (
        f'{{"code": "incorrect_password", "message": "bad: {SECRET}", "data": {{"status": 401}}}}'
    )
    sandbox_server.faults.add("malformed", status=401, body=echo)
    with pytest.raises(PlatformError, match="rejected: ask an administrator") as caught:
        connector.list_posts()
    for text in texts_of(caught.value):
        assert SECRET not in text
    assert "[redacted]" in caught.value.details
    sandbox_server.faults.add("revoked_token")
    with pytest.raises(PlatformError, match="renew it") as caught:
        connector.list_posts()
    assert "incorrect_password" in caught.value.details


def test_account_that_may_not_moderate(blog: WordPressSandbox, make: Make) -> None:
    connector = make(WordPressConnector, token=f"author:{SANDBOX_TOKEN}")
    assert connector.list_posts().items  # an Author may read posts in context=edit
    with pytest.raises(PlatformError, match="moderate_comments") as caught:
        connector.list_comments(MASTER_PLAN)
    assert "Editor or Administrator" in str(caught.value)
    assert not caught.value.retryable


def test_permission_refused_on_change_leaves_the_comment(
    sandbox_server: SandboxServer, blog: WordPressSandbox, make: Make
) -> None:
    comment_id = approved_comment(blog)
    sandbox_server.faults.add("permission", method="POST")
    with pytest.raises(PlatformError, match="moderate_comments"):
        make(WordPressConnector).hide(str(comment_id))
    assert blog.status_of(comment_id) == "approved"


def test_firewall_403_is_told_apart(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("server_error", status=403)  # plain text, no WordPress code
    with pytest.raises(PlatformError, match="firewall in front of it"):
        make(WordPressConnector).list_posts()


@pytest.mark.parametrize(("kind", "wait"), [("too_many_requests", 42), ("rate_limit", 900)])
def test_429_is_raised_with_its_wait_not_retried(
    sandbox_server: SandboxServer, make: Make, kind: str, wait: int
) -> None:
    sandbox_server.faults.add(kind, seconds=wait, times=None)
    with pytest.raises(PlatformError, match="limiting how many calls") as caught:
        make(WordPressConnector).list_comments(MASTER_PLAN)
    assert caught.value.retryable
    assert caught.value.retry_after == wait
    assert len(sandbox_server.requests_seen()) == 1


def test_429_without_retry_after_waits_a_minute(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("malformed", status=429, body="<h1>Slow down</h1>")
    with pytest.raises(PlatformError, match="about 1 minute") as caught:
        make(WordPressConnector).list_posts()
    assert caught.value.retry_after == 60


def test_server_error_once_is_retried(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("server_error", path="/comments")
    assert make(WordPressConnector).list_comments(MASTER_PLAN).items
    assert len(sandbox_server.requests_seen("GET", "/comments")) == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_forever_is_retryable_and_changes_nothing(
    sandbox_server: SandboxServer,
    blog: WordPressSandbox,
    make: Make,
    status: int,
) -> None:
    comment_id = approved_comment(blog)
    sandbox_server.faults.add("server_error", method="POST", status=status, times=None)
    with pytest.raises(PlatformError, match=rf"temporary problem \(HTTP {status}\)") as caught:
        make(WordPressConnector, retries=2).remove(str(comment_id))
    assert caught.value.retryable
    assert len(sandbox_server.requests_seen("POST")) == 3
    assert blog.status_of(comment_id) == "approved"


def test_slow_answer_past_the_timeout(sandbox_server: SandboxServer, make: Make) -> None:
    sandbox_server.faults.add("slow", seconds=5, times=None)
    started = time.monotonic()
    with pytest.raises(PlatformError, match=r"did not answer within 0\.3 seconds") as caught:
        make(WordPressConnector, timeout=0.3, retries=1).fetch_state(str(FIRST_COMMENT_ID))
    assert caught.value.retryable
    assert time.monotonic() - started < 2.5


FAULTS_MID_PAGING: list[tuple[dict[str, Any], str]] = [
    ({"kind": "revoked_token"}, "renew it"),
    ({"kind": "permission"}, "moderate_comments"),
    ({"kind": "too_many_requests", "seconds": 30}, "about 30 seconds"),
    ({"kind": "server_error", "times": None}, "temporary problem"),
    ({"kind": "slow", "seconds": 3, "times": None}, "did not answer"),
    ({"kind": "malformed", "body": '[{"id": 3'}, "cannot read"),
]


@pytest.mark.parametrize(("fault", "message"), FAULTS_MID_PAGING)
def test_failure_mid_pagination_resumes_from_the_last_good_page(
    sandbox_server: SandboxServer,
    make: Make,
    fault: dict[str, Any],
    message: str,
) -> None:
    connector = make(WordPressConnector, page_size=3, timeout=0.5, retries=1)
    expected = [c.external_id for c in all_comments(connector, MASTER_PLAN)]
    assert len(expected) > 3 * 3  # a page after the third, which fails
    pages = [connector.list_comments(MASTER_PLAN), connector.list_comments(MASTER_PLAN, "2")]
    sandbox_server.faults.add(method="GET", path="&page=3&", **fault)
    with pytest.raises(PlatformError, match=message):
        connector.list_comments(MASTER_PLAN, pages[-1].next_cursor)
    sandbox_server.faults.clear()
    got = [c.external_id for page in pages for c in page.items]
    got += [c.external_id for c in all_comments(connector, MASTER_PLAN, pages[-1].next_cursor)]
    assert got == expected


# --- configuration --------------------------------------------------------------------


@pytest.mark.parametrize(("base", "prefix"), [("", "/wp-json"), ("/wordpress", "/wp-json/v9")])
def test_wrong_address_or_prefix_is_explained(make: Make, base: str, prefix: str) -> None:
    with pytest.raises(PlatformError, match="No WordPress REST API answered") as caught:
        make(WordPressConnector, base=base, rest_prefix=prefix).list_posts()
    assert not caught.value.gone


def test_rest_prefix_setting_is_used(sandbox_server: SandboxServer, make: Make) -> None:
    make(WordPressConnector, base="", rest_prefix="/wordpress/wp-json/").list_posts()
    (seen,) = sandbox_server.requests_seen()
    assert seen.path == "/wordpress/wp-json/wp/v2/posts"


@pytest.mark.parametrize(
    ("token", "settings"),
    [
        (SECRET, {}),  # no user name
        (f":{SECRET}", {}),
        ("admin:", {}),
        (TOKEN, {"rest_prefix": "wp-json"}),
        (TOKEN, {"rest_prefix": "/wp-json/../wp-admin"}),
        (TOKEN, {"rest_prefix": "/wp-json?x=1"}),
        (TOKEN, {"page_size": 101}),
        (TOKEN, {"page_size": "many"}),
        (TOKEN, {"timeout": 0}),
    ],
)
def test_bad_configuration(token: str, settings: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        WordPressConnector(SiteConfig("blog", "http://127.0.0.1:9", token, settings))
    assert SECRET not in str(caught.value) + caught.value.details


def test_ids_cannot_change_the_path(sandbox_server: SandboxServer, make: Make) -> None:
    connector = make(WordPressConnector)
    with pytest.raises(NotFound):
        connector.fetch_state("../posts/1841")
    with pytest.raises(NotFound):
        connector.hide("3001?force=true")
    with pytest.raises(NotFound):
        connector.list_comments("1841&status=approve")
    assert not sandbox_server.requests_seen()


# --- the sandbox answers like WordPress -----------------------------------------------


def api(server: SandboxServer, path: str) -> str:
    return f"{server.url}/wordpress/wp-json/wp/v2/{path}"


def test_sandbox_refuses_anonymous_moderation(sandbox_server: SandboxServer) -> None:
    with requests.Session() as anonymous:
        listed = anonymous.get(api(sandbox_server, "comments"), params={"post": MASTER_PLAN})
        assert listed.status_code == 200
        assert {c["status"] for c in listed.json()} == {"approved"}
        assert "author_email" not in listed.json()[0]  # view context
        assert "raw" not in listed.json()[0]["content"]
        for params, code in (
            ({"status": "hold"}, "rest_forbidden_param"),
            ({"context": "edit"}, "rest_forbidden_context"),
        ):
            refused = anonymous.get(api(sandbox_server, "comments"), params=params)
            assert refused.status_code == 401
            assert refused.json()["code"] == code
            assert refused.json()["data"] == {"status": 401}
        changed = anonymous.post(api(sandbox_server, f"comments/{FIRST_COMMENT_ID}"), json={})
        assert (changed.status_code, changed.json()["code"]) == (401, "rest_cannot_edit")


def test_sandbox_statuses_headers_and_errors(sandbox_server: SandboxServer) -> None:
    with requests.Session() as session:
        session.auth = ("admin", SANDBOX_TOKEN)

        def total(**params: str) -> int:
            response = session.get(api(sandbox_server, "comments"), params=params)
            return int(response.headers["X-WP-Total"])

        every = total(status="any")
        parts = [total(status=s) for s in ("approve", "hold", "spam", "trash")]
        assert every == sum(parts)
        assert all(parts)
        assert total(status="all") == parts[0] + parts[1]  # WordPress: approved + pending only
        assert total(status="approved") == 0  # not a WordPress status filter

        first = session.get(
            api(sandbox_server, "comments"), params={"status": "any", "per_page": 10}
        )
        assert first.headers["X-WP-TotalPages"] == str(-(-every // 10))
        assert "page=2" in first.links["next"]["url"]
        assert b"\\/" in first.content  # slashes escaped, as PHP writes them

        too_many = session.get(api(sandbox_server, "comments"), params={"per_page": 101})
        assert (too_many.status_code, too_many.json()["code"]) == (400, "rest_invalid_param")
        past = session.get(api(sandbox_server, "posts"), params={"page": 4})
        assert past.json()["code"] == "rest_post_invalid_page_number"
        missing = session.get(api(sandbox_server, "comments/1"))
        assert (missing.status_code, missing.json()["code"]) == (404, "rest_comment_invalid_id")
        no_route = session.get(api(sandbox_server, "widgets"))
        assert no_route.json()["code"] == "rest_no_route"
        bad_json = session.post(
            api(sandbox_server, f"comments/{FIRST_COMMENT_ID}"),
            data=b'{"status":',
            headers={"Content-Type": "application/json"},
        )
        assert bad_json.json()["code"] == "rest_invalid_json"
        form = session.post(
            api(sandbox_server, f"comments/{FIRST_COMMENT_ID}"), data={"status": "spam"}
        )
        assert form.json()["status"] == "spam"
        assert form.json()["author_ip"] == "127.0.0.1"  # WordPress writes the caller's over it
        untrash = session.delete(api(sandbox_server, f"comments/{FIRST_COMMENT_ID}"))
        assert untrash.json()["status"] == "trash"
        again = session.delete(api(sandbox_server, f"comments/{FIRST_COMMENT_ID}"))
        assert (again.status_code, again.json()["code"]) == (410, "rest_already_trashed")
        gone = session.delete(
            api(sandbox_server, f"comments/{FIRST_COMMENT_ID}"), params={"force": "true"}
        )
        assert gone.json()["deleted"] is True


def test_sandbox_fatal_error_looks_like_wordpress(sandbox_server: SandboxServer) -> None:
    sandbox_server.faults.add("server_error")
    answer = requests.get(api(sandbox_server, "posts"), timeout=5)
    assert answer.status_code == 500
    assert answer.json()["code"] == "internal_server_error"
    assert "critical error" in answer.json()["message"]


def test_sandbox_reset_restores_the_seed(
    sandbox_server: SandboxServer, blog: WordPressSandbox
) -> None:
    comment_id = approved_comment(blog)
    blog.set_status(comment_id, "trash")
    blog.add_comment(int(MASTER_PLAN), "extra")
    sandbox_server.reset()
    assert blog.status_of(comment_id) == "approved"
    ids = sorted(i for i, _ in blog.seeded())
    seeded = len(RECENT_SEED.of("wordpress").comments)
    assert ids == list(range(FIRST_COMMENT_ID, FIRST_COMMENT_ID + seeded))
