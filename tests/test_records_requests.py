"""The records requests register: its steps, refusals and log entries, and the FOI handover from
a real moderation action, on SQLite and PostgreSQL (docs/design.md, "Records requests")."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hsm_console.db.models import LogEntry, RecordsRequest
from hsm_console.display import CITY_TZ
from hsm_console.errors import InvalidInput, NotFound, NotPossible, PermissionDenied
from hsm_console.rules.domain import Action, EntryKind, Role
from hsm_console.rules.policy import load_policy
from hsm_console.rules.records_requests import ExtensionReason, RequestState, Urgency
from hsm_console.services import admin
from hsm_console.services.log_view import LogFilter, LogView
from hsm_console.services.records_requests import CITY_WIDE, RecordsRequests, RequestFilter
from hsm_console.services.verify import verify_log
from tests.conftest import World
from tests.test_moderation import parks_comments

# Monday 9 February 2026, 10:00 in Highland: Lincoln's Birthday is on Thursday.
MONDAY = datetime(2026, 2, 9, 10, tzinfo=CITY_TZ)
HOSTILE = '=HYPERLINK("http://x")<script>alert(1)</script> \u202eevil\u202c <b>Ann</b>\t\n'


@pytest.fixture
def officers(world: World) -> World:
    """rita keeps Parks' records, pat Police's, cleo (the City Clerk's office) every one."""
    with world.db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        police = admin.ensure_department(session, "POLICE", "Police Department")
        for username, name, department in (
            ("rita", "Rita Records", parks),
            ("pat", "Pat Police Records", police),
            ("cleo", "Cleo City Clerk", None),
        ):
            person = admin.ensure_person(session, username, name)
            admin.grant(session, person, Role.RECORDS_OFFICER, department)
    return world


def register(world: World, who: str = "rita", at: datetime = MONDAY) -> RecordsRequests:
    return RecordsRequests(world.db, load_policy(), who, clock=lambda: at)


def counts(world: World) -> tuple[int, int]:
    with world.db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(RecordsRequest)) or 0,
            session.scalar(select(func.count()).select_from(LogEntry)) or 0,
        )


def request_entries(world: World, request_id: int) -> list[LogEntry]:
    with world.db.session() as session:
        query = select(LogEntry).where(LogEntry.subject == f"request:{request_id}")
        return list(session.scalars(query.order_by(LogEntry.id)))


def test_a_request_is_registered_as_given_with_its_due_date_and_entry(officers: World) -> None:
    rita = register(officers)
    received = MONDAY - timedelta(hours=1)
    request_id = rita.register(received, HOSTILE, HOSTILE * 3, "parks", {"site": "Parks FB"})
    detail = rita.show(request_id)
    row = detail.request
    assert (row.requester, row.words) == (HOSTILE, HOSTILE * 3)  # kept exactly
    assert row.scope == {"site": "Parks FB"}
    assert (row.department, row.state, row.handler) == ("PARKS", RequestState.OPEN, None)
    assert row.received_at == received.astimezone(UTC)
    assert row.due_on == date(2026, 2, 18)  # Lincoln's and Washington's Birthdays skipped
    assert (row.days_left, row.urgency) == (5, Urgency.NONE)
    assert detail.handlers == ["cleo", "rita"]
    assert [(e.actor, e.step) for e in detail.history] == [("rita", "receive")]
    (entry,) = request_entries(officers, request_id)
    assert (entry.kind, entry.department_id, entry.comment_id) == (EntryKind.REQUEST, 1, None)
    assert entry.before is None
    assert entry.policy_version == load_policy().version
    after = json.loads(entry.after or "")
    assert (after["requester"], after["due_on"]) == (HOSTILE, "2026-02-18")
    assert after["received_at"] == "2026-02-09T15:00:00.000000+00:00"
    # A name is never required: an anonymous request is a request.
    anonymous = rita.register(received, "", "All Parks comments removed in March.", "PARKS")
    assert rita.show(anonymous).request.requester == ""
    assert verify_log(officers.db).ok


def test_steps_assign_extend_answer_each_logged_before_and_after(officers: World) -> None:
    rita = register(officers)
    request_id = rita.register(MONDAY, "J. Q. Public", "Emails about the pool.", "PARKS")
    rita.assign(request_id, "rita")
    rita.extend(request_id, ExtensionReason.MANY_RECORDS, "Three years of comments.")
    row = rita.show(request_id).request
    assert (row.state, row.handler) == (RequestState.EXTENDED, "rita")
    assert (row.original_due, row.extended_to, row.due_on) == (
        date(2026, 2, 18), date(2026, 2, 25), date(2026, 2, 25),
    )  # fmt: skip
    assert row.extension_reason == "many_records"
    with pytest.raises(NotPossible, match="already extended once, and 3\\(e\\) allows one"):
        rita.extend(request_id, ExtensionReason.CONSULTATION)
    register(officers, "cleo").answer(request_id, "Sent 40 pages by email.")
    history = rita.show(request_id).history
    assert [(e.actor, e.step) for e in history] == [
        ("rita", "receive"), ("rita", "assign"), ("rita", "extend"), ("cleo", "answer"),
    ]  # fmt: skip
    assert history[2].note == (
        "3(e)(ii): a substantial number of records to collect. Three years of comments."
    )
    entries = request_entries(officers, request_id)
    for earlier, later in itertools.pairwise(entries):
        assert later.before == earlier.after  # each step starts where the last one left it
    assert json.loads(entries[-1].after or "")["state"] == "answered"
    with pytest.raises(NotPossible, match="it was answered"):
        rita.withdraw(request_id, "changed their mind")
    assert verify_log(officers.db).ok


def test_refusals_in_plain_words_change_nothing(officers: World) -> None:
    rita = register(officers)
    request_id = rita.register(MONDAY, "Ann", "Police Facebook comments.", "PARKS")
    city_wide = register(officers, "cleo").register(MONDAY, "Ann", "Everything.", None)
    before = counts(officers)
    with pytest.raises(PermissionDenied, match="Only a records officer may read the records"):
        register(officers, "alice").rows()
    with pytest.raises(PermissionDenied, match="Only a records officer of that department"):
        register(officers, "pat").answer(request_id)
    with pytest.raises(PermissionDenied, match="keeps no records for PARKS"):
        register(officers, "pat").rows(RequestFilter(department="PARKS"))
    with pytest.raises(PermissionDenied, match="City-wide request is the City Clerk's office's"):
        rita.show(city_wide)
    with pytest.raises(PermissionDenied):
        register(officers, "pat").register(MONDAY, "Ann", "Parks records.", "PARKS")
    with pytest.raises(InvalidInput, match="pat is not an active records officer of PARKS"):
        rita.assign(request_id, "pat")
    with pytest.raises(InvalidInput, match="alice is not an active records officer"):
        rita.assign(request_id, "alice")
    with pytest.raises(NotFound, match="no records request 999"):
        rita.answer(999)
    with pytest.raises(NotFound, match="no department 'NOPE'"):
        rita.register(MONDAY, "Ann", "x", "NOPE")
    rita.withdraw(request_id, "The requester withdrew it by phone.")
    with pytest.raises(NotPossible, match="cannot be answered: it was withdrawn"):
        rita.answer(request_id)
    with pytest.raises(InvalidInput, match="The reason is required"):
        rita.withdraw(city_wide, " ")
    assert counts(officers) == (before[0], before[1] + 1)  # only the withdrawal
    # Each sees only their departments; the Clerk sees every request.
    assert [r.id for r in rita.rows()] == [request_id]
    assert register(officers, "pat").rows() == []
    assert {r.department for r in register(officers, "cleo").rows()} == {"PARKS", CITY_WIDE}


def test_bad_input_is_refused_and_loses_nothing(officers: World) -> None:
    rita = register(officers)
    before = counts(officers)
    for requester, words, match in (
        ("Ann\x00", "words", "requester contains a NUL"),
        ("Ann", "x" * 1_000_000, "1,000,000 characters long"),
        ("Ann", "   ", "The request's words is required"),
    ):
        with pytest.raises(InvalidInput, match=match):
            rita.register(MONDAY, requester, words, "PARKS")
    with pytest.raises(InvalidInput, match="in the future"):
        rita.register(MONDAY + timedelta(days=1), "Ann", "words", "PARKS")
    with pytest.raises(InvalidInput, match="time zone"):
        rita.register(datetime(2026, 2, 9, 9), "Ann", "words", "PARKS")
    with pytest.raises(InvalidInput, match="scope must be a JSON object"):
        rita.register(MONDAY, "Ann", "words", "PARKS", ["site"])  # type: ignore[arg-type]
    assert counts(officers) == before


def test_the_extension_must_come_within_the_first_five_days(officers: World) -> None:
    request_id = register(officers).register(MONDAY, "Ann", "words", "PARKS")
    late = register(officers, at=datetime(2026, 2, 19, 9, tzinfo=CITY_TZ))  # due the 18th
    with pytest.raises(NotPossible, match="within the first 5 business days"):
        late.extend(request_id, ExtensionReason.NOT_LOCATED)
    on_time = register(officers, at=datetime(2026, 2, 18, 16, tzinfo=CITY_TZ))
    on_time.extend(request_id, ExtensionReason.NOT_LOCATED)
    assert on_time.show(request_id).request.extended_to == date(2026, 2, 25)


def test_overdue_and_due_soon_for_the_officer(officers: World) -> None:
    rita = register(officers)
    old = rita.register(MONDAY - timedelta(days=14), "Ann", "old", "PARKS")  # due Mon 2 Feb
    soon = rita.register(MONDAY - timedelta(days=6), "Bo", "soon", "PARKS")  # due Tue 10 Feb
    fresh = rita.register(MONDAY, "Cy", "fresh", "PARKS")
    done = rita.register(MONDAY - timedelta(days=14), "Di", "done", "PARKS")
    rita.answer(done)
    attention = rita.attention()
    assert [(r.id, r.urgency, r.days_left) for r in attention] == [
        (old, Urgency.OVERDUE, -5), (soon, Urgency.DUE_SOON, 1),
    ]  # fmt: skip
    assert register(officers, "alice").attention() == []  # not a records officer: nothing
    assert register(officers, "pat").attention() == []
    rows = rita.rows(RequestFilter(states=frozenset({RequestState.OPEN})))
    assert [r.id for r in rows] == [old, soon, fresh]
    assert [r.id for r in rita.rows(RequestFilter(due_by=date(2026, 2, 11)))] == [old, done, soon]


def test_foi_coded_comment_becomes_a_draft_in_the_moderators_transaction(
    synced: World, officers: World
) -> None:
    comment = parks_comments(synced)[0]
    result = synced.app("alice").moderation.act(comment.id, Action.FLAG, "FOI", "asks for emails")
    assert result.ok, result.message
    rita = register(synced, at=datetime.now(UTC))
    (draft,) = rita.rows()
    assert draft.state is RequestState.DRAFT
    assert (draft.requester, draft.words) == (comment.author_name, comment.text)
    assert (draft.department, draft.comment_id) == ("PARKS", comment.id)
    with synced.db.session() as session:
        pending = session.get(LogEntry, result.pending_entry_id)
        assert pending is not None
        assert draft.handed_over_at == draft.received_at == pending.at
    (entry,) = request_entries(synced, draft.id)
    assert (entry.action, entry.actor, entry.refers_to) == ("draft", "alice", pending.id)
    assert entry.id == pending.id + 1  # written in the action's own transaction
    # A second FOI action on the same comment adds no second request.
    synced.app("bob").moderation.act(comment.id, Action.KEEP, "FOI")
    assert len(rita.rows()) == 1
    # A draft cannot be answered before it is accepted; accepted, it is open.
    with pytest.raises(NotPossible, match="still a draft from the queue: accept it first"):
        rita.answer(draft.id)
    rita.accept(draft.id)
    accepted = rita.show(draft.id).request
    assert (accepted.state, accepted.received_at) == (RequestState.OPEN, draft.handed_over_at)
    # Another comment handed over and withdrawn: it was no request.
    other = parks_comments(synced)[1]
    synced.app("alice").moderation.act(other.id, Action.KEEP, "FOI")
    (second,) = rita.rows(RequestFilter(states=frozenset({RequestState.DRAFT})))
    rita.withdraw(second.id, "Asks about opening hours, not for records.")
    assert rita.show(second.id).history[-1].note == "Asks about opening hours, not for records."
    assert verify_log(synced.db).ok


def test_two_officers_at_once_step_from_the_same_state_only_once(officers: World) -> None:
    request_id = register(officers).register(MONDAY, "Ann", "words", "PARKS")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def extend(who: str) -> None:
        service = register(officers, who)
        start.wait()
        try:
            service.extend(request_id, ExtensionReason.CONSULTATION, who)
            outcomes.append("extended")
        except NotPossible as refused:
            outcomes.append(refused.message)

    threads = [threading.Thread(target=extend, args=(who,)) for who in ("rita", "cleo")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [
        f"Request {request_id}: This request cannot be extended: it was already extended once, "
        "and 3(e) allows one extension.",
        "extended",
    ]
    assert [e.action for e in request_entries(officers, request_id)] == ["receive", "extend"]
    assert verify_log(officers.db).ok


def test_supervisors_read_the_steps_in_the_log_of_their_departments(officers: World) -> None:
    rita = register(officers)
    request_id = rita.register(MONDAY, HOSTILE, "words", "PARKS")
    rita.answer(request_id, "Sent.")
    with officers.db.transaction() as session:
        police = admin.ensure_department(session, "POLICE", "Police Department")
        pete = admin.ensure_person(session, "pete", "Pete Director")
        admin.grant(session, pete, Role.SUPERVISOR, police)
    requests_only = LogFilter(kinds=frozenset({EntryKind.REQUEST.value}))
    sam = LogView(officers.db, "sam")  # the oversight group
    ids = sam.page(requests_only, newest_first=False).ids
    rows = sam.rows(ids)
    assert [(r.action, r.department, r.subject) for r in rows] == [
        ("receive", "PARKS", f"request:{request_id}"),
        ("answer", "PARKS", f"request:{request_id}"),
    ]
    assert json.loads(sam.entry(ids[1]).row.before or "")["requester"] == HOSTILE
    assert LogView(officers.db, "pete").count(requests_only) == 0
