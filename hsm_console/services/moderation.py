"""The record-first rule (docs/design.md): the one way any action on a comment is carried out.

1. check the actor may act, the policy allows the action for the reason code, and the
   platform can do it;
2. in one committed transaction: the retained record and a `pending` log entry;
3. only then call the platform;
4. append the outcome (`applied`/`failed`) and update the comment only on `applied`;
5. reconcile `pending` entries left by a crash, from the platform's real state: only those
   no attempt can still be running for (`interrupted_after`), and never twice (`_complete`
   re-checks under the chain's lock; the database's unique `outcome_of` is the last line).

In the City-wide mode (`agent_wait` set) a workstation does steps 1-2 and hands steps 3-4 to
the agent (`services/agent_jobs.py`), which runs them through `carry_out`: the same code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session, aliased

from hsm_console.connectors.base import Connector
from hsm_console.db.chain import append_entry, lock_chain, snapshot
from hsm_console.db.engine import Database
from hsm_console.db.models import (
    AgentJob,
    Comment,
    LogEntry,
    Post,
    Site,
    SiteConnection,
    SyncState,
    utcnow,
)
from hsm_console.display import local_time
from hsm_console.errors import (
    ConcurrentAction,
    ConfigurationError,
    NotFound,
    NotPossible,
    PermissionDenied,
    PlatformError,
    PolicyViolation,
    UserError,
)
from hsm_console.rules.actions import refusal
from hsm_console.rules.capabilities import capabilities_of
from hsm_console.rules.domain import (
    STATE_AFTER,
    STATUS_AFTER,
    Action,
    AppealStep,
    CommentStatus,
    EntryKind,
    EntryState,
    Platform,
    PlatformState,
    ReviewVerdict,
)
from hsm_console.rules.policy import Policy
from hsm_console.services import agent_jobs, limits
from hsm_console.services.access import Actor, person_name, resolve_actor
from hsm_console.services.connector_factory import ConnectorFactory
from hsm_console.services.records_requests import hand_over

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionResult(agent_jobs.Settled):
    comment_id: int
    action: Action
    state: EntryState
    pending_entry_id: int
    outcome_entry_id: int | None  # None: handed to the agent, which has not answered yet
    message: str  # plain words for the moderator


@dataclass(frozen=True)
class Outcome:
    """How a platform call ended, as its outcome entry records it."""

    state: EntryState
    detail: str
    # What the platform was learned to show, where known (updates the working copy).
    seen: PlatformState | None = None
    wait: float | None = None  # seconds the platform asked us to wait before calling again
    called: bool = True  # whether the platform was asked at all (metered platforms count it)


# A pending entry younger than this may still have its platform call running, in this
# process or on another workstation of a shared database; `interrupted_after` may say longer.
INTERRUPTED = timedelta(minutes=10)


def interrupted_after(site: Site) -> timedelta:
    """How old a pending entry of `site` must be before no attempt of it can still be running:
    ten minutes, or longer where the site's network settings let a renewal, the call and a
    read-back last longer, with a minute more for workstations' clocks."""
    from hsm_console.connectors.http import HttpSettings  # requests: not on the start's path

    try:
        settings = HttpSettings.from_settings(site.settings)
    except ConfigurationError:
        return INTERRUPTED  # its connector cannot open, so no call of it is running
    return max(INTERRUPTED, timedelta(seconds=3 * settings.longest_call + 60))


def platform_failure(exc: PlatformError) -> Outcome:
    """A refused or failed call about which nothing more can be learned: its words, and the
    wait the platform asked for."""
    if exc.retry_after is not None:
        return Outcome(EntryState.FAILED, exc.message, wait=exc.retry_after)
    return Outcome(EntryState.FAILED, exc.message)


def call_platform(
    connectors: ConnectorFactory,
    site: Site,
    call: Callable[[Connector], None],
    done: Outcome,
    failed: Callable[[PlatformError, Connector], Outcome] = lambda exc, _: platform_failure(exc),
) -> Outcome:
    """Step 3 of the record-first rule for any call (an action, a ban): `done` when `call`
    returns, `failed` for the platform's refusal. Never raises: every way it can end becomes
    an outcome to record."""
    connector: Connector | None = None
    try:
        connector = connectors(site)
        call(connector)
        return done
    except PlatformError as exc:
        return failed(exc, connector) if connector is not None else platform_failure(exc)
    except UserError as exc:  # e.g. no token in the keyring: the platform was not asked
        return Outcome(EntryState.FAILED, exc.message, called=False)
    except Exception as exc:  # a bug: the log must still be complete
        log.exception("platform call failed unexpectedly")
        return Outcome(
            EntryState.FAILED, f"Internal error ({type(exc).__name__}); see the debug log."
        )
    finally:
        if connector is not None:
            connector.close()


def account_call(session: Session, site: Site, outcome: Outcome, cost: int) -> None:
    """Step 4's bookkeeping: the wait the platform asked for, and the units a metered
    platform (YouTube) counted for a call it was asked."""
    if outcome.wait is not None:
        limits.note_wait(session, site.id, outcome.wait)
    if outcome.called:
        limits.spend(session, site.platform, capabilities_of(site.platform), cost)


@dataclass(frozen=True)
class _Pending:
    """What step 2 committed, carried to steps 3 and 4."""

    entry_id: int
    comment_id: int
    comment_external_id: str
    site: Site
    action: Action
    reason_code: str | None
    record_id: int
    record_sha256: str
    department_id: int


class ModerationService:
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
        # The City-wide mode: seconds to wait for the agent's outcome; None: steps 3-4 here.
        self.agent_wait = agent_wait

    def actor(self, session: Session) -> Actor:
        return resolve_actor(session, self.username)

    # --- acting ---------------------------------------------------------------------

    def act(
        self,
        comment_id: int,
        action: Action,
        reason_code: str | None = None,
        note: str = "",
        expected_version: int | None = None,
    ) -> ActionResult:
        """Carry out one action record-first. Refusals before step 2 raise UserError."""
        pending = self._record(comment_id, action, reason_code, note.strip(), expected_version)
        return self._steps_3_and_4(pending)

    def reverse(self, comment_id: int, basis: int, reason: str) -> ActionResult:
        """A supervisor unhides a comment whose hide was questioned in review or overturned
        on appeal: record-first like every action, with the supervisor's own reason, and the
        review or decision it carries out (`basis`) as the entry's `refers_to`. Whether that
        verdict allows it is checked again here, in the transaction that records it."""
        if not reason.strip():
            raise PolicyViolation("A reversal needs the supervisor's own reason, in words.")
        pending = self._record(comment_id, Action.UNHIDE, None, reason.strip(), None, basis)
        return self._steps_3_and_4(pending)

    def _steps_3_and_4(self, pending: _Pending) -> ActionResult:
        """Call the platform and log the outcome here, or leave both to the agent."""
        if self._by_agent(pending.action):
            return self._handed_over(pending)
        outcome = self._call_platform(pending)
        return self._result(pending, *self._complete(pending, outcome))

    def _by_agent(self, action: Action) -> bool:
        return self.agent_wait is not None and action.touches_platform

    def _handed_over(self, pending: _Pending) -> ActionResult:
        """The agent's outcome if it comes within `agent_wait`; else "sent to the agent"."""
        assert self.agent_wait is not None
        done = agent_jobs.wait_for_outcome(self.db, pending.entry_id, self.agent_wait)
        if done is not None:
            return self._result(pending, done.entry_id, Outcome(done.state, done.detail))
        platform = Platform(pending.site.platform).label
        return ActionResult(
            pending.comment_id, pending.action, EntryState.PENDING, pending.entry_id, None,
            f"Recorded as log entry {pending.entry_id} and {agent_jobs.SENT}, which carries it "
            f"out on {platform}; the comment's row shows the outcome when it has.",
        )  # fmt: skip

    def _result(self, pending: _Pending, outcome_id: int, outcome: Outcome) -> ActionResult:
        return ActionResult(
            pending.comment_id, pending.action, outcome.state, pending.entry_id, outcome_id,
            self._say(pending, outcome),
        )  # fmt: skip

    def act_many(
        self,
        comment_ids: Sequence[int],
        action: Action,
        reason_code: str | None = None,
        note: str = "",
        progress: Callable[[int, int], bool] | None = None,
    ) -> list[ActionResult | UserError]:
        """One reason for all, each comment recorded separately; stops if progress says so.
        Handed to the agent, each is recorded without waiting, then the outcomes are waited
        for once, together."""
        each = self
        if self._by_agent(action):
            each = ModerationService(self.db, self.policy, self.connectors, self.username, 0.0)
        results: list[ActionResult | UserError] = []
        for done, comment_id in enumerate(comment_ids):
            if progress is not None and not progress(done, len(comment_ids)):
                break
            try:
                results.append(each.act(comment_id, action, reason_code, note))
            except UserError as exc:
                results.append(exc)
        return self._collect(results) if each is not self else results

    def _collect(self, results: list[ActionResult | UserError]) -> list[ActionResult | UserError]:
        """The agent's outcomes of those still sent, as far as they come within `agent_wait`."""
        assert self.agent_wait is not None
        deadline = time.monotonic() + self.agent_wait
        for index, result in enumerate(results):
            if isinstance(result, ActionResult) and result.sent:
                left = max(0.0, deadline - time.monotonic())
                done = agent_jobs.wait_for_outcome(self.db, result.pending_entry_id, left)
                if done is not None:
                    words = self._say_of(result, Outcome(done.state, done.detail))
                    results[index] = replace(
                        result, state=done.state, outcome_entry_id=done.entry_id, message=words
                    )
        return results

    def _say_of(self, result: ActionResult, outcome: Outcome) -> str:
        with self.db.session() as session:
            entry = session.get(LogEntry, result.pending_entry_id)
            assert entry is not None
            return self._say(_pending_of(session, entry), outcome)

    def _record(
        self,
        comment_id: int,
        action: Action,
        reason_code: str | None,
        note: str,
        expected_version: int | None,
        basis: int | None = None,
    ) -> _Pending:
        """Steps 1 and 2: check, then commit the retained record and the pending entry."""
        with self.db.transaction() as session:
            actor = self.actor(session)
            loaded = _locked_comment(session, comment_id)  # kept: see _locked_comment
            if loaded is None:
                raise NotFound(f"There is no comment {comment_id}.")
            comment = loaded[0]
            site = comment.site
            if basis is not None:
                _check_reversal(session, actor, comment, basis)
            elif not actor.may_moderate(site.department_id):
                raise PermissionDenied(
                    f"{actor.describe()} is not a moderator of the department that owns "
                    f"{site.name!r}; nothing was recorded."
                )
            reason = self.policy.check(action, reason_code, note)
            self._check_state(session, loaded, action, expected_version)
            record = snapshot(session, comment, actor.username)
            entry = append_entry(
                session,
                actor=actor.username,
                state=EntryState.PENDING.value,
                action=action.value,
                comment_id=comment.id,
                site_id=site.id,
                department_id=site.department_id,
                record_id=record.id,
                record_sha256=record.sha256,
                reason_code=reason.code if reason else None,
                note=note,
                policy_version=self.policy.version,
                second_review=bool(reason and reason.second_review),
                refers_to=basis,
            )
            if reason is not None and reason.code == self.policy.records.request_code:
                hand_over(session, comment, entry, self.policy)  # a draft request, same commit
            if self._by_agent(action):
                agent_jobs.enqueue(session, entry.id, agent_jobs.JobKind.ACTION)
            session.execute(
                _CLAIM,
                {
                    "claimed": comment.id,
                    "new_version": comment.version + 1,  # the claim a stale window meets
                    "entry": entry.id,
                    "actor": actor.username,
                    "at": entry.at,
                },
            )
            session.expunge(site)
            return _Pending(
                entry.id,
                comment.id,
                comment.external_id,
                site,
                action,
                entry.reason_code,
                record.id,
                record.sha256,
                site.department_id,
            )

    def _check_state(
        self,
        session: Session,
        loaded: Sequence[Any],
        action: Action,
        expected_version: int | None,
    ) -> None:
        """The domain's rule (the window disables actions with the same words), then what
        only the database knows: another moderator first, the platform's wait and quota.
        `loaded` is `_locked_comment`'s row."""
        comment, site, *_, wait, connection = loaded
        caps = capabilities_of(site.platform)
        pending = comment.pending_entry_id is not None
        refused = refusal(
            action,
            platform=Platform(site.platform),
            platform_state=PlatformState(comment.platform_state),
            acting=person_name(session, comment.last_actor) if pending else None,
            caps=caps,
            reconnect_site=site.name if connection and connection.reconnect_needed_at else None,
            disposed=comment.status == CommentStatus.DISPOSED,
        )
        if refused is not None and pending:
            raise ConcurrentAction(refused)
        if expected_version is not None and comment.version != expected_version:
            raise ConcurrentAction(self._handled_first(session, comment.id))
        if refused is not None:
            raise NotPossible(refused)
        if action.touches_platform:
            limits.require_no_wait(site, limits.wait_in(wait))
            limits.require_quota(session, site, caps, caps.action_cost)

    def _call_platform(self, pending: _Pending) -> Outcome:
        """Step 3. Never raises: every way it can end becomes an outcome to record."""
        if not pending.action.touches_platform:
            return Outcome(
                EntryState.APPLIED,
                "Recorded in the console; nothing changes on the platform.",
                called=False,
            )

        def failed(exc: PlatformError, connector: Connector) -> Outcome:
            if exc.gone and pending.action is Action.REMOVE:
                # Gone, but perhaps by its author or by an earlier attempt whose answer was lost:
                # the platform cannot say this request removed it, so the log does not either.
                detail = f"{exc.message} It is not there any more, but not known to be by us."
                return Outcome(EntryState.UNCONFIRMED, detail, PlatformState.REMOVED)
            if exc.gone:
                return Outcome(EntryState.FAILED, exc.message, PlatformState.REMOVED)
            if exc.retry_after is None and exc.retryable:
                return self._read_back(connector, pending, exc)
            return platform_failure(exc)

        return call_platform(
            self.connectors,
            pending.site,
            lambda connector: connector.apply(pending.action, pending.comment_external_id),
            Outcome(EntryState.APPLIED, "", STATE_AFTER[pending.action]),
            failed,
        )

    def _read_back(self, connector: Connector, pending: _Pending, error: PlatformError) -> Outcome:
        """After an error that may hide a success (a timeout), ask the platform what stands."""
        try:
            state = connector.fetch_state(pending.comment_external_id)
        except UserError:
            return Outcome(EntryState.FAILED, error.message)
        if state is STATE_AFTER[pending.action]:
            return Outcome(
                EntryState.APPLIED, f"Confirmed by reading the comment back after: {error}", state
            )
        return Outcome(
            EntryState.FAILED, f"{error.message} The platform shows it {state.value}.", state
        )

    def _complete(
        self, pending: _Pending, outcome: Outcome, then: Callable[[Session], object] | None = None
    ) -> tuple[int, Outcome]:
        """Step 4: the outcome entry, and the comment's new state only if applied; `then`
        in the same transaction (the agent's job leaves with it). The outcome that stands is
        returned: the first written, should another process have completed the entry first."""
        with self.db.transaction() as session:
            lock_chain(session)  # held to the commit: no other outcome can come in between
            earlier = agent_jobs.outcome_of(session, pending.entry_id)
            if earlier is not None:
                log.warning(
                    "log entry %s was completed by entry %s first; this %s outcome is not "
                    "recorded", pending.entry_id, earlier.entry_id, outcome.state.value,
                )  # fmt: skip
                if then is not None:
                    then(session)
                return earlier.entry_id, Outcome(earlier.state, earlier.detail)
            entry = append_entry(
                session,
                actor=self.username,
                state=outcome.state.value,
                action=pending.action.value,
                comment_id=pending.comment_id,
                site_id=pending.site.id,
                department_id=pending.department_id,
                record_id=pending.record_id,
                record_sha256=pending.record_sha256,
                reason_code=pending.reason_code,
                policy_version=self.policy.version,
                outcome_of=pending.entry_id,
                detail=outcome.detail,
            )
            changes: dict[Any, Any] = {Comment.pending_entry_id: None}
            if outcome.state is EntryState.APPLIED:
                changes[Comment.status] = STATUS_AFTER[pending.action].value
            if outcome.seen is not None and outcome.seen is not PlatformState.UNKNOWN:
                changes[Comment.platform_state] = outcome.seen.value
            if outcome.seen is PlatformState.REMOVED and pending.action is not Action.REMOVE:
                changes[Comment.gone_seen_at] = entry.at
            if pending.action.touches_platform:
                cost = capabilities_of(pending.site.platform).action_cost
                account_call(session, pending.site, outcome, cost)
            session.query(Comment).filter(Comment.id == pending.comment_id).update(
                changes, synchronize_session=False
            )
            if then is not None:
                then(session)
            return entry.id, outcome

    # --- reconciliation (step 5) -------------------------------------------------------

    def reconcile(self, site_ids: Sequence[int] | None = None) -> list[ActionResult]:
        """Complete every `pending` entry of the actor's departments left by a crash: one old
        enough that no attempt of it can still be running (`interrupted_after`). A younger
        one may be in flight here or on another workstation, and the platform read now
        could say "not done" a moment before the call does it."""
        outcome = aliased(LogEntry)
        now = utcnow()
        with self.db.session() as session:
            actor = self.actor(session)
            # A pending entry without an outcome is its comment's `pending_entry_id` (set in
            # its commit, cleared in its outcome's): the few comments with one, read by
            # `ix_comments_pending`, rather than every pending entry of the log tested for an
            # outcome (0.15 s at a million comments). Two readings, as SQLite's planner
            # walks the log's pending entries for any one query joining the two.
            marked = session.scalars(
                select(Comment.pending_entry_id).where(Comment.pending_entry_id.is_not(None))
            ).all()
            if not marked:
                return []
            query = (
                select(LogEntry)
                .where(LogEntry.id.in_(marked))
                .where(LogEntry.state == EntryState.PENDING.value)
                .where(LogEntry.at <= now - INTERRUPTED)
                .where(~select(outcome.id).where(outcome.outcome_of == LogEntry.id).exists())
                # The agent's jobs are the agent's to complete (services/agent.py).
                .where(~select(AgentJob.id).where(AgentJob.entry_id == LogEntry.id).exists())
                .where(LogEntry.department_id.in_(actor.moderates))
                .order_by(LogEntry.id)
            )
            if site_ids is not None:
                query = query.where(LogEntry.site_id.in_(site_ids))
            work = []
            for entry in session.scalars(query).all():
                pending = _pending_of(session, entry)
                if entry.at <= now - interrupted_after(pending.site):
                    work.append(pending)
        results = []
        unreachable: set[int] = set()  # sites whose connector could not be opened
        for pending in work:
            found = self._platform_truth(pending, unreachable)
            if found is None:
                continue  # the platform could not be asked; try again at the next sync
            results.append(self._result(pending, *self._complete(pending, found)))
        return results

    # --- the agent's half of the City-wide mode ----------------------------------------------

    def carry_out(
        self, entry_id: int, *, interrupted: bool, then: Callable[[Session], object]
    ) -> ActionResult | None:
        """Steps 3-4 of a pending entry a workstation recorded, for the agent that claimed
        it: the platform called once and the outcome logged, `then` in its transaction. An
        attempt another agent was interrupted in is reconciled from the platform's truth
        instead of calling again (None: the platform could not be asked; try later)."""
        with self.db.session() as session:
            entry = session.get(LogEntry, entry_id)
            assert entry is not None  # the job's foreign key
            pending = _pending_of(session, entry)
        outcome = self._platform_truth(pending) if interrupted else self._call_platform(pending)
        if outcome is None:
            return None
        return self._result(pending, *self._complete(pending, outcome, then))

    def _platform_truth(
        self, pending: _Pending, unreachable: set[int] | None = None
    ) -> Outcome | None:
        """What the platform shows of a pending action, as its outcome (None: it could not be
        asked). A site in `unreachable` is not tried again, and one that fails joins it: a
        site not connected on this computer is said once, not once per pending entry."""
        prefix = "Completed by reconciliation after an interruption: "
        if not pending.action.touches_platform:
            return Outcome(EntryState.APPLIED, prefix + "a local action; nothing to ask.")
        if unreachable is not None and pending.site.id in unreachable:
            return None
        try:
            connector = self.connectors(pending.site)
        except UserError as exc:
            log.warning("reconcile: cannot open connector for site %s: %s", pending.site.id, exc)
            if unreachable is not None:
                unreachable.add(pending.site.id)
            return None
        try:
            state = connector.fetch_state(pending.comment_external_id)
        except UserError as exc:
            log.warning("reconcile: cannot read comment %s: %s", pending.comment_id, exc)
            return None
        finally:
            connector.close()
        if state is STATE_AFTER[pending.action]:
            detail = f"the platform shows the comment {state.value}."
            return Outcome(EntryState.APPLIED, prefix + detail, state, called=False)
        if state is PlatformState.UNKNOWN:
            detail = "the platform cannot tell whether the action took effect."
            return Outcome(EntryState.UNCONFIRMED, prefix + detail, state, called=False)
        if state is PlatformState.REMOVED:
            detail = "the comment no longer exists on the platform."
            return Outcome(EntryState.FAILED, prefix + detail, state, called=False)
        detail = f"not applied; the platform shows the comment {state.value}."
        return Outcome(EntryState.FAILED, prefix + detail, state, called=False)

    # --- words ---------------------------------------------------------------------------

    def _handled_first(self, session: Session, comment_id: int) -> str:
        last = session.scalar(
            select(LogEntry)
            .where(LogEntry.comment_id == comment_id, LogEntry.kind == EntryKind.ACTION.value)
            .order_by(LogEntry.id.desc())
        )
        if last is None:
            return "Someone else changed this comment first; nothing was sent."
        return (
            f"{person_name(session, last.actor)} handled this comment first, at "
            f"{local_time(last.at)} ({last.action}, {last.state}); nothing was sent. "
            "Its current state is shown now."
        )

    @staticmethod
    def _say(pending: _Pending, outcome: Outcome) -> str:
        platform = Platform(pending.site.platform).label
        if outcome.state is EntryState.APPLIED:
            done = {
                Action.FLAG: "Flagged for review",
                Action.KEEP: "Marked as reviewed (kept)",
                Action.HIDE: f"Hidden on {platform}",
                Action.UNHIDE: f"Unhidden on {platform}",
                Action.REMOVE: f"Removed from {platform}",
            }[pending.action]
            return f"{done}; recorded as log entry {pending.entry_id}."
        if outcome.state is EntryState.UNCONFIRMED:
            return f"Recorded; {platform} cannot confirm the result. {outcome.detail}"
        return f"{platform} did not {pending.action.value} the comment: {outcome.detail}"


# Built once (an alias builds its columns anew on first use: a sixth of an action's CPU).
_PARENT = aliased(Comment, name="parent")
_LOCKED_COMMENT = (
    select(Comment, Site, Post, _PARENT, SyncState, SiteConnection)
    .join(Site, Site.id == Comment.site_id)
    .join(Post, Post.id == Comment.post_id)
    .outerjoin(_PARENT, _PARENT.id == Comment.parent_id)
    .outerjoin(SyncState, SyncState.site_id == Comment.site_id)
    .outerjoin(SiteConnection, SiteConnection.site_id == Comment.site_id)
    .where(Comment.id == bindparam("comment_id"))
    .with_for_update(of=Comment)
)

_COMMENTS = cast(Table, Comment.__table__)
# The comment claimed by a pending action (Core: the session's objects are not refreshed).
_CLAIM = (
    update(_COMMENTS)
    .where(_COMMENTS.c.id == bindparam("claimed"))
    .values(
        version=bindparam("new_version"),
        pending_entry_id=bindparam("entry"),
        last_actor=bindparam("actor"),
        last_action_at=bindparam("at"),
    )
)


def _locked_comment(session: Session, comment_id: int) -> Sequence[Any] | None:
    """The comment (first) and all that steps 1-2 read with it (its site, post, parent, the
    site's wait and sign-in), in one statement, into the session, whose look-ups then find
    them while the caller keeps the row (its identity map holds objects only while they are
    referenced). On PostgreSQL the comment's row stays locked to the commit, so a colleague
    acting on it at the same moment waits here, then sees this action pending (SQLite's
    write transactions are serial already)."""
    row = session.execute(_LOCKED_COMMENT, {"comment_id": comment_id}).first()
    return None if row is None else tuple(row)


def _pending_of(session: Session, entry: LogEntry) -> _Pending:
    """What steps 3 and 4 need of a pending entry already committed."""
    comment = session.get(Comment, entry.comment_id)
    # A pending entry is an action's: it cites its comment and retained record.
    assert comment is not None
    assert entry.record_id is not None
    assert entry.record_sha256 is not None
    site = comment.site
    session.expunge(site)
    return _Pending(
        entry.id, comment.id, comment.external_id, site, Action(entry.action), entry.reason_code,
        entry.record_id, entry.record_sha256, site.department_id,
    )  # fmt: skip


def _check_reversal(session: Session, actor: Actor, comment: Comment, basis_id: int) -> None:
    """A reversal carries out a questioning review or an overturning decision on this very
    comment, by a supervisor of its department (the oversight group: any)."""
    basis = session.get(LogEntry, basis_id)
    verdict = (basis.kind, basis.action) if basis is not None else None
    if (
        basis is None
        or basis.comment_id != comment.id
        or verdict
        not in {
            (EntryKind.REVIEW.value, ReviewVerdict.QUESTION.value),
            (EntryKind.APPEAL.value, AppealStep.OVERTURN.value),
        }
    ):
        raise PermissionDenied(
            f"Log entry {basis_id} is not a review that questioned an action on comment "
            f"{comment.id}, nor a decision that overturned one; only those are reversed. "
            "Nothing was recorded."
        )
    department = comment.site.department_id
    if actor.supervises is not None and department not in actor.supervises:
        raise PermissionDenied(
            f"{actor.describe()} does not supervise the department that owns comment "
            f"{comment.id}; a reversal is a supervisor's. Nothing was recorded."
        )
