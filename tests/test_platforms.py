"""Every platform the City uses, end to end: one queue from all eight, each action record-first.

The capability map decides what is possible; what a platform lacks is refused before anything
is recorded, with words that say what to do instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hsm_console.app import App
from hsm_console.connectors import connector_class
from hsm_console.db.engine import Database
from hsm_console.db.models import ApiUsage, Comment, LogEntry, Site
from hsm_console.errors import NotPossible
from hsm_console.rules.administration import site_id
from hsm_console.rules.capabilities import CAPABILITIES, capabilities_of
from hsm_console.rules.domain import Action, EntryState, Platform, PlatformState
from hsm_console.rules.policy import load_policy
from hsm_console.services.connector_factory import connector_factory
from hsm_console.services.moderation import INTERRUPTED
from hsm_console.services.queue_view import QueueFilter, QueueView
from hsm_sandbox import SandboxServer
from hsm_sandbox.demo import DEMO_SITES, setup_demo
from tests.conftest import FAST_NETWORK


@pytest.fixture
def demo(db: Database, sandbox: SandboxServer) -> App:
    setup_demo(db, sandbox.url, "alice", "Alice Moderator")
    app = App(db=db, policy=load_policy(), username="alice", connector_overrides=FAST_NETWORK)
    results = app.sync.sync()
    assert [r.error for r in results] == [""] * 8
    return app


LINKEDIN_ORG_AUTHOR = "This page (the City)"


def a_visible_comment(
    app: App, platform: Platform, *, by_the_city: bool = False
) -> tuple[Comment, Site]:
    with app.db.session() as session:
        query = (
            select(Comment)
            .join(Site, Site.id == Comment.site_id)
            .where(Site.platform == platform.value)
            .where(Comment.platform_state.in_(["visible", "unknown"]))  # X cannot tell
            .order_by(Comment.id)
        )
        city = Comment.author_name.in_([LINKEDIN_ORG_AUTHOR, "Highland Parks & Recreation"])
        comment = session.scalars(query.where(city if by_the_city else ~city)).first()
        assert comment is not None
        site = comment.site
        session.expunge_all()
        return comment, site


def platform_state(app: App, site: Site, external_id: str) -> PlatformState:
    connector = connector_factory(overrides=FAST_NETWORK)(site)
    try:
        return connector.fetch_state(external_id)
    finally:
        connector.close()


def test_one_queue_holds_all_eight_kinds_of_site(demo: App) -> None:
    rows = QueueView(demo.db, "alice").newest(QueueFilter(), 10_000)
    assert {row.platform for row in rows} == {p.value for p in Platform}
    assert "Highland Police Department" not in {row.site_name for row in rows}


PLATFORM_ACTIONS = [
    (platform, action)
    for platform in Platform
    for action in (Action.HIDE, Action.REMOVE)
    if connector_class(platform).capabilities.allows(action)
]


@pytest.mark.parametrize(("platform", "action"), PLATFORM_ACTIONS)
def test_every_supported_action_works_record_first(
    demo: App, platform: Platform, action: Action
) -> None:
    # LinkedIn lets an organisation delete only its own comments (tested below).
    own = platform is Platform.LINKEDIN and action is Action.REMOVE
    comment, site = a_visible_comment(demo, platform, by_the_city=own)
    result = demo.moderation.act(comment.id, action, "SPM", "flooding the thread")
    assert result.state in (EntryState.APPLIED, EntryState.UNCONFIRMED), result.message
    with demo.db.session() as session:
        states = session.scalars(
            select(LogEntry.state).where(LogEntry.comment_id == comment.id).order_by(LogEntry.id)
        ).all()
    assert states == ["pending", result.state.value]
    expected = {Action.HIDE: PlatformState.HIDDEN, Action.REMOVE: PlatformState.REMOVED}[action]
    seen = platform_state(demo, site, comment.external_id)
    if platform is Platform.X:  # X reports no hidden flag: the sandbox's own state says it
        assert seen is PlatformState.UNKNOWN
        assert demo_sandbox(demo).state["x"].is_hidden(comment.external_id)  # type: ignore[attr-defined]
    elif platform is Platform.YOUTUBE and action is Action.REMOVE:
        assert seen in (PlatformState.REMOVED, PlatformState.HIDDEN)  # rejected: gone from view
    else:
        assert seen is expected
    if action is Action.HIDE and connector_class(platform).capabilities.allows(Action.UNHIDE):
        again = demo.moderation.act(comment.id, Action.UNHIDE, None, "reviewed: fine")
        assert again.ok, again.message
        if platform is not Platform.X:
            assert platform_state(demo, site, comment.external_id) is PlatformState.VISIBLE


UNSUPPORTED = [
    (platform, action)
    for platform in Platform
    for action in (Action.HIDE, Action.REMOVE)
    if not connector_class(platform).capabilities.allows(action)
]


@pytest.mark.parametrize(("platform", "action"), UNSUPPORTED)
def test_missing_actions_are_refused_with_what_to_do_instead(
    demo: App, platform: Platform, action: Action
) -> None:
    comment, _site = a_visible_comment(demo, platform)
    caps = connector_class(platform).capabilities
    with pytest.raises(NotPossible) as refused:
        demo.moderation.act(comment.id, action, "SPM")
    assert f"does not allow the City to {action.value}" in refused.value.message
    assert caps.instead
    assert caps.instead in refused.value.message
    with demo.db.session() as session:
        assert session.scalar(select(func.count()).select_from(LogEntry)) == 0
    # Flag is always possible: it changes nothing on the platform.
    assert demo.moderation.act(comment.id, Action.FLAG, "SPM").ok


def test_linkedin_refuses_to_delete_a_members_comment_and_the_log_says_so(demo: App) -> None:
    comment, site = a_visible_comment(demo, Platform.LINKEDIN)
    result = demo.moderation.act(comment.id, Action.REMOVE, "SPM")
    assert result.state is EntryState.FAILED
    assert "LinkedIn refused to delete this member's comment" in result.message
    assert platform_state(demo, site, comment.external_id) is PlatformState.VISIBLE


def test_unsupported_set_matches_the_platform_facts() -> None:
    assert set(UNSUPPORTED) == {
        (Platform.X, Action.REMOVE),
        (Platform.TIKTOK, Action.REMOVE),
        (Platform.LINKEDIN, Action.HIDE),
    }


def test_youtube_moderation_is_counted_against_the_daily_quota(demo: App) -> None:
    with demo.db.session() as session:
        reads = session.scalar(select(ApiUsage.units).where(ApiUsage.platform == "youtube"))
    assert reads is not None
    assert reads > 0  # listings cost a unit each
    comment, _site = a_visible_comment(demo, Platform.YOUTUBE)
    demo.moderation.act(comment.id, Action.HIDE, "SPM")
    with demo.db.session() as session:
        after = session.scalar(select(ApiUsage.units).where(ApiUsage.platform == "youtube"))
    assert after == reads + 50
    with demo.db.transaction() as session:
        usage = session.scalars(select(ApiUsage).where(ApiUsage.platform == "youtube")).one()
        usage.units = 9_990
    other, _site = a_visible_comment(demo, Platform.YOUTUBE)
    with pytest.raises(NotPossible, match="quota is used up"):
        demo.moderation.act(other.id, Action.HIDE, "SPM")


def test_x_outcome_after_a_crash_is_unconfirmed_not_guessed(
    demo: App, time_passes: Callable[[timedelta], None]
) -> None:
    """X cannot say whether a reply is hidden: reconciliation records that, not a guess."""
    comment, site = a_visible_comment(demo, Platform.X)
    from hsm_console.db.chain import append_entry, snapshot

    with demo.db.transaction() as session:  # what a crash after step 2 leaves behind
        row = session.get(Comment, comment.id)
        assert row is not None
        record = snapshot(session, row, "alice")
        entry = append_entry(
            session, actor="alice", state="pending", action="hide", comment_id=row.id,
            site_id=site.id, department_id=site.department_id, record_id=record.id,
            record_sha256=record.sha256, reason_code="SPM", policy_version="2026.1",
        )  # fmt: skip
        row.pending_entry_id = entry.id
    time_passes(INTERRUPTED)
    [outcome] = demo.moderation.reconcile()
    assert outcome.state is EntryState.UNCONFIRMED
    assert "cannot tell" in outcome.message


def demo_sandbox(app: App) -> SandboxServer:
    return _SANDBOXES[app.db.url.render_as_string()]


_SANDBOXES: dict[str, SandboxServer] = {}


@pytest.fixture(autouse=True)
def _remember_sandbox(db: Database, sandbox: SandboxServer) -> None:
    _SANDBOXES[db.url.render_as_string()] = sandbox


def test_x_hidden_reply_stays_hidden_after_the_next_sync(demo: App) -> None:
    """X listings cannot say a reply is hidden; sync must not forget what the City did."""
    comment, _site = a_visible_comment(demo, Platform.X)
    assert demo.moderation.act(comment.id, Action.HIDE, "SPM").ok
    demo.sync.sync()
    with demo.db.session() as session:
        after = session.get(Comment, comment.id)
        assert after is not None
        assert after.platform_state == "hidden"
    assert demo.moderation.act(comment.id, Action.UNHIDE).ok


def test_every_platform_has_one_row_of_capabilities_that_its_connector_carries_out() -> None:
    assert set(CAPABILITIES) == set(Platform)
    for platform in Platform:
        assert connector_class(platform).capabilities is CAPABILITIES[platform]
        assert capabilities_of(platform.value) is CAPABILITIES[platform]
    with pytest.raises(ValueError, match="myspace"):
        capabilities_of("myspace")


def test_every_demo_site_is_one_an_administrator_could_enter() -> None:
    """The demo's accounts follow the real platforms' id rules, so an administrator can point
    a real-looking site at the sandbox with the same commands the City uses."""
    for demo in DEMO_SITES:
        assert site_id(demo.platform, demo.external_id) == demo.external_id
