"""The records requests register (docs/design.md, "Records requests").

A request is a row of `records_requests` (its state changes), and every change of it is an
entry of the one hash-chained log (kind `request`, subject `request:<id>`, the row as it stood
before and after), written in the transaction that changes the row, under the chain's lock, so
two officers never both step from the same state. Records officers only, each within the
departments they keep records for; a City-wide request (no department) is the City Clerk's
office's. A comment a moderator codes with the policy's request code becomes a draft request
in the moderator's own transaction (`hand_over`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func, select, true
from sqlalchemy.orm import Session

from hsm_console.db.chain import append_register_entry, lock_chain
from hsm_console.db.engine import Database
from hsm_console.db.models import (
    Comment,
    Department,
    LogEntry,
    Person,
    RecordsRequest,
    RoleGrant,
    utcnow,
)
from hsm_console.display import CITY_TZ
from hsm_console.errors import InvalidInput, NotFound, NotPossible, PermissionDenied
from hsm_console.rules.domain import EntryKind, Role
from hsm_console.rules.policy import Policy
from hsm_console.rules.records_requests import (
    REQUESTER_LIMIT,
    STATE_AFTER,
    WORDS_LIMIT,
    BusinessCalendar,
    ExtensionReason,
    RequestState,
    RequestStep,
    Urgency,
    checked_scope,
    extension_refusal,
    refusal,
    urgency,
)
from hsm_console.rules.review import checked_text
from hsm_console.services.access import Actor, require_records_officer, resolve_actor

CITY_WIDE = "City-wide"


@dataclass(frozen=True)
class RequestEvent:
    """One entry of a request's history."""

    entry_id: int
    at: datetime
    actor: str
    step: str
    note: str


@dataclass(frozen=True)
class RequestRow:
    id: int
    received_at: datetime
    requester: str  # as given, untrusted: shown as plain text
    words: str  # untrusted: shown as plain text
    scope: dict[str, Any]
    department: str  # its code, or CITY_WIDE
    department_id: int | None
    state: RequestState
    original_due: date
    extended_to: date | None
    extension_reason: str
    handler: str | None
    comment_id: int | None
    handed_over_at: datetime | None
    days_left: int  # business days; 0 on the due day, negative once overdue
    urgency: Urgency

    @property
    def due_on(self) -> date:
        return self.extended_to or self.original_due


@dataclass(frozen=True)
class RequestDetail:
    request: RequestRow
    history: list[RequestEvent]
    handlers: list[str]  # who may be assigned to it (records officers of its department)


@dataclass(frozen=True)
class RequestFilter:
    states: frozenset[RequestState] = frozenset()  # none: every state
    department: str | None = None  # a department's code, or CITY_WIDE
    due_by: date | None = None  # due on or before this day (the extended date where extended)
    urgent: bool = False  # only those overdue or due soon


def calendar_of(policy: Policy) -> BusinessCalendar:
    return BusinessCalendar(policy.records.closed_days)


class RecordsRequests:
    def __init__(
        self,
        db: Database,
        policy: Policy,
        username: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.policy = policy
        self.username = username
        self.clock = clock  # tests set the day; "due soon" and the extension's limit use it
        self.calendar = calendar_of(policy)

    def today(self) -> date:
        return self.clock().astimezone(CITY_TZ).date()

    # --- reading --------------------------------------------------------------------------

    def rows(self, wanted: RequestFilter = RequestFilter()) -> list[RequestRow]:
        """The register within the person's reach, the soonest due first."""
        with self.db.session() as session:
            actor = self._officer(session, "read the records requests register")
            due = func.coalesce(RecordsRequest.extended_to, RecordsRequest.due_on)
            query = (
                select(RecordsRequest, Department.code)
                .outerjoin(Department, Department.id == RecordsRequest.department_id)
                .where(_reach(actor))
                .order_by(due, RecordsRequest.id)
            )
            if wanted.states:
                query = query.where(RecordsRequest.state.in_([s.value for s in wanted.states]))
            if wanted.department == CITY_WIDE:
                query = query.where(RecordsRequest.department_id.is_(None))
            elif wanted.department is not None:
                department = _department(session, wanted.department)
                if not _reaches(actor, department.id):
                    raise PermissionDenied(
                        f"{actor.describe()} keeps no records for {department.code}; the "
                        "register shows only the departments you keep records for."
                    )
                query = query.where(RecordsRequest.department_id == department.id)
            if wanted.due_by is not None:
                query = query.where(due <= wanted.due_by)
            rows = [self._row(r, code or CITY_WIDE) for r, code in session.execute(query)]
        return [r for r in rows if r.urgency is not Urgency.NONE] if wanted.urgent else rows

    def attention(self) -> list[RequestRow]:
        """Open requests within the person's reach that are overdue or due soon; none for
        someone who keeps no records (the window asks for everyone)."""
        with self.db.session() as session:
            if not resolve_actor(session, self.username).is_records_officer:
                return []
        return self.rows(RequestFilter(urgent=True))

    def departments(self) -> list[str]:
        """The departments the person may register requests for (City-wide: the Clerk's)."""
        with self.db.session() as session:
            actor = self._officer(session, "register a records request")
            query = select(Department.code).order_by(Department.code)
            if actor.keeps_records is not None:
                query = query.where(Department.id.in_(sorted(actor.keeps_records)))
            codes = list(session.scalars(query))
        return [*codes, CITY_WIDE] if actor.keeps_records is None else codes

    def show(self, request_id: int) -> RequestDetail:
        with self.db.session() as session:
            actor = self._officer(session, "read the records requests register")
            request = self._reachable(session, actor, request_id, "read")
            entries = session.scalars(
                select(LogEntry)
                .where(LogEntry.subject == _subject(request_id))
                .order_by(LogEntry.id)
            )
            history = [RequestEvent(e.id, e.at, e.actor, e.action, e.note) for e in entries]
            code = _department_code(session, request.department_id)
            return RequestDetail(
                self._row(request, code), history, _eligible(session, request.department_id)
            )

    # --- registering ----------------------------------------------------------------------

    def register(
        self,
        received_at: datetime,
        requester: str,
        words: str,
        department: str | None,
        scope: dict[str, Any] | None = None,
    ) -> int:
        """A request as it arrived: the requester as given (a name is never required), its
        words, the department that answers it (None: City-wide) and, where known, the search
        that answers it. Its due date follows from when it was received."""
        if received_at.tzinfo is None:
            raise InvalidInput("When the request was received needs its time zone.")
        if received_at > self.clock():
            raise InvalidInput("A request cannot be received in the future; check the date.")
        requester = checked_text(
            requester, "The requester", required=False, limit=REQUESTER_LIMIT, exact=True
        )
        words = checked_text(
            words, "The request's words", required=True, limit=WORDS_LIMIT, exact=True
        )
        scope = checked_scope({} if scope is None else scope)
        with self.db.transaction() as session:
            actor = self._officer(session, "register a records request")
            department_id = None
            if department is not None:
                department_id = _department(session, department).id
            self._require_reach(actor, department_id, "register")
            request = RecordsRequest(
                department_id=department_id,
                received_at=received_at.astimezone(UTC),
                requester=requester,
                words=words,
                scope=scope,
                due_on=self.calendar.due_on(received_at),
                extended_to=None,
                extension_reason="",
                state=RequestState.OPEN.value,
                handler=None,
            )
            session.add(request)
            session.flush()
            log_step(session, actor.username, RequestStep.RECEIVE, request, None, self.policy)
            return request.id

    # --- steps ----------------------------------------------------------------------------

    def accept(self, request_id: int) -> None:
        """A draft from the queue becomes open, received when it was handed over."""
        self._step(request_id, RequestStep.ACCEPT, "", _unchanged)

    def assign(self, request_id: int, handler: str) -> None:
        """Give the request to a records officer of its department (or of every one)."""

        def change(session: Session, request: RecordsRequest) -> None:
            if handler not in _eligible(session, request.department_id):
                raise InvalidInput(
                    f"{handler} is not an active records officer of "
                    f"{_department_code(session, request.department_id)}; a request can be "
                    "assigned only to one of its records officers."
                )
            request.handler = handler

        self._step(request_id, RequestStep.ASSIGN, f"assigned to {handler}", change)

    def extend(self, request_id: int, reason: ExtensionReason, note: str = "") -> None:
        """The one extension 3(e) allows: 5 more business days from the original due date,
        for one of its reasons, decided within the original 5 days (3(f))."""
        note = checked_text(note, "The extension's explanation", required=False)

        def change(_: Session, request: RecordsRequest) -> None:
            late = extension_refusal(request.due_on, self.today())
            if late is not None:
                raise NotPossible(f"Request {request.id}: {late}")
            request.extended_to = self.calendar.extended(request.due_on)
            request.extension_reason = reason.value

        self._step(request_id, RequestStep.EXTEND, f"{reason.label}. {note}".strip(), change)

    def answer(self, request_id: int, note: str = "") -> None:
        note = checked_text(note, "The note", required=False)
        self._step(request_id, RequestStep.ANSWER, note, _unchanged)

    def withdraw(self, request_id: int, reason: str) -> None:
        """Withdrawn by the requester, or a draft from the queue that was no request."""
        reason = checked_text(reason, "The reason", required=True)
        self._step(request_id, RequestStep.WITHDRAW, reason, _unchanged)

    def _step(
        self,
        request_id: int,
        step: RequestStep,
        note: str,
        change: Callable[[Session, RecordsRequest], None],
    ) -> None:
        with self.db.transaction() as session:
            lock_chain(session)  # the state read below cannot change before the entry
            actor = self._officer(session, f"change a records request ({step.value})")
            request = self._reachable(session, actor, request_id, step.value)
            refused = refusal(RequestState(request.state), step)
            if refused is not None:
                raise NotPossible(f"Request {request_id}: {refused}")
            before = row_json(request)
            change(session, request)
            request.state = STATE_AFTER.get(step, RequestState(request.state)).value
            session.flush()
            log_step(session, actor.username, step, request, before, self.policy, note=note)

    # --- helpers --------------------------------------------------------------------------

    def _officer(self, session: Session, doing: str) -> Actor:
        actor = resolve_actor(session, self.username)
        require_records_officer(actor, doing)
        return actor

    def _reachable(
        self, session: Session, actor: Actor, request_id: int, doing: str
    ) -> RecordsRequest:
        request = session.get(RecordsRequest, request_id)
        if request is None:
            raise NotFound(f"There is no records request {request_id}.")
        self._require_reach(actor, request.department_id, doing)
        return request

    @staticmethod
    def _require_reach(actor: Actor, department_id: int | None, doing: str) -> None:
        if _reaches(actor, department_id):
            return
        if department_id is None:
            raise PermissionDenied(
                f"A City-wide request is the City Clerk's office's (a records officer of every "
                f"department); {actor.describe()} may not {doing} it. Nothing was changed."
            )
        require_records_officer(actor, f"{doing} this request", department_id)

    def _row(self, request: RecordsRequest, department: str) -> RequestRow:
        state = RequestState(request.state)
        due = request.extended_to or request.due_on
        left = self.calendar.days_left(self.today(), due)
        return RequestRow(
            request.id, request.received_at, request.requester, request.words,
            dict(request.scope), department,
            request.department_id, state, request.due_on, request.extended_to,
            request.extension_reason, request.handler, request.comment_id,
            request.handed_over_at, left, urgency(state, left),
        )  # fmt: skip


def _unchanged(session: Session, request: RecordsRequest) -> None:
    """A step that changes only the request's state."""


def hand_over(
    session: Session, comment: Comment, action: LogEntry, policy: Policy
) -> RecordsRequest | None:
    """The draft request of a comment a moderator coded as a records request, in the
    moderator's transaction: stamped with the action's time, the author as the platform shows
    them, the comment's words, the site's department. None where the comment already has a
    request that is not closed (a second FOI action adds nothing)."""
    earlier = session.scalar(
        select(RecordsRequest.id).where(
            RecordsRequest.comment_id == comment.id,
            RecordsRequest.state.in_([s.value for s in RequestState if s.is_open]),
        )
    )
    if earlier is not None:
        return None
    request = RecordsRequest(
        department_id=comment.site.department_id,
        received_at=action.at,
        requester=comment.author_name,
        words=comment.text,
        scope={},
        due_on=calendar_of(policy).due_on(action.at),
        extended_to=None,
        extension_reason="",
        state=RequestState.DRAFT.value,
        handler=None,
        comment_id=comment.id,
        handed_over_at=action.at,
    )
    session.add(request)
    session.flush()
    log_step(session, action.actor, RequestStep.DRAFT, request, None, policy, refers_to=action.id)
    return request


def log_step(
    session: Session,
    actor: str,
    step: RequestStep,
    request: RecordsRequest,
    before: dict[str, Any] | None,
    policy: Policy,
    *,
    note: str = "",
    refers_to: int | None = None,
) -> LogEntry:
    """A request's entry in the chain, in the caller's transaction (the export's too): the
    row as it stood before and as it stands now. A request from a comment carries the
    comment and site, so it is in that comment's history."""
    site_id = None
    if request.comment_id is not None:
        site_id = session.scalar(select(Comment.site_id).where(Comment.id == request.comment_id))
    return append_register_entry(
        session, actor, EntryKind.REQUEST, step.value, _subject(request.id), before,
        row_json(request), comment_id=request.comment_id, site_id=site_id,
        department_id=request.department_id, note=note, refers_to=refers_to,
        policy_version=policy.version,  # the due date follows the policy's closure days
    )  # fmt: skip


def row_json(request: RecordsRequest) -> dict[str, Any]:
    """The register's row as plain JSON values: times in UTC, days as ISO dates."""

    def moment(value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")

    return {
        "id": request.id,
        "department_id": request.department_id,
        "received_at": moment(request.received_at),
        "requester": request.requester,
        "words": request.words,
        "scope": request.scope,
        "due_on": request.due_on.isoformat(),
        "extended_to": None if request.extended_to is None else request.extended_to.isoformat(),
        "extension_reason": request.extension_reason,
        "state": request.state,
        "handler": request.handler,
        "comment_id": request.comment_id,
        "handed_over_at": moment(request.handed_over_at),
    }


def _subject(request_id: int) -> str:
    return f"request:{request_id}"


def _reaches(actor: Actor, department_id: int | None) -> bool:
    """A department's requests are its records officers'; City-wide ones the Clerk's."""
    if actor.keeps_records is None:
        return True
    return department_id is not None and department_id in actor.keeps_records


def _reach(actor: Actor) -> ColumnElement[bool]:
    if actor.keeps_records is None:
        return true()
    if not actor.keeps_records:
        return false()
    return RecordsRequest.department_id.in_(sorted(actor.keeps_records))


def _department(session: Session, code: str) -> Department:
    department = session.scalar(select(Department).where(Department.code == code.upper()))
    if department is None:
        raise NotFound(f"There is no department {code!r}.")
    return department


def _department_code(session: Session, department_id: int | None) -> str:
    if department_id is None:
        return CITY_WIDE
    return session.scalar(select(Department.code).where(Department.id == department_id)) or "?"


def _eligible(session: Session, department_id: int | None) -> list[str]:
    """The active records officers who may handle a request of this department."""
    held = (
        RoleGrant.department_id.is_(None)
        if department_id is None
        else (RoleGrant.department_id.is_(None)) | (RoleGrant.department_id == department_id)
    )
    names = session.scalars(
        select(Person.username)
        .join(RoleGrant, RoleGrant.person_id == Person.id)
        .where(Person.active.is_(True), RoleGrant.role == Role.RECORDS_OFFICER.value, held)
        .distinct()
        .order_by(Person.username)
    )
    return list(names)
