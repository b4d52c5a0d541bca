"""Supervisors' review of actions, notices to commenters and their appeals (docs/design.md,
"Review, notes, notices and appeals").

Every verdict is an entry of the one hash-chained log, written under the chain lock in the
transaction that checks it may be written. A reversal (unhide) is never done here: it goes
through `ModerationService.reverse`, record-first like every action. Refusals are the
service's, whatever the window shows: a moderator does not review, nobody reviews their own
action, a supervisor reviews only their departments (the oversight group: all), and an
appeal goes to a supervisor other than the moderator who acted.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from hsm_console.db.chain import append_comment_entry
from hsm_console.db.engine import Database
from hsm_console.db.models import (
    Comment,
    Department,
    LogEntry,
    Person,
    RetainedRecord,
    RoleGrant,
    Site,
    utcnow,
)
from hsm_console.display import local_time
from hsm_console.errors import (
    ConcurrentAction,
    InvalidInput,
    NotFound,
    NotPossible,
    PermissionDenied,
)
from hsm_console.rules.capabilities import capabilities_of
from hsm_console.rules.domain import (
    Action,
    AppealStep,
    EntryKind,
    EntryState,
    Platform,
    ReviewState,
    ReviewVerdict,
    Role,
)
from hsm_console.rules.policy import Policy
from hsm_console.rules.review import Channel, age_words, checked_text, draft_notice
from hsm_console.services.access import Actor, person_name, resolve_actor
from hsm_console.services.moderation import ActionResult, ModerationService

_DONE = (EntryState.APPLIED.value, EntryState.UNCONFIRMED.value)
_PLATFORM_ACTIONS = (Action.HIDE.value, Action.REMOVE.value)


@dataclass(frozen=True)
class Verdict:
    entry_id: int
    at: datetime
    actor: str  # who gave it
    verdict: str  # ReviewVerdict, AppealStep, or the action of a reversal (unhide)
    note: str


@dataclass(frozen=True)
class Appeal:
    entry_id: int
    action_entry_id: int
    comment_id: int
    received_at: datetime
    channel: str
    text: str
    recorded_by: str
    assigned_to: str  # the supervisor it is routed to
    department: str
    decision: Verdict | None


@dataclass(frozen=True)
class Notice:
    entry_id: int
    sent_at: datetime
    channel: str
    text: str
    sent_by: str


@dataclass(frozen=True)
class ReviewItem:
    """An action as a reviewer sees it: what was done, under which test, and its verdicts."""

    entry_id: int  # the action's first (pending) entry
    at: datetime
    age: str  # how long it has waited, in words
    moderator: str
    action: str
    outcome: str  # the outcome entry's state; "pending" while there is none
    reason_code: str | None
    code_name: str
    objective_test: str  # the code's written test; "" where the code needs no judgement
    second_review: bool
    comment_id: int
    department: str
    site_name: str
    platform: str
    author_name: str
    text: str  # the comment as the retained record kept it
    moderator_note: str
    review: Verdict | None
    reversal: Verdict | None  # the unhide's first entry (who, when, their reason), once recorded
    notices: list[Notice]
    appeals: list[Appeal]

    @property
    def reversed_by(self) -> int | None:
        return self.reversal.entry_id if self.reversal is not None else None

    @property
    def state(self) -> ReviewState:
        if self.review is not None:
            concur = self.review.verdict == ReviewVerdict.CONCUR
            return ReviewState.CONCURRED if concur else ReviewState.QUESTIONED
        if self.second_review and self.action in _PLATFORM_ACTIONS and self.outcome in _DONE:
            return ReviewState.NEEDS_REVIEW
        return ReviewState.NOT_NEEDED


@cache  # built once: building its aliases cost a page more than reading it
def review_state_condition(state: ReviewState) -> ColumnElement[bool]:
    """Log entries in this review state (the actions' first entries): for the log view's
    filter and the needs-review list alike. A second review is of what the public lost: a
    hide or a removal that took effect, under a code the policy marks for it."""
    outcome, review = aliased(LogEntry), aliased(LogEntry)
    # These terms are written as `SECOND_REVIEW_ACTIONS` is, with literals, so that both
    # databases find the candidates in its partial index (migration 0030).
    first = and_(LogEntry.kind == _literal(EntryKind.ACTION), LogEntry.outcome_of.is_(None))
    reviewed = select(review.id).where(
        review.refers_to == LogEntry.id, review.kind == EntryKind.REVIEW.value
    )
    if state is ReviewState.CONCURRED or state is ReviewState.QUESTIONED:
        verdict = ReviewVerdict.CONCUR if state is ReviewState.CONCURRED else ReviewVerdict.QUESTION
        return and_(first, exists(reviewed.where(review.action == verdict.value)))
    # Its one outcome (`uq_action_log_outcome`) and its one review (`uq_action_log_verdict`)
    # read as values, each a probe of that index per action read: asked with EXISTS,
    # PostgreSQL merged the actions with each whole index from the log's start (a department's
    # first page read half the outcomes). As true-or-false values, never NULL, so that `~`
    # keeps its meaning: PostgreSQL estimates such a value as true for half the rows (for an
    # IS NULL it guessed almost none, then read and sorted every candidate for the page).
    done = select(outcome.state.in_(_DONE)).where(outcome.outcome_of == LogEntry.id)
    unreviewed = reviewed.with_only_columns(false())
    needs = and_(
        LogEntry.second_review.is_(literal_column("true")),
        LogEntry.action.in_([_literal(a) for a in _PLATFORM_ACTIONS]),
        _or(done, false()),
    )
    waiting = needs if state is ReviewState.NEEDS_REVIEW else ~needs
    return and_(first, _or(unreviewed, true()), waiting)


def _or(value: Select[Any], otherwise: ColumnElement[bool]) -> ColumnElement[bool]:
    """A subquery's one true-or-false value, or `otherwise` where it finds no row."""
    return func.coalesce(value.scalar_subquery(), otherwise, type_=Boolean)


def _literal(value: str) -> ColumnElement[str]:
    return literal_column(f"'{value}'", String)


# What the review list reads of an action's first entry (`ReviewService._items`).
_ACTION_COLUMNS = ("id", "at", "actor", "action", "reason_code", "second_review", "comment_id",
                   "record_id", "note")  # fmt: skip


def _actions() -> Select[*tuple[Any, ...]]:
    return select(*(LogEntry.__table__.c[name] for name in _ACTION_COLUMNS))


class ReviewService:
    """One person's reviews, notices and appeals; a session per call (thread-safe)."""

    def __init__(
        self, db: Database, policy: Policy, moderation: ModerationService, username: str
    ) -> None:
        self.db = db
        self.policy = policy
        self.moderation = moderation
        self.username = username

    # --- reading -------------------------------------------------------------------------

    def needs_review(self, limit: int = 500, after: int = 0) -> list[ReviewItem]:
        """Actions under second-review codes in the person's departments, oldest first: the
        first `limit` after log entry `after` (the last of the page before)."""
        with self.db.session() as session:
            query = self._needing_review(session, _actions())
            query = query.where(LogEntry.id > after).order_by(LogEntry.id).limit(limit)
            return self._items(session, query)

    def needs_review_count(self) -> int:
        """How many actions need review in the person's departments (slower than a page)."""
        with self.db.session() as session:
            query = self._needing_review(session, select(func.count()).select_from(LogEntry))
            return int(session.scalar(query) or 0)

    def _needing_review(self, session: Session, query: Select[Any]) -> Select[Any]:
        actor = resolve_actor(session, self.username)
        _require_supervisor(actor, "see the actions that need review")
        query = query.where(review_state_condition(ReviewState.NEEDS_REVIEW))
        if actor.supervises is not None:
            query = query.where(LogEntry.department_id.in_(sorted(actor.supervises)))
        return query

    def item(self, entry_id: int) -> ReviewItem:
        """An action with its test, review, notices and appeals (any of its entries' ids)."""
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            entry = _action_entry(session, entry_id)
            _require_reach(actor, entry, "review actions")
            return self._items(session, _actions().where(LogEntry.id == entry.id))[0]

    def appeals(self, *, open_only: bool = False) -> list[Appeal]:
        """Appeals in the person's departments, newest first; `open_only`: undecided."""
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            _require_supervisor(actor, "see appeals")
            query = select(LogEntry).where(
                LogEntry.kind == EntryKind.APPEAL.value, LogEntry.action == AppealStep.APPEAL.value
            )
            if actor.supervises is not None:
                query = query.where(LogEntry.department_id.in_(sorted(actor.supervises)))
            found = _appeals(session, list(session.scalars(query.order_by(LogEntry.id.desc()))))
        return [a for a in found if not (open_only and a.decision is not None)]

    def _items(self, session: Session, query: Select[*tuple[Any, ...]]) -> list[ReviewItem]:
        """The actions `query` (over `_actions()`) finds, as reviewers see them, read
        together: a fixed few queries whatever their number (the actions with their comments,
        sites, records and outcomes, the entries that refer to them, the appeals' decisions
        and the reversals)."""
        page = query.subquery()
        outcome = aliased(LogEntry)
        # The page is found first (a LIMIT keeps it a subquery of its own on both databases),
        # then each of its actions joined by key to what is shown of it: its comment, site,
        # department, retained record and outcome (one at most, `uq_action_log_outcome`).
        # Outer joins keep the page the outer loop on SQLite, which plans without statistics.
        # Its few rows are ordered here (tests/test_plans.py refuses sorts of the log's rows).
        shown = (
            select(
                page, outcome.state.label("outcome"), Comment.author_name, Comment.text,
                Site.name.label("site_name"), Site.platform, Department.code.label("department"),
                RetainedRecord.author_name.label("record_author"),
                RetainedRecord.text.label("record_text"),
            )
            .outerjoin(Comment, Comment.id == page.c.comment_id)
            .outerjoin(Site, Site.id == Comment.site_id)
            .outerjoin(Department, Department.id == Site.department_id)
            .outerjoin(RetainedRecord, RetainedRecord.id == page.c.record_id)
            .outerjoin(outcome, outcome.outcome_of == page.c.id)
        )  # fmt: skip
        rows = sorted(session.execute(shown), key=lambda row: row.id)
        related = _referring(session, [row.id for row in rows])
        appeals = _appeals(
            session, [e for refs in related.values() for e in refs if e.kind == EntryKind.APPEAL]
        )
        verdicts = {a.decision.entry_id for a in appeals if a.decision is not None}
        verdicts |= {e.id for refs in related.values() for e in refs if e.kind == EntryKind.REVIEW}
        reversals = {
            e.refers_to: e
            for e in sorted(session.scalars(
                select(LogEntry).where(
                    LogEntry.kind == EntryKind.ACTION.value, LogEntry.outcome_of.is_(None),
                    LogEntry.refers_to.in_(sorted(verdicts)),
                )
            ), key=lambda e: -e.id)  # the first one stays
        } if verdicts else {}  # fmt: skip
        appeal_of = {a.entry_id: a for a in appeals}
        now = utcnow()
        items = []
        for row in rows:
            refs = related.get(row.id, [])
            review = next((e for e in refs if e.kind == EntryKind.REVIEW), None)
            mine = [appeal_of[e.id] for e in refs if e.kind == EntryKind.APPEAL]
            # The reversal is based on the review or on an appeal's decision.
            bases = [e.id for e in refs if e.kind == EntryKind.REVIEW]
            bases += [a.decision.entry_id for a in mine if a.decision is not None]
            reversal = next((reversals[b] for b in sorted(bases) if b in reversals), None)
            author, text = row.author_name, row.text
            if row.record_author is not None:  # the comment as its retained record kept it
                author, text = row.record_author, row.record_text
            code = self.policy.codes.get(row.reason_code or "")
            items.append(
                ReviewItem(
                    entry_id=row.id,
                    at=row.at,
                    age=age_words(now - row.at),
                    moderator=row.actor,
                    action=row.action,
                    outcome=row.outcome or EntryState.PENDING.value,
                    reason_code=row.reason_code,
                    code_name=code.name if code else "",
                    objective_test=code.objective_test if code else "",
                    second_review=row.second_review,
                    comment_id=row.comment_id or 0,
                    department=row.department,
                    site_name=row.site_name,
                    platform=row.platform,
                    author_name=author,
                    text=text,
                    moderator_note=row.note,
                    review=_verdict(review) if review else None,
                    reversal=_verdict(reversal) if reversal else None,
                    notices=[_notice(e) for e in refs if e.kind == EntryKind.NOTICE],
                    appeals=mine,
                )
            )
        return items

    # --- review --------------------------------------------------------------------------

    def review(self, entry_id: int, verdict: ReviewVerdict, note: str) -> int:
        """Concur with or question an action; returns the review's entry id."""
        required = verdict is ReviewVerdict.QUESTION
        note = checked_text(note, "A note saying why the action is questioned", required=required)
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            entry = _action_entry(session, entry_id)
            _require_verdict_open(
                session, actor, entry, EntryKind.REVIEW, entry.id,
                "a moderator never reviews their own action; another supervisor reviews it.",
            )  # fmt: skip
            if session.scalar(select(LogEntry.id).where(LogEntry.outcome_of == entry.id)) is None:
                raise NotPossible(
                    f"Action {entry.id} is still pending on the platform; review it once its "
                    "outcome is recorded."
                )
            return self._append(
                session, entry, actor, EntryKind.REVIEW, verdict.value, note, refers_to=entry.id
            )

    def reverse(self, entry_id: int, reason: str) -> ActionResult:
        """Unhide a hide that a review questioned or an appeal overturned, record-first."""
        reason = checked_text(reason, "The reason for reversing", required=True)
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            entry = _action_entry(session, entry_id)
            _require_reach(actor, entry, "reverse actions")
            basis = self._reversal_basis(session, entry)
            comment_id = entry.comment_id
            assert comment_id is not None
        return self.moderation.reverse(comment_id, basis, reason)

    def _reversal_basis(self, session: Session, entry: LogEntry) -> int:
        if entry.action not in _PLATFORM_ACTIONS:
            raise NotPossible(
                f"Action {entry.id} is a {entry.action}: only a hide or a removal is reversed "
                "on the platform."
            )
        review = _existing(session, EntryKind.REVIEW, entry.id)
        if review is not None and review.action == ReviewVerdict.QUESTION:
            basis = review.id
        else:
            overturned = session.scalar(
                select(LogEntry.id).where(
                    LogEntry.kind == EntryKind.APPEAL.value,
                    LogEntry.action == AppealStep.OVERTURN.value,
                    LogEntry.refers_to.in_(
                        select(LogEntry.id).where(
                            LogEntry.kind == EntryKind.APPEAL.value, LogEntry.refers_to == entry.id
                        )
                    ),
                )
            )
            if overturned is None:
                raise NotPossible(
                    f"Action {entry.id} has not been questioned in review nor overturned on "
                    "appeal: question it first, with a note saying why."
                )
            basis = overturned
        if entry.action == Action.REMOVE:
            site = session.get(Comment, entry.comment_id)
            assert site is not None
            caps = capabilities_of(site.site.platform)
            raise NotPossible(
                f"{Platform(site.site.platform).label} cannot restore a removed comment. "
                f"{caps.remove_means} The review stands in the log; the retained record keeps "
                "the comment's text."
            )
        return basis

    # --- notices -------------------------------------------------------------------------

    def draft_notice(self, entry_id: int) -> str:
        """The notice to the commenter about an action, in plain words, for a person to send."""
        with self.db.session() as session:
            _, entry = self._notice_target(session, entry_id, "draft notices")
            comment = session.get(Comment, entry.comment_id)
            assert comment is not None
            assert entry.reason_code is not None
            return draft_notice(
                self.policy, Action(entry.action), entry.reason_code,
                Platform(comment.site.platform), comment.site.name,
            )  # fmt: skip

    def record_notice(
        self, entry_id: int, channel: Channel, text: str, sent_at: datetime | None = None
    ) -> int:
        """Record that the commenter was told, when and how, with the words sent."""
        text = checked_text(text, "The notice's text", required=True)
        sent = _moment(sent_at, "sent")
        with self.db.transaction() as session:
            actor, entry = self._notice_target(session, entry_id, "record notices")
            after = {"channel": channel.value, "sent_at": sent.isoformat()}
            return self._append(
                session, entry, actor, EntryKind.NOTICE, "notice", text,
                refers_to=entry.id, after=after,
            )  # fmt: skip

    def _notice_target(self, session: Session, entry_id: int, doing: str) -> tuple[Actor, LogEntry]:
        """The person and the action a notice or an appeal is about, once both may be."""
        actor = resolve_actor(session, self.username)
        entry = _action_entry(session, entry_id)
        if not actor.works_for(entry.department_id or 0):
            raise PermissionDenied(
                f"{actor.describe()} does not work for the department of log entry {entry.id}, "
                f"so may not {doing} for it."
            )
        if not self.policy.notices:
            raise NotPossible(
                f"Policy {self.policy.version} does not send notices to commenters nor take "
                "appeals through the console (the policy file's `notices` option)."
            )
        if entry.action not in (*_PLATFORM_ACTIONS, Action.FLAG.value) or not entry.reason_code:
            raise NotPossible(
                f"Action {entry.id} ({entry.action}) changed nothing a commenter needs to be "
                "told of."
            )
        return actor, entry

    # --- appeals -------------------------------------------------------------------------

    def record_appeal(
        self,
        entry_id: int,
        text: str,
        channel: Channel,
        received_at: datetime | None = None,
        assign_to: str | None = None,
    ) -> Appeal:
        """Record an appeal of an action and route it to a supervisor other than the
        moderator who acted (the one named, if eligible; else the department's first)."""
        text = checked_text(text, "The appeal's words", required=True)
        received = _moment(received_at, "received")
        with self.db.transaction() as session:
            actor, entry = self._notice_target(session, entry_id, "record appeals")
            eligible = _eligible_deciders(session, entry)
            if assign_to is not None and assign_to not in eligible:
                raise InvalidInput(
                    f"{assign_to} cannot decide this appeal: it goes to an active supervisor "
                    f"of the department other than {entry.actor}, who took the action. "
                    f"Eligible: {', '.join(eligible) or 'nobody'}."
                )
            if not eligible:
                raise NotPossible(
                    f"No active supervisor other than {entry.actor} (who took the action) can "
                    "decide this appeal; ask an administrator to name one. Nothing was recorded."
                )
            to = assign_to or eligible[0]
            after = {
                "assigned_to": to,
                "channel": channel.value,
                "received_at": received.isoformat(),
            }
            appeal_id = self._append(
                session, entry, actor, EntryKind.APPEAL, AppealStep.APPEAL.value, text,
                refers_to=entry.id, after=after,
            )  # fmt: skip
            appeal = session.get(LogEntry, appeal_id)
            assert appeal is not None
            return _appeals(session, [appeal])[0]

    def decide_appeal(
        self, appeal_id: int, step: AppealStep, note: str
    ) -> tuple[int, ActionResult | None]:
        """Uphold or overturn an appeal; an overturned hide is then unhidden record-first.
        Returns the decision's entry id and the reversal's result, if one was made."""
        if step is AppealStep.APPEAL:
            raise InvalidInput("A decision upholds or overturns the appeal.")
        note = checked_text(note, "The decision's reasons", required=True)
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            appeal = session.get(LogEntry, appeal_id)
            if appeal is None or (appeal.kind, appeal.action) != (
                EntryKind.APPEAL.value,
                AppealStep.APPEAL.value,
            ):
                raise NotFound(f"There is no appeal {appeal_id}.")
            assert appeal.refers_to is not None
            entry = _action_entry(session, appeal.refers_to)
            _require_verdict_open(
                session, actor, entry, EntryKind.APPEAL, appeal.id,
                "another supervisor decides the appeal.",
            )  # fmt: skip
            decision = self._append(
                session, entry, actor, EntryKind.APPEAL, step.value, note, refers_to=appeal.id
            )
            reverse = (
                step is AppealStep.OVERTURN
                and entry.action == Action.HIDE
                and entry.comment_id is not None
            )
            comment_id = entry.comment_id
        if not reverse or comment_id is None:
            return decision, None
        return decision, self.moderation.reverse(comment_id, decision, note)

    # --- writing -------------------------------------------------------------------------

    def _append(
        self,
        session: Session,
        entry: LogEntry,
        actor: Actor,
        kind: EntryKind,
        action: str,
        note: str,
        *,
        refers_to: int,
        after: dict[str, Any] | None = None,
    ) -> int:
        try:
            written = append_comment_entry(
                session, actor.username, kind, action, entry, note, self.policy.version,
                subject=f"entry:{refers_to}", reason_code=entry.reason_code, after=after,
                refers_to=refers_to,
            )  # fmt: skip
        except IntegrityError:  # another supervisor's verdict won the race
            raise ConcurrentAction(
                f"Someone else gave a verdict on log entry {refers_to} at the same moment; "
                "nothing was recorded. Its current state is shown now."
            ) from None
        return written.id


def _action_entry(session: Session, entry_id: int) -> LogEntry:
    """The first entry of an action, from any of its entries' ids."""
    entry = session.get(LogEntry, entry_id)
    if entry is not None and entry.kind == EntryKind.ACTION and entry.outcome_of is not None:
        entry = session.get(LogEntry, entry.outcome_of)
    if entry is None or entry.kind != EntryKind.ACTION or entry.comment_id is None:
        raise NotFound(f"Log entry {entry_id} is not an action on a comment.")
    return entry


def _require_supervisor(actor: Actor, doing: str) -> None:
    if actor.supervises is None or actor.supervises:
        return
    raise PermissionDenied(
        f"Only a supervisor may {doing}, and {actor.describe()} supervises no department. An "
        f"administrator can give the role: hsm-console admin role grant {actor.username} "
        "supervisor --department CODE"
    )


def _require_reach(actor: Actor, entry: LogEntry, doing: str) -> None:
    _require_supervisor(actor, doing)
    if actor.supervises is not None and entry.department_id not in actor.supervises:
        raise PermissionDenied(
            f"{actor.describe()} does not supervise the department of log entry {entry.id}: "
            "its supervisors and the oversight group review it. Nothing was recorded."
        )


def _eligible_deciders(session: Session, entry: LogEntry) -> list[str]:
    """Active supervisors of the entry's department, then the oversight group; never the
    moderator who acted."""
    rows = session.execute(
        select(Person.username, RoleGrant.department_id)
        .join(RoleGrant, RoleGrant.person_id == Person.id)
        .where(
            Person.active.is_(True),
            RoleGrant.role == Role.SUPERVISOR.value,
            or_(RoleGrant.department_id == entry.department_id, RoleGrant.department_id.is_(None)),
            Person.username != entry.actor,
        )
        .order_by(RoleGrant.department_id.is_(None), Person.username)
    )
    seen: list[str] = []
    for username, _department in rows:
        if username not in seen:
            seen.append(username)
    return seen


def _require_verdict_open(
    session: Session, actor: Actor, entry: LogEntry, kind: EntryKind, refers_to: int, own: str
) -> None:
    """A verdict (review or decision) on `refers_to`, about the action `entry`: by a
    supervisor of its department other than the moderator who acted, and the first."""
    _require_reach(actor, entry, "give verdicts on actions")
    if entry.actor == actor.username:
        raise PermissionDenied(
            f"{actor.describe()} took this action (log entry {entry.id}): {own} Nothing was "
            "recorded."
        )
    earlier = _existing(session, kind, refers_to)
    if earlier is not None:
        done = "reviewed" if kind is EntryKind.REVIEW else "decided"
        raise ConcurrentAction(_already(session, earlier, done))


def _existing(session: Session, kind: EntryKind, refers_to: int) -> LogEntry | None:
    """The verdict already given on an action (a review) or an appeal (a decision)."""
    query = select(LogEntry).where(LogEntry.kind == kind.value, LogEntry.refers_to == refers_to)
    if kind is EntryKind.APPEAL:
        query = query.where(LogEntry.action != AppealStep.APPEAL.value)
    return session.scalar(query)


def _already(session: Session, earlier: LogEntry, done: str) -> str:
    return (
        f"{person_name(session, earlier.actor)} already {done} it, at {local_time(earlier.at)} "
        f"({earlier.action}, log entry {earlier.id}); nothing was recorded."
    )


def _moment(when: datetime | None, what: str) -> datetime:
    if when is None:
        return utcnow()
    if when.tzinfo is None:
        raise InvalidInput(f"When the notice or appeal was {what}: give a time with its zone.")
    if when > utcnow():
        raise InvalidInput(f"When it was {what} cannot be in the future.")
    return when


def _verdict(entry: LogEntry) -> Verdict:
    return Verdict(entry.id, entry.at, entry.actor, entry.action, entry.note)


def _notice(entry: LogEntry) -> Notice:
    after = json.loads(entry.after or "{}")
    return Notice(
        entry.id, datetime.fromisoformat(after["sent_at"]), after["channel"], entry.note,
        entry.actor,
    )  # fmt: skip


def _referring(session: Session, ids: Iterable[int]) -> dict[int, list[LogEntry]]:
    """The entries that refer to each of these, in log order."""
    found: dict[int, list[LogEntry]] = defaultdict(list)
    wanted = sorted(set(ids))
    if wanted:
        # On PostgreSQL as one array: a page's 500 parameters took longer to write out and
        # parse than the statement took to run.
        if session.get_bind().dialect.name == "postgresql":
            refers = LogEntry.refers_to == any_(bindparam("ids", wanted, ARRAY(Integer)))
        else:
            refers = LogEntry.refers_to.in_(wanted)
        query = select(LogEntry).where(refers)
        for entry in sorted(session.scalars(query), key=lambda e: e.id):
            assert entry.refers_to is not None
            found[entry.refers_to].append(entry)
    return found


def _appeals(session: Session, entries: list[LogEntry]) -> list[Appeal]:
    """These appeal entries with their decisions and departments, read together."""
    decisions = _referring(session, [e.id for e in entries])
    departments: dict[int, str] = {}
    if entries:
        rows = session.execute(
            select(Comment.id, Department.code)
            .join(Site, Site.id == Comment.site_id)
            .join(Department, Department.id == Site.department_id)
            .where(Comment.id.in_(sorted({e.comment_id or 0 for e in entries})))
        )
        departments = {comment_id: code for comment_id, code in rows}
    found = []
    for entry in entries:
        after = json.loads(entry.after or "{}")
        decision = next(
            (e for e in decisions.get(entry.id, []) if e.kind == EntryKind.APPEAL
             and e.action != AppealStep.APPEAL.value),
            None,
        )  # fmt: skip
        assert entry.refers_to is not None
        assert entry.comment_id is not None
        found.append(
            Appeal(
                entry.id, entry.refers_to, entry.comment_id,
                datetime.fromisoformat(after["received_at"]), after["channel"], entry.note,
                entry.actor, after["assigned_to"], departments[entry.comment_id],
                _verdict(decision) if decision else None,
            )
        )  # fmt: skip
    return found
