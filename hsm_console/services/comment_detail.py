"""One comment in full: its post, thread, platform capabilities, history and retained records.

The window's detail pane and the command line's `show` read it here, in one shape. Who may
read a comment is `queries.readable_comment`'s rule: moderators their departments'
comments, supervisors the departments they oversee.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, LogEntry, RetainedRecord
from hsm_console.rules.capabilities import Capabilities, capabilities_of
from hsm_console.rules.screening import Suggestion
from hsm_console.services.access import resolve_actor
from hsm_console.services.notes import EarlierComment, NoteItem, author_history, notes_of
from hsm_console.services.queries import readable_comment
from hsm_console.services.suggestions import WrongMark, stored, wrong_marks

THREAD_LIMIT = 25  # replies shown around a comment
_LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class ThreadItem:
    id: int
    relation: str  # "parent", "this", "reply" or "sibling"
    author_name: str
    created_at: datetime
    excerpt: str


@dataclass(frozen=True)
class HistoryItem:
    entry_id: int
    at: datetime
    actor: str
    action: str
    state: str
    reason_code: str | None
    note: str
    detail: str
    outcome_of: int | None
    record_id: int | None
    kind: str = "action"  # domain.EntryKind: actions, reviews, notes, notices, appeals
    refers_to: int | None = None


@dataclass(frozen=True)
class RecordItem:
    id: int
    captured_at: datetime
    captured_by: str
    sha256: str


@dataclass(frozen=True)
class CommentView:
    """Everything shown of one comment, read in one go."""

    id: int
    external_id: str
    parent_id: int | None
    site_id: int
    site_name: str
    platform: str
    author_name: str
    author_id: str
    text: str
    created_at: datetime
    permalink: str
    attachments: list[str]
    status: str
    platform_state: str
    version: int
    pending: bool
    post_text: str
    post_permalink: str
    post_link: str  # the City web page the post points to, where the platform says
    thread: list[ThreadItem]
    capabilities: Capabilities
    history: list[HistoryItem]
    records: list[RecordItem]
    suggestions: list[Suggestion] = field(default_factory=list)  # every one, as stored
    wrong_marks: list[WrongMark] = field(default_factory=list)  # suggestions marked wrong
    notes: list[NoteItem] = field(default_factory=list)
    # The author's earlier comments on the reader's departments' sites, with the actions
    # taken on them: codes and outcomes, never a sentiment or a score.
    author_history: list[EarlierComment] = field(default_factory=list)


class CommentReader:
    """Reads one comment for one person; safe to call from several threads."""

    def __init__(self, db: Database, username: str) -> None:
        self.db = db
        self.username = username

    def comment(self, comment_id: int) -> CommentView:
        """Raises NotFound, or PermissionDenied for a comment the person may not read."""
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            comment = readable_comment(session, actor, comment_id)
            site, post = comment.site, comment.post
            history = session.scalars(
                select(LogEntry).where(LogEntry.comment_id == comment.id).order_by(LogEntry.id)
            )
            records = session.scalars(
                select(RetainedRecord)
                .where(RetainedRecord.comment_id == comment.id)
                .order_by(RetainedRecord.id)
            )
            link = post.raw.get("link") if isinstance(post.raw, dict) else None
            if not isinstance(link, str):
                link = _first_link(post.text)
            return CommentView(
                id=comment.id,
                external_id=comment.external_id,
                parent_id=comment.parent_id,
                site_id=site.id,
                site_name=site.name,
                platform=site.platform,
                author_name=comment.author_name,
                author_id=comment.author_id,
                text=comment.text,
                created_at=comment.created_at,
                permalink=comment.permalink,
                attachments=list(comment.attachments),
                status=comment.status,
                platform_state=comment.platform_state,
                version=comment.version,
                pending=comment.pending_entry_id is not None,
                post_text=post.text,
                post_permalink=post.permalink,
                post_link=link,
                thread=_thread(session, comment),
                capabilities=capabilities_of(site.platform),
                history=[history_item(entry) for entry in history],
                records=[RecordItem(r.id, r.captured_at, r.captured_by, r.sha256) for r in records],
                notes=notes_of(session, comment.id),
                author_history=author_history(session, actor, comment),
                suggestions=stored(session, comment.id),
                wrong_marks=wrong_marks(session, [comment.id]).get(comment.id, []),
            )


def history_item(entry: LogEntry) -> HistoryItem:
    return HistoryItem(
        entry.id, entry.at, entry.actor, entry.action, entry.state, entry.reason_code,
        entry.note, entry.detail, entry.outcome_of, entry.record_id, entry.kind,
        entry.refers_to,
    )  # fmt: skip


def _thread(session: Session, comment: Comment) -> list[ThreadItem]:
    """The parent, the comment, its replies, and the parent's other replies."""
    excerpt = func.substr(Comment.text, 1, 300)
    columns = (Comment.id, Comment.author_name, Comment.created_at, excerpt)

    def items(relation: str, condition: ColumnElement[bool]) -> list[ThreadItem]:
        rows = session.execute(
            select(*columns)
            # A thread stays within its post; the post's index finds it quickly.
            .where(condition, Comment.post_id == comment.post_id)
            .order_by(Comment.created_at, Comment.id)
            .limit(THREAD_LIMIT)
        )
        return [ThreadItem(r[0], relation, r[1], r[2], r[3]) for r in rows]

    parent = items("parent", Comment.id == comment.parent_id) if comment.parent_id else []
    this = [ThreadItem(comment.id, "this", comment.author_name, comment.created_at, "")]
    replies = items("reply", Comment.parent_id == comment.id)
    siblings = (
        items("sibling", and_(Comment.parent_id == comment.parent_id, Comment.id != comment.id))
        if comment.parent_id
        else []
    )
    return parent + this + replies + siblings


def _first_link(text: str) -> str:
    found = _LINK.search(text)
    return found.group(0).rstrip(".,;:!?)") if found else ""
