"""The search that answers a records request (docs/design.md, "Search and export packages").

A records officer narrows the City's comments by days, department, site, platform, author,
words, reason code, action and outcome (`RecordsQuery`), and sees before anything is
exported how much the answer holds: the comments, their retained records, their earlier
versions, and their log entries, of which reviews and notes. What a comment matched on is the
comment as a whole: a hit brings every record, version and entry of it, since a request for
"the comments removed, with the reasons and the original text" wants each one complete.

Records officers only, narrowed to the departments they keep records for (the City Clerk's
office: every one); a filter naming a department or site outside them is refused.

A search answers in two steps, as the queue does: `search` gives a window of the comments
found, newest first, from the comments' (created_at, id) index (a window is read, never the
whole answer); `count` counts everything the comments bring, which reads every row found and
runs in the background. For a window, the filters on actions are an EXISTS per comment over
the log's comment index, so the walk stops as soon as the window is full; for everything
found (the counts, the package) they are the set of matching entries, read once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, ColumnElement, Select, func, or_, select, union, union_all
from sqlalchemy.orm import Session

from hsm_console.db import search_index
from hsm_console.db.engine import Database
from hsm_console.db.models import (
    Comment,
    CommentVersion,
    Department,
    LogEntry,
    RetainedRecord,
    Site,
)
from hsm_console.errors import PermissionDenied
from hsm_console.rules.domain import EntryKind
from hsm_console.rules.records_query import DateBasis, RecordsQuery
from hsm_console.services.access import Actor, require_records_officer, resolve_actor
from hsm_console.services.queue_view import (
    comments_matching,
    received_bounds,
    rows_matching,
    search_terms,
)

HIT_LIMIT = 500  # hits in a window; the counts are of everything
EXCERPT_CHARS = 300


@dataclass(frozen=True)
class SearchCounts:
    comments: int = 0
    records: int = 0  # retained records
    versions: int = 0  # earlier versions of the comments' text
    entries: int = 0  # log entries of the comments, every kind
    reviews: int = 0  # of which reviews
    notes: int = 0  # and notes

    def as_dict(self) -> dict[str, int]:
        return {
            "comments": self.comments, "retained_records": self.records,
            "versions": self.versions, "log_entries": self.entries, "reviews": self.reviews,
            "notes": self.notes,
        }  # fmt: skip

    def describe(self) -> str:
        return (
            f"{self.comments} comment(s), {self.records} retained record(s), {self.versions} "
            f"earlier version(s), {self.entries} log entries (of which {self.reviews} "
            f"review(s) and {self.notes} note(s))"
        )


@dataclass(frozen=True)
class Hit:
    """One comment the search found, with how much of the record it brings."""

    comment_id: int
    department: str
    site_name: str
    platform: str
    author_name: str
    created_at: datetime
    excerpt: str  # untrusted: shown as plain text
    status: str
    records: int
    versions: int
    entries: int


@dataclass(frozen=True)
class SearchResult:
    """A window of the comments found, newest first (`count` counts them all)."""

    query: RecordsQuery
    hits: list[Hit]
    offset: int = 0  # how many newer comments came before the window
    more: bool = False  # older comments follow the window

    @property
    def truncated(self) -> bool:
        return self.more or self.offset > 0


class RecordsSearch:
    """Searches for one records officer; a session per call (thread-safe).

    Raises PermissionDenied at once for anyone who is not a records officer.
    """

    def __init__(self, db: Database, username: str) -> None:
        self.db = db
        self.username = username
        with db.session() as session:
            self.actor = self.officer(session)

    def officer(self, session: Session) -> Actor:
        """The person, read again (one role taken back applies at once): refused unless a
        records officer."""
        actor = resolve_actor(session, self.username)
        require_records_officer(actor, "search the records for a request")
        return actor

    def department_codes(self) -> dict[int, str]:
        """The departments the officer keeps records for, by id."""
        with self.db.session() as session:
            return self._departments(session, self.officer(session))

    @staticmethod
    def _departments(session: Session, actor: Actor) -> dict[int, str]:
        query = select(Department.id, Department.code).order_by(Department.code)
        if actor.keeps_records is not None:
            query = query.where(Department.id.in_(sorted(actor.keeps_records)))
        return {row[0]: row[1] for row in session.execute(query)}

    def sites(self) -> list[tuple[int, str, str]]:
        """(id, name, platform) of the sites in the officer's departments."""
        with self.db.session() as session:
            reach = self._departments(session, self.officer(session))
            rows = session.execute(
                select(Site.id, Site.name, Site.platform)
                .where(Site.department_id.in_(sorted(reach)))
                .order_by(Site.name, Site.id)
            )
            return [(row[0], row[1], row[2]) for row in rows]

    def search(self, query: RecordsQuery, limit: int = HIT_LIMIT, offset: int = 0) -> SearchResult:
        """The comments the query finds, newest first: `limit` of them after the `offset`
        newest. Reads the window only, however many are found."""
        terms = search_terms(query.words)
        with self.db.session() as session:
            if terms and not self.db.is_sqlite:
                conditions = self.conditions(session, query, words=False)
                found = _found_by_words(terms, conditions)
                hits = _hits(session, [], limit + 1, max(offset, 0), found)
            else:
                conditions = self.conditions(session, query)
                hits = _hits(session, conditions, limit + 1, max(offset, 0))
        return SearchResult(query, hits[:limit], max(offset, 0), len(hits) > limit)

    def count(self, query: RecordsQuery) -> SearchCounts:
        """How much everything the query finds brings: reads all of it (in the background)."""
        with self.db.session() as session:
            return count_all(session, self.matching(session, query))

    def matching(self, session: Session, query: RecordsQuery) -> Select[int]:
        """The ids of all the comments the query finds, within the officer's reach. Roles are
        read again first: one taken back applies at once."""
        return select(Comment.id).where(*self.conditions(session, query, window=False))

    def conditions(
        self, session: Session, query: RecordsQuery, *, window: bool = True, words: bool = True
    ) -> list[ColumnElement[bool]]:
        """The conditions on `comments` of the query, within the officer's reach, for a
        `window` of the newest or for all of them; without the words' unless `words`."""
        actor = self.officer(session)
        reach = self._departments(session, actor)
        by_code = {code: d for d, code in reach.items()}
        outside = sorted(code for code in query.departments if code not in by_code)
        if outside:
            raise PermissionDenied(
                f"{actor.describe()} does not keep the records of department {outside[0]!r} "
                "(or there is no such department): a department's records are searched by its "
                "records officer or the City Clerk's office."
            )
        departments = [by_code[c] for c in sorted(query.departments)] or sorted(reach)
        sites = select(Site.id).where(Site.department_id.in_(departments))
        if query.site_ids:
            known = set(session.scalars(sites.where(Site.id.in_(sorted(query.site_ids)))))
            unknown = sorted(query.site_ids - known)
            if unknown:
                raise PermissionDenied(
                    f"Site {unknown[0]} is not a site of a department whose records "
                    f"{actor.describe()} keeps."
                )
            sites = sites.where(Site.id.in_(sorted(query.site_ids)))
        if query.platforms:
            sites = sites.where(Site.platform.in_(sorted(query.platforms)))
        conditions = _comment_conditions(session.get_bind().dialect.name, query, window, words)
        narrowed = query.departments or query.site_ids or query.platforms
        if narrowed or actor.keeps_records is not None:
            # As a list read once. PostgreSQL walks the newest comments filtering by it;
            # SQLite (no statistics) reads the sites' comments by site and sorts them, a
            # cost bounded by the department's size rather than the City's.
            conditions.append(Comment.site_id.in_(sorted(session.scalars(sites))))
        return conditions


def _comment_conditions(
    dialect: str, query: RecordsQuery, window: bool, words: bool = True
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    low, high = received_bounds(query.on_from, query.on_to)
    if query.dated is DateBasis.POSTED:
        if low is not None:
            conditions.append(Comment.created_at >= low)
        if high is not None:
            conditions.append(Comment.created_at < high)
    author = query.author.strip()
    if author:
        conditions.append(
            or_(
                Comment.author_id == author,
                func.lower(Comment.author_name).contains(author.lower(), autoescape=True),
            )
        )
    terms = search_terms(query.words)
    if terms and words:
        conditions.append(
            or_(
                Comment.id.in_(comments_matching(dialect, terms)),
                Comment.id.in_(
                    select(RetainedRecord.comment_id).where(
                        RetainedRecord.id.in_(rows_matching(dialect, "retained_records", terms))
                    )
                ),
                Comment.id.in_(
                    select(CommentVersion.comment_id).where(
                        CommentVersion.id.in_(rows_matching(dialect, "comment_versions", terms))
                    )
                ),
            )
        )
    if query.filters_actions:
        entries: list[ColumnElement[bool]] = [LogEntry.kind == EntryKind.ACTION.value]
        for column, values in (
            (LogEntry.action, query.actions),
            (LogEntry.reason_code, query.reason_codes),
            (LogEntry.state, query.outcomes),
        ):
            if values:
                entries.append(column.in_(sorted(values)))
        if query.dated is DateBasis.ACTED:
            if low is not None:
                entries.append(LogEntry.at >= low)
            if high is not None:
                entries.append(LogEntry.at < high)
        if window:  # probed per comment walked (module docstring)
            entries.append(LogEntry.comment_id == Comment.id)
            conditions.append(select(LogEntry.id).where(*entries).exists())
        else:
            conditions.append(Comment.id.in_(select(LogEntry.comment_id).where(*entries)))
    return conditions


@dataclass(frozen=True)
class Heads:
    """The newest log entry, retained record and version when a package was begun: what is
    read for it stops there, so its entries, records and counts agree while others act."""

    entry: int
    record: int
    version: int

    @classmethod
    def read(cls, session: Session) -> Heads:
        def newest(column: Any) -> int:
            return session.scalar(select(func.max(column))) or 0

        return cls(newest(LogEntry.id), newest(RetainedRecord.id), newest(CommentVersion.id))


def count_all(session: Session, found: Select[int], heads: Heads | None = None) -> SearchCounts:
    """How much the comments `found` bring (up to `heads`, if given)."""
    ids = found.scalar_subquery()

    def count(query: Select[Any]) -> int:
        return session.scalar(query) or 0

    entries: list[ColumnElement[bool]] = [LogEntry.comment_id.in_(ids)]
    records: list[ColumnElement[bool]] = [RetainedRecord.comment_id.in_(ids)]
    versions: list[ColumnElement[bool]] = [CommentVersion.comment_id.in_(ids)]
    if heads is not None:
        entries.append(LogEntry.id <= heads.entry)
        records.append(RetainedRecord.id <= heads.record)
        versions.append(CommentVersion.id <= heads.version)
    by_kind = dict(
        session.execute(
            select(LogEntry.kind, func.count()).where(*entries).group_by(LogEntry.kind)
        ).all()
    )
    return SearchCounts(
        comments=count(select(func.count()).select_from(found.subquery())),
        records=count(select(func.count()).where(*records)),
        versions=count(select(func.count()).where(*versions)),
        entries=sum(by_kind.values()),
        reviews=by_kind.get(EntryKind.REVIEW.value, 0),
        notes=by_kind.get(EntryKind.NOTE.value, 0),
    )


def _found_by_words(terms: Sequence[str], conditions: Sequence[ColumnElement[bool]]) -> CTE:
    """PostgreSQL: the (id, created_at) of the comments that hold the words or whose
    retained record or earlier version does, with the other `conditions`, as a MATERIALIZED
    CTE for the window to sort. As one condition of three IN's joined by OR, the planner
    hashed the three and walked the newest comments testing each (50,000 for the
    benchmark's common word); here a comment's own words are tested on the rows its index
    finds, and the records' and versions' comments are read by id."""
    own = search_index.postgresql_match("comments", terms)
    others = union_all(
        select(RetainedRecord.comment_id).where(
            search_index.postgresql_match("retained_records", terms)
        ),
        select(CommentVersion.comment_id).where(
            search_index.postgresql_match("comment_versions", terms)
        ),
    )
    found = union(
        select(Comment.id, Comment.created_at).where(own, *conditions),
        select(Comment.id, Comment.created_at).where(Comment.id.in_(others), *conditions),
    )
    return found.cte("found").prefix_with("MATERIALIZED")


def _hits(
    session: Session,
    conditions: Sequence[ColumnElement[bool]],
    limit: int,
    offset: int,
    found: CTE | None = None,
) -> list[Hit]:
    """The window: the comments `conditions` keep, or those `found` (`_found_by_words`)."""
    columns = (
        Comment.id, Department.code, Site.name, Site.platform, Comment.author_name,
        Comment.created_at, func.substr(Comment.text, 1, EXCERPT_CHARS), Comment.status,
    )  # fmt: skip
    if found is None:
        window = (
            select(*columns)
            .where(*conditions)
            .order_by(Comment.created_at.desc(), Comment.id.desc())
            .limit(limit)
            .offset(offset)
        )
    else:  # the window sorted from the ids and times alone, then its rows read
        page = (
            select(found.c.id, found.c.created_at)
            .order_by(found.c.created_at.desc(), found.c.id.desc())
            .limit(limit)
            .offset(offset)
            .subquery()
        )
        window = (
            select(*columns)
            .join_from(page, Comment, Comment.id == page.c.id)
            .order_by(page.c.created_at.desc(), page.c.id.desc())
        )
    rows = session.execute(
        window.join(Site, Site.id == Comment.site_id).join(
            Department, Department.id == Site.department_id
        )
    ).all()
    ids = [row[0] for row in rows]
    records = _per_comment(session, RetainedRecord.comment_id, ids)
    versions = _per_comment(session, CommentVersion.comment_id, ids)
    entries = _per_comment(session, LogEntry.comment_id, ids)
    return [
        Hit(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
            records.get(row[0], 0), versions.get(row[0], 0), entries.get(row[0], 0))
        for row in rows
    ]  # fmt: skip


def _per_comment(session: Session, column: Any, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(column, func.count()).where(column.in_(list(ids))).group_by(column)
    )
    return {row[0]: row[1] for row in rows}


__all__ = [
    "DateBasis",
    "Heads",
    "Hit",
    "RecordsQuery",
    "RecordsSearch",
    "SearchCounts",
    "SearchResult",
    "count_all",
]
