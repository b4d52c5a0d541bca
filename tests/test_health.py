"""Connection health: each site's last good sync, last error and every gap, kept as records;
after a gap, sync reads back from before it began so that nothing that arrived in it is lost."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from hsm_console.app import App
from hsm_console.db.engine import Database
from hsm_console.db.models import ApiUsage, CaptureGap, Comment, Site, SyncState, utcnow
from hsm_console.rules.capabilities import capabilities_of
from hsm_console.rules.domain import CommentStatus, Platform
from hsm_console.rules.policy import load_policy
from hsm_console.services.health import GapKind, SiteHealth, health
from hsm_sandbox import FaultKind, SandboxServer
from hsm_sandbox.demo import setup_demo
from hsm_sandbox.youtube import YouTubeSandbox
from tests.conftest import FAST_NETWORK, PARKS_PAGE, RECENT_SEED, World
from tests.test_cli import Cli

SYNC_FAILED = "sync of site"


def gaps(world_db: Database, site_id: int) -> list[CaptureGap]:
    with world_db.session() as session:
        rows = list(
            session.scalars(
                select(CaptureGap).where(CaptureGap.site_id == site_id).order_by(CaptureGap.id)
            )
        )
        session.expunge_all()
        return rows


def queued(db: Database, external_ids: list[str]) -> set[str]:
    with db.session() as session:
        return set(
            session.scalars(
                select(Comment.external_id).where(
                    Comment.external_id.in_(external_ids),
                    Comment.status == CommentStatus.NEW.value,
                )
            )
        )


def site_health(app: App, site_id: int) -> SiteHealth:
    with app.db.session() as session:
        actor = app.moderation.actor(session)
    return next(h for h in health(app.db, actor) if h.site_id == site_id)


@pytest.mark.expected_log(SYNC_FAILED)
def test_comments_posted_during_an_outage_are_all_read_after_it(world: World) -> None:
    app = world.app("alice")
    assert app.sync.sync()[0].error == ""
    read_before = site_health(app, world.parks_site).last_ok_at
    assert read_before is not None
    world.sandbox.faults.add(FaultKind.SERVER_ERROR, times=None)  # the platform is down
    assert app.sync.sync()[0].error
    facebook = world.sandbox.state.facebook
    posts = sorted({c.post_id for c in RECENT_SEED.comments if c.page_id == PARKS_PAGE})
    added = [
        facebook.add_comment(post, f"Posted while the platform was down {n}")
        for n, post in enumerate(posts)
    ]
    down = site_health(app, world.parks_site)
    assert not down.readable
    assert down.gaps[-1].ended_at is None
    assert down.gaps[-1].kind == GapKind.PLATFORM
    assert down.gaps[-1].began_at == read_before  # from the end of the last good read
    assert app.sync.sync()[0].error  # still down: the same gap, not a new one
    assert gaps(world.db, world.parks_site) == []
    world.sandbox.faults.clear()
    assert app.sync.sync()[0].error == ""
    assert queued(world.db, added) == set(added)
    [gap] = gaps(world.db, world.parks_site)
    assert (gap.kind, gap.began_at, gap.department_id) == ("platform", read_before, 1)
    assert gap.ended_at > gap.began_at
    assert "Facebook" in gap.detail
    up = site_health(app, world.parks_site)
    assert up.readable
    assert up.last_error == ""
    assert up.last_ok_at is not None
    assert up.last_ok_at >= gap.ended_at


@pytest.fixture
def youtube(db: Database, sandbox: SandboxServer) -> tuple[App, int, YouTubeSandbox]:
    setup_demo(db, sandbox.url, "alice", "Alice Moderator")
    with db.transaction() as session:
        site = session.scalars(select(Site).where(Site.platform == Platform.YOUTUBE.value)).one()
        site.settings = {**site.settings, "page_size": 2, "full_days": 3650}
        site_id = site.id
    app = App(db=db, policy=load_policy(), username="alice", connector_overrides=FAST_NETWORK)
    youtube = sandbox.state["youtube"]
    assert isinstance(youtube, YouTubeSandbox)
    return app, site_id, youtube


@pytest.mark.expected_log(SYNC_FAILED)
def test_after_an_outage_mid_listing_the_whole_post_is_read_again(
    youtube: tuple[App, int, YouTubeSandbox], sandbox: SandboxServer
) -> None:
    """YouTube lists the newest comments first: what arrives during an outage lands before the
    cursor the failed sync kept, so resuming at the cursor alone would miss it."""
    app, site_id, platform = youtube
    assert app.sync.sync([site_id])[0].error == ""
    sandbox.faults.add(FaultKind.SERVER_ERROR, path="pageToken=", times=None)
    assert app.sync.sync([site_id])[0].error
    with app.db.session() as session:
        state = session.get(SyncState, site_id)
        assert state is not None
        assert state.cursor["post"]
        video = str(state.cursor["post"])
    added = [platform.add_comment(video, f"Posted during the outage {n}") for n in range(3)]
    sandbox.faults.clear()
    assert app.sync.sync([site_id])[0].error == ""
    assert queued(app.db, added) == set(added)
    assert [g.kind for g in gaps(app.db, site_id)] == ["platform"]


def test_program_not_running_is_a_gap_and_sync_reads_back_over_it(world: World) -> None:
    app = world.app("alice")
    app.sync.sync()
    with world.db.transaction() as session:
        state = session.get(SyncState, world.parks_site)
        assert state is not None
        assert state.high_water is not None
        # The platform's clock may run ahead of ours: the read-back goes by the gap, not by
        # the newest comment's time. Default rule: a gap after 2 x 60 minutes without a sync.
        away = min(state.high_water, utcnow()) - timedelta(hours=5)
        state.last_ok_at = away
        site = session.get(Site, world.parks_site)
        assert site is not None
        site.settings = {**site.settings, "full_days": 0}  # every post read "since"
    before = len(world.sandbox.requests_seen())
    assert app.sync.sync()[0].error == ""
    [gap] = gaps(world.db, world.parks_site)
    assert (gap.kind, gap.began_at) == ("not_running", away)
    assert "(expected every 60 minutes)" in gap.detail
    since = [
        int(parse_qs(r.query_string)["since"][0])
        for r in world.sandbox.requests_seen()[before:]
        if "since" in parse_qs(r.query_string) and "/comments" in r.path
    ]
    assert since
    assert max(since) <= int((away - timedelta(hours=1)).timestamp())
    app.sync.sync()  # right after: no new gap
    assert len(gaps(world.db, world.parks_site)) == 1


def test_a_site_setting_says_how_often_it_is_expected_to_be_read(world: World) -> None:
    app = world.app("alice")
    app.sync.sync()
    with world.db.transaction() as session:
        state = session.get(SyncState, world.parks_site)
        site = session.get(Site, world.parks_site)
        assert state is not None
        assert site is not None
        state.last_ok_at = utcnow() - timedelta(hours=5)
        site.settings = {**site.settings, "expected_sync_minutes": 360}
    app.sync.sync()
    assert gaps(world.db, world.parks_site) == []


@pytest.mark.expected_log(SYNC_FAILED)
def test_an_announced_wait_is_one_gap_of_its_own_kind(world: World) -> None:
    app = world.app("alice")
    app.sync.sync()
    world.sandbox.faults.add(FaultKind.RATE_LIMIT, seconds=600)
    app.sync.sync()
    skipped = app.sync.sync()[0]
    assert skipped.skipped_until is not None
    waiting = site_health(app, world.parks_site)
    assert [(g.kind, g.ended_at) for g in waiting.gaps] == [("wait", None)]
    assert waiting.gaps[0].words == "a wait the platform announced"
    with world.db.transaction() as session:  # the wait is over
        state = session.get(SyncState, world.parks_site)
        assert state is not None
        state.wait_until = utcnow() - timedelta(seconds=1)
    assert app.sync.sync()[0].error == ""
    assert [g.kind for g in gaps(world.db, world.parks_site)] == ["wait"]


@pytest.mark.expected_log(SYNC_FAILED)
def test_a_change_of_reason_closes_one_gap_and_opens_the_next(world: World) -> None:
    app = world.app("alice")
    app.sync.sync()
    world.sandbox.faults.add(FaultKind.SERVER_ERROR, times=None)
    app.sync.sync()
    world.sandbox.faults.clear()
    world.sandbox.faults.add(FaultKind.RATE_LIMIT, seconds=600)
    app.sync.sync()
    [closed] = gaps(world.db, world.parks_site)
    assert closed.kind == "platform"
    assert site_health(app, world.parks_site).gaps[-1].began_at == closed.ended_at


@pytest.mark.expected_log(SYNC_FAILED)
@pytest.mark.parametrize(
    "statement", ["UPDATE capture_gaps SET detail = 'tampered'", "DELETE FROM capture_gaps"]
)
def test_gaps_are_records_the_database_will_not_change(world: World, statement: str) -> None:
    app = world.app("alice")
    app.sync.sync()
    world.sandbox.faults.add(FaultKind.SERVER_ERROR, times=None)
    app.sync.sync()
    world.sandbox.faults.clear()
    app.sync.sync()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), world.db.engine.begin() as c:
        c.execute(sa.text(statement))
    assert [g.detail for g in gaps(world.db, world.parks_site)] != ["tampered"]
    assert len(gaps(world.db, world.parks_site)) == 1


def test_each_person_sees_the_health_of_their_departments_sites(synced: World) -> None:
    def names(username: str) -> set[str]:
        app = synced.app(username)
        with app.db.session() as session:
            actor = app.moderation.actor(session)
        return {h.site_name for h in health(app.db, actor)}

    assert names("alice") == {"Highland Parks & Recreation"}
    assert names("carol") == {"Highland Police Department"}
    assert names("sam") == names("ada") == {
        "Highland Parks & Recreation", "Highland Police Department"
    }  # fmt: skip


@pytest.mark.expected_log(SYNC_FAILED)
def test_health_on_the_command_line(tmp_path: Path, sandbox: SandboxServer) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    cli("db", "upgrade")
    cli("demo", "--sandbox-url", sandbox.url)
    sandbox.faults.add(FaultKind.REVOKED_TOKEN, path=PARKS_PAGE, times=None)
    cli("sync", ok=False)
    listing = json.loads(cli("health", "--json").stdout)
    facebook = next(s for s in listing if s["site_name"] == "Highland Parks & Recreation")
    assert not facebook["readable"]
    assert facebook["last_ok_at"] is None
    assert facebook["gaps"][0]["ended_at"] is None
    assert facebook["gaps"][0]["kind"] == "platform"
    assert "expired or was revoked" in facebook["last_error"]
    assert all(s["readable"] for s in listing if s is not facebook)
    text = cli("sites", "--health").stdout
    assert "NOT READABLE" in text
    assert "now (still open): platform down or refusing" in text
    assert "sandbox-demo-token" not in text + json.dumps(listing)


@pytest.mark.expected_log(SYNC_FAILED)
def test_a_spent_quota_is_a_gap_of_its_own_kind(
    youtube: tuple[App, int, YouTubeSandbox],
) -> None:
    app, site_id, _ = youtube
    assert app.sync.sync([site_id])[0].error == ""
    with app.db.transaction() as session:
        quota = capabilities_of(Platform.YOUTUBE.value).daily_quota
        assert quota is not None
        usage = session.scalars(select(ApiUsage).where(ApiUsage.platform == "youtube")).one()
        usage.units = quota
    assert "quota is used up" in app.sync.sync([site_id])[0].error
    [gap] = site_health(app, site_id).gaps
    assert (gap.kind, gap.words, gap.ended_at) == ("quota", "quota spent", None)
