"""WordPressConnector against a real WordPress (Debian's package on loopback).

scripts/test starts one with scripts/services/wordpress.sh and exports its address and an
Application Password of its Administrator. Each test makes its own post and seeds comments
through the REST API as that Administrator (anonymous comments are flood-limited).

What the real site showed, and these tests hold it to:
- `content.raw` is what was stored, which is not always what was sent: WordPress adds
  rel="nofollow ugc" to links in every comment, and strips <script>, onerror=... and other
  unsafe HTML from a visitor's comment (its kses filter) on arrival, and again from any
  guest's comment whenever its status changes.
- A wrong application password does not fail by itself: WordPress carries on as an anonymous
  visitor and refuses `context=edit` with HTTP 401.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from hsm_console.connectors.base import RemoteComment, SiteConfig
from hsm_console.connectors.wordpress import WordPressConnector
from hsm_console.errors import PlatformError
from hsm_console.rules.domain import Action, PlatformState
from tests.connectors.conftest import (
    WORDPRESS_NETWORK,
    WORDPRESS_TOKEN,
    WORDPRESS_URL,
    AddComment,
    all_comments,
    by_id,
    checked,
    needs_wordpress,
    wp_api,
)

pytestmark = pytest.mark.wordpress

RENEW = (
    "The WordPress application password for this site was rejected: "
    "ask an administrator to renew it."
)


@pytest.fixture
def connector() -> Iterator[WordPressConnector]:
    needs_wordpress()
    made = WordPressConnector(
        SiteConfig(
            "test-blog", WORDPRESS_URL, WORDPRESS_TOKEN, {**WORDPRESS_NETWORK, "page_size": 2}
        )
    )
    yield made
    made.close()


def every_comment(
    connector: WordPressConnector, post_id: int, since: datetime | None = None
) -> dict[str, RemoteComment]:
    found = all_comments(connector, str(post_id), since=since)
    listed = by_id(found)
    assert len(listed) == len(found)  # no comment twice
    return listed


def status_on_site(wp_admin: requests.Session, comment_id: int | str) -> dict[str, Any]:
    return checked(
        wp_admin.get(wp_api(f"comments/{comment_id}"), params={"context": "edit"}, timeout=15)
    )


# --- listing --------------------------------------------------------------------------


def test_lists_every_status_across_pages_with_exact_text(
    connector: WordPressConnector, add_wp_comment: AddComment, wp_post: int
) -> None:
    hostile = 'Thanks! 🎉🏊\u200d♀️ \u202eexe.fdp =SUM(A1) @home +1 -2 \\/ "quoted"\n\nNew paragraph'
    seeded = {
        "approved": add_wp_comment(hostile),
        "hold": add_wp_comment("When does the pool open?", "hold"),
        "spam": add_wp_comment('=HYPERLINK("http://tickets.example","FREE passes")', "spam"),
        "trash": add_wp_comment("Off topic: my neighbour's dog", "trash"),
    }
    reply = add_wp_comment("Memorial Day weekend, says the flyer.", parent=seeded["approved"]["id"])
    started = datetime.now(UTC) - timedelta(minutes=5)

    listed = every_comment(connector, wp_post)  # page_size 2: three pages

    assert set(listed) == {str(c["id"]) for c in (*seeded.values(), reply)}
    states = {
        "approved": PlatformState.VISIBLE,
        "hold": PlatformState.HIDDEN,
        "spam": PlatformState.HIDDEN,
        "trash": PlatformState.REMOVED,
    }
    for status, created in seeded.items():
        comment = listed[str(created["id"])]
        assert comment.raw["status"] == status
        assert comment.state is states[status]
        assert comment.parent_external_id is None
        assert comment.post_external_id == str(wp_post)
        assert comment.author_name == "Highland Resident"
        assert comment.author_id == ""  # a guest
        assert comment.permalink.startswith(WORDPRESS_URL)
        assert comment.permalink.endswith(f"#comment-{created['id']}")
        assert started < comment.created_at < datetime.now(UTC) + timedelta(minutes=5)
        assert comment.raw["author_ip"] == "192.0.2.44"  # context=edit
    assert listed[str(seeded["approved"]["id"])].text == hostile  # byte for byte
    assert listed[str(reply["id"])].parent_external_id == str(seeded["approved"]["id"])


def test_html_in_comments_as_wordpress_stores_it(
    connector: WordPressConnector,
    add_wp_comment: AddComment,
    wp_post: int,
    wp_admin: requests.Session,
) -> None:
    sent = (
        "<script>alert('xss')</script> <b>bold</b> "
        '<a href="https://example.org/">link</a> <img src=x onerror=alert(1)>'
    )
    by_admin = add_wp_comment(sent)
    # Sent by the Administrator, who may post any HTML: stored as sent, but for the
    # rel="nofollow ugc" WordPress adds to every link in a comment.
    stored = sent.replace(
        'href="https://example.org/"', 'href="https://example.org/" rel="nofollow ugc"'
    )
    listed = every_comment(connector, wp_post)
    assert listed[str(by_admin["id"])].text == stored

    # A visitor's comment through the site's own comment form is filtered on arrival.
    visitor = requests.post(
        f"{WORDPRESS_URL}/wp-comments-post.php",
        data={
            "comment_post_ID": str(wp_post),
            "author": "Visitor",
            "email": f"visitor-{uuid.uuid4().hex[:8]}@example.test",
            "comment": sent,
        },
        allow_redirects=False,
        timeout=15,
    )
    assert visitor.status_code == 302, visitor.text[:300]
    listed = every_comment(connector, wp_post)
    (from_visitor,) = [c for c in listed.values() if c.author_name == "Visitor"]
    assert from_visitor.text == (
        'alert(\'xss\') <b>bold</b> <a href="https://example.org/" rel="nofollow ugc">link</a> '
    )
    assert from_visitor.state is PlatformState.HIDDEN  # a first-time commenter waits

    # Any status change filters a guest's comment again: the script is gone from the site.
    connector.hide(str(by_admin["id"]))
    assert status_on_site(wp_admin, by_admin["id"])["content"]["raw"] == from_visitor.text


# --- moderation -----------------------------------------------------------------------


def test_hide_unhide_spam_remove_round_trip(
    connector: WordPressConnector,
    add_wp_comment: AddComment,
    wp_post: int,
    wp_admin: requests.Session,
) -> None:
    created = add_wp_comment("The lifeguards were rude to my kids", "approved")
    comment_id = str(created["id"])
    assert connector.fetch_state(comment_id) is PlatformState.VISIBLE

    for act, status, state in (
        (lambda: connector.apply(Action.HIDE, comment_id), "hold", PlatformState.HIDDEN),
        (lambda: connector.apply(Action.UNHIDE, comment_id), "approved", PlatformState.VISIBLE),
        (lambda: connector.mark_spam(comment_id), "spam", PlatformState.HIDDEN),
        (lambda: connector.apply(Action.UNHIDE, comment_id), "approved", PlatformState.VISIBLE),
        (lambda: connector.apply(Action.REMOVE, comment_id), "trash", PlatformState.REMOVED),
    ):
        act()
        assert status_on_site(wp_admin, comment_id)["status"] == status
        assert connector.fetch_state(comment_id) is state
        assert every_comment(connector, wp_post)[comment_id].state is state

    # In the trash, not deleted: readable, and the commenter's address and browser kept.
    trashed = status_on_site(wp_admin, comment_id)
    assert trashed["content"]["raw"] == "The lifeguards were rude to my kids"
    assert (trashed["author_ip"], trashed["author_user_agent"]) == (
        created["author_ip"],
        created["author_user_agent"],
    )


def test_a_status_already_in_place_is_no_error(
    connector: WordPressConnector, add_wp_comment: AddComment, wp_admin: requests.Session
) -> None:
    held = add_wp_comment("Is the diving board open?", "hold")
    connector.hide(str(held["id"]))
    assert status_on_site(wp_admin, held["id"])["status"] == "hold"
    trashed = add_wp_comment("spam spam", "trash")
    connector.remove(str(trashed["id"]))
    assert connector.fetch_state(str(trashed["id"])) is PlatformState.REMOVED


def test_comment_deleted_for_good_is_gone(
    connector: WordPressConnector, add_wp_comment: AddComment, wp_admin: requests.Session
) -> None:
    created = add_wp_comment("Delete me")
    checked(
        wp_admin.delete(wp_api(f"comments/{created['id']}"), params={"force": "true"}, timeout=15)
    )
    assert connector.fetch_state(str(created["id"])) is PlatformState.REMOVED
    with pytest.raises(PlatformError, match="no longer exists on WordPress") as caught:
        connector.hide(str(created["id"]))
    assert caught.value.gone


def test_since_is_read_in_the_sites_time_zone(
    connector: WordPressConnector, add_wp_comment: AddComment, wp_post: int
) -> None:
    winter = add_wp_comment("January", date_gmt="2024-01-10T12:00:00")
    summer = add_wp_comment("July", date_gmt="2024-07-10T12:00:00")
    assert (summer["date"], summer["date_gmt"]) == ("2024-07-10T07:00:00", "2024-07-10T12:00:00")
    recent = add_wp_comment("Today")
    listed = every_comment(connector, wp_post, datetime(2024, 7, 10, 11, 59, tzinfo=UTC))
    assert set(listed) == {str(summer["id"]), str(recent["id"])}
    later = every_comment(connector, wp_post, datetime(2024, 7, 10, 12, 0, 30, tzinfo=UTC))
    assert set(later) == {str(recent["id"])}
    assert str(winter["id"]) in every_comment(connector, wp_post)


def test_posts_are_listed(connector: WordPressConnector, wp_post: int) -> None:
    # Not checked: the order. WordPress sorts by the local `date` column, which a change of
    # the site's time zone (as the `rest` fixture makes) leaves out of step with date_gmt.
    posts = []
    cursor: str | None = None
    while True:
        page = connector.list_posts(cursor)
        posts.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    (ours,) = [p for p in posts if p.external_id == str(wp_post)]
    assert ours.text.startswith("Pool hours for the summer")
    assert ours.permalink.startswith(WORDPRESS_URL)
    assert abs(ours.created_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert len({p.external_id for p in posts}) == len(posts)


# --- errors ---------------------------------------------------------------------------


def test_wrong_application_password_is_plain_and_secret(
    wp_post: int, caplog: pytest.LogCaptureFixture
) -> None:
    user = WORDPRESS_TOKEN.partition(":")[0]
    wrong = "Wr0n gPas sW0r d123 4567 89ab"
    connector = WordPressConnector(
        SiteConfig("test-blog", WORDPRESS_URL, f"{user}:{wrong}", WORDPRESS_NETWORK)
    )
    try:
        with caplog.at_level(logging.DEBUG):
            for call in (connector.list_posts, lambda: connector.list_comments(str(wp_post))):
                with pytest.raises(PlatformError) as caught:
                    call()
                assert str(caught.value) == RENEW
                assert "HTTP 401" in caught.value.details
                for text in (str(caught.value), caught.value.details, repr(connector)):
                    assert wrong not in text
                    assert wrong.replace(" ", "") not in text
        assert wrong not in caplog.text
    finally:
        connector.close()


def test_wrong_address_is_explained() -> None:
    needs_wordpress()
    connector = WordPressConnector(
        SiteConfig("test-blog", f"{WORDPRESS_URL}/no-blog-here", WORDPRESS_TOKEN, WORDPRESS_NETWORK)
    )
    try:
        # WordPress redirects the unknown path to a post it guesses: a web page.
        with pytest.raises(PlatformError, match="web page") as caught:
            connector.list_posts()
        assert "blog's home page" in str(caught.value)
        assert "redirected from" in caught.value.details
    finally:
        connector.close()


def test_the_real_sites_title_and_tagline_are_its_profile(
    connector: WordPressConnector, wp_post: int
) -> None:
    index = requests.get(f"{WORDPRESS_URL}/wp-json/", timeout=15).json()
    profile = connector.profile()
    assert index["name"] in profile.text
    assert profile.links == (index["url"],)
    post = next(p for p in connector.list_posts().items if p.external_id == str(wp_post))
    assert connector.post_links(post) == (post.raw["link"],)
    assert post.raw["link"].startswith(WORDPRESS_URL)
