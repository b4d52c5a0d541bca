"""Retention, legal holds and disposal only by certificate (issue 10, items 4 and 5), against
SQLite and PostgreSQL: the rules, holds winning over retention, the worksheet and its CSV,
every refusal changing nothing, a lawful disposal blanking exactly the right rows while the
log still verifies, the database refusing anything else, and sync not restoring a disposal."""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from hsm_console.db.chain import append_entry, canonical_json, record_hash
from hsm_console.db.models import (
    Comment,
    CommentSuggestion,
    CommentVersion,
    DisposedRecord,
    LogEntry,
    RecordsRequest,
    RetainedRecord,
    Site,
)
from hsm_console.errors import ConfigurationError, InvalidInput, NotPossible, PermissionDenied
from hsm_console.rules.domain import Action, EntryKind, Role
from hsm_console.rules.policy import load_policy, parse_policy
from hsm_console.rules.retention import (
    Coverage,
    HoldScope,
    RecordClass,
    RecordFacts,
    Retention,
    disposal_allowed_from,
    local_day,
    on_hold,
)
from hsm_console.services import admin
from hsm_console.services.queue_view import rows_matching
from hsm_console.services.retention import RetentionService, city_today
from hsm_console.services.verify import verify_log
from tests.conftest import World

TODAY = city_today()
LATER = TODAY + timedelta(days=6 * 365)  # every seeded comment is past retention then
REFUSED = pytest.mark.expected_log("Refused:")


# --- the rules ------------------------------------------------------------------------------


def test_a_period_ends_on_its_last_day_in_highland() -> None:
    two = Retention(RecordClass.COMMENTS, "S", "I", 2)
    # 03:00 UTC on 1 March is still 29 February in Highland (a leap day): kept to 28 Feb.
    start = datetime(2028, 3, 1, 3, 0, tzinfo=UTC)
    assert local_day(start) == date(2028, 2, 29)
    assert two.last_day(start) == date(2030, 2, 28)
    assert not two.past(start, date(2030, 2, 28))
    assert two.past(start, date(2030, 3, 1))
    cutoff = two.cutoff(date(2030, 3, 1))
    assert cutoff is not None
    assert start < cutoff
    forever = Retention(RecordClass.ACTION_LOG, "S", "I", None)
    assert forever.last_day(start) is None
    assert forever.cutoff(date(2100, 1, 1)) is None
    assert not forever.past(start, date(2100, 1, 1))


def test_thirty_days_notice_and_approval() -> None:
    assert disposal_allowed_from(date(2026, 1, 1), date(2026, 1, 10)) == date(2026, 1, 31)
    assert disposal_allowed_from(date(2026, 1, 1), date(2026, 3, 1)) == date(2026, 3, 1)


def test_each_kind_of_hold_covers_what_it_names() -> None:
    facts = RecordFacts(1, 10, "author-7", datetime(2026, 5, 5, 12, tzinfo=UTC))
    holds = [
        (1, HoldScope(1, site_id=10)),
        (2, HoldScope(1, site_id=11)),
        (3, HoldScope(None, author_id="author-7")),
        (4, HoldScope(1, author_id="author-8")),
        (5, HoldScope(1, from_on=date(2026, 5, 5), thru_on=date(2026, 5, 5))),
        (6, HoldScope(1, thru_on=date(2026, 5, 4))),
        (7, HoldScope(1, request_id=3)),  # a request's hold: its whole department
        (8, HoldScope(2, request_id=4)),
    ]
    assert on_hold(holds, facts) == [1, 3, 5, 7]


def test_the_policy_file_gives_every_class_once_and_keeps_the_log() -> None:
    policy = load_policy()
    assert policy.retention[RecordClass.ACTION_LOG].years is None
    assert all(r.schedule_item for r in policy.retention.values())
    text_ = (
        Path(__file__).parents[1] / "resources/policy/highland-comment-policy.toml"
    ).read_text()
    no_log = text_.replace('class = "action_log"', 'class = "requests"')
    with pytest.raises(ConfigurationError, match="given twice"):
        parse_policy(no_log)
    mortal_log = text_.replace("permanent = true", "years = 10")
    with pytest.raises(ConfigurationError, match=r"line \d+.*kept permanently"):
        parse_policy(mortal_log)


# --- the database ---------------------------------------------------------------------------


def officers(world: World) -> None:
    """rita keeps the Parks records; clara (the City Clerk's office) every department's."""
    with world.db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        rita = admin.ensure_person(session, "rita", "Rita Records")
        admin.grant(session, rita, Role.RECORDS_OFFICER, parks)
        clara = admin.ensure_person(session, "clara", "Clara Clerk")
        admin.grant(session, clara, Role.RECORDS_OFFICER, None)


def service(world: World, username: str = "rita", today: date = LATER) -> RetentionService:
    return RetentionService(world.db, load_policy(), username, today=lambda: today)


def parks_ids(world: World) -> list[int]:
    with world.db.session() as session:
        return list(
            session.scalars(
                select(Comment.id).where(Comment.site_id == world.parks_site).order_by(Comment.id)
            )
        )


def worksheet_total(svc: RetentionService) -> int:
    return sum(row.comments for row in svc.worksheet())


def certify(world: World, number: str = "LRC-2032-0001", **dates: date) -> None:
    notice = dates.get("notice", TODAY - timedelta(days=40))
    approved = dates.get("approved", TODAY - timedelta(days=35))
    lines = [
        Coverage(c, date(2000, 1, 1), LATER)
        for c in (RecordClass.COMMENTS, RecordClass.ACTION_RECORDS)
    ]
    service(world, "clara").certify(number, notice, approved, lines)


@REFUSED
@pytest.mark.parametrize("kind", ["site", "author", "dates", "request"])
def test_a_hold_always_wins_over_retention(synced: World, kind: str) -> None:
    officers(synced)
    svc = service(synced)
    before = worksheet_total(svc)
    assert before == len(parks_ids(synced))  # rita sees Parks only; all past retention
    with synced.db.session() as session:
        first = session.get(Comment, parks_ids(synced)[0])
        assert first is not None
        day = local_day(first.created_at)
        by_author = select(func.count()).where(
            Comment.site_id == synced.parks_site, Comment.author_id == first.author_id
        )
        same_author = session.scalar(by_author) or 0
        same_day = sum(
            local_day(c.created_at) == day
            for c in session.scalars(select(Comment).where(Comment.site_id == synced.parks_site))
        )
    if kind == "request":
        with synced.db.transaction() as session:
            department = session.get(Site, synced.parks_site)
            assert department is not None
            request = RecordsRequest(
                department_id=department.department_id,
                received_at=datetime.now(UTC),
                requester="A resident",
                words="Everything on the Parks page",
                due_on=TODAY,
                state="open",
                extension_reason="",
            )
            session.add(request)
            session.flush()
            request_id = request.id
    scope, covered = {
        "site": (HoldScope(None, site_id=synced.parks_site), before),
        # An author's or a date range's across the City: the City Clerk's office places it.
        "author": (HoldScope(None, author_id=first.author_id), same_author),
        "dates": (HoldScope(None, from_on=day, thru_on=day), same_day),
        "request": (HoldScope(None, request_id=request_id) if kind == "request" else None, before),
    }[kind]
    assert scope is not None
    assert covered
    placer = "clara" if kind in ("author", "dates") else "rita"
    holder = service(synced, placer)
    hold_id = holder.place_hold(scope, "Litigation notice from counsel, <b>case</b> 26-L-101")
    assert worksheet_total(svc) == before - covered
    certify(synced)
    with pytest.raises(PermissionDenied, match=f"legal hold {hold_id}"):
        svc.dispose("LRC-2032-0001", [first.id])
    assert _disposed_count(synced) == 0
    holder.lift_hold(hold_id, "Case settled")
    assert worksheet_total(svc) == before
    holds = svc.holds()
    assert [(h.id, h.in_force, h.reason) for h in holds] == [
        (hold_id, False, "Litigation notice from counsel, <b>case</b> 26-L-101")
    ]
    with synced.db.session() as session:
        entries = session.scalars(
            select(LogEntry).where(LogEntry.kind == EntryKind.HOLD.value).order_by(LogEntry.id)
        ).all()
    assert [(e.action, e.subject, e.actor) for e in entries] == [
        ("place", f"hold:{hold_id}", placer),
        ("lift", f"hold:{hold_id}", placer),
    ]
    assert json.loads(entries[1].after or "")["lift_reason"] == "Case settled"


@REFUSED
def test_holds_are_a_records_officers_and_narrowed_to_their_departments(synced: World) -> None:
    officers(synced)
    for who in ("alice", "sam"):
        with pytest.raises(PermissionDenied, match="records officer"):
            service(synced, who).place_hold(HoldScope(None, site_id=synced.parks_site), "x")
    with pytest.raises(PermissionDenied, match="records officer of that department"):
        service(synced).place_hold(HoldScope(None, site_id=synced.police_site), "Police case")
    with pytest.raises(PermissionDenied, match="every department"):
        service(synced).place_hold(HoldScope(None, author_id="someone"), "City-wide")
    with pytest.raises(InvalidInput, match="must name what it keeps"):
        service(synced).place_hold(HoldScope(None), "nothing named")
    with pytest.raises(InvalidInput, match="1,000,001 characters long"):
        service(synced).place_hold(HoldScope(None, site_id=synced.parks_site), "x" * 1_000_001)
    with pytest.raises(InvalidInput, match="NUL"):
        service(synced).place_hold(HoldScope(None, site_id=synced.parks_site), "a\x00b")
    assert service(synced, "clara").holds() == []


def test_the_worksheet_groups_by_series_and_exports_safe_csv(synced: World, tmp_path: Path) -> None:
    officers(synced)
    parks = parks_ids(synced)
    synced.app("alice").moderation.act(parks[0], Action.FLAG, "SPM")
    hostile = load_policy()
    retention = dict(hostile.retention)
    retention[RecordClass.COMMENTS] = dataclasses.replace(
        retention[RecordClass.COMMENTS],
        series='=HYPERLINK("http://x")\u202e',
        schedule_item="@SUM(1)",
    )
    svc = RetentionService(
        synced.db, dataclasses.replace(hostile, retention=retention), "clara", today=lambda: LATER
    )
    rows = svc.worksheet()
    assert [(r.department, r.retention.record_class) for r in rows] == [
        ("PARKS", RecordClass.ACTION_RECORDS),
        ("PARKS", RecordClass.COMMENTS),
        ("POLICE", RecordClass.COMMENTS),
    ]
    assert (rows[0].comments, rows[0].retained_records) == (1, 1)
    assert rows[1].comments == len(parks) - 1
    assert rows[1].retained_records == 0
    assert rows[1].from_on <= rows[1].thru_on <= TODAY
    assert service(synced, today=TODAY).worksheet() == []  # nothing is past retention today
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "worksheet.csv"
    svc.export_worksheet(target, rows)
    with target.open(newline="", encoding="utf-8") as stream:
        cells = list(csv.reader(stream))
    assert cells[0][:3] == ["Department", "Record series", "Schedule item"]
    assert cells[2][1] == '\'=HYPERLINK("http://x")\u202e'
    assert cells[2][2] == "'@SUM(1)"
    assert cells[2][6] == str(len(parks) - 1)
    assert [p.name for p in target.parent.iterdir()] == ["worksheet.csv"]  # no temporary left


@REFUSED
def test_disposal_is_refused_without_a_lawful_certificate(synced: World) -> None:
    officers(synced)
    comment = parks_ids(synced)[0]
    with pytest.raises(PermissionDenied, match="No approved disposal certificate"):
        service(synced).dispose("LRC-NONE")
    certify(
        synced, "LRC-EARLY", notice=TODAY - timedelta(days=10), approved=TODAY - timedelta(days=5)
    )
    with pytest.raises(PermissionDenied, match=r"4000\.40\(c\)"):
        service(synced, today=TODAY).dispose("LRC-EARLY")
    certify(synced)
    for who in ("alice", "sam", "ada"):
        with pytest.raises(PermissionDenied, match="Only a records officer"):
            service(synced, who).dispose("LRC-2032-0001", [comment])
    with pytest.raises(InvalidInput, match="not among the records"):
        service(synced, today=TODAY).dispose("LRC-2032-0001", [comment])  # not past retention
    with pytest.raises(InvalidInput, match=r"approved .* before it was sent"):
        certify(synced, "LRC-BAD", notice=TODAY, approved=TODAY - timedelta(days=1))
    with pytest.raises(InvalidInput, match="recorded already"):
        certify(synced)
    assert _disposed_count(synced) == 0
    with synced.db.session() as session:
        assert session.get(Comment, comment).text  # type: ignore[union-attr]
        kinds = session.execute(select(LogEntry.action).where(LogEntry.kind == "disposal")).all()
    assert [k for (k,) in kinds] == ["certify", "certify"]  # the refusals wrote no entry


def test_a_lawful_disposal_blanks_exactly_its_records_and_keeps_their_hashes(
    synced: World,
) -> None:
    officers(synced)
    parks = parks_ids(synced)
    acted, held = parks[0], parks[1]
    moderation = synced.app("alice").moderation
    moderation.act(acted, Action.FLAG, "SPM")
    moderation.act(acted, Action.KEEP)
    with synced.db.transaction() as session:
        session.add(
            CommentVersion(
                comment_id=acted,
                author_name="Old name",
                text="first words",
                raw={"v": 1},
                replaced_seen_at=datetime.now(UTC),
            )
        )
        # What screening wrote about it quotes it: it must not outlive the disposal.
        screened = session.get(Comment, acted)
        assert screened is not None
        screened.suggested_code, screened.suggestion_why = "PRF", 'Profanity: "darn"'
        session.execute(sa_delete(CommentSuggestion).where(CommentSuggestion.comment_id == acted))
        session.add(
            CommentSuggestion(
                comment_id=acted, code="PRF", rank=0, why='Profanity: "darn"', spans=[[0, 4]],
                site_id=screened.site_id, status=screened.status, created_at=screened.created_at,
            )
        )  # fmt: skip
        held_author = session.get(Comment, held).author_id  # type: ignore[union-attr]
        untouched = session.scalars(
            select(Comment.id).where(
                Comment.site_id == synced.parks_site,
                Comment.author_id != held_author,
                Comment.id != acted,
            )
        ).first()
        records_before = {r.id: r.sha256 for r in session.scalars(select(RetainedRecord))}
    svc = service(synced)
    svc.place_hold(HoldScope(None, site_id=synced.parks_site, author_id=held_author), "Claim")
    certify(synced)
    assert svc.disposable_under("LRC-2032-0001") < len(parks)
    stopped = svc.dispose("LRC-2032-0001", cancelled=lambda: True)
    assert (stopped.cancelled, stopped.comments, stopped.entries) == (True, 0, [])
    seen: list[tuple[int, int]] = []
    result = svc.dispose("LRC-2032-0001", progress=lambda done, total: seen.append((done, total)))
    assert svc.disposable_under("LRC-2032-0001") == 0
    assert result.records == 2
    assert result.kept_on_hold >= 1
    assert seen[-1][0] == seen[-1][1]

    with synced.db.session() as session:
        for record in session.scalars(select(RetainedRecord)):
            assert record.sha256 == records_before[record.id]  # the hash is kept
            assert (record.text, record.author_name, record.raw, record.post_text) == (
                "",
                "",
                {},
                "",
            )
            assert record.comment_id == acted
            assert record.captured_by == "alice"
            assert record.search_words == ""  # its words leave the full-text index too
        version = session.scalars(
            select(CommentVersion).where(CommentVersion.comment_id == acted)
        ).one()
        assert (version.text, version.author_name, version.raw) == ("", "", {})
        assert version.search_words == ""
        dialect = synced.db.engine.dialect.name
        assert not session.scalars(rows_matching(dialect, "comment_versions", ["first"])).all()
        comments = {c.id: c for c in session.scalars(select(Comment))}
        assert (comments[acted].text, comments[acted].search_words) == ("", "")
        assert (comments[acted].suggested_code, comments[acted].suggestion_why) == ("PRF", "")
        suggestions = session.scalars(
            select(CommentSuggestion).where(CommentSuggestion.comment_id == acted)
        ).all()
        assert [(x.code, x.why, x.spans) for x in suggestions] == [("PRF", "", [])]
        disposed_ids = {c.id for c in comments.values() if c.status == "disposed"}
        left = session.scalars(
            select(CommentSuggestion.why).where(CommentSuggestion.comment_id.in_(disposed_ids))
        ).all()
        assert set(left) <= {""}
        assert all(comments[i].suggestion_why == "" for i in disposed_ids)
        assert comments[acted].external_id
        assert comments[held].text
        assert comments[held].author_id == held_author
        police = [c for c in comments.values() if c.site_id == synced.police_site]
        assert police
        assert all(c.text for c in police)
        disposed = session.scalars(select(DisposedRecord)).all()
        entries = session.scalars(select(LogEntry).where(LogEntry.action == "dispose")).all()
    assert {d.record_id for d in disposed if d.record_id} == set(records_before)
    assert {d.sha256 for d in disposed if d.record_id} == set(records_before.values())
    listed = [c for e in entries for c in json.loads(e.after or "")["comments"]]
    assert untouched in {c["comment"] for c in listed}
    assert held not in {c["comment"] for c in listed}
    assert {tuple(r) for c in listed for r in c["records"]} == set(records_before.items())
    assert all(e.kind == "disposal" and e.actor == "rita" for e in entries)
    report = verify_log(synced.db)
    assert report.ok, report.problem
    assert report.records_checked == len(records_before)

    # Out of the queue, and nothing more can be done to it, in the same words everywhere.
    with synced.db.session() as session:
        assert session.get(Comment, acted).status == "disposed"  # type: ignore[union-attr]
        assert session.get(Comment, held).status != "disposed"  # type: ignore[union-attr]
    with pytest.raises(NotPossible, match="disposed of under a records disposal certificate"):
        moderation.act(untouched, Action.FLAG, "SPM")

    # Sync reads the same comments again: nothing disposed of comes back.
    synced.app("alice").sync.sync()
    with synced.db.session() as session:
        assert session.get(Comment, acted).text == ""  # type: ignore[union-attr]
        assert session.get(Comment, untouched).text == ""  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).where(CommentVersion.comment_id == acted)) == 1
    assert verify_log(synced.db).ok

    if synced.db.is_sqlite:  # behind the triggers' back, a disposed record is filled in again
        with synced.db.transaction() as session:
            session.execute(text("DROP TRIGGER retained_records_no_update"))
            session.execute(
                text("UPDATE retained_records SET text = 'forged' WHERE id = :r"),
                {"r": min(records_before)},
            )
        assert "was altered" in verify_log(synced.db).problem


def test_the_database_refuses_every_other_change_to_a_record(synced: World) -> None:
    officers(synced)
    comment = parks_ids(synced)[0]
    synced.app("alice").moderation.act(comment, Action.FLAG, "SPM")
    with synced.db.transaction() as session:
        session.add(
            CommentVersion(
                comment_id=comment,
                author_name="A",
                text="earlier",
                raw={},
                replaced_seen_at=datetime.now(UTC),
            )
        )
    blank = (
        "UPDATE retained_records SET post_text = '', post_permalink = '', author_id = '', "
        "author_name = '', text = '', permalink = '', attachments = '[]', raw = '{}'"
    )
    with synced.db.session() as session:
        record = session.scalars(select(RetainedRecord)).one()
        entry_id = session.scalar(select(func.max(LogEntry.id)))
    statements = [
        "UPDATE retained_records SET text = 'rewritten'",
        "DELETE FROM retained_records",
        blank,  # the very blanking, but no disposal names the record
        "UPDATE comment_versions SET text = ''",
    ]
    for statement in statements:
        _refused(synced, statement)
    # A disposed_records row without a `dispose` entry is not enough either.
    with synced.db.transaction() as session:
        certify_entry = entry_id
        session.execute(
            text(
                "INSERT INTO disposal_certificates (number, notice_given_on, approved_on, "
                "allowed_from, covers, recorded_by, recorded_at, entry_id) "
                "VALUES ('X', :d, :d, :d, '[]', 'x', :t, :e)"
            ),
            {"d": TODAY, "t": datetime.now(UTC), "e": certify_entry},
        )
        session.execute(
            text(
                "INSERT INTO disposed_records (comment_id, record_id, sha256, certificate_id, "
                "entry_id, disposed_at) SELECT :c, :r, :s, id, :e, :t FROM disposal_certificates"
            ),
            {
                "c": comment,
                "r": record.id,
                "s": record.sha256,
                "e": entry_id,
                "t": datetime.now(UTC),
            },
        )
    _refused(synced, blank)
    _refused(synced, "DELETE FROM disposed_records")
    if not synced.db.is_sqlite:
        _postgres_allows_the_function_alone(synced, entry_id or 0)
        _postgres_checks_who_disposes(synced, comment, record)
    with synced.db.session() as session:
        kept = session.scalars(select(RetainedRecord)).one()
    assert kept.text
    assert record_hash(_values(kept)) == kept.sha256


def _postgres_allows_the_function_alone(world: World, entry_id: int) -> None:
    """A general UPDATE grant is not enough, and only records officers run `hsm_dispose`."""
    with world.db.transaction() as session:
        session.execute(text("DROP ROLE IF EXISTS hsm_test_clerk"))
        session.execute(text("CREATE ROLE hsm_test_clerk NOLOGIN"))
        session.execute(
            text("GRANT SELECT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO hsm_test_clerk")
        )
        # Every row in its reach too (the agent's policies, db/roles.py): still refused.
        session.execute(text("GRANT hsm_agent TO hsm_test_clerk"))
    try:
        _refused(world, "SET LOCAL ROLE hsm_test_clerk; UPDATE retained_records SET text = ''")
        _refused(
            world,
            f"SET LOCAL ROLE hsm_test_clerk; SELECT hsm_dispose({entry_id})",
            "permission denied",
        )
        _refused(world, f"SELECT hsm_dispose({entry_id})", "is not a disposal")
    finally:
        with world.db.transaction() as session:
            session.execute(text("DROP OWNED BY hsm_test_clerk"))
            session.execute(text("DROP ROLE hsm_test_clerk"))


def _postgres_checks_who_disposes(world: World, comment: int, record: RetainedRecord) -> None:
    """A `dispose` entry written behind the service by someone not a records officer: the
    function refuses to carry it out."""
    listed = {"comment": comment, "sha256": "0" * 64, "records": [[record.id, record.sha256]]}
    not_hers = "is not alice's to dispose of"
    with pytest.raises(DBAPIError, match=not_hers), world.db.transaction() as session:  # noqa: PT012
        certificate = session.scalar(text("SELECT id FROM disposal_certificates"))
        entry = append_entry(
            session,
            actor="alice",
            state="applied",
            action="dispose",
            comment_id=None,
            site_id=None,
            department_id=None,
            record_id=None,
            record_sha256=None,
            policy_version="2026.2",
            kind="disposal",
            subject=f"certificate:{certificate}",
            after=canonical_json({"certificate_id": certificate, "comments": [listed]}),
        )
        session.execute(text("SELECT hsm_dispose(:e)"), {"e": entry.id})


def _refused(world: World, statement: str, words: str = "append-only") -> None:
    """The statements (split at "; ") in one transaction, which the last one makes fail."""
    with pytest.raises(DBAPIError, match=words), world.db.transaction() as session:  # noqa: PT012
        for part in statement.split("; "):
            session.execute(text(part))


def _values(record: RetainedRecord) -> dict[str, object]:
    return {c.name: getattr(record, c.name) for c in RetainedRecord.__table__.columns}


def _disposed_count(world: World) -> int:
    with world.db.session() as session:
        return session.scalar(select(func.count()).select_from(DisposedRecord)) or 0
