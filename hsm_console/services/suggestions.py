"""Screening's suggestions as stored, marked wrong by moderators, and weighed against decisions.

Every suggestion a comment got at ingest is kept (`comment_suggestions`, migration 0019),
with why and the spans that matched, so the queue and the detail pane show them all without
screening anything while painting. A moderator who finds one wrong says so: an entry of the
one hash-chained log (kind `screening`, action `wrong`, the code as its reason code), so the
mark is append-only, signed, dated and checked by `verify-log` like every other entry, and
precision can be recomputed from real use (`services.agreement` counts them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from hsm_console.db.chain import append_comment_entry
from hsm_console.db.engine import Database
from hsm_console.db.models import CommentSuggestion, LogEntry
from hsm_console.errors import NotPossible, PermissionDenied
from hsm_console.rules.domain import EntryKind
from hsm_console.rules.review import checked_text
from hsm_console.rules.screening import Match, Suggestion
from hsm_console.services.access import resolve_actor
from hsm_console.services.queries import readable_comment

WRONG = "wrong"  # the `action` of a screening entry: the suggestion was wrong


@dataclass(frozen=True)
class WrongMark:
    """A moderator's word that a suggestion was wrong."""

    entry_id: int
    code: str
    at: datetime
    actor: str
    note: str


# --- storing -------------------------------------------------------------------------------


def rows_for(
    comment_id: int | str,
    site_id: int,
    status: str,
    created_at: datetime,
    suggestions: Sequence[Suggestion],
) -> list[dict[str, Any]]:
    """The `comment_suggestions` rows of one comment (in screening's order, a code once).
    `comment_id` is the comment's platform id where sync's statement on PostgreSQL gives
    the suggestions their new comment's id."""
    return [
        dict(
            comment_id=comment_id, code=s.code, rank=rank, why=s.why,
            spans=[[m.start, m.end] for m in s.matches], site_id=site_id, status=status,
            created_at=created_at,
        )
        for rank, s in enumerate(_unique(suggestions))
    ]  # fmt: skip


def store(session: Session, rows: list[dict[str, Any]]) -> None:
    """Keep these suggestions (`rows_for`'s rows), in one statement."""
    if rows:
        session.execute(insert(CommentSuggestion), rows)


def replace_all(
    session: Session,
    comment_id: int,
    site_id: int,
    status: str,
    created_at: datetime,
    suggestions: Sequence[Suggestion],
) -> None:
    """An edited comment, screened again: its new suggestions replace the old."""
    session.execute(delete(CommentSuggestion).where(CommentSuggestion.comment_id == comment_id))
    store(session, rows_for(comment_id, site_id, status, created_at, suggestions))


def _unique(suggestions: Iterable[Suggestion]) -> list[Suggestion]:
    seen: dict[str, Suggestion] = {}
    for suggestion in suggestions:
        seen.setdefault(suggestion.code, suggestion)
    return list(seen.values())


def stored(session: Session, comment_id: int) -> list[Suggestion]:
    """A comment's suggestions as stored, in screening's order."""
    rows = session.scalars(
        select(CommentSuggestion)
        .where(CommentSuggestion.comment_id == comment_id)
        .order_by(CommentSuggestion.rank)
    )
    return [
        Suggestion(row.code, row.why, tuple(Match(start, end) for start, end in row.spans))
        for row in rows
    ]


def wrong_marks(session: Session, comment_ids: Sequence[int]) -> dict[int, list[WrongMark]]:
    """The marks of wrong suggestions on these comments, oldest first."""
    found: dict[int, list[WrongMark]] = defaultdict(list)
    if comment_ids:
        entries = session.execute(
            select(
                LogEntry.comment_id, LogEntry.id, LogEntry.reason_code, LogEntry.at,
                LogEntry.actor, LogEntry.note,
            )
            .where(
                LogEntry.comment_id.in_(list(comment_ids)),
                LogEntry.kind == EntryKind.SCREENING.value,
            )
            .order_by(LogEntry.id)
        )  # fmt: skip
        for comment_id, entry_id, code, at, actor, note in entries:
            assert comment_id is not None  # the condition above
            found[comment_id].append(WrongMark(entry_id, code or "", at, actor, note))
    return found


# --- marking -------------------------------------------------------------------------------


class SuggestionService:
    """Marks a comment's suggestion as wrong, for one person; a session per call."""

    def __init__(self, db: Database, username: str, policy_version: str) -> None:
        self.db = db
        self.username = username
        self.policy_version = policy_version

    def mark_wrong(self, comment_id: int, code: str, note: str = "") -> int:
        """Record that screening's suggestion `code` was wrong here; returns the entry id.
        Refused for a code not suggested for the comment, or one already marked."""
        note = checked_text(note, "The note", required=False)
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            comment = readable_comment(session, actor, comment_id)
            if not actor.works_for(comment.site.department_id):
                raise PermissionDenied(
                    f"Suggestions on comment {comment_id} are judged by its department's "
                    f"moderators and supervisors, and {actor.describe()} is neither."
                )
            if code not in {s.code for s in stored(session, comment_id)}:
                raise NotPossible(
                    f"Screening made no suggestion {code} for comment {comment_id}: nothing "
                    "to mark."
                )
            earlier = [m for m in wrong_marks(session, [comment_id])[comment_id] if m.code == code]
            if earlier:
                raise NotPossible(
                    f"The suggestion {code} on comment {comment_id} was already marked wrong "
                    f"by {earlier[0].actor}."
                )
            entry = append_comment_entry(
                session, actor.username, EntryKind.SCREENING, WRONG, comment, note,
                self.policy_version, subject=f"comment:{comment.id}", reason_code=code,
            )  # fmt: skip
            return entry.id


__all__ = [
    "WRONG",
    "SuggestionService",
    "WrongMark",
    "replace_all",
    "rows_for",
    "store",
    "stored",
    "wrong_marks",
]
