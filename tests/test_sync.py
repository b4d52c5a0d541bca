"""Sync: idempotent, incremental, resumable, faithful to edits and deletions, polite."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from hsm_console.db.models import Comment, CommentSuggestion, CommentVersion, Site, SyncState
from hsm_console.errors import NotPossible
from hsm_console.rules.domain import Action
from hsm_console.rules.screening import Match, Screener
from hsm_console.services import suggestions
from hsm_console.services.sync import SyncProgress
from hsm_sandbox import FaultKind
from tests.conftest import PARKS_PAGE, RECENT_SEED, World

POST = f"{PARKS_PAGE}_122100000000000"


def parks_count(world: World) -> int:
    with world.db.session() as session:
        query = select(func.count()).where(Comment.site_id == world.parks_site)
        return int(session.scalar(query) or 0)


def seeded_parks(world: World) -> int:
    return len([c for c in RECENT_SEED.comments if c.page_id == PARKS_PAGE])


def by_external(world: World, external_id: str) -> Comment:
    with world.db.session() as session:
        return session.scalars(select(Comment).where(Comment.external_id == external_id)).one()


def configure(world: World, **settings: int) -> None:
    with world.db.transaction() as session:
        site = session.get(Site, world.parks_site)
        assert site is not None
        site.settings = {**site.settings, **settings}


def test_sync_twice_adds_nothing_twice_and_reports_progress(world: World) -> None:
    reports: list[SyncProgress] = []
    first = world.app("alice").sync.sync(progress=reports.append)
    assert [(r.site_name, r.error) for r in first] == [("Highland Parks & Recreation", "")]
    assert first[0].new_comments == seeded_parks(world) == parks_count(world)
    assert reports[0].message == "starting"
    assert reports[-1].message == "done"
    assert [r.new_comments for r in reports] == sorted(r.new_comments for r in reports)
    second = world.app("alice").sync.sync()
    assert second[0].new_comments == 0
    assert parks_count(world) == seeded_parks(world)


def test_replies_are_linked_to_their_parents(world: World) -> None:
    world.app("alice").sync.sync()
    with world.db.session() as session:
        replies = session.scalars(select(Comment).where(Comment.parent_id.is_not(None))).all()
        assert replies
        for reply in replies:
            parent = session.get(Comment, reply.parent_id)
            assert parent is not None
            assert reply.raw["parent"]["id"] == parent.external_id


def test_suggestions_are_stored_at_ingest(world: World) -> None:
    world.app("alice").sync.sync()
    with world.db.session() as session:
        rows = session.execute(
            select(Comment.suggested_code, Comment.suggestion_why).where(
                Comment.suggested_code.is_not(None)
            )
        ).all()
    assert {code for code, _ in rows} >= {"PII", "PRF"}
    assert all(why for _, why in rows)
    # Every suggestion is kept, with its spans, not only the first.
    screener = Screener.default()
    with world.db.session() as session:
        comments = session.scalars(select(Comment).order_by(Comment.id)).all()
        several = 0
        for comment in comments:
            expected = [(s.code, s.why, [[m.start, m.end] for m in s.matches])
                        for s in screener.screen(comment.text)]  # fmt: skip
            stored = [(s.code, s.why, [[m.start, m.end] for m in s.matches])
                      for s in suggestions.stored(session, comment.id)]  # fmt: skip
            if expected:  # a repeat found at sync is the one suggestion screening has not
                assert stored == expected
            several += len(stored) > 1
            assert comment.suggested_code == (stored[0][0] if stored else None)
    assert several


def test_author_edit_keeps_the_earlier_text(world: World) -> None:
    configure(world, full_days=60)  # edits are seen on posts read in full
    world.app("alice").sync.sync()
    comment = by_external(world, RECENT_SEED.comments[0].id)
    original = comment.text
    world.app("alice").moderation.act(comment.id, Action.KEEP)
    world.sandbox.state.facebook.edit_comment(
        comment.external_id, "Edited: call me at 618-555-0142"
    )
    result = world.app("alice").sync.sync()[0]
    assert result.edited == 1
    after = by_external(world, comment.external_id)
    assert after.text == "Edited: call me at 618-555-0142"
    assert after.status == "new"  # kept before the edit: back in the queue
    assert after.suggested_code == "PII"
    with world.db.session() as session:
        again = [(s.code, s.matches) for s in suggestions.stored(session, comment.id)]
        status = session.scalar(
            select(CommentSuggestion.status).where(CommentSuggestion.comment_id == comment.id)
        )
    assert again == [("PII", (Match(19, 31),))]  # the old suggestions replaced
    assert status == "new"  # the copy follows the comment's status
    with world.db.session() as session:
        versions = session.scalars(
            select(CommentVersion).where(CommentVersion.comment_id == comment.id)
        ).all()
    assert [v.text for v in versions] == [original]


def test_comment_deleted_by_its_author_is_marked_gone_not_dropped(world: World) -> None:
    configure(world, full_days=60)
    world.app("alice").sync.sync()
    target = RECENT_SEED.comments[3].id
    world.sandbox.state.facebook.delete_comment(target)
    result = world.app("alice").sync.sync()[0]
    assert result.gone >= 1
    gone = by_external(world, target)
    assert gone.platform_state == "removed"
    assert gone.gone_seen_at is not None
    assert parks_count(world) == seeded_parks(world)  # nothing dropped
    with pytest.raises(NotPossible, match="no longer exists"):
        world.app("alice").moderation.act(gone.id, Action.HIDE, "PRF")


@pytest.mark.parametrize(
    ("fault", "options"),
    [
        (FaultKind.SERVER_ERROR, {"times": None}),
        (FaultKind.TOO_MANY_REQUESTS, {"seconds": 0}),
        (FaultKind.SLOW, {"seconds": 3, "times": None}),
    ],
)
@pytest.mark.expected_log("sync of site")
def test_failure_mid_pagination_resumes_from_the_last_good_cursor(
    world: World, fault: FaultKind, options: dict[str, Any]
) -> None:
    configure(world, page_size=5, full_days=60)
    world.sandbox.faults.add(fault, method="GET", path="after=", **options)
    failed = world.app("alice").sync.sync()[0]
    assert failed.error
    partial = parks_count(world)
    assert 0 < partial < seeded_parks(world)
    with world.db.session() as session:
        state = session.get(SyncState, world.parks_site)
        assert state is not None
        assert state.cursor["cursor"]
        assert state.last_error == failed.error
        stored = state.cursor["cursor"]
    world.sandbox.faults.clear()
    before = len(world.sandbox.requests_seen())
    resumed = world.app("alice").sync.sync()[0]
    assert resumed.error == ""
    assert parks_count(world) == seeded_parks(world)  # nothing skipped, nothing twice
    later = world.sandbox.requests_seen()[before:]
    assert any(stored in unquote(r.query_string) for r in later)  # started at the cursor
    with world.db.session() as session:
        state = session.get(SyncState, world.parks_site)
        assert state is not None
        assert state.cursor == {}


@pytest.mark.expected_log("sync of site")
def test_announced_wait_is_stored_and_respected(world: World) -> None:
    world.sandbox.faults.add(FaultKind.RATE_LIMIT, seconds=600)
    failed = world.app("alice").sync.sync()[0]
    assert "10 minutes" in failed.error
    calls = len(world.sandbox.requests_seen())
    skipped = world.app("alice").sync.sync()[0]
    assert skipped.skipped_until is not None
    assert "asked the City to wait until" in skipped.error
    assert len(world.sandbox.requests_seen()) == calls  # the platform was not asked again


@pytest.mark.expected_log("sync of site")
def test_one_failing_site_does_not_stop_the_others(world: World) -> None:
    from hsm_console.db.models import RoleGrant
    from hsm_console.rules.domain import Role

    with world.db.transaction() as session:  # alice moderates Police too, for this test
        alice = session.scalars(select(RoleGrant).where(RoleGrant.role == "moderator")).first()
        assert alice is not None
        session.add(
            RoleGrant(person_id=alice.person_id, role=Role.MODERATOR.value, department_id=2)
        )
    world.sandbox.faults.add(FaultKind.REVOKED_TOKEN, path=PARKS_PAGE, times=None)
    results = world.app("alice").sync.sync()
    errors = {r.site_name: r.error for r in results}
    assert "expired or was revoked" in errors["Highland Parks & Recreation"]
    assert errors["Highland Police Department"] == ""
    assert next(r for r in results if r.error == "").new_comments > 0


def test_sync_can_be_cancelled(world: World) -> None:
    configure(world, page_size=5)
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    result = world.app("alice").sync.sync(cancelled=cancelled)[0]
    assert result.cancelled
    assert 0 < parks_count(world) < seeded_parks(world)


def test_posts_older_than_the_window_are_not_read_again(world: World) -> None:
    configure(world, active_days=0)
    result = world.app("alice").sync.sync()[0]
    assert result.new_posts > 0
    assert result.new_comments == 0


def test_repeated_text_on_one_site_is_suggested_as_spam(world: World) -> None:
    words = "Visit my page for cheap tickets to every game this summer, friends"
    fb = world.sandbox.state.facebook
    flooder = {"from": {"id": "4242", "name": "Flooder"}}
    first = fb.add_comment(POST, words, extra=flooder)
    second = fb.add_comment(POST, words.upper() + "!!", extra=flooder)
    question = "When does leaf pickup start on the north side this year?"
    asked = [fb.add_comment(POST, question, author_name=name) for name in ("Ann", "Bo", "Cy")]
    world.app("alice").sync.sync()
    assert by_external(world, first).suggested_code is None  # the first time is not a repeat
    assert by_external(world, second).suggested_code == "SPM"  # nearly the same, same author
    assert "same text" in by_external(world, second).suggestion_why
    # Residents asking what another asked are residents, not a flood.
    assert [by_external(world, a).suggested_code for a in asked] == [None, None, None]


@pytest.mark.expected_log("Skipped")
def test_unreadable_items_are_recorded_for_the_site_never_stored(world: World) -> None:
    facebook = world.sandbox.state.facebook
    hostile = "<script>alert('no author')</script> call 618-555-0100"
    no_author = facebook.add_comment(POST, hostile, omit=["from"])
    facebook.add_comment(POST, "nameless", extra={"id": None})
    reports: list[SyncProgress] = []

    result = world.app("alice").sync.sync(progress=reports.append)[0]

    # The rest of the site synced; the two items are counted and named in plain words.
    assert result.error == ""
    assert result.new_comments == seeded_parks(world) == parks_count(world)
    assert result.unreadable == 2
    assert result.unreadable_latest.startswith("a Facebook comment on ")
    assert sum("could not read a Facebook comment" in r.message for r in reports) == 2
    with world.db.session() as session:
        state = session.get(SyncState, world.parks_site)
        assert state is not None
        note = state.last_error
        stored = session.scalars(select(Comment.text)).all()
        authors = session.scalars(select(Comment.author_name)).all()
    assert note.startswith("2 item(s) from Facebook could not be read and were not stored")
    assert note.endswith(
        f"the latest: {result.unreadable_latest}. The program's log has the details for IT."
    )
    assert result.unreadable_latest.endswith("came without an id")
    assert any(f"({no_author}) came without an author" in r.message for r in reports)
    # Never a placeholder comment, and the hostile payload is nowhere a comment could be.
    assert hostile not in stored
    assert "nameless" not in stored
    assert "(unknown)" not in authors
    assert "script" not in note


def test_a_clean_sync_clears_the_unreadable_note(world: World) -> None:
    with world.db.transaction() as session:
        session.add(SyncState(site_id=world.parks_site, cursor={}, last_error="3 item(s) ..."))
    result = world.app("alice").sync.sync()[0]
    assert (result.unreadable, result.unreadable_latest) == (0, "")
    with world.db.session() as session:
        state = session.get(SyncState, world.parks_site)
        assert state is not None
        assert state.last_error == ""
