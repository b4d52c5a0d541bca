"""Notes on a comment and the commenter's earlier comments (docs/design.md, "Review, notes,
notices and appeals").

A note is an entry of the one hash-chained log (kind `note`), so it is append-only, dated,
signed by its writer and checked by `verify-log`; the department's moderators and
supervisors write and read it. The commenter's history is what the City did before: their
earlier comments on the City's sites with the codes and actions taken on them, never a
sentiment or a score. It reaches only the departments the reader works for, as every query
here does: a moderator never sees another department's comments.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from hsm_console.db.chain import append_comment_entry
from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, LogEntry, Site
from hsm_console.errors import PermissionDenied
from hsm_console.rules.domain import EntryKind
from hsm_console.rules.review import checked_text
from hsm_console.services.access import Actor, resolve_actor
from hsm_console.services.queries import readable_comment

HISTORY_LIMIT = 50  # earlier comments shown beside a comment
EXCERPT_CHARS = 300
NOTE = "note"  # the `action` of a note entry


@dataclass(frozen=True)
class NoteItem:
    entry_id: int
    at: datetime
    actor: str
    text: str  # untrusted words of a colleague: shown as plain text


@dataclass(frozen=True)
class ActionTaken:
    """An action's outcome on an earlier comment: what, under which code, how it ended."""

    entry_id: int
    at: datetime
    action: str
    reason_code: str | None
    state: str


@dataclass(frozen=True)
class EarlierComment:
    comment_id: int
    created_at: datetime
    site_name: str
    excerpt: str
    status: str
    actions: list[ActionTaken]


def notes_of(session: Session, comment_id: int) -> list[NoteItem]:
    query = (
        select(LogEntry)
        .where(LogEntry.comment_id == comment_id, LogEntry.kind == EntryKind.NOTE.value)
        .order_by(LogEntry.id)
    )
    return [NoteItem(e.id, e.at, e.actor, e.note) for e in session.scalars(query)]


def author_history(session: Session, actor: Actor, comment: Comment) -> list[EarlierComment]:
    """The author's other comments (same platform, same platform author id) on the sites of
    the departments the reader works for, newest first, with the actions taken on them."""
    reach: list[ColumnElement[bool]] = []
    if actor.supervises is not None:
        departments = sorted(actor.moderates | actor.supervises)
        reach.append(Site.department_id.in_(departments))
    rows = session.execute(
        select(
            Comment.id, Comment.created_at, Site.name,
            func.substr(Comment.text, 1, EXCERPT_CHARS), Comment.status,
        )
        .join(Site, Site.id == Comment.site_id)
        .where(
            Site.platform == comment.site.platform,
            Comment.author_id == comment.author_id,
            Comment.id != comment.id,
            *reach,
        )
        .order_by(Comment.created_at.desc(), Comment.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()  # fmt: skip
    taken: dict[int | None, list[ActionTaken]] = defaultdict(list)
    if rows:
        outcomes = session.execute(
            select(
                LogEntry.comment_id, LogEntry.id, LogEntry.at, LogEntry.action,
                LogEntry.reason_code, LogEntry.state,
            )
            .where(
                LogEntry.comment_id.in_([row[0] for row in rows]),
                LogEntry.kind == EntryKind.ACTION.value,
                LogEntry.outcome_of.is_not(None),
            )
            .order_by(LogEntry.id)
        )  # fmt: skip
        for comment_id, entry_id, at, action, code, state in outcomes:
            taken[comment_id].append(ActionTaken(entry_id, at, action, code, state))
    return [EarlierComment(row[0], row[1], row[2], row[3], row[4], taken[row[0]]) for row in rows]


class NoteService:
    """Notes on comments, for one person; a session per call (thread-safe)."""

    def __init__(self, db: Database, username: str, policy_version: str) -> None:
        self.db = db
        self.username = username
        self.policy_version = policy_version

    def add(self, comment_id: int, text: str) -> int:
        """Append a note to a comment; returns its log entry id."""
        text = checked_text(text, "The note", required=True)
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            comment = readable_comment(session, actor, comment_id)
            if not actor.works_for(comment.site.department_id):
                raise PermissionDenied(
                    f"Notes on comment {comment_id} are written by its department's moderators "
                    f"and supervisors, and {actor.describe()} is neither."
                )
            entry = append_comment_entry(
                session, actor.username, EntryKind.NOTE, NOTE, comment, text,
                self.policy_version, subject=f"comment:{comment.id}",
            )  # fmt: skip
            return entry.id

    def notes(self, comment_id: int) -> list[NoteItem]:
        with self.db.session() as session:
            readable_comment(session, resolve_actor(session, self.username), comment_id)
            return notes_of(session, comment_id)
