"""The blocked-accounts register (docs/design.md, "Blocked accounts"): bans of comment authors,
proposed, decided by a supervisor, carried out record-first, and ended on their date.

Each step is an entry of the one hash-chained log (`EntryKind.BAN`, subject `ban:<id>`, the
row as it stood before and after as canonical JSON), written in the transaction that changes
the `bans` row. A step that calls the platform follows the moderation service's rule: its
pending entry is committed first, then the platform is called (`moderation.call_platform`),
then its outcome is appended; the row changes state only on `applied`. Where the platform's
API cannot ban or lift (`rules/capabilities.py`), a supervisor carries the step out by hand
in the platform's own screens and records it here.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_console.connectors.base import Connector
from hsm_console.db.chain import append_register_entry, snapshot
from hsm_console.db.engine import Database
from hsm_console.db.models import (
    AgentJob,
    Ban,
    Comment,
    Department,
    LogEntry,
    RetainedRecord,
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
    UserError,
)
from hsm_console.rules.bans import BanState, BanStep, checked_proposal, city_today
from hsm_console.rules.capabilities import capabilities_of
from hsm_console.rules.domain import STATE_AFTER, Action, EntryKind, EntryState, Platform
from hsm_console.rules.policy import Policy
from hsm_console.rules.review import checked_text
from hsm_console.services import agent_jobs, limits
from hsm_console.services.access import Actor, resolve_actor
from hsm_console.services.connector_factory import ConnectorFactory
from hsm_console.services.log_export import atomic_file, safe_cell
from hsm_console.services.moderation import (
    INTERRUPTED,
    Outcome,
    account_call,
    call_platform,
    interrupted_after,
)

EXPORT_COLUMNS = (
    "ban_id", "state", "department", "site_name", "platform", "author_id", "author_name",
    "codes", "comments", "basis", "proposed_by", "proposed_at", "decided_by", "decided_at",
    "decision_reason", "carried_out_at", "by_hand", "ends_on", "ended_at", "ended_by",
    "end_reason", "last_detail",
)  # fmt: skip


@dataclass(frozen=True)
class BanRow:
    """A ban as the register shows it."""

    id: int
    state: BanState
    department: str
    site_name: str
    platform: Platform
    author_id: str
    author_name: str  # untrusted: shown through plain text
    comment_id: int
    comments: tuple[int, ...]
    codes: tuple[str, ...]
    basis: str
    ends_on: date
    ends_at: datetime
    proposed_by: str
    proposed_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str
    carried_out_at: datetime | None
    by_hand: bool
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str
    pending: bool  # a platform call recorded and not yet completed
    last_detail: str

    @property
    def due(self) -> bool:
        """Active past its end date: to be lifted (by the console, or by hand)."""
        return self.state is BanState.ACTIVE and self.ends_at <= utcnow()

    def describe(self) -> str:
        """Everything the register holds of the ban, as plain text (untrusted words as they
        are: the window shows them as plain text, the terminal through `safe_text`)."""
        lines = [
            f"Ban {self.id}: {self.state.label}. {self.author_name} (id {self.author_id}) on "
            f"{self.site_name} ({self.platform.label}), {self.department}.",
            f"Codes: {' '.join(self.codes)}; comments: {', '.join(map(str, self.comments))}; "
            f"ends on {self.ends_on.isoformat()}.",
            f"Basis: {self.basis}",
            f"Proposed by {self.proposed_by}, {local_time(self.proposed_at)}.",
        ]
        if self.decided_by and self.decided_at:
            lines.append(
                f"Decided by {self.decided_by}, {local_time(self.decided_at)}: "
                f"{self.decision_reason}"
            )
        if self.carried_out_at:
            how = "by hand" if self.by_hand else f"on {self.platform.label}"
            lines.append(f"Carried out {how}, {local_time(self.carried_out_at)}.")
        if self.ended_at:
            lines.append(
                f"Ended by {self.ended_by}, {local_time(self.ended_at)}: {self.end_reason}"
            )
        if self.last_detail:
            lines.append(f"Last: {self.last_detail}")
        return "\n".join(lines)

    def export_cells(self) -> list[str]:
        values: dict[str, Any] = {
            **{name: getattr(self, name, None) for name in EXPORT_COLUMNS},
            "ban_id": self.id,
            "state": self.state.value,
            "platform": self.platform.value,
            "codes": " ".join(self.codes),
            "comments": " ".join(str(c) for c in self.comments),
            "by_hand": "yes" if self.by_hand else "no",
            "ends_on": self.ends_on.isoformat(),
        }
        return [safe_cell(values[name]) for name in EXPORT_COLUMNS]


@dataclass(frozen=True)
class BanResult(agent_jobs.Settled):
    """What a step did, in words for the person who took it."""

    ban: BanRow
    entry_id: int  # the step's last entry: the outcome where the platform was called
    message: str
    state: EntryState = EntryState.APPLIED  # that entry's: failed or unconfirmed on a platform


@dataclass(frozen=True)
class LiftDue:
    lifted: list[BanResult]  # ended on the platform (or failed, with its words)
    by_hand: list[BanRow]  # due, but their platform cannot lift them: a person must
    not_now: list[str]  # due, but not lifted this time (the platform asked to wait...), why


@dataclass(frozen=True)
class _Call:
    """A platform step's pending entry, carried to the call and its outcome."""

    ban_id: int
    step: BanStep
    entry_id: int
    site: Site
    author_id: str
    comment_external_id: str
    ends_at: datetime
    reason: str  # what the platform is told (Discourse shows it to the member)
    words: str  # the person's own reason, kept on the row once it is done
    by: str  # the person who took the step (the pending entry's actor)


class BanService:
    """One person's work on the register; a session per call (thread-safe)."""

    def __init__(
        self,
        db: Database,
        policy: Policy,
        connectors: ConnectorFactory,
        username: str,
        agent_wait: float | None = None,
    ) -> None:
        self.db = db
        self.policy = policy
        self.connectors = connectors
        self.username = username
        # The City-wide mode: the agent calls the platform (services/agent_jobs.py).
        self.agent_wait = agent_wait

    # --- reading -------------------------------------------------------------------------

    def listing(self, *, active_only: bool = False) -> list[BanRow]:
        """The register of the departments the person supervises or keeps records for,
        newest first; refused to anyone else."""
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            query = select(Ban).order_by(Ban.id.desc())
            reach = _readable(actor)
            if reach is not None:
                query = query.where(Ban.department_id.in_(sorted(reach)))
            if active_only:
                query = query.where(Ban.state == BanState.ACTIVE.value)
            return [_row(session, ban) for ban in session.scalars(query)]

    def get(self, ban_id: int) -> BanRow:
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            ban = _ban(session, ban_id)
            reach = _readable(actor)
            if reach is not None and ban.department_id not in reach:
                raise PermissionDenied(
                    f"{actor.describe()} neither supervises nor keeps the records of the "
                    f"department of ban {ban_id}."
                )
            return _row(session, ban)

    def export_csv(
        self, path: Path, progress: Callable[[int, int], bool] | None = None
    ) -> int | None:
        """The register, active and past, as CSV written whole or not at all; returns the
        number of bans, or None when `progress(done, total)` said stop (no file is left)."""
        rows = self.listing()
        try:
            with atomic_file(path) as stream:
                writer = csv.writer(stream)
                writer.writerow(EXPORT_COLUMNS)
                for done, row in enumerate(rows):
                    if progress is not None and not progress(done, len(rows)):
                        raise _Cancelled
                    writer.writerow(row.export_cells())
        except _Cancelled:
            return None
        return len(rows)

    # --- proposing and deciding ----------------------------------------------------------

    def propose(
        self,
        comment_id: int,
        basis: str,
        codes: Sequence[str],
        ends_on: date | None,
        more_comments: Sequence[int] = (),
    ) -> BanRow:
        """A moderator or supervisor of the comment's department proposes to ban its author."""
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            comment = session.get(Comment, comment_id)
            if comment is None:
                raise NotFound(f"There is no comment {comment_id}.")
            site = comment.site
            if not actor.works_for(site.department_id):
                raise PermissionDenied(
                    f"{actor.describe()} neither moderates nor supervises the department that "
                    f"owns {site.name!r}; nothing was recorded."
                )
            proposal = checked_proposal(
                self.policy, basis, codes, (comment_id, *more_comments), ends_on,
                city_today(utcnow()),
            )  # fmt: skip
            cited = session.scalars(
                select(Comment).where(Comment.id.in_(proposal.comment_ids))
            ).all()
            others = [
                c.id for c in cited if c.site_id != site.id or c.author_id != comment.author_id
            ]
            missing = set(proposal.comment_ids) - {c.id for c in cited}
            if missing or others:
                raise InvalidInput(
                    "A ban cites only the author's own comments on the same site; "
                    f"{sorted(missing | set(others))} are not theirs there."
                )
            now = utcnow()
            ban = Ban(
                department_id=site.department_id,
                site_id=site.id,
                platform=site.platform,
                author_id=comment.author_id,
                author_name=comment.author_name,
                comment_id=comment.id,
                cited_comments=list(proposal.comment_ids),
                codes=list(proposal.codes),
                basis=proposal.basis,
                ends_on=proposal.ends_on,
                ends_at=proposal.ends_at,
                state=BanState.PROPOSED.value,
                proposed_by=actor.username,
                proposed_at=now,
                decision_reason="",
                by_hand=False,
                end_reason="",
                last_detail="",
            )
            session.add(ban)
            session.flush()
            # The comment as it stands, retained and cited by the proposal's entry, so the
            # basis can be checked against what the author wrote even after they edit it.
            record = snapshot(session, comment, actor.username)
            self._entry(session, ban, BanStep.PROPOSE, None, proposal.basis, record=record)
            return _row(session, ban)

    def approve(self, ban_id: int, reason: str) -> BanResult:
        """A supervisor of the department, not the proposer, approves; where the platform's
        API bans, the ban is then carried out record-first."""
        approved = self._decide(ban_id, BanStep.APPROVE, reason)
        if not capabilities_of(approved.ban.platform).can_ban:
            return approved
        return self.carry_out(ban_id)

    def refuse(self, ban_id: int, reason: str) -> BanResult:
        return self._decide(ban_id, BanStep.REFUSE, reason)

    def _decide(self, ban_id: int, step: BanStep, reason: str) -> BanResult:
        words = checked_text(reason, "The supervisor's reason", required=True)
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            ban = _ban(session, ban_id, lock=True)
            _require_supervisor(actor, ban, "approve or refuse a ban")
            if ban.proposed_by == actor.username:
                raise PermissionDenied(
                    f"{actor.describe()} proposed ban {ban_id}: another supervisor decides it. "
                    "Nothing was recorded."
                )
            if ban.state != BanState.PROPOSED.value:
                raise ConcurrentAction(
                    f"Ban {ban_id} is already {BanState(ban.state).label}; nothing was recorded."
                )
            before = _row_json(ban)
            approving = step is BanStep.APPROVE
            ban.state = (BanState.APPROVED if approving else BanState.REFUSED).value
            ban.decided_by, ban.decided_at, ban.decision_reason = actor.username, utcnow(), words
            entry = self._entry(session, ban, step, before, words)
            caps = capabilities_of(ban.platform)
            label = Platform(ban.platform).label
            if not approving:
                message = f"Ban {ban_id} refused; recorded as log entry {entry.id}."
            elif caps.can_ban:
                message = f"Ban {ban_id} approved; recorded as log entry {entry.id}."
            else:
                message = (
                    f"Ban {ban_id} approved (log entry {entry.id}). {label}'s API cannot ban: "
                    f"carry it out by hand, then record it. {caps.ban_means}"
                )
            return BanResult(_row(session, ban), entry.id, message)

    # --- carrying out and ending ---------------------------------------------------------

    def carry_out(self, ban_id: int, note: str = "") -> BanResult:
        """An approved ban carried out: record-first through the platform's API, or (where
        the API cannot ban) recorded as done by hand by the supervisor, with their note."""
        with self.db.session() as session:
            platform = _ban(session, ban_id).platform
        if capabilities_of(platform).can_ban:
            return self._on_platform(ban_id, BanStep.CARRY_OUT, "")
        words = checked_text(note, "What was done by hand", required=True)
        return self._by_hand(ban_id, BanStep.CARRY_OUT, words)

    def lift(self, ban_id: int, reason: str) -> BanResult:
        """A supervisor ends an active ban, with a reason: before its date a lift, after it
        its expiry. Where the API cannot lift, the supervisor has done it by hand and says so."""
        words = checked_text(reason, "The reason for lifting the ban", required=True)
        with self.db.session() as session:
            ban = _ban(session, ban_id)
            step = BanStep.EXPIRE if ban.ends_at <= utcnow() else BanStep.LIFT
            platform = ban.platform
        if capabilities_of(platform).can_lift_ban:
            return self._on_platform(ban_id, step, words)
        return self._by_hand(ban_id, step, words)

    def lift_due(self, site_ids: Sequence[int] | None = None) -> LiftDue:
        """Every active ban past its end date in the person's departments: lifted through the
        platform record-first, or listed for a person to lift by hand. Steps a crash left
        pending are completed first (`reconcile`)."""
        self.reconcile(site_ids)
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            query = (
                select(Ban)
                .where(Ban.state == BanState.ACTIVE.value, Ban.ends_at <= utcnow())
                .where(Ban.pending_entry_id.is_(None))
                .order_by(Ban.id)
            )
            if actor.supervises is not None:
                query = query.where(
                    Ban.department_id.in_(sorted(actor.moderates | actor.supervises))
                )
            if site_ids is not None:
                query = query.where(Ban.site_id.in_(site_ids))
            due = list(session.scalars(query))
            by_hand = [
                _row(session, b) for b in due if not capabilities_of(b.platform).can_lift_ban
            ]
            automatic = [b.id for b in due if capabilities_of(b.platform).can_lift_ban]
        lifted, not_now = [], []
        for ban_id in automatic:
            try:
                lifted.append(self._on_platform(ban_id, BanStep.EXPIRE, "Its end date has come."))
            except UserError as exc:  # a wait or quota, another person first: the next run
                not_now.append(f"Ban {ban_id}: {exc.message}")
        return LiftDue(lifted, by_hand, not_now)

    def reconcile(self, site_ids: Sequence[int] | None = None) -> list[BanResult]:
        """Complete each platform step a crash left pending (its entry committed, no outcome
        after longer than any call lasts, `interrupted_after`): whether the platform did it
        cannot be known from here, so the outcome is `unconfirmed` and the ban stays where it
        stood, for a supervisor to check on the platform and carry it out or lift it again."""
        now = utcnow()
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            query = (
                select(Ban, LogEntry)
                .join(LogEntry, LogEntry.id == Ban.pending_entry_id)
                .where(LogEntry.at <= now - INTERRUPTED)
                # The agent's jobs are the agent's to complete (services/agent.py).
                .where(~select(AgentJob.id).where(AgentJob.entry_id == LogEntry.id).exists())
                .order_by(Ban.id)
            )
            if site_ids is not None:
                query = query.where(Ban.site_id.in_(site_ids))
            calls = []
            for ban, entry in session.execute(query):
                if not (actor.works_for(ban.department_id) or _supervises(actor, ban)):
                    continue
                site = session.get(Site, ban.site_id)
                assert site is not None  # a foreign key
                if entry.at > now - interrupted_after(site):
                    continue  # a slow site's call may still be running
                session.expunge(site)
                calls.append(
                    _Call(ban.id, BanStep(entry.action), entry.id, site, ban.author_id, "",
                          ban.ends_at, "", entry.note, entry.actor)
                )  # fmt: skip
        return [self._complete(call, _interrupted(call)) for call in calls]

    def _on_platform(self, ban_id: int, step: BanStep, reason: str) -> BanResult:
        call = self._record(ban_id, step, reason)
        if self.agent_wait is not None:
            return self._handed_over(call, self.agent_wait)
        outcome = call_platform(self.connectors, call.site, lambda c: self._call(c, call), _DONE)
        return self._complete(call, outcome)

    def _handed_over(self, call: _Call, wait: float) -> BanResult:
        """The agent's outcome if it comes within `wait`; else "sent to the agent"."""
        done = agent_jobs.wait_for_outcome(self.db, call.entry_id, wait)
        with self.db.session() as session:
            row = _row(session, _ban(session, call.ban_id))
        if done is None:
            label = Platform(call.site.platform).label
            return BanResult(
                row, call.entry_id,
                f"Ban {call.ban_id}: recorded as log entry {call.entry_id} and "
                f"{agent_jobs.SENT}, which carries it out on {label}.", EntryState.PENDING,
            )  # fmt: skip
        return BanResult(row, done.entry_id, _said(row, call.step, done), done.state)

    def carry_out_entry(
        self, entry_id: int, *, interrupted: bool, then: Callable[[Session], object]
    ) -> BanResult:
        """The agent's half: the platform step of a pending ban entry a workstation recorded,
        `then` in the outcome's transaction. An interrupted attempt is not made again: no
        platform tells whether a ban took, so it is unconfirmed, as `reconcile` says."""
        with self.db.session() as session:
            entry = session.get(LogEntry, entry_id)
            assert entry is not None  # the job's foreign key
            ban = _ban(session, int(str(entry.subject).removeprefix("ban:")))
            call = _call_of(session, ban, entry)
        if interrupted:
            outcome = _interrupted(call)
        else:
            outcome = call_platform(
                self.connectors, call.site, lambda c: self._call(c, call), _DONE
            )
        return self._complete(call, outcome, then)

    def _record(self, ban_id: int, step: BanStep, reason: str) -> _Call:
        """The checks, then the pending entry, committed before the platform is called."""
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            ban = _ban(session, ban_id, lock=True)
            self._check_step(session, actor, ban, step)
            site = session.get(Site, ban.site_id)
            comment = session.get(Comment, ban.comment_id)
            assert site is not None  # foreign keys
            assert comment is not None
            limits.require_no_wait(site, limits.waiting_until(session, site.id))
            caps = capabilities_of(site.platform)
            limits.require_quota(session, site, caps, caps.action_cost)
            before = _row_json(ban)
            entry = self._entry(session, ban, step, before, reason, state=EntryState.PENDING)
            ban.pending_entry_id = entry.id
            if self.agent_wait is not None:
                agent_jobs.enqueue(session, entry.id, agent_jobs.JobKind.BAN)
            return _call_of(session, ban, entry)

    @staticmethod
    def _call(connector: Connector, call: _Call) -> None:
        if call.step is BanStep.CARRY_OUT:
            connector.ban_author(
                call.author_id, call.comment_external_id, call.ends_at, call.reason
            )
        else:
            connector.lift_ban(call.author_id)

    def _complete(
        self, call: _Call, outcome: Outcome, then: Callable[[Session], object] | None = None
    ) -> BanResult:
        """The outcome entry; the row changes state only when the platform did it. `then`
        runs in the same transaction (the agent's job leaves with it)."""
        with self.db.transaction() as session:
            ban = _ban(session, call.ban_id, lock=True)  # held to the commit
            earlier = agent_jobs.outcome_of(session, call.entry_id)
            if earlier is not None:  # completed first elsewhere: the first written stands
                if then is not None:
                    then(session)
                row = _row(session, ban)
                words = _said(row, call.step, earlier)
                return BanResult(row, earlier.entry_id, words, earlier.state)
            before = _row_json(ban)
            ban.pending_entry_id = None
            ban.last_detail = outcome.detail
            applied = outcome.state is EntryState.APPLIED
            if applied:
                self._apply(session, ban, call.step, call.by, call.words)
            entry = self._entry(
                session, ban, call.step, before, "", state=outcome.state,
                outcome_of=call.entry_id, detail=outcome.detail,
            )  # fmt: skip
            caps = capabilities_of(call.site.platform)
            account_call(session, call.site, outcome, caps.action_cost)
            if applied and call.step is BanStep.CARRY_OUT and caps.ban_removes_comment:
                session.query(Comment).filter(Comment.id == ban.comment_id).update(
                    {Comment.platform_state: STATE_AFTER[Action.REMOVE].value},
                    synchronize_session=False,
                )
            if then is not None:
                then(session)
            row = _row(session, ban)
            said = agent_jobs.Finished(entry.id, outcome.state, outcome.detail)
            return BanResult(row, entry.id, _said(row, call.step, said), outcome.state)

    def _by_hand(self, ban_id: int, step: BanStep, words: str) -> BanResult:
        """A step the platform's API cannot take, done by a supervisor in the platform's own
        screens: recorded as applied by hand, in one transaction with the row."""
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            ban = _ban(session, ban_id, lock=True)
            self._check_step(session, actor, ban, step)
            before = _row_json(ban)
            label = Platform(ban.platform).label
            detail = f"Carried out by hand on {label}, as {actor.describe()} records."
            self._apply(session, ban, step, actor.username, words)
            ban.by_hand = ban.by_hand or step is BanStep.CARRY_OUT
            ban.last_detail = detail
            entry = self._entry(session, ban, step, before, words, detail=detail)
            message = (
                f"Recorded: ban {ban.id} {_DONE_WORDS[step]} by hand on {label} "
                f"(log entry {entry.id})."
            )
            return BanResult(_row(session, ban), entry.id, message)

    @staticmethod
    def _apply(session: Session, ban: Ban, step: BanStep, actor: str, words: str) -> None:
        now = utcnow()
        if step is BanStep.CARRY_OUT:
            ban.state, ban.carried_out_at = BanState.ACTIVE.value, now
            return
        ban.state = (BanState.LIFTED if step is BanStep.LIFT else BanState.EXPIRED).value
        ban.ended_at, ban.ended_by = now, actor
        if words:
            ban.end_reason = words

    def _check_step(self, session: Session, actor: Actor, ban: Ban, step: BanStep) -> None:
        """Who may take the step, and whether the ban stands where the step can start."""
        if step is BanStep.EXPIRE and ban.ends_at <= utcnow():
            # The date ends it: anyone who works for the department runs the lifting.
            if not (actor.works_for(ban.department_id) or _supervises(actor, ban)):
                raise PermissionDenied(
                    f"{actor.describe()} does not work for the department of ban {ban.id}."
                )
        else:
            _require_supervisor(actor, ban, "carry out or lift a ban")
        if ban.pending_entry_id is not None:
            raise ConcurrentAction(
                f"Ban {ban.id} has a platform call still in progress (log entry "
                f"{ban.pending_entry_id}); nothing was sent."
            )
        wanted = BanState.APPROVED if step is BanStep.CARRY_OUT else BanState.ACTIVE
        if ban.state != wanted.value:
            raise NotPossible(
                f"Ban {ban.id}: {BanState(ban.state).label}. Only a ban that is "
                f"{wanted.label} can be {_DONE_WORDS[step]}; nothing was recorded."
            )

    def _entry(
        self,
        session: Session,
        ban: Ban,
        step: BanStep,
        before: dict[str, Any] | None,
        note: str,
        *,
        state: EntryState = EntryState.APPLIED,
        outcome_of: int | None = None,
        detail: str = "",
        record: RetainedRecord | None = None,
    ) -> LogEntry:
        session.flush()
        return append_register_entry(
            session, self.username, EntryKind.BAN, step.value, f"ban:{ban.id}", before,
            _row_json(ban), state=state.value, comment_id=ban.comment_id, site_id=ban.site_id,
            department_id=ban.department_id, record_id=record.id if record else None,
            record_sha256=record.sha256 if record else None, note=note,
            policy_version=self.policy.version, outcome_of=outcome_of, detail=detail,
        )  # fmt: skip


class _Cancelled(Exception):
    """The person stopped the export; `atomic_file` leaves no file."""


_DONE = Outcome(EntryState.APPLIED, "")
_DONE_WORDS = {
    BanStep.CARRY_OUT: "carried out",
    BanStep.LIFT: "lifted",
    BanStep.EXPIRE: "ended on its date",
}


def _interrupted(call: _Call) -> Outcome:
    """Whether an interrupted step took cannot be known: no platform's API tells."""
    label = Platform(call.site.platform).label
    return Outcome(
        EntryState.UNCONFIRMED,
        f"Interrupted before {label} answered: check the account there, then carry out or "
        "lift the ban again.",
        called=False,
    )


def _said(row: BanRow, step: BanStep, done: agent_jobs.Finished) -> str:
    """A platform step's outcome in words."""
    label = row.platform.label
    if done.state is EntryState.APPLIED:
        done_words = _DONE_WORDS[step]
        return f"Ban {row.id} {done_words} on {label}; recorded as log entry {done.entry_id}."
    if done.state is EntryState.UNCONFIRMED:
        return f"Ban {row.id}: {done.detail} (log entry {done.entry_id})."
    return (
        f"{label} did not do it: {done.detail} Ban {row.id} is still {row.state.label} "
        f"(log entry {done.entry_id})."
    )


def _call_of(session: Session, ban: Ban, entry: LogEntry) -> _Call:
    """What the platform step of a pending ban entry needs, from the register's row."""
    site = session.get(Site, ban.site_id)
    comment = session.get(Comment, ban.comment_id)
    assert site is not None  # foreign keys
    assert comment is not None
    session.expunge(site)
    return _Call(
        ban.id, BanStep(entry.action), entry.id, site, ban.author_id, comment.external_id,
        ban.ends_at,
        f"City of Highland comment policy ({', '.join(ban.codes)}): ban {ban.id}, "
        f"ending {ban.ends_on.isoformat()}.", entry.note, entry.actor,
    )  # fmt: skip


def _ban(session: Session, ban_id: int, *, lock: bool = False) -> Ban:
    query = select(Ban).where(Ban.id == ban_id)
    ban = session.scalar(query.with_for_update() if lock else query)
    if ban is None:
        raise NotFound(f"There is no ban {ban_id} in the register.")
    return ban


def _supervises(actor: Actor, ban: Ban) -> bool:
    return actor.supervises is None or ban.department_id in actor.supervises


def _require_supervisor(actor: Actor, ban: Ban, doing: str) -> None:
    if not _supervises(actor, ban):
        raise PermissionDenied(
            f"Only a supervisor of the ban's department may {doing}, and {actor.describe()} "
            f"does not supervise the department of ban {ban.id}. Nothing was recorded."
        )


def _readable(actor: Actor) -> frozenset[int] | None:
    """The departments whose register the person reads (None: all); refused to the rest."""
    if actor.supervises is None or actor.keeps_records is None:
        return None
    reach = actor.supervises | actor.keeps_records
    if not reach:
        raise PermissionDenied(
            f"The blocked-accounts register is read by supervisors and records officers, and "
            f"{actor.describe()} is neither. An administrator can give the role: hsm-console "
            f"admin role grant {actor.username} supervisor --department CODE"
        )
    return reach


def _row_json(ban: Ban) -> dict[str, Any]:
    """The row as the log holds it, before and after each step."""
    values: dict[str, Any] = {}
    for column in Ban.__table__.columns:
        value = getattr(ban, column.name)
        values[column.name] = value.isoformat() if isinstance(value, date) else value
    return values


def _row(session: Session, ban: Ban) -> BanRow:
    site = session.get(Site, ban.site_id)
    department = session.get(Department, ban.department_id)
    assert site is not None  # foreign keys
    assert department is not None
    return BanRow(
        id=ban.id, state=BanState(ban.state), department=department.name, site_name=site.name,
        platform=Platform(ban.platform), author_id=ban.author_id, author_name=ban.author_name,
        comment_id=ban.comment_id, comments=tuple(ban.cited_comments), codes=tuple(ban.codes),
        basis=ban.basis, ends_on=ban.ends_on, ends_at=ban.ends_at, proposed_by=ban.proposed_by,
        proposed_at=ban.proposed_at, decided_by=ban.decided_by, decided_at=ban.decided_at,
        decision_reason=ban.decision_reason, carried_out_at=ban.carried_out_at,
        by_hand=ban.by_hand, ended_at=ban.ended_at, ended_by=ban.ended_by,
        end_reason=ban.end_reason, pending=ban.pending_entry_id is not None,
        last_detail=ban.last_detail,
    )  # fmt: skip
