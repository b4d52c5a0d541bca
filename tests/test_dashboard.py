"""The consistency dashboard, on SQLite and PostgreSQL, against a log built with known counts.

The log is written as valid chain entries at chosen times (pending entries and their
outcomes), around the start of daylight saving time in Chicago (Sunday 8 March 2026, 2 am):
two decisions near midnight land in different weeks in Chicago than in UTC.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import math
import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from hsm_console.db.chain import append_comment_entry, append_entry, snapshot
from hsm_console.db.engine import MIGRATIONS
from hsm_console.db.models import (
    Comment,
    CommentCount,
    CommentSuggestion,
    DashboardDecision,
    Department,
    LogEntry,
    Person,
    RoleGrant,
    Site,
)
from hsm_console.display import CITY_TZ
from hsm_console.errors import PermissionDenied
from hsm_console.rules.domain import (
    STATUS_AFTER,
    Action,
    AppealStep,
    EntryKind,
    EntryState,
    ReviewState,
    ReviewVerdict,
    Role,
)
from hsm_console.services import admin
from hsm_console.services.dashboard import NO_CODE, Dashboard, DashboardView, Table, export_table
from hsm_console.services.log_export import FORMULA_STARTS
from hsm_console.services.log_view import LogFilter, LogView
from hsm_console.services.queue_view import received_bounds
from tests.conftest import World

WEEK_A, WEEK_B = "2026-03-02", "2026-03-09"


def chicago(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CITY_TZ)


@dataclass(frozen=True)
class Decision:
    key: str  # which comment: p1.. in Parks, q1.. in Police
    actor: str
    action: Action
    code: str | None
    judgement: bool
    at: str  # Chicago time
    outcome: EntryState | None  # None: the outcome was never written (a crash)


# Each Parks and Police comment's arrival, then every decision, in order.
ARRIVED = {
    "p1": "2026-03-02 08:00", "p2": "2026-03-09 00:00", "p3": "2026-03-10 07:00",
    "p4": "2026-03-10 08:00", "p5": "2026-03-08 21:00",
    "q1": "2026-03-03 00:00", "q2": "2026-03-11 10:00", "q3": "2026-03-12 09:00",
}  # fmt: skip
DECISIONS = [
    Decision("p1", "alice", Action.HIDE, "PRF", False, "2026-03-02 09:00", EntryState.APPLIED),
    Decision("q1", "carol", Action.FLAG, "SPM", False, "2026-03-03 10:00", EntryState.APPLIED),
    # Sunday 11 pm in Chicago, Monday 4 am UTC: still week A.
    Decision("p5", "alice", Action.FLAG, "PRF", False, "2026-03-08 23:00", EntryState.APPLIED),
    # Monday 0:30 am CDT, Monday 5:30 am UTC: week B (with the winter offset it would be A).
    Decision("p2", "alice", Action.HIDE, "OFT", True, "2026-03-09 00:30", EntryState.APPLIED),
    Decision("p3", "bob", Action.REMOVE, "HAR", True, "2026-03-10 10:00", EntryState.APPLIED),
    Decision("p4", "bob", Action.HIDE, "SPM", False, "2026-03-10 11:00", EntryState.FAILED),
    Decision("p1", "alice", Action.UNHIDE, None, False, "2026-03-11 12:00", EntryState.APPLIED),
    Decision("q2", "carol", Action.KEEP, None, False, "2026-03-12 10:00", EntryState.APPLIED),
    Decision("q3", "carol", Action.HIDE, "PRF", False, "2026-03-12 11:00", None),
]


@pytest.fixture
def known(synced: World) -> World:
    world = synced
    with world.db.transaction() as session:
        comments = {}
        for prefix, site in (("p", world.parks_site), ("q", world.police_site)):
            ids = session.scalars(
                select(Comment.id).where(Comment.site_id == site).order_by(Comment.id)
            ).all()
            keys = sorted(k for k in ARRIVED if k.startswith(prefix))
            comments.update(zip(keys, ids, strict=False))
        for key, arrived in ARRIVED.items():
            session.execute(
                update(Comment)
                .where(Comment.id == comments[key])
                .values(created_at=chicago(arrived))
            )
        for d in DECISIONS:
            comment = session.get(Comment, comments[d.key])
            assert comment is not None
            record = snapshot(session, comment, d.actor)
            fields = dict(
                record_id=record.id, record_sha256=record.sha256,
                actor=d.actor, action=d.action.value, comment_id=comment.id,
                site_id=comment.site_id, department_id=comment.site.department_id,
                reason_code=d.code, second_review=d.judgement, policy_version="test",
            )  # fmt: skip
            at = chicago(d.at)
            pending = append_entry(session, state=EntryState.PENDING.value, at=at, **fields)
            if d.outcome is None:
                continue
            append_entry(
                session, state=d.outcome.value, at=at + timedelta(seconds=2),
                outcome_of=pending.id, **fields,
            )  # fmt: skip
            if d.outcome is EntryState.APPLIED:
                comment.status = STATUS_AFTER[d.action].value
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        admin.grant(session, admin.ensure_person(session, "pat", "Pat Parks Director"),
                    Role.SUPERVISOR, parks)  # fmt: skip
    return world


def dashboard(
    world: World, username: str = "sam", log_filter: LogFilter | None = None
) -> Dashboard:
    return DashboardView(LogView(world.db, username)).compute(log_filter or LogFilter())


def by_first(table: Table) -> dict[object, dict[str, object]]:
    """The table as {first cell: {column: value}}, the zero cells left out."""
    return {
        row[0]: {
            c: v for c, v in zip(table.columns[1:], row[1:], strict=True) if v not in (0, None)
        }
        for row in table.rows
    }


def test_actions_per_week_by_code_department_site_and_moderator(known: World) -> None:
    shown = dashboard(known)
    assert by_first(shown.table("by_reason")) == {
        WEEK_A: {"PRF": 2, "SPM": 1, "Total": 3},
        WEEK_B: {"OFT": 1, "HAR": 1, "(no code)": 2, "Total": 4},
    }
    assert by_first(shown.table("by_department")) == {
        WEEK_A: {"PARKS": 2, "POLICE": 1, "Total": 3},
        WEEK_B: {"PARKS": 3, "POLICE": 1, "Total": 4},
    }
    assert by_first(shown.table("by_site")) == {
        WEEK_A: {"Highland Parks & Recreation": 2, "Highland Police Department": 1, "Total": 3},
        WEEK_B: {"Highland Parks & Recreation": 3, "Highland Police Department": 1, "Total": 4},
    }
    assert by_first(shown.table("by_moderator")) == {
        WEEK_A: {"alice": 2, "carol": 1, "Total": 3},
        WEEK_B: {"alice": 2, "bob": 1, "carol": 1, "Total": 4},
    }


def test_judgement_share_questioned_share_and_reversals(known: World) -> None:
    shown = dashboard(known)
    assert shown.table("judgement").rows == (
        (WEEK_A, 1, 0, 0.0),
        (WEEK_B, 2, 2, 100.0),
    )
    # No review or appeal yet: nobody's actions are questioned.
    assert shown.table("questioned").rows == (
        ("alice", 4, 2, 1, 0, 0.0),
        ("bob", 1, 1, 1, 0, 0.0),
        ("carol", 2, 0, 0, 0, 0.0),
    )
    assert shown.table("reversals").rows == ((WEEK_A, 0, 0), (WEEK_B, 1, 0))


def test_questioned_reviews_and_appeals_are_counted_from_the_chain(known: World) -> None:
    with known.db.transaction() as session:
        decisions = {
            (e.actor, e.action): e
            for e in session.scalars(
                select(LogEntry).where(LogEntry.state == EntryState.PENDING.value)
            )
        }
        alice_hide = decisions[("alice", Action.HIDE.value)]  # p1, week A (the first one)
        bob_remove = decisions[("bob", Action.REMOVE.value)]
        for entry, verdict in ((alice_hide, ReviewVerdict.QUESTION),
                               (bob_remove, ReviewVerdict.CONCUR)):  # fmt: skip
            append_comment_entry(
                session, "pat", EntryKind.REVIEW, verdict.value, entry, "", "test",
                subject=f"entry:{entry.id}", refers_to=entry.id,
            )  # fmt: skip
        append_entry(  # recorded in week B, as append_comment_entry writes an appeal
            session, at=chicago("2026-03-10 12:00"), actor="alice",
            state=EntryState.APPLIED.value, action=AppealStep.APPEAL.value,
            comment_id=alice_hide.comment_id, site_id=alice_hide.site_id,
            department_id=alice_hide.department_id, record_id=None, record_sha256=None,
            note="the commenter wrote in", policy_version="test", kind=EntryKind.APPEAL.value,
            subject=f"entry:{alice_hide.id}", refers_to=alice_hide.id,
        )  # fmt: skip
    shown = dashboard(known)
    # A concurrence is not a question; one of alice's four actions was questioned.
    assert shown.table("questioned").rows == (
        ("alice", 4, 2, 1, 1, 25.0),
        ("bob", 1, 1, 1, 0, 0.0),
        ("carol", 2, 0, 0, 0, 0.0),
    )
    assert shown.table("reversals").rows == ((WEEK_A, 0, 0), (WEEK_B, 1, 1))
    # The dashboard's filters narrow them too: carol's view has no questioned action.
    carol = dashboard(known, log_filter=LogFilter(actors=frozenset({"carol"})))
    assert carol.table("questioned").rows == (("carol", 2, 0, 0, 0, 0.0),)


def test_backlog_and_time_to_a_first_decision(known: World) -> None:
    with known.db.session() as session:
        waiting = dict(
            session.execute(
                select(Comment.site_id, func.count())
                .where(Comment.status == "new")
                .group_by(Comment.site_id)
            ).all()
        )
    backlog = dashboard(known).table("backlog")
    # Parks: p1 1 h, p2 0.5 h, p3 3 h, p5 2 h (p4's hide failed: it still waits).
    # Police: q1 10 h, q2 24 h (q3's hide never completed).
    assert [row[:2] + row[3:] for row in backlog.rows] == [
        ("PARKS", waiting[known.parks_site], 4, 1.0, 3.0),
        ("POLICE", waiting[known.police_site], 2, 10.0, 24.0),
    ]
    assert all(isinstance(row[2], float) and row[2] > 0 for row in backlog.rows)


def test_the_backlog_read_from_the_counts_is_the_backlog_counted(known: World) -> None:
    # A date range that holds every comment counts them from `comments` instead.
    counted = dashboard(known, log_filter=LogFilter(on_from=date(2000, 1, 1)))
    assert dashboard(known).table("backlog") == counted.table("backlog")


def _counts(db_session: Session) -> dict[tuple[int, str], int]:
    return {
        (site, status): n
        for site, status, n in db_session.execute(select(CommentCount.site_id,
                                                         CommentCount.status,
                                                         CommentCount.comments))
    }  # fmt: skip


def _counted(db_session: Session) -> dict[tuple[int, str], int]:
    rows = db_session.execute(
        select(Comment.site_id, Comment.status, func.count()).group_by(
            Comment.site_id, Comment.status
        )
    )
    return {(site, status): n for site, status, n in rows}


def test_comment_counts_always_equal_counting_the_comments(synced: World) -> None:
    """Migration 0029's triggers: after sync's inserts, actions, a comment edited after it was
    kept, statements that change many comments or a site, and deletions, the table is
    `SELECT site_id, status, count(*) FROM comments GROUP BY 1, 2`, with no row of zero."""
    world, parks_site, police_site = synced, synced.parks_site, synced.police_site

    def check() -> dict[tuple[int, str], int]:
        with world.db.session() as session:
            found = _counts(session)
            assert found == _counted(session)
        return found

    before = check()
    waiting = before[(parks_site, "new")]
    assert waiting > 3
    with world.db.session() as session:
        parks = session.scalars(
            select(Comment).where(Comment.site_id == parks_site).order_by(Comment.id)
        ).all()
    alice = world.app("alice")
    alice.moderation.act(parks[0].id, Action.HIDE, "PRF", "")
    alice.moderation.act(parks[1].id, Action.KEEP, None, "")
    alice.moderation.act(parks[2].id, Action.FLAG, "SPM", "")
    acted = check()
    assert acted[(parks_site, "new")] == waiting - 3
    assert acted[(parks_site, "hidden")] == acted[(parks_site, "kept")] == 1
    # Edited on the platform after it was kept: sync puts it back in the queue.
    world.sandbox.state.facebook.edit_comment(parks[1].external_id, "edited after review")
    alice.sync.sync()
    edited = check()
    assert (parks_site, "kept") not in edited  # a count of none has no row
    assert edited[(parks_site, "new")] == waiting - 2
    every = sum(n for (site, _), n in edited.items() if site == parks_site)
    with world.db.transaction() as session:  # one statement, many comments
        session.execute(update(Comment).where(Comment.site_id == parks_site).values(status="kept"))
    assert {k: n for k, n in check().items() if k[0] == parks_site} == {(parks_site, "kept"): every}
    with world.db.transaction() as session:  # another site; a change of neither counts nothing
        session.execute(
            update(Comment).where(Comment.id == parks[0].id).values(site_id=police_site)
        )
        session.execute(update(Comment).where(Comment.id == parks[1].id).values(author_name="x"))
    moved = check()
    assert moved[(police_site, "kept")] == 1
    assert moved[(parks_site, "kept")] == every - 1
    with world.db.transaction() as session:  # comments are not records: the owner may delete
        # Police's own comments (the one moved there has records and log entries).
        police = select(Comment.id).where(Comment.site_id == police_site, Comment.id != parks[0].id)
        session.execute(delete(CommentSuggestion).where(CommentSuggestion.comment_id.in_(police)))
        session.execute(delete(Comment).where(Comment.id.in_(police)))
    assert [k for k in check() if k[0] == police_site] == [(police_site, "kept")]


def test_filters_are_the_log_views(known: World) -> None:
    alice = dashboard(known, log_filter=LogFilter(actors=frozenset({"alice"})))
    assert by_first(alice.table("by_moderator")) == {
        WEEK_A: {"alice": 2, "Total": 2},
        WEEK_B: {"alice": 2, "Total": 2},
    }
    # The comments alice decided first: 0.5 h, 1 h, 2 h. The backlog waits for anyone.
    assert [row[:1] + row[3:] for row in alice.table("backlog").rows] == [
        ("PARKS", 3, 1.0, 2.0),
        ("POLICE", 0, None, None),
    ]
    later = dashboard(known, log_filter=LogFilter(on_from=datetime(2026, 3, 9).date()))
    assert [row[0] for row in later.table("by_reason").rows] == [WEEK_B]
    police = dashboard(known, log_filter=LogFilter(reason_codes=frozenset({"SPM"})))
    assert by_first(police.table("by_reason")) == {WEEK_A: {"SPM": 1, "Total": 1}}
    # Outcome and kind filters do not narrow what the dashboard counts (applied actions).
    failed = dashboard(known, log_filter=LogFilter(states=frozenset({"failed"})))
    assert failed.table("by_reason") == dashboard(known).table("by_reason")


def test_a_department_supervisor_sees_only_their_departments(known: World) -> None:
    shown = dashboard(known, "pat")
    assert by_first(shown.table("by_department")) == {
        WEEK_A: {"PARKS": 2, "Total": 2},
        WEEK_B: {"PARKS": 3, "Total": 3},
    }
    assert [row[0] for row in shown.table("backlog").rows] == ["PARKS"]
    police = next(d for d, code in LogView(known.db, "sam").departments.items()
                  if code == "POLICE")  # fmt: skip
    with pytest.raises(PermissionDenied, match="does not supervise department"):
        dashboard(known, "pat", LogFilter(department_ids=frozenset({police})))


def test_a_moderator_is_refused_by_the_service(known: World) -> None:
    with pytest.raises(PermissionDenied, match="read by supervisors"):
        dashboard(known, "alice")


def test_a_role_taken_back_applies_to_an_open_dashboard(known: World) -> None:
    view = DashboardView(LogView(known.db, "pat"))
    assert view.compute(LogFilter()).table("by_reason").rows
    with known.db.transaction() as session:
        pat = session.scalars(select(Person).where(Person.username == "pat")).one()
        session.execute(RoleGrant.__table__.delete().where(RoleGrant.person_id == pat.id))
    with pytest.raises(PermissionDenied):
        view.compute(LogFilter())


def test_an_administrator_who_supervises_nothing_sees_no_actions(known: World) -> None:
    shown = dashboard(known, "ada")
    assert all(not table.rows for table in shown.tables)


def test_an_empty_log_gives_empty_tables(synced: World) -> None:
    shown = dashboard(synced)
    for name in ("by_reason", "judgement", "questioned", "reversals"):
        assert shown.table(name).rows == ()
    assert [row[3] for row in shown.table("backlog").rows] == [0, 0]


def test_a_table_exports_as_csv_without_formula_cells(known: World, tmp_path: Path) -> None:
    with known.db.transaction() as session:
        session.execute(
            update(Site).where(Site.id == known.parks_site).values(name='=HYPERLINK("x")')
        )
    table = dashboard(known).table("by_site")
    folder = tmp_path / "exports"
    folder.mkdir()
    path = export_table(table, folder / "by-site.csv")
    with path.open(newline="", encoding="utf-8") as stream:
        header, *rows = list(csv.reader(stream))
    assert header == ["Week of", '\'=HYPERLINK("x")', "Highland Police Department", "Total"]
    assert rows == [[WEEK_A, "2", "1", "3"], [WEEK_B, "3", "1", "4"]]
    assert not any(cell.startswith(FORMULA_STARTS) for row in rows for cell in [*header, *row])
    assert [p.name for p in folder.iterdir()] == ["by-site.csv"]  # nothing half-written


# --- the aggregates against a plain count of the log ----------------------------------------

# More decisions at the edges, on comments decided before: a second decision of a comment
# (its first stays the first), exactly at Monday's midnight in Chicago and a second before it.
EDGES = [
    Decision("q1", "carol", Action.HIDE, "PRF", False, "2026-03-09 00:00", EntryState.APPLIED),
    Decision("p5", "alice", Action.HIDE, "OFT", True, "2026-03-08 23:59:59", EntryState.APPLIED),
    Decision("p4", "bob", Action.KEEP, None, False, "2026-03-13 09:00", EntryState.APPLIED),
]


@pytest.fixture
def edges(known: World) -> World:
    with known.db.transaction() as session:
        pending = {
            (e.actor, e.action, e.comment_id): e
            for e in session.scalars(select(LogEntry).where(LogEntry.state == "pending"))
        }
        by_key = {}
        for d in DECISIONS:  # which comment each key names, from the fixture's entries
            found = [e for (a, act, _), e in pending.items() if (a, act) == (d.actor, d.action)]
            by_key.setdefault(d.key, found[0].comment_id)
        for d in EDGES:
            comment = session.get(Comment, by_key[d.key])
            assert comment is not None
            record = snapshot(session, comment, d.actor)
            fields = dict(
                record_id=record.id, record_sha256=record.sha256, actor=d.actor,
                action=d.action.value, comment_id=comment.id, site_id=comment.site_id,
                department_id=comment.site.department_id, reason_code=d.code,
                second_review=d.judgement, policy_version="test",
            )  # fmt: skip
            entry = append_entry(session, state="pending", at=chicago(d.at), **fields)
            append_entry(
                session, state="applied", at=chicago(d.at) + timedelta(seconds=1),
                outcome_of=entry.id, **fields,
            )  # fmt: skip
        decisions = {(e.actor, e.action): e for e in pending.values()}
        for (actor, action), verdict in ((("alice", "hide"), ReviewVerdict.QUESTION),
                                         (("bob", "remove"), ReviewVerdict.CONCUR)):  # fmt: skip
            entry = decisions[(actor, action)]
            append_comment_entry(
                session, "pat", EntryKind.REVIEW, verdict.value, entry, "", "test",
                subject=f"entry:{entry.id}", refers_to=entry.id,
            )  # fmt: skip
    return known


def plain_count(world: World, f: LogFilter) -> dict[str, object]:
    """What the dashboard should show, counted from every entry in Python."""
    with world.db.session() as session:
        entries = list(session.scalars(select(LogEntry).order_by(LogEntry.id)))
        arrived = {i: at for i, at in session.execute(select(Comment.id, Comment.created_at))}
        codes = {i: code for i, code in session.execute(select(Department.id, Department.code))}
    applied = {e.outcome_of for e in entries if e.state == "applied" and e.outcome_of}
    low, high = received_bounds(f.on_from, f.on_to)

    def shown(e: LogEntry) -> bool:
        return (
            (not f.department_ids or e.department_id in f.department_ids)
            and (not f.reason_codes or e.reason_code in f.reason_codes)
            and (not f.actors or e.actor in f.actors)
            and (low is None or e.at >= low)
            and (high is None or e.at < high)
        )

    def week(at: datetime) -> str:
        day = at.astimezone(CITY_TZ).date()
        return (day - timedelta(days=day.weekday())).isoformat()

    def in_days(at: datetime) -> bool:
        return (f.on_from is None or week(at) >= week(chicago(f"{f.on_from} 12:00"))) and (
            f.on_to is None or week(at) <= week(chicago(f"{f.on_to} 12:00"))
        )

    every = [e for e in entries if (e.kind, e.state) == ("action", "pending") and e.id in applied]
    decided = [e for e in every if shown(e)]
    hides = [e for e in decided if e.action in ("hide", "remove")]
    questioned = {e.refers_to for e in entries if (e.kind, e.action) == ("review", "question")}
    shown_ids = {e.id for e in decided}
    first: dict[int, LogEntry] = {}
    for e in every:
        first.setdefault(e.comment_id or 0, e)
    waited: dict[str, list[float]] = {}
    for e in first.values():
        if shown(e):
            seconds = (e.at - arrived[e.comment_id]).total_seconds()
            waited.setdefault(codes[e.department_id], []).append(seconds)

    def rank(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return round(ordered[math.ceil(len(ordered) * p) - 1] / 3600, 1)

    return {
        "by_reason": Counter((week(e.at), e.reason_code or NO_CODE) for e in decided),
        "by_department": Counter((week(e.at), codes[e.department_id]) for e in decided),
        "by_moderator": Counter((week(e.at), e.actor) for e in decided),
        "judgement": Counter(
            (week(e.at), kind) for e in hides for kind in ("hides", *["judged"] * e.second_review)
        ),
        "questioned": Counter(
            (e.actor, kind)
            for e in decided
            for kind in (
                "actions",
                *["hides"] * (e in hides),
                *["judged"] * (e in hides and e.second_review),
                *["asked"] * (e.id in questioned),
            )
        ),
        "reversals": Counter(
            [(week(e.at), "reversals") for e in decided if e.action == "unhide"]
            + [
                (week(e.at), "appeals")
                for e in entries
                if (e.kind, e.action) == ("appeal", "appeal")
                and e.refers_to in shown_ids
                and in_days(e.at)  # an appeal counts in the weeks of the filter's days
            ]
        ),
        "timing": {d: (len(v), rank(v, 0.5), rank(v, 0.9)) for d, v in waited.items()},
    }


def as_counted(shown: Dashboard) -> dict[str, object]:
    """The dashboard's tables in `plain_count`'s shape."""

    def cells(name: str, columns: dict[str, str] | None = None) -> Counter[tuple[str, str]]:
        table = shown.table(name)
        found: Counter[tuple[str, str]] = Counter()
        for row in table.rows:
            for column, value in zip(table.columns[1:], row[1:], strict=True):
                label = (columns or {}).get(column, column)
                if value and label not in ("Total", ""):
                    found[(str(row[0]), label)] += int(value)  # type: ignore[call-overload]
        return found

    return {
        "by_reason": cells("by_reason"),
        "by_department": cells("by_department"),
        "by_moderator": cells("by_moderator"),
        "judgement": cells("judgement", {"Hides and removals": "hides",
                                         "Under judgement codes": "judged",
                                         "Share under judgement (%)": ""}),
        "questioned": cells("questioned", {"Actions": "actions", "Hides and removals": "hides",
                                           "Under judgement codes": "judged",
                                           "Questioned by reviewers": "asked",
                                           "Share questioned (%)": ""}),
        "reversals": cells("reversals", {"Reversals (unhidden after a hide)": "reversals",
                                         "Appeals": "appeals"}),
        "timing": {row[0]: (row[3], row[4], row[5])
                   for row in shown.table("backlog").rows if row[3]},
    }  # fmt: skip


def test_the_aggregates_equal_a_plain_count_of_the_log(edges: World) -> None:
    with edges.db.transaction() as session:
        alice_hide = session.scalars(
            select(LogEntry).where(LogEntry.actor == "alice", LogEntry.action == "hide",
                                   LogEntry.state == "pending").order_by(LogEntry.id)
        ).first()  # fmt: skip
        assert alice_hide is not None
        append_entry(  # an appeal of alice's first hide, recorded in week B
            session, at=chicago("2026-03-10 12:00"), actor="alice", state="applied",
            action=AppealStep.APPEAL.value, comment_id=alice_hide.comment_id,
            site_id=alice_hide.site_id, department_id=alice_hide.department_id,
            record_id=None, record_sha256=None, note="", policy_version="test",
            kind=EntryKind.APPEAL.value, subject=f"entry:{alice_hide.id}",
            refers_to=alice_hide.id,
        )  # fmt: skip
    departments = LogView(edges.db, "sam").departments
    filters = [
        LogFilter(),
        *(LogFilter(department_ids=frozenset({d})) for d in departments),
        *(LogFilter(reason_codes=frozenset({c})) for c in ("PRF", "OFT", "SPM", "HAR")),
        *(LogFilter(actors=frozenset({a})) for a in ("alice", "bob", "carol")),
        # The days either side of the Monday midnight that two edge decisions straddle.
        LogFilter(on_to=date(2026, 3, 8)),
        LogFilter(on_from=date(2026, 3, 9)),
        LogFilter(on_from=date(2026, 3, 9), on_to=date(2026, 3, 9)),
    ]
    for f in filters:
        assert as_counted(dashboard(edges, log_filter=f)) == plain_count(edges, f), f
    # The edges are in: q1's hide at Monday midnight is week B; p5's hide a second before, A.
    counted = plain_count(edges, LogFilter())
    assert counted["by_moderator"] == Counter({
        (WEEK_A, "alice"): 3, (WEEK_A, "carol"): 1,
        (WEEK_B, "alice"): 2, (WEEK_B, "bob"): 2, (WEEK_B, "carol"): 2,
    })  # fmt: skip


# --- the decisions table the dashboard groups (migration 0026) ------------------------------


def decisions_from_the_log(world: World) -> dict[int, tuple[object, ...]]:
    """What `dashboard_decisions` should hold, from every entry in Python: per applied
    decision, its week in Chicago, whether its comment's first, and the seconds it waited."""
    with world.db.session() as session:
        entries = list(session.scalars(select(LogEntry).order_by(LogEntry.id)))
        arrived = {i: at for i, at in session.execute(select(Comment.id, Comment.created_at))}
    applied = {e.outcome_of for e in entries if e.state == "applied" and e.outcome_of}
    decided = [e for e in entries if (e.kind, e.state) == ("action", "pending") and e.id in applied]
    first: dict[int, int] = {}
    for e in decided:
        first.setdefault(e.comment_id or 0, e.id)
    found = {}
    for e in decided:
        day = e.at.astimezone(CITY_TZ).date()
        waited = (e.at - arrived[e.comment_id]).total_seconds() if e.comment_id else None
        found[e.id] = (day - timedelta(days=day.weekday()), e.department_id, e.actor,
                       e.reason_code, first[e.comment_id or 0] == e.id, waited)  # fmt: skip
    return found


def decisions_table(world: World) -> dict[int, tuple[object, ...]]:
    d = DashboardDecision
    with world.db.session() as session:
        rows = session.execute(
            select(d.id, d.week, d.department_id, d.actor, d.reason_code, d.first_of_comment,
                   d.waited)
        )  # fmt: skip
        return {i: (week, *rest, round(waited, 3)) for i, week, *rest, waited in rows}


def rounded(found: dict[int, tuple[object, ...]]) -> dict[int, tuple[object, ...]]:
    return {i: (*row[:-1], round(row[-1], 3)) for i, row in found.items()}  # type: ignore[arg-type]


def pending_on(session: Session, comment: Comment, action: Action, at: str) -> LogEntry:
    record = snapshot(session, comment, "alice")
    return append_entry(
        session, state="pending", at=chicago(at), actor="alice", action=action.value,
        comment_id=comment.id, site_id=comment.site_id, department_id=comment.site.department_id,
        record_id=record.id, record_sha256=record.sha256, reason_code="PRF",
        policy_version="test",
    )  # fmt: skip


def outcome_of(session: Session, entry: LogEntry, state: EntryState, at: str) -> None:
    same = ("actor", "action", "comment_id", "site_id", "department_id", "record_id",
            "record_sha256", "reason_code", "policy_version")  # fmt: skip
    append_entry(session, state=state.value, at=chicago(at), outcome_of=entry.id,
                 **{k: getattr(entry, k) for k in same})  # fmt: skip


def test_the_decisions_table_follows_outcomes_reviews_and_failures(edges: World) -> None:
    assert decisions_table(edges) == rounded(decisions_from_the_log(edges))
    assert len(decisions_table(edges)) == 10  # 7 of the fixture's 9, and the 3 edges
    with edges.db.transaction() as session:
        decided = select(LogEntry.comment_id).where(LogEntry.comment_id.is_not(None))
        one, two = session.scalars(
            select(Comment).where(Comment.site_id == edges.parks_site, Comment.id.not_in(decided))
            .order_by(Comment.id).limit(2)
        ).all()  # fmt: skip
        # A failure, then the same comment's hide unconfirmed (a pending entry has one
        # outcome: migration 0024).
        failed = pending_on(session, one, Action.HIDE, "2026-03-14 09:00")
        outcome_of(session, failed, EntryState.FAILED, "2026-03-14 09:00:02")
        unsure = pending_on(session, one, Action.HIDE, "2026-03-14 10:00")
        outcome_of(session, unsure, EntryState.UNCONFIRMED, "2026-03-14 10:00:02")
        # Two decisions of one comment, the later applied first.
        earlier = pending_on(session, two, Action.FLAG, "2026-03-15 23:30")  # Sunday: week B
        later = pending_on(session, two, Action.HIDE, "2026-03-16 00:30")  # Monday: next week
        outcome_of(session, later, EntryState.APPLIED, "2026-03-16 00:30:02")
    table = decisions_table(edges)
    assert failed.id not in table
    assert unsure.id not in table
    assert table[later.id][4] is True  # its comment's first, for now
    with edges.db.transaction() as session:
        outcome_of(session, earlier, EntryState.APPLIED, "2026-03-16 01:00")
        append_comment_entry(  # a review changes no decision
            session, "pat", EntryKind.REVIEW, ReviewVerdict.QUESTION.value,
            session.get(LogEntry, earlier.id), "", "test", subject=f"entry:{earlier.id}",
            refers_to=earlier.id,
        )  # fmt: skip
    table = decisions_table(edges)
    assert table == rounded(decisions_from_the_log(edges))
    assert (table[earlier.id][0], table[later.id][0]) == (date(2026, 3, 9), date(2026, 3, 16))
    # The earlier decision, applied last, took over as its comment's first.
    assert (table[earlier.id][4], table[later.id][4]) == (True, False)
    assert failed.id not in table
    assert unsure.id not in table
    assert as_counted(dashboard(edges)) == plain_count(edges, LogFilter())


def test_a_review_state_filter_reaches_the_decisions(edges: World) -> None:
    """The log view's review-state filter correlates reviews with the decision's entry: moved
    onto the decisions table, it counts the reviewed decisions alone (edges: a question of
    an alice hide, a concurrence with bob's removal)."""

    def actions(state: ReviewState) -> Counter[str]:
        f = LogFilter(review_states=frozenset({state.value}))
        found: Counter[str] = Counter()
        for row in dashboard(edges, log_filter=f).table("questioned").rows:
            found[str(row[0])] += int(row[1])  # type: ignore[call-overload]
        return found

    assert actions(ReviewState.QUESTIONED) == Counter({"alice": 1})
    assert actions(ReviewState.CONCURRED) == Counter({"bob": 1})
    # Under a second-review code, applied, not reviewed: alice's OFT hides, less the one
    # questioned if it was one of them.
    with edges.db.session() as session:
        entries = list(session.scalars(select(LogEntry)))
    reviewed = {e.refers_to for e in entries if e.kind == "review"}
    applied = {e.outcome_of for e in entries if e.state == "applied"}
    waiting = Counter(
        e.actor for e in entries
        if (e.kind, e.state) == ("action", "pending") and e.id in applied and e.second_review
        and e.action in ("hide", "remove") and e.id not in reviewed
    )  # fmt: skip
    assert waiting
    assert actions(ReviewState.NEEDS_REVIEW) == waiting


def test_the_sqlite_week_is_zoneinfos() -> None:
    """SQLite has no time zones: the trigger finds a decision's Chicago week by the US rule
    (migration 0026). Each week of 2007-2045 must land as zoneinfo says: a second either side
    of Monday's midnight, every hour from Sunday to Monday noon (UTC; the clocks change on
    Sundays), and a moment of every other day."""
    path = MIGRATIONS / "versions" / "0026_dashboard_decisions.py"
    spec = importlib.util.spec_from_file_location("migration_0026", path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    times: list[datetime] = []
    monday = date(2007, 1, 1)
    while monday.year < 2046:
        midnight = datetime.combine(monday, datetime.min.time(), CITY_TZ).astimezone(UTC)
        times += [midnight - timedelta(seconds=1), midnight]
        sunday = datetime.combine(monday - timedelta(days=1), datetime.min.time(), UTC)
        times += [sunday + timedelta(hours=h) for h in range(37)]
        times += [sunday + timedelta(days=d, hours=3 * d, minutes=7) for d in range(2, 7)]
        monday += timedelta(weeks=1)
    stored = [t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in times]  # as SQLAlchemy stores them
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        connection.execute("CREATE TABLE t (at TEXT)")
        connection.executemany("INSERT INTO t VALUES (?)", [(s,) for s in stored])
        week = migration.WEEK["sqlite"].format(at="at")
        found = [date.fromisoformat(w) for (w,) in connection.execute(f"SELECT {week} FROM t")]
    days = [t.astimezone(CITY_TZ).date() for t in times]
    expected = [day - timedelta(days=day.weekday()) for day in days]
    wrong = [(t, f, e) for t, f, e in zip(times, found, expected, strict=True) if f != e]
    assert wrong == []
