"""The record-first loop end to end: SQLite and PostgreSQL, real HTTP to the sandbox."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hsm_console.connectors.base import Connector
from hsm_console.db.chain import append_entry, record_hash
from hsm_console.db.models import Comment, LogEntry, RetainedRecord, Site
from hsm_console.errors import (
    ConcurrentAction,
    NotPossible,
    PermissionDenied,
    PolicyViolation,
)
from hsm_console.rules.domain import Action, EntryState
from hsm_console.services.connector_factory import connector_factory
from hsm_console.services.moderation import INTERRUPTED, ModerationService, interrupted_after
from hsm_sandbox import FaultKind
from tests.conftest import World


def parks_comments(world: World, *, replies: bool = False) -> list[Comment]:
    with world.db.session() as session:
        query = select(Comment).where(Comment.site_id == world.parks_site).order_by(Comment.id)
        if replies:
            query = query.where(Comment.parent_id.is_not(None))
        return list(session.scalars(query))


def entries_of(world: World, comment_id: int) -> list[LogEntry]:
    with world.db.session() as session:
        return list(
            session.scalars(
                select(LogEntry).where(LogEntry.comment_id == comment_id).order_by(LogEntry.id)
            )
        )


def count(world: World, model: Any) -> int:
    with world.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def reload(world: World, comment_id: int) -> Comment:
    with world.db.session() as session:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        return comment


def fb(world: World) -> Any:
    return world.sandbox.state.facebook


class _DuringCall(Connector):
    """The real connector, with something done while its action call is in flight."""

    def __init__(self, inner: Connector, meanwhile: Callable[[], None]) -> None:
        self.inner, self.meanwhile = inner, meanwhile

    def apply(self, action: Action, external_id: str) -> None:
        self.meanwhile()
        self.inner.apply(action, external_id)

    def list_posts(self, cursor: str | None = None) -> Any:
        raise AssertionError("not used")

    def list_comments(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not used")

    def fetch_state(self, external_id: str) -> Any:
        return self.inner.fetch_state(external_id)

    def close(self) -> None:
        self.inner.close()


def _acting_while(world: World, meanwhile: Callable[[], None]) -> ModerationService:
    app = world.app("alice")
    real = app.connectors
    return ModerationService(
        world.db, app.policy, lambda site: _DuringCall(real(site), meanwhile), "alice"
    )


def test_hide_is_recorded_first_then_applied(synced: World) -> None:
    comment = parks_comments(synced)[0]
    seen_at_call: dict[str, Any] = {}

    def look_at_the_database() -> None:  # mid-call, on a separate connection: only committed
        with synced.db.session() as session:
            seen_at_call["entries"] = [
                (e.state, e.action, e.reason_code)
                for e in session.scalars(select(LogEntry).where(LogEntry.comment_id == comment.id))
            ]
            seen_at_call["records"] = session.scalar(
                select(func.count()).where(RetainedRecord.comment_id == comment.id)
            )

    service = _acting_while(synced, look_at_the_database)
    result = service.act(comment.id, Action.HIDE, "PRF", "profanity in the second sentence")

    assert seen_at_call == {"entries": [("pending", "hide", "PRF")], "records": 1}
    assert result.state is EntryState.APPLIED
    assert "Hidden on Facebook" in result.message
    assert fb(synced).is_hidden(comment.external_id)

    entries = entries_of(synced, comment.id)
    assert [(e.state, e.action, e.reason_code, e.actor) for e in entries] == [
        ("pending", "hide", "PRF", "alice"),
        ("applied", "hide", "PRF", "alice"),
    ]
    assert entries[1].outcome_of == entries[0].id
    assert entries[1].prev_hash == entries[0].entry_hash
    assert entries[0].note == "profanity in the second sentence"
    assert entries[0].policy_version == "2026.2"
    after = reload(synced, comment.id)
    assert (after.status, after.platform_state, after.version) == ("hidden", "hidden", 1)
    assert after.pending_entry_id is None


def test_a_colleagues_sync_leaves_an_action_whose_call_is_in_flight(synced: World) -> None:
    """Another workstation's reconciliation reads the platform while alice's call is still on
    its way: it must not take her pending entry for a crash's and record "not applied"."""
    comment = parks_comments(synced)[0]
    reconciled: list[Any] = []
    service = _acting_while(synced, lambda: reconciled.extend(synced.app("bob").sync.sync()))

    result = service.act(comment.id, Action.HIDE, "PRF")

    assert sum(r.reconciled for r in reconciled) == 0
    assert result.state is EntryState.APPLIED
    assert [e.state for e in entries_of(synced, comment.id)] == ["pending", "applied"]
    assert reload(synced, comment.id).status == "hidden"


@pytest.mark.expected_log("was completed by entry")
def test_a_pending_entry_gets_one_outcome_even_when_a_reconciliation_comes_first(
    synced: World, time_passes: Callable[[timedelta], None]
) -> None:
    """Should a call outlive the limit (a workstation's clock far off), the reconciliation's
    outcome is written first and stands; the call's own outcome is not written a second
    time, and the moderator is told what the log says."""
    comment = parks_comments(synced)[0]
    early: list[Any] = []

    def reconcile_now() -> None:
        time_passes(INTERRUPTED * 10)
        early.extend(synced.app("bob").moderation.reconcile())

    result = service_result = _acting_while(synced, reconcile_now).act(
        comment.id, Action.HIDE, "PRF"
    )

    assert [r.state for r in early] == [EntryState.FAILED]  # the platform showed it visible
    entries = entries_of(synced, comment.id)
    assert [(e.state, e.actor) for e in entries] == [("pending", "alice"), ("failed", "bob")]
    assert service_result.outcome_entry_id == entries[1].id
    assert result.state is EntryState.FAILED
    assert fb(synced).is_hidden(comment.external_id)  # the call did go through; the next
    # sync's read of the comment shows it, and the record says what was known first.


def test_the_database_refuses_a_second_outcome_of_one_entry(synced: World) -> None:
    comment = parks_comments(synced)[0]
    synced.app("alice").moderation.act(comment.id, Action.FLAG, "PRF")
    pending, outcome = entries_of(synced, comment.id)
    with pytest.raises(IntegrityError), synced.db.transaction() as session:
        append_entry(
            session, actor="alice", state="failed", action="flag", comment_id=comment.id,
            site_id=outcome.site_id, department_id=outcome.department_id,
            record_id=outcome.record_id, record_sha256=outcome.record_sha256,
            reason_code="PRF", policy_version=outcome.policy_version, outcome_of=pending.id,
        )  # fmt: skip
    assert len(entries_of(synced, comment.id)) == 2


def test_a_slow_sites_calls_are_waited_for_longer(synced: World) -> None:
    with synced.db.session() as session:
        site = session.get(Site, synced.parks_site)
        assert site is not None
        assert interrupted_after(site) == INTERRUPTED  # the default settings end sooner
        site.settings = {**site.settings, "timeout": 300, "retries": 4}
        # Five attempts and one after a renewal, three calls, back-offs, a minute for clocks.
        assert interrupted_after(site) == timedelta(seconds=3 * (6 * 300 + 7.5) + 60)
        site.settings = {**site.settings, "timeout": "soon"}
        assert interrupted_after(site) == INTERRUPTED  # unreadable: its connector never opens
        session.rollback()


def test_retained_record_is_a_full_snapshot(synced: World) -> None:
    reply = parks_comments(synced, replies=True)[0]
    synced.app("alice").moderation.act(reply.id, Action.FLAG, "OFT")
    with synced.db.session() as session:
        record = session.scalars(
            select(RetainedRecord).where(RetainedRecord.comment_id == reply.id)
        ).one()
        parent = session.get(Comment, reply.parent_id)
        post = session.get(Comment, reply.id).post  # type: ignore[union-attr]
        assert parent is not None
        assert record.text == reply.text
        assert record.author_name == reply.author_name
        assert record.author_id == reply.author_id
        assert record.created_at == reply.created_at
        assert record.permalink == reply.permalink
        assert record.raw == reply.raw
        assert record.parent_external_id == parent.external_id
        assert record.post_external_id == post.external_id
        assert record.post_text == post.text
        assert record.platform == "facebook"
        assert record.captured_by == "alice"
        values = {c.name: getattr(record, c.name) for c in RetainedRecord.__table__.columns}
        assert record.sha256 == record_hash(values)
        entry = session.scalars(select(LogEntry).where(LogEntry.record_id == record.id)).first()
        assert entry is not None
        assert entry.record_sha256 == record.sha256


def test_unhide_and_remove_change_the_platform(synced: World) -> None:
    first, second = parks_comments(synced)[:2]
    mod = synced.app("alice").moderation
    assert mod.act(first.id, Action.HIDE, "SPM").ok
    assert mod.act(first.id, Action.UNHIDE, None, "reviewed again: it is fine").ok
    assert not fb(synced).is_hidden(first.external_id)
    assert reload(synced, first.id).platform_state == "visible"

    assert mod.act(second.id, Action.REMOVE, "THR").ok
    assert fb(synced).is_deleted(second.external_id)
    assert reload(synced, second.id).status == "removed"
    before = count(synced, LogEntry)
    with pytest.raises(NotPossible, match="no longer exists on Facebook"):
        mod.act(second.id, Action.HIDE, "THR")
    assert count(synced, LogEntry) == before  # refused before anything was recorded


def test_flag_and_keep_are_local_and_still_recorded_first(synced: World) -> None:
    first, second = parks_comments(synced)[:2]
    mod = synced.app("alice").moderation
    before = len(synced.sandbox.requests_seen())
    flagged = mod.act(first.id, Action.FLAG, "FOI", "asks for the pool contract")
    kept = mod.act(second.id, Action.KEEP)
    assert len(synced.sandbox.requests_seen()) == before  # the platform was not called
    # FOI also hands the comment over as a draft records request (test_records_requests.py).
    assert [(e.kind, e.state) for e in entries_of(synced, first.id)] == [
        ("action", "pending"), ("request", "applied"), ("action", "applied"),
    ]  # fmt: skip
    assert [e.reason_code for e in entries_of(synced, second.id)] == ["NVL", "NVL"]
    assert (flagged.ok, kept.ok) == (True, True)
    assert reload(synced, first.id).status == "flagged"
    assert reload(synced, second.id).status == "kept"


@pytest.mark.parametrize(
    ("action", "code", "note", "error", "message"),
    [
        (Action.HIDE, "XYZ", "", PolicyViolation, "'XYZ' is not a reason code"),
        (Action.REMOVE, "OFT", "n", PolicyViolation, "does not permit remove"),
        (Action.HIDE, None, "", PolicyViolation, "reason code .* is required"),
        (Action.HIDE, "HAR", "", PolicyViolation, "requires a note"),
        (Action.UNHIDE, None, "", NotPossible, "not hidden"),
    ],
)
def test_refusals_record_nothing(
    synced: World, action: Action, code: str | None, note: str, error: type, message: str
) -> None:
    comment = parks_comments(synced)[0]
    with pytest.raises(error, match=message):
        synced.app("alice").moderation.act(comment.id, action, code, note)
    assert count(synced, LogEntry) == 0
    assert count(synced, RetainedRecord) == 0
    assert synced.sandbox.requests_seen("POST") == []


def test_moderator_cannot_act_on_another_department(synced: World) -> None:
    comment = parks_comments(synced)[0]
    for username in ("carol", "sam", "ada"):  # Police moderator, supervisor, administrator
        with pytest.raises(PermissionDenied, match="not a moderator of the department"):
            synced.app(username).moderation.act(comment.id, Action.HIDE, "PRF")
    with pytest.raises(PermissionDenied, match="not an active user"):
        synced.app("mallory").moderation.act(comment.id, Action.HIDE, "PRF")
    assert count(synced, LogEntry) == 0
    assert not fb(synced).is_hidden(comment.external_id)


def test_comment_deleted_by_its_author_before_the_action(synced: World) -> None:
    comment = parks_comments(synced)[0]
    fb(synced).delete_comment(comment.external_id)
    result = synced.app("alice").moderation.act(comment.id, Action.HIDE, "PRF")
    assert result.state is EntryState.FAILED
    assert "no longer exists" in result.message
    assert [e.state for e in entries_of(synced, comment.id)] == ["pending", "failed"]
    after = reload(synced, comment.id)
    assert (after.status, after.platform_state) == ("new", "removed")


def test_remove_of_a_comment_already_gone_is_unconfirmed(synced: World) -> None:
    comment = parks_comments(synced)[0]
    fb(synced).delete_comment(comment.external_id)
    result = synced.app("alice").moderation.act(comment.id, Action.REMOVE, "PRF")
    assert result.state is EntryState.UNCONFIRMED
    assert [e.state for e in entries_of(synced, comment.id)] == ["pending", "unconfirmed"]


@pytest.mark.parametrize(
    ("fault", "options", "cause"),
    [
        (FaultKind.SERVER_ERROR, {"times": None}, "Facebook"),
        (FaultKind.TOO_MANY_REQUESTS, {"seconds": 120}, "2 minutes"),
        (FaultKind.RATE_LIMIT, {"seconds": 600}, "10 minutes"),
        (FaultKind.MALFORMED, {"body": "{not json"}, "cannot read"),
        (FaultKind.REVOKED_TOKEN, {}, "expired or was revoked"),
        (FaultKind.PERMISSION, {}, "pages_manage_engagement"),
    ],
)
def test_platform_failure_leaves_the_comment_unchanged(
    synced: World, fault: FaultKind, options: dict[str, Any], cause: str
) -> None:
    comment = parks_comments(synced)[0]
    synced.sandbox.faults.add(fault, method="POST", **options)
    result = synced.app("alice").moderation.act(comment.id, Action.HIDE, "PRF")
    assert result.state is EntryState.FAILED
    entries = entries_of(synced, comment.id)
    assert [e.state for e in entries] == ["pending", "failed"]
    assert cause in entries[1].detail
    assert cause in result.message
    assert "sandbox-demo-token" not in entries[1].detail
    after = reload(synced, comment.id)
    assert (after.status, after.platform_state, after.pending_entry_id) == ("new", "visible", None)
    assert not fb(synced).is_hidden(comment.external_id)


def test_platform_too_slow_is_recorded_as_failed(synced: World) -> None:
    comment = parks_comments(synced)[0]
    # Slow enough to pass the timeout of every attempt; the read-back finds it unchanged.
    synced.sandbox.faults.add(FaultKind.SLOW, method="POST", seconds=1.5, times=None)
    app = synced.app("alice", timeout=0.3, retries=0)
    result = app.moderation.act(comment.id, Action.HIDE, "PRF")
    assert result.state is EntryState.FAILED
    entries = entries_of(synced, comment.id)
    assert [e.state for e in entries] == ["pending", "failed"]
    assert "did not answer" in entries[1].detail or "time" in entries[1].detail
    assert reload(synced, comment.id).status == "new"


def test_stale_view_is_told_who_acted_first(synced: World) -> None:
    comment = parks_comments(synced)[0]
    synced.app("bob").moderation.act(comment.id, Action.HIDE, "PRF", expected_version=0)
    hides = len(synced.sandbox.requests_seen("POST"))
    with pytest.raises(ConcurrentAction, match=r"Bob Moderator \(bob\) handled this comment first"):
        synced.app("alice").moderation.act(comment.id, Action.FLAG, "PRF", expected_version=0)
    assert len(synced.sandbox.requests_seen("POST")) == hides
    assert len(entries_of(synced, comment.id)) == 2  # bob's pending and applied only


def test_two_moderators_at_once_one_wins_nothing_sent_twice(synced: World) -> None:
    comment = parks_comments(synced)[0]
    # Slow platform answers keep the first action in flight while the second arrives.
    synced.sandbox.faults.add(FaultKind.SLOW, method="POST", seconds=0.3, times=None)
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def act(username: str) -> None:
        service = synced.app(username).moderation
        barrier.wait()
        try:
            outcomes[username] = service.act(comment.id, Action.HIDE, "PRF", expected_version=0)
        except ConcurrentAction as exc:
            outcomes[username] = exc

    threads = [threading.Thread(target=act, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, o in outcomes.items() if not isinstance(o, Exception)]
    assert len(winners) == 1
    loser = "bob" if winners == ["alice"] else "alice"
    assert winners[0] in str(outcomes[loser])
    assert len(synced.sandbox.requests_seen("POST", comment.external_id)) == 1
    assert [e.actor for e in entries_of(synced, comment.id)] == [winners[0], winners[0]]


def test_bulk_action_records_each_comment_separately(synced: World) -> None:
    ids = [c.id for c in parks_comments(synced)[:5]]
    results = synced.app("alice").moderation.act_many(ids, Action.FLAG, "SPM", "flooding")
    assert all(not isinstance(r, Exception) and r.ok for r in results)
    assert count(synced, RetainedRecord) == 5
    with synced.db.session() as session:
        pending = session.scalars(select(LogEntry).where(LogEntry.state == "pending")).all()
        assert sorted(e.comment_id for e in pending) == ids
        assert {e.reason_code for e in pending} == {"SPM"}


def test_bulk_action_can_be_cancelled(synced: World) -> None:
    ids = [c.id for c in parks_comments(synced)[:5]]
    results = synced.app("alice").moderation.act_many(
        ids, Action.FLAG, "SPM", progress=lambda done, total: done < 2
    )
    assert len(results) == 2
    assert count(synced, RetainedRecord) == 2


def test_hostile_text_is_retained_exactly(synced: World) -> None:
    post = "1000000000001_122100000000000"
    hostile = (
        "<script>alert(1)</script><img src=x onerror=alert(2)> \u202edesrever\u202c "
        '=HYPERLINK("http://x") \x1b[2J\x00 ' + "A" * 1_000_000
    )
    external = fb(synced).add_comment(post, hostile, author_name="<b>Evil</b>")
    synced.app("alice").sync.sync()
    with synced.db.session() as session:
        comment = session.scalars(select(Comment).where(Comment.external_id == external)).one()
    # PostgreSQL text cannot hold NUL: it becomes U+FFFD in the text columns of both
    # databases, while the raw payload keeps the comment exactly as the platform sent it.
    assert comment.text == hostile.replace("\x00", "\ufffd")
    assert comment.raw["message"] == hostile
    synced.app("alice").moderation.act(comment.id, Action.REMOVE, "SPM")
    with synced.db.session() as session:
        record = session.scalars(
            select(RetainedRecord).where(RetainedRecord.comment_id == comment.id)
        ).one()
    assert record.text == comment.text
    assert record.author_name == "<b>Evil</b>"
    assert fb(synced).is_deleted(external)


def test_connector_factory_is_used_per_site(synced: World) -> None:
    """The Police site is reachable by its moderator only, with the site's own settings."""
    factory = connector_factory(overrides={"timeout": 1.0})
    with synced.db.session() as session:
        site = session.get(Site, synced.police_site)
        assert site is not None
        connector = factory(site)
    try:
        assert connector.site.external_id == "1000000000002"
        assert connector.site.settings["timeout"] == 1.0
    finally:
        connector.close()
