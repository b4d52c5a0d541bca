"""Each platform's ban and its lifting through the connectors, over real HTTP to the sandbox,
which answers as the platforms' references say (Graph's Page `blocked` edge, YouTube's
`banAuthor`, Discourse's suspensions), and what the platforms without a ban API refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hsm_console.connectors.discourse import DiscourseConnector
from hsm_console.connectors.facebook import FacebookConnector
from hsm_console.connectors.instagram import InstagramConnector
from hsm_console.connectors.wordpress import WordPressConnector
from hsm_console.connectors.youtube import YouTubeConnector
from hsm_console.errors import NotPossible, PlatformError
from hsm_console.rules.capabilities import CAPABILITIES
from hsm_console.rules.domain import Platform
from hsm_sandbox import SandboxServer
from hsm_sandbox.seed import DEMO
from tests.connectors.conftest import Make
from tests.sandbox_fixtures import PARKS

UNTIL = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


def test_the_capability_map_says_who_can_ban_and_lift() -> None:
    can = {p for p, caps in CAPABILITIES.items() if caps.can_ban}
    lift = {p for p, caps in CAPABILITIES.items() if caps.can_lift_ban}
    assert can == {Platform.FACEBOOK, Platform.YOUTUBE, Platform.DISCOURSE}
    assert lift == {Platform.FACEBOOK, Platform.DISCOURSE}
    assert CAPABILITIES[Platform.YOUTUBE].ban_end_by_hand
    assert all(caps.ban_means for caps in CAPABILITIES.values())


def test_facebook_blocks_and_unblocks_a_commenter(
    make: Make, sandbox_server: SandboxServer
) -> None:
    page = sandbox_server.state.facebook
    post = next(p for p in DEMO.posts if p.page_id == PARKS)
    author = page.comments_on(post.id)[0].author_id
    facebook = make(FacebookConnector)

    facebook.ban_author(author, "unused", UNTIL, "THR")
    assert page.blocked(facebook.site.external_id) == {author}
    facebook.lift_ban(author)
    assert page.blocked(facebook.site.external_id) == set()


def test_facebook_says_so_when_the_block_is_not_confirmed(make: Make) -> None:
    with pytest.raises(PlatformError, match="did not confirm the block"):
        make(FacebookConnector).ban_author("no-such-person", "unused", UNTIL, "THR")


def test_youtube_bans_through_a_rejection_and_cannot_lift(
    make: Make, sandbox_server: SandboxServer
) -> None:
    youtube: Any = sandbox_server.state["youtube"]
    comment = youtube.comments()[0]
    connector = make(YouTubeConnector)

    connector.ban_author(comment.author_channel_id, comment.id, UNTIL, "THR")

    assert youtube.moderation_status(comment.id) == "rejected"
    assert comment.author_channel_id in youtube.banned_authors()
    with pytest.raises(NotPossible, match="YouTube Studio"):
        connector.lift_ban(comment.author_channel_id)


def test_discourse_suspends_until_the_date_with_the_reason(
    make: Make, sandbox_server: SandboxServer
) -> None:
    forum: Any = sandbox_server.state["discourse"]
    connector = make(DiscourseConnector)
    member = "100"

    connector.ban_author(member, "4001", UNTIL, "City of Highland comment policy (THR): ban 1")
    assert forum.suspension(100) == (UNTIL, "City of Highland comment policy (THR): ban 1")
    with pytest.raises(PlatformError):  # already suspended: Discourse refuses a second
        connector.ban_author(member, "4001", UNTIL, "again")
    connector.lift_ban(member)
    assert forum.suspension(100) is None


@pytest.mark.parametrize(
    ("member", "error", "words"),
    [
        ("999999", PlatformError, "no longer exists"),
        ("2", PlatformError, "Discourse refused"),  # staff are not suspended
        ("someone", NotPossible, "no numeric id"),
    ],
)
def test_discourse_refusals_are_plain_words(
    make: Make, member: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        make(DiscourseConnector).ban_author(member, "4001", UNTIL, "THR")


@pytest.mark.parametrize("cls", [InstagramConnector, WordPressConnector])
def test_platforms_without_a_ban_api_refuse_before_any_call(make: Make, cls: Any) -> None:
    connector = make(cls)
    with pytest.raises(NotPossible, match="by hand"):
        connector.ban_author("1", "1", UNTIL, "THR")
    with pytest.raises(NotPossible, match="by hand"):
        connector.lift_ban("1")
