"""The workstation's half of the City-wide mode (docs/design.md, "The agent"): a platform
step recorded here (steps 1-2) is handed to the agent as a job, in the transaction of its
pending entry, and its outcome is waited for briefly.

A job row names the pending entry; the agent (services/agent.py) claims it, calls the
platform, and deletes it in the transaction of the outcome entry. The log stays the one
proof: a job is only a claim ticket.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_console.db.engine import Database
from hsm_console.db.models import AgentJob, LogEntry, utcnow
from hsm_console.rules.domain import EntryState

# How long a workstation waits for the agent's outcome before saying "sent to the agent".
AGENT_WAIT = 2.0
_POLL = 0.1


class JobKind(enum.StrEnum):
    ACTION = "action"  # services/moderation.py: hide, unhide, remove
    BAN = "ban"  # services/bans.py: carry out, lift, expire


SENT = "sent to the agent"


class Settled:
    """Where a step that may call a platform stands, by its last entry's `state`."""

    state: EntryState

    @property
    def ok(self) -> bool:
        return self.state is EntryState.APPLIED

    @property
    def sent(self) -> bool:
        """Handed to the agent, whose outcome has not come yet (the City-wide mode)."""
        return self.state is EntryState.PENDING


@dataclass(frozen=True)
class Finished:
    """The outcome entry the agent appended for a pending entry."""

    entry_id: int
    state: EntryState
    detail: str


def enqueue(session: Session, entry_id: int, kind: JobKind) -> None:
    """Hand the pending entry's platform step to the agent, in the entry's own transaction."""
    session.add(AgentJob(entry_id=entry_id, kind=kind.value, queued_at=utcnow(), attempts=0))
    session.flush()


def outcome_of(session: Session, entry_id: int) -> Finished | None:
    row = session.execute(
        select(LogEntry.id, LogEntry.state, LogEntry.detail)
        .where(LogEntry.outcome_of == entry_id)
        .order_by(LogEntry.id)
        .limit(1)
    ).first()
    return None if row is None else Finished(row[0], EntryState(row[1]), row[2])


def wait_for_outcome(db: Database, entry_id: int, seconds: float) -> Finished | None:
    """The outcome within `seconds`, polled; None: not yet (the row updates when it comes)."""
    deadline = time.monotonic() + seconds
    while True:
        with db.session() as session:
            found = outcome_of(session, entry_id)
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(_POLL)
