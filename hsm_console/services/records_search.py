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

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    and_,
    func,
    or_,
    select,
    tuple_,
    union,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import TextClause

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
# The comments a window of words walks on PostgreSQL (`_walked_words`) first, and at most a
# step: fewer than the queue's, as each walked row of an action filter costs a probe of the
# log (250 hidden are some 6,000 of the benchmark's comments), and for a LIMIT of 25,000 the
# planner hashed the log's matching entries and sorted the comments instead.
WALK_FIRST, WALK_MOST = 250, 2_500
# What a comment walked costs against a match read from the full-text indexes (heap row,
# sort), as measured at a million comments: some twice as much, and some eight times with an
# action filter, whose probe of the log most comments walked fail
# (`search_index.index_is_cheaper`).
WALK_COST, WALK_COST_ACTIONS = 2.0, 8.0
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
        offset = max(offset, 0)
        with self.db.session() as session:
            if terms:
                conditions = self.conditions(session, query, words=False, walked=True)
                cost = WALK_COST_ACTIONS if query.filters_actions else WALK_COST
                found = _walked_words(session, terms, conditions, offset + limit + 1, cost)
                hits = _hits(session, [], limit + 1, 0, [i for i, _ in found[offset:]])
            else:
                conditions = self.conditions(session, query)
                hits = _hits(session, conditions, limit + 1, offset)
        return SearchResult(query, hits[:limit], offset, len(hits) > limit)

    def count(self, query: RecordsQuery) -> SearchCounts:
        """How much everything the query finds brings: reads all of it (in the background)."""
        with self.db.session() as session:
            return count_all(session, self.matching(session, query))

    def matching(self, session: Session, query: RecordsQuery) -> Select[int]:
        """The ids of all the comments the query finds, within the officer's reach. Roles are
        read again first: one taken back applies at once."""
        return select(Comment.id).where(*self.conditions(session, query, window=False))

    def conditions(
        self,
        session: Session,
        query: RecordsQuery,
        *,
        window: bool = True,
        words: bool = True,
        walked: bool = False,
    ) -> list[ColumnElement[bool]]:
        """The conditions on `comments` of the query, within the officer's reach, for a
        `window` of the newest or for all of them; without the words' unless `words`; for a
        walk of the newest (`_walked_words`) if `walked`."""
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
            # cost bounded by the department's size rather than the City's, but paid again
            # at each step of a walk: there the site is tested on the rows walked (an
            # expression no index serves; 1.4 s for a word in 11 % of a department's
            # comments at 1.3 million, walked in steps).
            site = Comment.site_id + 0 if walked and self.db.is_sqlite else Comment.site_id
            conditions.append(site.in_(sorted(session.scalars(sites))))
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
        # One IN over the three sets, not three IN's joined by OR: PostgreSQL cannot make
        # those a join, and a set too big for work_mem to hash (a word in most of a million
        # comments) was searched row by row for every comment, over twenty minutes.
        conditions.append(
            Comment.id.in_(
                union_all(
                    comments_matching(dialect, terms),
                    select(RetainedRecord.comment_id).where(
                        RetainedRecord.id.in_(rows_matching(dialect, "retained_records", terms))
                    ),
                    select(CommentVersion.comment_id).where(
                        CommentVersion.id.in_(rows_matching(dialect, "comment_versions", terms))
                    ),
                )
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
    """How much the comments `found` bring (up to `heads`, if given), in one statement that
    finds them once: each count in its own statement found them again (at a million
    comments, a word in most of them took 84 s on PostgreSQL, four times the finding)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    source = found.cte("found")
    if not sqlite:
        source = source.prefix_with("MATERIALIZED")  # found once, whatever else is planned

    def of_found(table: Any, comment_id: Any) -> Select[Any]:
        """The rows of `table` whose comment was found. SQLite reads them by IN over the
        table it makes of the CTE. PostgreSQL joins: knowing nothing of the CTE's ids, it
        guessed an IN over it at a couple of hundred and probed the table by comment id
        for each of hundreds of thousands; a join it hashes."""
        if sqlite:
            return select(table).where(comment_id.in_(select(source.c.id)))
        return select(table).join(source, source.c.id == comment_id)

    def of_kind(kind: EntryKind) -> ColumnElement[int]:
        return func.count().filter(LogEntry.kind == kind.value)

    records = of_found(RetainedRecord, RetainedRecord.comment_id)
    versions = of_found(CommentVersion, CommentVersion.comment_id)
    entries = of_found(LogEntry, LogEntry.comment_id)
    if heads is not None:
        records = records.where(RetainedRecord.id <= heads.record)
        versions = versions.where(CommentVersion.id <= heads.version)
        entries = entries.where(LogEntry.id <= heads.entry)
    counts = [
        select(func.count()).select_from(source),
        records.with_only_columns(func.count()),
        versions.with_only_columns(func.count()),
    ]
    logged = entries.with_only_columns(
        func.count(), of_kind(EntryKind.REVIEW), of_kind(EntryKind.NOTE)
    ).subquery()
    row = session.execute(select(*(count.scalar_subquery() for count in counts), *logged.c)).one()
    return SearchCounts(*(value or 0 for value in row))


def _walked_words(
    session: Session,
    terms: Sequence[str],
    conditions: Sequence[ColumnElement[bool]],
    wanted: int,
    cost: float,
) -> list[tuple[int, datetime]]:
    """PostgreSQL: the (id, created_at) of the `wanted` newest comments that hold the words,
    or whose retained record or earlier version does, with the other `conditions`. As the
    queue's search does (`QueueView._walked_search`), the newest comments are walked in order
    (`ix_comments_newest`), each tested (its own words, then an EXISTS on its records' and
    versions' by comment id), while the rows still to walk for the window are fewer than the
    matches the full-text indexes would give (`search_index.index_is_cheaper`); else the rest
    is read from them (`_found_by_words`). Sorting every match first took 10 to 17 s at a million
    comments for a word in nearly every one (the benchmark's "resident", in every author's
    name)."""
    dialect = session.get_bind().dialect.name

    def holds(name: str) -> ColumnElement[bool]:
        return and_(*(search_index.starts_a_word(dialect, name, term) for term in terms))

    held = [  # OFFSET 0: probed by comment id, not hashed from the whole table's words
        select(table.id).where(table.comment_id == Comment.id, holds(name)).offset(0).exists()
        for table, name in (
            (RetainedRecord, "retained_records"), (CommentVersion, "comment_versions"),
        )
    ]  # fmt: skip
    hit = or_(holds("comments"), *held)
    comments = search_index.comments_there_are(session)
    found: list[tuple[int, datetime]] = []
    older: list[ColumnElement[bool]] = []  # after the last comment walked: an index range
    walked, step = 0, WALK_FIRST
    while True:
        # The test in the walk's own row: only the rows the LIMIT takes are tested, and the
        # row is at hand (a join back to the comments' rows became a hash join over all of
        # them at 25,000 rows).
        rows = session.execute(
            select(Comment.id, Comment.created_at, hit)
            .where(*conditions, *older)
            .order_by(Comment.created_at.desc(), Comment.id.desc())
            .limit(step)
        ).all()
        found += [(row[0], row[1]) for row in rows if row[2]]
        walked += len(rows)
        if len(found) >= wanted or len(rows) < step:  # the window, or the comments' end
            return found[:wanted]
        older = [tuple_(Comment.created_at, Comment.id) < (rows[-1][1], rows[-1][0])]
        share = len(found) / walked
        if search_index.index_is_cheaper(share, wanted - len(found), max(comments, walked), cost):
            break
        step = min(WALK_MOST, math.ceil((wanted - len(found)) / share * 1.25))
    rest = _found_by_words(dialect, terms, [*conditions, *older])
    page = (
        select(rest.c.id, rest.c.created_at)
        .order_by(rest.c.created_at.desc(), rest.c.id.desc())
        .limit(wanted - len(found))
    )
    return found + [(row[0], row[1]) for row in session.execute(page)]


def _found_by_words(
    dialect: str, terms: Sequence[str], conditions: Sequence[ColumnElement[bool]]
) -> CTE:
    """The (id, created_at) of the comments that hold the words or whose retained record or
    earlier version does, with the other `conditions`, as a CTE for the window to sort
    (MATERIALIZED on PostgreSQL). As one condition of three IN's joined by OR, PostgreSQL's
    planner hashed the three and walked the newest comments testing each (50,000 for the
    benchmark's common word); here a comment's own words are tested on the rows its index
    finds, and the records' and versions' comments are read by id."""

    def matched(table: Any, name: str) -> ColumnElement[bool] | TextClause:
        """The index's condition on the table's own rows (FTS5's is a table of its own)."""
        if dialect == "postgresql":
            return search_index.postgresql_match(name, terms)
        return cast("ColumnElement[bool]", table.id.in_(rows_matching(dialect, name, terms)))

    others = union_all(
        select(RetainedRecord.comment_id).where(matched(RetainedRecord, "retained_records")),
        select(CommentVersion.comment_id).where(matched(CommentVersion, "comment_versions")),
    )
    found = union(
        select(Comment.id, Comment.created_at).where(matched(Comment, "comments"), *conditions),
        select(Comment.id, Comment.created_at).where(Comment.id.in_(others), *conditions),
    ).cte("found")
    return found.prefix_with("MATERIALIZED") if dialect == "postgresql" else found


def _hits(
    session: Session,
    conditions: Sequence[ColumnElement[bool]],
    limit: int,
    offset: int,
    found: Sequence[int] | None = None,
) -> list[Hit]:
    """The window: the comments `conditions` keep, or those `found` (`_walked_words`)."""
    columns = (
        Comment.id, Department.code, Site.name, Site.platform, Comment.author_name,
        Comment.created_at, func.substr(Comment.text, 1, EXCERPT_CHARS), Comment.status,
    )  # fmt: skip
    window = select(*columns).join(Site, Site.id == Comment.site_id)
    window = window.join(Department, Department.id == Site.department_id)
    if found is None:
        newest_first = (Comment.created_at.desc(), Comment.id.desc())
        rows = session.execute(
            window.where(*conditions).order_by(*newest_first).limit(limit).offset(offset)
        ).all()
    else:  # read by id, and put in the order found
        at = {comment_id: n for n, comment_id in enumerate(found)}
        rows = sorted(
            session.execute(window.where(Comment.id.in_(list(found)))).all() if found else [],
            key=lambda row: at[row[0]],
        )
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
