"""The action log as supervisors read it: filters, pages of ids, rows, one entry in full.

Qt-free, so the window's Log screen, `hsm-console log` and the exports share one query.
Who reads what (docs/design.md, "What it is for"): a supervisor the entries of the
departments they supervise, the oversight group (supervisor of all departments) every entry,
an administrator the administrative entries. Moderators are refused: they see a comment's
history beside the comment. The refusal is the service's, whatever the window shows.

The log grows to hundreds of thousands of entries, so it is read in pages of ids by keyset on
the entry id (the chain position, the primary key), never by OFFSET; rows are then read by
id for the part of the table in view, as the queue does (`services/queue_view.py`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from hsm_console.db import search_index
from hsm_console.db.engine import Database
from hsm_console.db.id_lists import in_ids
from hsm_console.db.models import (
    Comment,
    CommentVersion,
    Department,
    LogEntry,
    Person,
    RetainedRecord,
    Site,
)
from hsm_console.errors import NotFound, PermissionDenied
from hsm_console.rules.domain import EntryKind, ReviewState
from hsm_console.services.access import Actor, resolve_actor
from hsm_console.services.queue_view import (
    SiteInfo,
    comments_matching,
    received_bounds,
    search_terms,
)
from hsm_console.services.review import review_state_condition

PAGE_SIZE = 500
EXCERPT_CHARS = 2000
# A page of a word search on PostgreSQL walks the log in the page's order first
# (`_walked_words`): this many entries, then as many as the share found says, at most
# WALK_MOST a statement. An entry walked (its comment probed by id, the words tested with
# `strpos`) costs about what a comment read from the full-text index does.
WALK_FIRST, WALK_MOST = 500, 5_000
WALK_COST = 1.0


@dataclass(frozen=True)
class LogFilter:
    """What the supervisor narrowed the log to. Empty sets mean "all"."""

    department_ids: frozenset[int] = frozenset()
    site_ids: frozenset[int] = frozenset()
    platforms: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()  # usernames
    actions: frozenset[str] = frozenset()
    reason_codes: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()  # the outcome: pending, applied, failed, unconfirmed
    kinds: frozenset[str] = frozenset()  # domain.EntryKind
    review_states: frozenset[str] = frozenset()  # domain.ReviewState: the actions in it
    comment_id: int | None = None
    on_from: date | None = None  # local (America/Chicago) days, both inclusive
    on_to: date | None = None
    search: str = ""  # words of the comment's author or text (the full-text index)


@dataclass(frozen=True)
class LogPage:
    ids: list[int]
    next: int | None  # the id the next page starts after; None: this was the last page


@dataclass(frozen=True)
class LogRow:
    """One line of the log table."""

    id: int
    at: datetime
    kind: str
    actor: str
    action: str
    state: str
    reason_code: str | None
    department: str  # its code; "" for an entry of no department
    site_id: int | None
    site_name: str
    platform: str
    comment_id: int | None
    author_name: str  # of the retained record it cites, else of the comment now
    excerpt: str
    note: str
    detail: str
    subject: str
    before: str | None  # an administrative entry's subject as it stood, canonical JSON
    after: str | None
    outcome_of: int | None
    record_id: int | None


@dataclass(frozen=True)
class RecordView:
    """A retained record: the comment as it stood when acted on."""

    id: int
    captured_at: datetime
    captured_by: str
    platform: str
    author_name: str
    author_id: str
    text: str
    created_at: datetime
    permalink: str
    post_text: str
    post_permalink: str
    attachments: list[str]
    sha256: str


@dataclass(frozen=True)
class CommentNow:
    """The comment's working copy: what the platform showed at the last sync."""

    id: int
    author_name: str
    text: str
    status: str
    platform_state: str
    permalink: str
    fetched_at: datetime
    edited_at: datetime | None
    gone_seen_at: datetime | None


@dataclass(frozen=True)
class VersionView:
    """Text the author replaced by editing the comment."""

    author_name: str
    text: str
    edited_at: datetime | None
    replaced_seen_at: datetime


@dataclass(frozen=True)
class EntryDetail:
    row: LogRow
    policy_version: str | None
    second_review: bool
    prev_hash: str
    entry_hash: str
    record_sha256: str | None
    record: RecordView | None
    comment: CommentNow | None
    versions: list[VersionView]
    history: list[LogRow]  # every entry of the comment, oldest first


@dataclass(frozen=True)
class Choice:
    value: int | str
    label: str


def _row_query(text: ColumnElement[str]) -> Select[*tuple[Any, ...]]:
    return (
        select(
            LogEntry.id, LogEntry.at, LogEntry.kind, LogEntry.actor, LogEntry.action,
            LogEntry.state, LogEntry.reason_code, LogEntry.department_id, LogEntry.site_id,
            LogEntry.comment_id,
            func.coalesce(RetainedRecord.author_name, Comment.author_name).label("author"),
            text.label("text"), LogEntry.note, LogEntry.detail, LogEntry.subject,
            LogEntry.before, LogEntry.after, LogEntry.outcome_of, LogEntry.record_id,
        )
        .outerjoin(RetainedRecord, RetainedRecord.id == LogEntry.record_id)
        .outerjoin(Comment, Comment.id == LogEntry.comment_id)
    )  # fmt: skip


# A page of rows, built once: the ids are one expanding parameter (each given as a literal
# was coerced and named one by one).
_ROWS = _row_query(
    func.substr(func.coalesce(RetainedRecord.text, Comment.text), 1, EXCERPT_CHARS)
).where(in_ids(LogEntry.id))


class LogView:
    """The action log of one person; safe to call from several threads (a session per call).

    Raises PermissionDenied at once for a person who may not read the log.
    """

    def __init__(self, db: Database, username: str) -> None:
        self.db = db
        self.username = username
        self.actor: Actor
        self.departments: dict[int, str]
        self.sites: dict[int, SiteInfo]
        self.refresh()

    def refresh(self) -> None:
        """Read the person's roles, departments and sites again."""
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            require_log_reader(actor)
            departments = select(Department.id, Department.code).order_by(Department.code)
            if actor.supervises is not None:
                departments = departments.where(Department.id.in_(actor.supervises))
            found = {row[0]: row[1] for row in session.execute(departments)}
            sites = session.execute(
                select(Site.id, Site.name, Site.platform, Site.department_id)
                .where(Site.department_id.in_(found))
                .order_by(Site.name, Site.id)
            )
            self.sites = {row[0]: SiteInfo(row[0], row[1], row[2], found[row[3]]) for row in sites}
        self.actor, self.departments = actor, found

    def _still_allowed(self, session: Session) -> None:
        """Roles are read again for every new question: one taken back applies at once."""
        if resolve_actor(session, self.username) != self.actor:
            self.refresh()

    # --- choices for the filters ---------------------------------------------------------

    def department_choices(self) -> list[Choice]:
        return [Choice(d, code) for d, code in self.departments.items()]

    def site_choices(self) -> list[Choice]:
        return [Choice(s.id, s.name) for s in self.sites.values()]

    def platforms(self) -> list[str]:
        return sorted({site.platform for site in self.sites.values()})

    def people(self) -> list[Choice]:
        """Everyone who may have acted: people are named in the log by username."""
        with self.db.session() as session:
            rows = session.execute(
                select(Person.username, Person.display_name).order_by(Person.display_name)
            )
            return [Choice(username, f"{name} ({username})") for username, name in rows]

    # --- pages of ids --------------------------------------------------------------------

    def page(
        self,
        log_filter: LogFilter,
        after: int | None = None,
        limit: int = PAGE_SIZE,
        newest_first: bool = True,
    ) -> LogPage:
        """Up to `limit` entry ids after entry `after` (the start when None)."""
        if limit <= 0:
            return LogPage([], None)
        with self.db.session() as session:
            self._still_allowed(session)
            terms = search_terms(log_filter.search)
            walked = bool(terms) and session.get_bind().dialect.name == "postgresql"
            conditions = self._conditions(session, log_filter, words=not walked)
            if after is not None:
                conditions.append(LogEntry.id < after if newest_first else LogEntry.id > after)
            if walked:
                ids = _walked_words(session, terms, conditions, limit, newest_first)
            else:
                order = LogEntry.id.desc() if newest_first else LogEntry.id
                query = select(LogEntry.id).where(*conditions).order_by(order).limit(limit)
                ids = list(session.scalars(query))
        return LogPage(ids, ids[-1] if len(ids) == limit else None)

    def count(self, log_filter: LogFilter) -> int:
        with self.db.session() as session:
            self._still_allowed(session)
            conditions = self._conditions(session, log_filter)
            query = select(func.count()).select_from(LogEntry).where(*conditions)
            return session.scalar(query) or 0

    def conditions(self, session: Session, log_filter: LogFilter) -> list[ColumnElement[bool]]:
        """The person's scope and the filters on `LogEntry`, for other readings of the log (the
        dashboard): one set of filters and role rules. Roles are read again first."""
        self._still_allowed(session)
        return self._conditions(session, log_filter)

    def _conditions(
        self, session: Session, log_filter: LogFilter, *, words: bool = True
    ) -> list[ColumnElement[bool]]:
        """The person's scope, then each filter (the search's words unless not `words`);
        refuses a department or site outside it."""
        f = log_filter
        conditions = self._scope()
        outside = sorted(d for d in f.department_ids if d not in self.departments)
        if outside:
            raise PermissionDenied(
                f"{self.actor.describe()} does not supervise department {outside[0]}: the log "
                "of a department is read by its supervisor or the oversight group."
            )
        unknown = sorted(s for s in f.site_ids if s not in self.sites)
        if unknown:
            raise PermissionDenied(
                f"Site {unknown[0]} is not a site of a department {self.actor.describe()} "
                "supervises."
            )
        if f.department_ids:
            conditions.append(LogEntry.department_id.in_(sorted(f.department_ids)))
        if f.site_ids or f.platforms:
            site_ids = [
                site.id
                for site in self.sites.values()
                if (not f.site_ids or site.id in f.site_ids)
                and (not f.platforms or site.platform in f.platforms)
            ]
            conditions.append(LogEntry.site_id.in_(site_ids))
        for column, values in (
            (LogEntry.actor, f.actors),
            (LogEntry.action, f.actions),
            (LogEntry.reason_code, f.reason_codes),
            (LogEntry.state, f.states),
            (LogEntry.kind, f.kinds),
        ):
            if values:
                conditions.append(column.in_(sorted(values)))
        if f.review_states:
            states = [ReviewState(s) for s in sorted(f.review_states)]
            conditions.append(or_(*(review_state_condition(s) for s in states)))
        if f.comment_id is not None:
            conditions.append(LogEntry.comment_id == f.comment_id)
        low, high = received_bounds(f.on_from, f.on_to)
        if low is not None:
            conditions.append(LogEntry.at >= low)
        if high is not None:
            conditions.append(LogEntry.at < high)
        terms = search_terms(f.search)
        if terms and words:
            dialect = session.get_bind().dialect.name
            conditions.append(LogEntry.comment_id.in_(comments_matching(dialect, terms)))
        return conditions

    def _scope(self) -> list[ColumnElement[bool]]:
        if self.actor.supervises is None:
            return []
        # Seals belong to no department: every reader of the log may see the head sealed.
        reach: list[ColumnElement[bool]] = [LogEntry.kind == EntryKind.SEAL.value]
        if self.departments:
            reach.append(LogEntry.department_id.in_(sorted(self.departments)))
        if self.actor.administers:
            reach.append(LogEntry.kind == EntryKind.ADMIN.value)
        return [or_(*reach)]

    def _in_scope(self, department_id: int | None, kind: str) -> bool:
        if self.actor.supervises is None:
            return True
        if kind == EntryKind.SEAL or (self.actor.administers and kind == EntryKind.ADMIN):
            return True
        return department_id is not None and department_id in self.departments

    # --- rows ----------------------------------------------------------------------------

    def rows(self, ids: Sequence[int]) -> list[LogRow]:
        """The rows of these entries, in the order given; entries out of reach left out."""
        if not ids:
            return []
        with self.db.session() as session:
            return self._rows(session, ids)

    def _rows(self, session: Session, ids: Sequence[int]) -> list[LogRow]:
        found = session.connection().execute(_ROWS, {"ids": list(ids)}).all()
        by_id = {row[0]: row for row in found if self._in_scope(row.department_id, row.kind)}
        return [self._log_row(by_id[i]) for i in ids if i in by_id]

    def _log_row(self, row: Any) -> LogRow:
        site = self.sites.get(row.site_id) if row.site_id is not None else None
        return LogRow(
            row.id, row.at, row.kind, row.actor, row.action, row.state, row.reason_code,
            self.departments.get(row.department_id, "") if row.department_id else "",
            row.site_id, site.name if site else "", site.platform if site else "",
            row.comment_id, row.author or "", row.text or "", row.note, row.detail,
            row.subject or "", row.before, row.after, row.outcome_of, row.record_id,
        )  # fmt: skip

    # --- exports -------------------------------------------------------------------------

    def export_records(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Every field of these entries, with the whole text of the record each cites."""
        if not ids:
            return []
        names = [c.name for c in LogEntry.__table__.columns]
        with self.db.session() as session:
            query = _row_query(func.coalesce(RetainedRecord.text, Comment.text))
            shown = {c.name for c in query.selected_columns}
            found = session.execute(
                query.add_columns(
                    *(LogEntry.__table__.c[name] for name in names if name not in shown),
                    RetainedRecord.permalink.label("permalink"),
                ).where(LogEntry.id.in_(list(ids)))
            )
            by_id = {row.id: row for row in found if self._in_scope(row.department_id, row.kind)}
        records = []
        for entry_id in ids:
            row = by_id.get(entry_id)
            if row is None:
                continue
            line = self._log_row(row)
            record: dict[str, Any] = {name: getattr(row, name) for name in names}
            record.update(
                department=line.department, site_name=line.site_name, platform=line.platform,
                author_name=line.author_name, text=row.text or "", permalink=row.permalink or "",
            )  # fmt: skip
            records.append(record)
        return records

    # --- one entry -----------------------------------------------------------------------

    def entry(self, entry_id: int) -> EntryDetail:
        """An entry in full, with the record it cites, the comment now and its history."""
        with self.db.session() as session:
            self._still_allowed(session)
            entry = session.get(LogEntry, entry_id)
            if entry is None:
                raise NotFound(f"There is no log entry {entry_id}.")
            if not self._in_scope(entry.department_id, entry.kind):
                raise PermissionDenied(
                    f"Log entry {entry_id} belongs to a department {self.actor.describe()} "
                    "does not supervise."
                )
            rows = self._rows(session, [entry_id])
            record = session.get(RetainedRecord, entry.record_id) if entry.record_id else None
            comment = session.get(Comment, entry.comment_id) if entry.comment_id else None
            versions: list[VersionView] = []
            history: list[LogRow] = []
            if comment is not None:
                versions = [
                    VersionView(v.author_name, v.text, v.edited_at, v.replaced_seen_at)
                    for v in session.scalars(
                        select(CommentVersion)
                        .where(CommentVersion.comment_id == comment.id)
                        .order_by(CommentVersion.id)
                    )
                ]
                history_ids = session.scalars(
                    select(LogEntry.id)
                    .where(LogEntry.comment_id == comment.id)
                    .order_by(LogEntry.id)
                ).all()
                history = self._rows(session, history_ids)
            return EntryDetail(
                rows[0], entry.policy_version, entry.second_review, entry.prev_hash,
                entry.entry_hash, entry.record_sha256,
                _record_view(record) if record else None,
                _comment_now(comment) if comment else None, versions, history,
            )  # fmt: skip


def reads_log(actor: Actor) -> bool:
    """Whether the person supervises a department or administers (the log's readers)."""
    return actor.administers or actor.supervises is None or bool(actor.supervises)


def require_log_reader(actor: Actor) -> None:
    """Refuse, naming the role needed, anyone who neither supervises nor administers."""
    if reads_log(actor):
        return
    raise PermissionDenied(
        f"The action log is read by supervisors (and administrators, for administrative "
        f"entries), and {actor.describe()} is neither; a moderator sees each comment's history "
        "beside it. An administrator can give you the role: hsm-console admin role grant "
        f"{actor.username} supervisor --department CODE"
    )


def _record_view(record: RetainedRecord) -> RecordView:
    return RecordView(
        record.id, record.captured_at, record.captured_by, record.platform, record.author_name,
        record.author_id, record.text, record.created_at, record.permalink, record.post_text,
        record.post_permalink, list(record.attachments), record.sha256,
    )  # fmt: skip


def _comment_now(comment: Comment) -> CommentNow:
    return CommentNow(
        comment.id, comment.author_name, comment.text, comment.status, comment.platform_state,
        comment.permalink, comment.fetched_at, comment.edited_at, comment.gone_seen_at,
    )  # fmt: skip


__all__ = [
    "Choice",
    "CommentNow",
    "EntryDetail",
    "LogFilter",
    "LogPage",
    "LogRow",
    "LogView",
    "RecordView",
    "VersionView",
    "reads_log",
    "require_log_reader",
]


def _walked_words(
    session: Session,
    terms: Sequence[str],
    conditions: Sequence[ColumnElement[bool]],
    wanted: int,
    newest_first: bool,
) -> list[int]:
    """PostgreSQL: the ids of the first `wanted` entries in the page's order whose comment's
    author or text holds every term, with the other `conditions`. The log is walked in that
    order (its primary key), each entry's comment probed by id and its words tested on the
    row (`search_index.starts_a_word`), while the entries left to walk cost more than the
    matches the full-text index would give (`search_index.index_is_cheaper`); the rest is then
    read through the comments the index finds. As one `comment_id IN (...)` the planner chose
    between hashing every match and walking with each comment's tsvector made again (8 µs a
    probe): which one changed with ANALYZE's sample, and the walk took 0.56 s for the
    benchmark's common word at a million comments, the hash over a second for a word in most."""
    hit = (
        select(Comment.id)
        .where(
            Comment.id == LogEntry.comment_id,
            *(search_index.starts_a_word("postgresql", "comments", term) for term in terms),
        )
        .offset(0)  # probed by the entry's comment id, never hashed from the whole table
        .exists()
    )
    order = LogEntry.id.desc() if newest_first else LogEntry.id
    comments = search_index.comments_there_are(session)
    found: list[int] = []
    beyond: list[ColumnElement[bool]] = []  # past the last entry walked
    walked, step = 0, WALK_FIRST
    while True:
        rows = session.execute(
            select(LogEntry.id, hit).where(*conditions, *beyond).order_by(order).limit(step)
        ).all()
        found += [row[0] for row in rows if row[1]]
        walked += len(rows)
        if len(found) >= wanted or len(rows) < step:  # the page, or the log's end
            return found[:wanted]
        last = rows[-1][0]
        beyond = [LogEntry.id < last if newest_first else LogEntry.id > last]
        share = len(found) / walked
        needed = wanted - len(found)
        if search_index.index_is_cheaper(share, needed, max(comments, walked), WALK_COST):
            break
        step = min(WALK_MOST, math.ceil(needed / share * 1.25))
    matching = (
        select(Comment.id)
        .where(search_index.postgresql_match("comments", terms))
        .cte("matching")
        .prefix_with("MATERIALIZED")  # the matches first, their entries by comment id
    )
    rest = (
        select(LogEntry.id)
        .where(*conditions, *beyond, LogEntry.comment_id.in_(select(matching.c.id)))
        .order_by(order)
        .limit(wanted - len(found))
    )
    return found + list(session.scalars(rest))
