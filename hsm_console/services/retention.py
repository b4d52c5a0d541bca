"""Retention, legal holds and disposal only by certificate (docs/design.md, "Retention, holds
and disposal"); no Qt.

Every step is a records officer's, narrowed to the departments they keep records of
(`Actor.keeps_records`), and each is an entry of the one hash-chained log written in the same
transaction as its row: a hold placed or lifted (`hold`, subject `hold:<id>`), a certificate
recorded or records disposed of under it (`disposal`, subject `certificate:<id>`). A refusal
changes nothing, is told to the person in words and is written to the program's log (not the
chain: nothing happened to any record).

The unit of disposal is a comment: its working copy and earlier versions, and every retained
record of it. A comment is of the class "action records" once anything of it was retained
(an action), else "comments"; its period starts at its last activity (its time on the
platform, its last edit or its last entry in the log).
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import (
    ColumnElement,
    Select,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.orm import Session

from hsm_console.db.chain import append_register_entry, lock_chain
from hsm_console.db.disposal import (
    COMMENT_BLANK,
    COMMENT_DERIVED_BLANK,
    RECORD_BLANK,
    VERSION_BLANK,
    comment_hash,
)
from hsm_console.db.engine import Database
from hsm_console.db.models import (
    Comment,
    CommentVersion,
    Department,
    DisposalCertificate,
    DisposedRecord,
    LegalHold,
    LogEntry,
    RecordsRequest,
    RetainedRecord,
    Site,
    utcnow,
)
from hsm_console.errors import InvalidInput, NotFound, PermissionDenied, UserError
from hsm_console.rules.domain import EntryKind
from hsm_console.rules.policy import Policy
from hsm_console.rules.retention import (
    DISPOSABLE,
    Coverage,
    DisposalStep,
    HoldScope,
    HoldStep,
    RecordClass,
    RecordFacts,
    Retention,
    check_certificate,
    check_coverage,
    check_scope,
    disposal_allowed_from,
    local_day,
    on_hold,
)
from hsm_console.rules.review import checked_text
from hsm_console.services.access import Actor, require_records_officer, resolve_actor
from hsm_console.services.log_export import atomic_file, safe_cell

log = logging.getLogger(__name__)
BATCH = 200  # comments per disposal entry: each batch is one transaction, one entry


def city_today() -> date:
    return local_day(utcnow())


@dataclass(frozen=True)
class HoldItem:
    id: int
    scope: HoldScope
    department: str  # its code, or "all departments"
    site_name: str | None
    reason: str  # a records officer's words: shown as plain text
    placed_by: str
    placed_at: datetime
    lifted_by: str | None
    lifted_at: datetime | None
    lift_reason: str

    @property
    def in_force(self) -> bool:
        return self.lifted_at is None

    def keeps(self) -> str:
        """What the hold keeps, in words."""
        s = self.scope
        parts = [
            f"site {self.site_name}" if self.site_name else "",
            f"author {s.author_id}" if s.author_id else "",
            f"from {s.from_on}" if s.from_on else "",
            f"to {s.thru_on}" if s.thru_on else "",
            f"records request {s.request_id}" if s.request_id else "",
        ]
        return f"{self.department}: " + ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class WorksheetRow:
    """One line of the Local Records Disposal Certificate: a series of one department."""

    department: str
    retention: Retention
    from_on: date
    thru_on: date
    comments: int
    retained_records: int
    versions: int

    @property
    def volume(self) -> str:
        return (
            f"{self.comments:,} comments, {self.retained_records:,} retained records, "
            f"{self.versions:,} earlier versions (electronic)"
        )


@dataclass(frozen=True)
class CertificateItem:
    id: int
    number: str
    department: str
    notice_given_on: date
    approved_on: date
    allowed_from: date
    covers: list[Coverage]
    recorded_by: str
    recorded_at: datetime
    disposed: int  # comments disposed of under it so far


@dataclass(frozen=True)
class DisposalResult:
    certificate: str
    comments: int
    records: int
    entries: list[int]
    kept_on_hold: int  # covered and past retention, but held
    cancelled: bool = False


@dataclass(frozen=True)
class _Unit:
    """A comment as disposal sees it."""

    comment_id: int
    facts: RecordFacts
    start: datetime  # its period starts here
    record_class: RecordClass
    records: int
    versions: int


WORKSHEET_COLUMNS = [
    "Department",
    "Record series",
    "Schedule item",
    "Dates from",
    "Dates thru",
    "Volume",
    "Comments",
    "Retained records",
    "Earlier versions",
    "Class",
]
ALL_DEPARTMENTS = "all departments"


class RetentionService:
    def __init__(
        self,
        db: Database,
        policy: Policy,
        username: str,
        today: Callable[[], date] = city_today,
    ) -> None:
        self.db = db
        self.policy = policy
        self.username = username
        self.today = today

    def classes(self) -> list[Retention]:
        return list(self.policy.retention.values())

    def department_id(self, code: str) -> int:
        with self.db.session() as session:
            found = session.scalar(select(Department.id).where(Department.code == code.upper()))
        if found is None:
            raise NotFound(f"There is no department {code!r}.")
        return found

    def _officer(self, session: Session, doing: str) -> Actor:
        actor = resolve_actor(session, self.username)
        _refusing(lambda: require_records_officer(actor, doing), doing, self.username)
        return actor

    # --- holds ------------------------------------------------------------------------

    def holds(self, *, in_force_only: bool = False) -> list[HoldItem]:
        with self.db.session() as session:
            actor = self._officer(session, "see legal holds")
            query = (
                select(LegalHold, Department.code, Site.name)
                .outerjoin(Department, Department.id == LegalHold.department_id)
                .outerjoin(Site, Site.id == LegalHold.site_id)
                .order_by(LegalHold.id.desc())
            )
            query = query.where(_within(LegalHold.department_id, actor))
            if in_force_only:
                query = query.where(LegalHold.lifted_at.is_(None))
            return [_hold_item(h, code, site) for h, code, site in session.execute(query)]

    def place_hold(self, scope: HoldScope, reason: str) -> int:
        """Place a hold; returns its id. The department follows from the site or the request
        named (a request of the whole City: every department); else it is the one given."""
        reason = checked_text(reason, "The hold's reason", required=True)
        check_scope(scope)
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            department = scope.department_id
            if scope.site_id is not None:
                site = session.get(Site, scope.site_id)
                if site is None:
                    raise NotFound(f"There is no site {scope.site_id}.")
                department = site.department_id
            elif scope.request_id is not None:
                request = session.get(RecordsRequest, scope.request_id)
                if request is None:
                    raise NotFound(f"There is no records request {scope.request_id}.")
                department = request.department_id
            _refusing(
                lambda: _require_keeper(actor, department, "place a legal hold"),
                "place a legal hold",
                self.username,
            )
            hold = LegalHold(
                department_id=department,
                site_id=scope.site_id,
                author_id=scope.author_id,
                from_on=scope.from_on,
                thru_on=scope.thru_on,
                request_id=scope.request_id,
                reason=reason,
                placed_by=actor.username,
                placed_at=utcnow(),
                lift_reason="",
            )
            session.add(hold)
            session.flush()
            self._entry(
                session,
                EntryKind.HOLD,
                HoldStep.PLACE,
                f"hold:{hold.id}",
                None,
                _hold_json(hold),
                department,
                reason,
            )
            return hold.id

    def lift_hold(self, hold_id: int, reason: str) -> None:
        reason = checked_text(reason, "The reason for lifting the hold", required=True)
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            hold = session.get(LegalHold, hold_id)
            if hold is None:
                raise NotFound(f"There is no legal hold {hold_id}.")
            _refusing(
                lambda: _require_keeper(actor, hold.department_id, "lift a legal hold"),
                "lift a legal hold",
                self.username,
            )
            if hold.lifted_at is not None:
                raise InvalidInput(f"Hold {hold_id} was lifted already, by {hold.lifted_by}.")
            before = _hold_json(hold)
            hold.lifted_by, hold.lifted_at, hold.lift_reason = actor.username, utcnow(), reason
            session.flush()
            self._entry(
                session,
                EntryKind.HOLD,
                HoldStep.LIFT,
                f"hold:{hold.id}",
                before,
                _hold_json(hold),
                hold.department_id,
                reason,
            )

    # --- the worksheet ----------------------------------------------------------------

    def worksheet(self) -> list[WorksheetRow]:
        """Records past retention and on no hold, by department and series."""
        with self.db.session() as session:
            actor = self._officer(session, "see the disposal worksheet")
            units = self._disposable(session, actor, _holds_in_force(session))
            codes = {i: c for i, c in session.execute(select(Department.id, Department.code))}
        groups: dict[tuple[str, RecordClass], list[_Unit]] = defaultdict(list)
        for unit in units:
            groups[(codes[unit.facts.department_id], unit.record_class)].append(unit)
        return [
            WorksheetRow(
                department,
                self.policy.retention[record_class],
                min(local_day(u.start) for u in group),
                max(local_day(u.start) for u in group),
                len(group),
                sum(u.records for u in group),
                sum(u.versions for u in group),
            )
            for (department, record_class), group in sorted(groups.items())
        ]

    def export_worksheet(self, path: Path, rows: Sequence[WorksheetRow]) -> None:
        """The worksheet as CSV, written whole or not at all; no cell can start a formula."""
        with atomic_file(path) as stream:
            writer = csv.writer(stream)
            writer.writerow(WORKSHEET_COLUMNS)
            for r in rows:
                writer.writerow(
                    [
                        safe_cell(v)
                        for v in (
                            r.department,
                            r.retention.series,
                            r.retention.schedule_item,
                            r.from_on,
                            r.thru_on,
                            r.volume,
                            r.comments,
                            r.retained_records,
                            r.versions,
                            r.retention.record_class.value,
                        )
                    ]
                )

    # --- certificates -------------------------------------------------------------------

    def certify(
        self,
        number: str,
        notice_given_on: date,
        approved_on: date,
        covers: list[Coverage],
        department_id: int | None = None,
    ) -> int:
        """Record a certificate the Commission approved; returns its id."""
        number = check_certificate(number, notice_given_on, approved_on, self.today())
        check_coverage(covers)
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            _refusing(
                lambda: _require_keeper(actor, department_id, "record a certificate"),
                "record a certificate",
                self.username,
            )
            if session.scalar(select(exists().where(DisposalCertificate.number == number))):
                raise InvalidInput(f"Certificate {number} is recorded already.")
            allowed = disposal_allowed_from(notice_given_on, approved_on)
            lines = [c.as_json() for c in covers]
            after = {
                "number": number,
                "department_id": department_id,
                "covers": lines,
                "notice_given_on": notice_given_on.isoformat(),
                "approved_on": approved_on.isoformat(),
                "allowed_from": allowed.isoformat(),
            }
            lock_chain(session)
            next_id = _next_certificate_id(session)
            entry = self._entry(
                session,
                EntryKind.DISPOSAL,
                DisposalStep.CERTIFY,
                f"certificate:{next_id}",
                None,
                after,
                department_id,
                number,
            )
            session.add(
                DisposalCertificate(
                    id=next_id,
                    number=number,
                    department_id=department_id,
                    notice_given_on=notice_given_on,
                    approved_on=approved_on,
                    allowed_from=allowed,
                    covers=lines,
                    recorded_by=actor.username,
                    recorded_at=entry.at,
                    entry_id=entry.id,
                )
            )
            return next_id

    def certify_lines(
        self, number: str, notice_given_on: date, approved_on: date, rows: Sequence[WorksheetRow]
    ) -> int:
        """A certificate for lines of the worksheet: the whole City's for an officer of every
        department, else for the one department the lines are of; one line per series."""
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
        departments = {r.department for r in rows}
        department = None
        if actor.keeps_records is not None:
            if len(departments) != 1:
                raise InvalidInput("Choose the worksheet's lines of one department.")
            department = self.department_id(departments.pop())
        spans: dict[RecordClass, tuple[date, date]] = {}
        for row in rows:
            first, last = spans.get(row.retention.record_class, (row.from_on, row.thru_on))
            spans[row.retention.record_class] = (min(first, row.from_on), max(last, row.thru_on))
        covers = [Coverage(c, first, last) for c, (first, last) in spans.items()]
        return self.certify(number, notice_given_on, approved_on, covers, department)

    def places(self) -> list[tuple[str, int | None, int | None]]:
        """Where a hold may keep records, as (words, department id, site id): every department
        (for an officer of all of them), each department, each site."""
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            departments = session.execute(
                select(Department.id, Department.code)
                .where(_within(Department.id, actor))
                .order_by(Department.code)
            ).all()
            sites = session.execute(
                select(Site.id, Site.name, Department.code)
                .join(Department, Department.id == Site.department_id)
                .where(_within(Site.department_id, actor))
                .order_by(Department.code, Site.name)
            ).all()
        every = [("Every department", None, None)] if actor.keeps_records is None else []
        return [
            *every,
            *((f"All of {code}", i, None) for i, code in departments),
            *((f"{name} ({code})", None, i) for i, name, code in sites),
        ]

    def certificates(self) -> list[CertificateItem]:
        with self.db.session() as session:
            actor = self._officer(session, "see disposal certificates")
            disposed = (
                select(func.count())
                .where(
                    DisposedRecord.certificate_id == DisposalCertificate.id,
                    DisposedRecord.record_id.is_(None),
                )
                .scalar_subquery()
            )
            query = (
                select(DisposalCertificate, Department.code, disposed)
                .outerjoin(Department, Department.id == DisposalCertificate.department_id)
                .order_by(DisposalCertificate.id.desc())
            )
            query = query.where(_within(DisposalCertificate.department_id, actor))
            return [
                CertificateItem(
                    c.id,
                    c.number,
                    code or ALL_DEPARTMENTS,
                    c.notice_given_on,
                    c.approved_on,
                    c.allowed_from,
                    [Coverage.from_json(line) for line in c.covers],
                    c.recorded_by,
                    c.recorded_at,
                    count,
                )
                for c, code, count in session.execute(query)
            ]

    def disposable_under(self, number: str) -> int:
        """How many comments a disposal under this certificate would dispose of now."""
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            certificate = self._certificate(session, actor, number)
            return len(self._covered(session, actor, certificate, _holds_in_force(session))[0])

    # --- disposal -------------------------------------------------------------------------

    def dispose(
        self,
        number: str,
        comment_ids: Iterable[int] | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> DisposalResult:
        """Dispose of the records a certificate covers that are past retention and on no hold
        (or only of `comment_ids`, each of which must be). One entry per batch of comments,
        each keeping every record's id and SHA-256; a cancel stops between batches."""
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            certificate = self._certificate(session, actor, number)
            eligible, held = self._covered(session, actor, certificate, _holds_in_force(session))
        targets = sorted(u.comment_id for u in eligible)
        if comment_ids is not None:
            asked = sorted(set(comment_ids))
            held_ids = {u.comment_id: hold for u, hold in held}
            for comment_id in asked:
                if comment_id in held_ids:
                    _refuse(
                        PermissionDenied(
                            f"Comment {comment_id} is on legal hold {held_ids[comment_id]}: a hold "
                            "always wins over retention, so nothing was disposed of."
                        ),
                        self.username,
                    )
                if comment_id not in targets:
                    _refuse(
                        InvalidInput(
                            f"Comment {comment_id} is not among the records certificate {number} "
                            "covers that are past retention; nothing was disposed of."
                        ),
                        self.username,
                    )
            targets = asked
        entries: list[int] = []
        comments = records = 0
        for start in range(0, len(targets), BATCH):
            if cancelled():
                return DisposalResult(number, comments, records, entries, len(held), True)
            done = self._dispose_batch(certificate.id, targets[start : start + BATCH])
            if done is not None:
                entries.append(done[0])
                comments += done[1]
                records += done[2]
            if progress is not None:
                progress(min(start + BATCH, len(targets)), len(targets))
        log.info(
            "%s disposed of %d comments (%d retained records) under certificate %s",
            self.username,
            comments,
            records,
            number,
        )
        return DisposalResult(number, comments, records, entries, len(held))

    def _dispose_batch(self, certificate_id: int, ids: list[int]) -> tuple[int, int, int] | None:
        with self.db.transaction() as session:
            lock_chain(session)  # holds and actions are serialised with us from here on
            actor = resolve_actor(session, self.username)
            certificate = session.get(DisposalCertificate, certificate_id)
            assert certificate is not None
            eligible, _ = self._covered(session, actor, certificate, _holds_in_force(session), ids)
            if not eligible:
                return None
            kept = self._kept_of(session, [unit.comment_id for unit in eligible])
            after = {
                "certificate_id": certificate.id,
                "certificate": certificate.number,
                "comments": kept,
            }
            entry = self._entry(
                session,
                EntryKind.DISPOSAL,
                DisposalStep.DISPOSE,
                f"certificate:{certificate.id}",
                None,
                after,
                certificate.department_id,
                "",
            )
            if self.db.is_sqlite:
                _blank_on_sqlite(session, certificate.id, entry.id, kept)
            else:  # the one audited way on PostgreSQL (db/disposal.py)
                session.execute(text("SELECT hsm_dispose(:entry)"), {"entry": entry.id})
            return entry.id, len(kept), sum(len(k["records"]) for k in kept)

    @staticmethod
    def _kept_of(session: Session, ids: list[int]) -> list[dict[str, Any]]:
        """What the disposal entry keeps of each comment: its id, the SHA-256 of its working
        copy and versions, and each retained record's id and SHA-256 (three queries a batch)."""
        content = [Comment.__table__.c[name] for name in COMMENT_BLANK]
        comments = session.execute(
            select(Comment.id, Comment.external_id, *content)
            .where(Comment.id.in_(ids)).order_by(Comment.id)
        ).all()  # fmt: skip
        versions: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for v in session.execute(
            select(CommentVersion.comment_id, CommentVersion.author_name, CommentVersion.text,
                   CommentVersion.raw)
            .where(CommentVersion.comment_id.in_(ids)).order_by(CommentVersion.id)
        ):  # fmt: skip
            versions[v.comment_id].append(v._asdict())
        records: dict[int, list[list[Any]]] = defaultdict(list)
        for r in session.execute(
            select(RetainedRecord.comment_id, RetainedRecord.id, RetainedRecord.sha256)
            .where(RetainedRecord.comment_id.in_(ids)).order_by(RetainedRecord.id)
        ):  # fmt: skip
            records[r.comment_id].append([r.id, r.sha256])
        return [
            {"comment": c.id, "sha256": comment_hash(c._asdict(), versions[c.id]),
             "records": records[c.id]}
            for c in comments
        ]  # fmt: skip

    # --- shared -------------------------------------------------------------------------

    def _certificate(self, session: Session, actor: Actor, number: str) -> DisposalCertificate:
        doing = "dispose of records"
        _refusing(lambda: require_records_officer(actor, doing), doing, self.username)
        certificate = session.scalar(
            select(DisposalCertificate).where(DisposalCertificate.number == number.strip())
        )
        if certificate is None:
            _refuse(
                PermissionDenied(
                    f"No approved disposal certificate {number!r} is recorded: records are "
                    "disposed of only under a certificate the Local Records Commission approved "
                    "(50 ILCS 205/7). Nothing was disposed of."
                ),
                self.username,
            )
        # Under a City-wide certificate, each officer disposes of their departments' records.
        _refusing(
            lambda: require_records_officer(actor, doing, certificate.department_id),
            doing,
            self.username,
        )
        if self.today() < certificate.allowed_from:
            _refuse(
                PermissionDenied(
                    f"Certificate {certificate.number} allows disposal from "
                    f"{certificate.allowed_from}: thirty days after it was sent to the "
                    f"Commission ({certificate.notice_given_on}) and once approved "
                    f"({certificate.approved_on}), 44 Ill. Adm. Code 4000.40(c). Nothing was "
                    "disposed of."
                ),
                self.username,
            )
        return certificate

    def _covered(
        self,
        session: Session,
        actor: Actor,
        certificate: DisposalCertificate,
        holds: list[tuple[int, HoldScope]],
        only: Sequence[int] | None = None,
    ) -> tuple[list[_Unit], list[tuple[_Unit, int]]]:
        """The certificate's records past retention: those on no hold, and the held ones."""
        covers = [Coverage.from_json(line) for line in certificate.covers]
        units = [
            u
            for u in self._past_retention(session, actor, only)
            if any(c.covers(u.record_class, u.start) for c in covers)
            and certificate.department_id in (None, u.facts.department_id)
        ]
        eligible, held = [], []
        for unit in units:
            holding = on_hold(holds, unit.facts)
            if holding:
                held.append((unit, holding[0]))
            else:
                eligible.append(unit)
        return eligible, held

    def _disposable(
        self, session: Session, actor: Actor, holds: list[tuple[int, HoldScope]]
    ) -> list[_Unit]:
        return [u for u in self._past_retention(session, actor) if not on_hold(holds, u.facts)]

    def _past_retention(
        self, session: Session, actor: Actor, only: Sequence[int] | None = None
    ) -> list[_Unit]:
        """Comments of the actor's departments, not disposed of, whose period has ended."""
        today = self.today()
        retention = self.policy.retention
        cutoffs = [c for c in (retention[k].cutoff(today) for k in DISPOSABLE) if c is not None]
        if not cutoffs:
            return []
        query = _units_query().where(Comment.created_at < max(cutoffs))
        if actor.keeps_records is not None:
            query = query.where(Site.department_id.in_(actor.keeps_records))
        if only is not None:
            query = query.where(Comment.id.in_(only))
        units = []
        for row in session.execute(query):
            start = max(t for t in (row.created_at, row.edited_at, row.last_entry) if t)
            record_class = RecordClass.ACTION_RECORDS if row.records else RecordClass.COMMENTS
            if row.pending or not retention[record_class].past(start, today):
                continue
            facts = RecordFacts(row.department_id, row.site_id, row.author_id, row.created_at)
            units.append(_Unit(row.id, facts, start, record_class, row.records, row.versions))
        return units

    def _entry(
        self,
        session: Session,
        kind: EntryKind,
        action: str,
        subject: str,
        before: dict[str, Any] | None,
        after: dict[str, Any],
        department_id: int | None,
        note: str,
    ) -> LogEntry:
        return append_register_entry(
            session, self.username, kind, action, subject, before, after,
            department_id=department_id, policy_version=self.policy.version, note=note,
        )  # fmt: skip


def _units_query() -> Select[Any]:
    last_entry = (
        select(func.max(LogEntry.at)).where(LogEntry.comment_id == Comment.id).scalar_subquery()
    )
    records = select(func.count()).where(RetainedRecord.comment_id == Comment.id).scalar_subquery()
    versions = select(func.count()).where(CommentVersion.comment_id == Comment.id).scalar_subquery()
    disposed = exists().where(
        DisposedRecord.comment_id == Comment.id, DisposedRecord.record_id.is_(None)
    )
    return (
        select(
            Comment.id,
            Comment.site_id,
            Site.department_id,
            Comment.author_id,
            Comment.created_at,
            Comment.edited_at,
            last_entry.label("last_entry"),
            records.label("records"),
            versions.label("versions"),
            Comment.pending_entry_id.is_not(None).label("pending"),
        )
        .join(Site, Site.id == Comment.site_id)
        .where(~disposed)
        .order_by(Comment.id)
    )


def _blank_on_sqlite(
    session: Session, certificate_id: int, entry_id: int, kept: list[dict[str, Any]]
) -> None:
    """What `hsm_dispose` does on PostgreSQL: the disposed rows first (the triggers let the
    blanking through only for rows they name), then the blanking."""
    now = utcnow()
    rows = []
    for item in kept:
        rows.append(
            dict(
                comment_id=item["comment"],
                record_id=None,
                sha256=item["sha256"],
                certificate_id=certificate_id,
                entry_id=entry_id,
                disposed_at=now,
            )
        )
        rows.extend(
            dict(
                comment_id=item["comment"],
                record_id=record_id,
                sha256=sha256,
                certificate_id=certificate_id,
                entry_id=entry_id,
                disposed_at=now,
            )
            for record_id, sha256 in item["records"]
        )
    session.execute(insert(DisposedRecord), rows)
    ids = [item["comment"] for item in kept]
    for model, column, blank in (
        (Comment, Comment.id, {**COMMENT_BLANK, **COMMENT_DERIVED_BLANK}),
        (CommentVersion, CommentVersion.comment_id, VERSION_BLANK),
        (RetainedRecord, RetainedRecord.comment_id, RECORD_BLANK),
    ):
        blank = {**blank, "search_words": ""}  # its words leave the search index with it
        session.execute(
            update(model)
            .where(column.in_(ids))
            .values(**blank)
            .execution_options(synchronize_session=False)
        )


def _next_certificate_id(session: Session) -> int:
    """The id the certificate will have: its `certify` entry names it before the row exists
    (the row cites the entry). Under the chain lock, so no other certificate takes it."""
    if session.get_bind().dialect.name == "postgresql":
        sequence = "SELECT nextval(pg_get_serial_sequence('disposal_certificates', 'id'))"
        return int(session.scalar(text(sequence)))
    return (session.scalar(select(func.max(DisposalCertificate.id))) or 0) + 1


def _within(department: Any, actor: Actor) -> ColumnElement[bool]:
    """Rows of the whole City (None) or of a department the actor keeps records of."""
    if actor.keeps_records is None:
        return true()
    return or_(department.is_(None), department.in_(actor.keeps_records))


def _holds_in_force(session: Session) -> list[tuple[int, HoldScope]]:
    return [
        (h.id, _scope(h))
        for h in session.scalars(select(LegalHold).where(LegalHold.lifted_at.is_(None)))
    ]


def _scope(hold: LegalHold) -> HoldScope:
    return HoldScope(
        hold.department_id,
        hold.site_id,
        hold.author_id,
        hold.from_on,
        hold.thru_on,
        hold.request_id,
    )


def _hold_item(hold: LegalHold, code: str | None, site: str | None) -> HoldItem:
    return HoldItem(
        hold.id,
        _scope(hold),
        code or ALL_DEPARTMENTS,
        site,
        hold.reason,
        hold.placed_by,
        hold.placed_at,
        hold.lifted_by,
        hold.lifted_at,
        hold.lift_reason,
    )


def _hold_json(hold: LegalHold) -> dict[str, Any]:
    def day(value: date | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": hold.id,
        "department_id": hold.department_id,
        "site_id": hold.site_id,
        "author_id": hold.author_id,
        "from_on": day(hold.from_on),
        "thru_on": day(hold.thru_on),
        "request_id": hold.request_id,
        "reason": hold.reason,
        "placed_by": hold.placed_by,
        "lifted_by": hold.lifted_by,
        "lift_reason": hold.lift_reason,
    }


def _require_keeper(actor: Actor, department_id: int | None, doing: str) -> None:
    """A records officer of the department; for every department, of every department."""
    if department_id is None and actor.keeps_records is not None:
        raise PermissionDenied(
            f"Only a records officer of every department (the City Clerk's office) may {doing} "
            f"for the whole City, and {actor.describe()} keeps the records of some departments "
            "only; nothing was changed. Name a site or a department."
        )
    require_records_officer(actor, doing, department_id)


def _refusing(check: Callable[[], None], doing: str, username: str) -> None:
    try:
        check()
    except UserError as exc:
        _refuse(exc, username, doing)


def _refuse(exc: UserError, username: str, doing: str = "dispose of records") -> NoReturn:
    """Refusals of records work are written to the program's log for IT and the auditors."""
    log.warning("Refused: %s asked to %s: %s", username, doing, exc.message)
    raise exc
