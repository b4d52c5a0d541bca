"""The queue as the console window shows it: filters, counts, pages of ids and rows.

Qt-free, so the window, the command line and the benchmark share it. Everything is narrowed
to the sites of the departments the person moderates: a moderator never sees another
department's comments, whatever filter or id the caller passes.

The queue can hold a million comments, so it is read in pages, newest first, by keyset
(`created_at`, `id`), never by OFFSET: each page costs the same however deep it is. A page is
the merge of index-ordered branches, one per (site, status) over `ix_comments_site_queue`
for a few sites or one per status over `ix_comments_status_queue` for many, sent as one
UNION ALL under one ORDER BY and LIMIT, which both databases merge lazily (migration 0022).
One suggested code is the same merge over the suggestions' copies of the comment's site,
status and time (migration 0019). A search starts from its own index
instead (FTS5 on SQLite, GIN on PostgreSQL, migration 0002).

Rows carry every suggestion as stored at ingest: nothing here screens text, so the window's
rows cost a primary-key read and nothing more.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple, TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    exists,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from hsm_console.db import search_index
from hsm_console.db.engine import Database
from hsm_console.db.id_lists import in_ids
from hsm_console.db.models import (
    CaptureGap,
    Comment,
    CommentSuggestion,
    Department,
    LogEntry,
    Site,
    SiteConnection,
    SyncState,
)
from hsm_console.display import CITY_TZ
from hsm_console.errors import ConfigurationError
from hsm_console.rules.domain import CommentStatus, EntryKind
from hsm_console.rules.search_words import words
from hsm_console.services.access import Actor, person_names, resolve_actor
from hsm_console.services.health import GapKind
from hsm_console.services.presence import holders, open_by_words

# Filter values for "suggestion" besides a reason code.
ANY_SUGGESTION = "*"
NO_SUGGESTION = "-"

# The table shows a comment's start; the whole text is read only for the detail pane.
EXCERPT_CHARS = 2000
PAGE_SIZE = 500  # ids a page holds unless the caller asks for fewer

_FTS = search_index.fts_table("comments")
# A search on PostgreSQL tests the queue's newest comments in order first (`_walked_search`):
# this many, then as many again as the share of matches seen says the page still needs, up
# to WALK_MOST a step, while at least WALK_SHARE of them match; a rarer word is read from the
# full-text index instead. Walking costs a row's words made into a tsvector (a few µs) for
# every row; the index costs a random heap page for every match, so the index wins below a
# share of about (page / comments)^0.5: 2 % for a page of 500 among a million.
WALK_FIRST = 1_000
WALK_MOST = 25_000
WALK_SHARE = 0.02
# Of several words, one that starts a word in at least this share of the rows walked is left
# out of the index's search and tested on the rows the rarer words found (`_walked_search`).
TESTED_SHARE = 0.2
_Columns = TypeVarTuple("_Columns")


@dataclass(frozen=True)
class QueueFilter:
    """What the moderator narrowed the queue to. Empty sets mean "all"."""

    statuses: frozenset[CommentStatus] = frozenset({CommentStatus.NEW})
    site_ids: frozenset[int] = frozenset()
    platforms: frozenset[str] = frozenset()
    received_from: date | None = None  # local (America/Chicago) dates, both inclusive
    received_to: date | None = None
    suggestion: str | None = None  # None: any; ANY_SUGGESTION, NO_SUGGESTION or a code
    search: str = ""

    def search_terms(self) -> list[str]:
        return search_terms(self.search)


@dataclass(frozen=True)
class QueueCursor:
    """Where the next page starts: after this comment, in newest-first order."""

    created_at: datetime
    id: int


@dataclass(frozen=True)
class IdPage:
    ids: list[int]
    next: QueueCursor | None  # None: this was the last page


@dataclass(frozen=True)
class RowSuggestion:
    """One of screening's suggestions, as the queue shows it."""

    code: str
    why: str
    marked_wrong: bool = False  # a moderator said it was wrong here


class QueueRow(NamedTuple):
    """One line of the queue table. A named tuple, not a frozen dataclass: the worker makes
    hundreds a read while the screen scrolls, and a tuple is made in a third of the time."""

    id: int
    created_at: datetime
    site_id: int
    site_name: str
    platform: str
    author_name: str
    excerpt: str  # the first EXCERPT_CHARS characters
    status: str
    platform_state: str
    version: int
    acting: str | None  # who is carrying out an action on it right now; None: nobody
    suggestions: tuple[RowSuggestion, ...]  # every one, most harmful first
    reconnect_needed: bool = False  # its site's platform refused the sign-in: no actions
    # Who else has it open now, in words ("Open by Jane Doe"; PostgreSQL only): "" if nobody.
    open_by: str = ""

    @property
    def suggested_code(self) -> str | None:
        """The first suggestion's code (None: screening suggested nothing)."""
        return self.suggestions[0].code if self.suggestions else None

    @property
    def suggestion_why(self) -> str:
        return self.suggestions[0].why if self.suggestions else ""


@dataclass(frozen=True)
class SiteInfo:
    id: int
    name: str
    platform: str
    department: str


@dataclass(frozen=True)
class FilterCounts:
    """How many comments each choice of one filter would show, the other filters kept."""

    total: int
    by_status: dict[str, int]
    by_site: dict[int, int]
    by_platform: dict[str, int]
    # Comments with a suggestion of each code (one with several counts under each), and
    # None: with no suggestion.
    by_suggestion: dict[str | None, int]
    with_suggestion: int = 0  # comments with at least one suggestion

    def any_suggestion(self) -> int:
        return self.with_suggestion

    def regardless_of_suggestion(self) -> int:
        return self.with_suggestion + self.by_suggestion.get(None, 0)


@dataclass(frozen=True)
class SiteSync:
    site_id: int
    site_name: str
    platform: str
    last_sync_at: datetime | None
    last_error: str
    last_ok_at: datetime | None = None  # the last sync that read the site
    unreadable_since: datetime | None = None  # the gap still open, if any
    unreadable_why: str = ""
    past_gaps: int = 0  # closed gaps on record (`hsm-console health` lists them)
    reconnect_since: datetime | None = None  # its platform refused the sign-in then


# A page of rows, by primary key, built once: the ids are one expanding parameter (each id
# given as a literal was coerced and named one by one, most of the statement's cost here).
_ROWS = select(
    Comment.id,
    Comment.created_at,
    Comment.site_id,
    Comment.author_name,
    func.substr(Comment.text, 1, EXCERPT_CHARS),
    Comment.status,
    Comment.platform_state,
    Comment.version,
    Comment.pending_entry_id,
    Comment.last_actor,
    Comment.suggested_code,
    # In the same statement: on PostgreSQL each is a round trip, which on a busy core waits
    # for the server and then for the core again.
    exists().where(
        SiteConnection.site_id == Comment.site_id,
        SiteConnection.reconnect_needed_at.is_not(None),
    ),
).where(in_ids(Comment.id))


class QueueView:
    """The queue of one person; safe to call from several threads (one session per call)."""

    def __init__(self, db: Database, username: str) -> None:
        self.db = db
        self.username = username
        self.actor: Actor
        self._sites: dict[int, SiteInfo]
        self._site_count: int  # every department's sites
        self.refresh()

    def refresh(self) -> None:
        """Read the person's roles and sites again (after an administrator changed them)."""
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            rows = session.execute(
                select(Site.id, Site.name, Site.platform, Department.name)
                .join(Department, Department.id == Site.department_id)
                .where(Site.department_id.in_(actor.moderates))
                .order_by(Site.name, Site.id)
            )
            sites = {row[0]: SiteInfo(*row) for row in rows}
            site_count = session.scalar(select(func.count()).select_from(Site)) or 0
        self.actor, self._sites, self._site_count = actor, sites, site_count

    def sites(self) -> list[SiteInfo]:
        return list(self._sites.values())

    def platforms(self) -> list[str]:
        return sorted({site.platform for site in self._sites.values()})

    # --- pages of ids ----------------------------------------------------------------

    def page(
        self, queue_filter: QueueFilter, after: QueueCursor | None = None, limit: int = 500
    ) -> IdPage:
        """Up to `limit` comment ids, newest first, after `after` (the start when None)."""
        site_ids = self._site_ids(queue_filter)
        if not site_ids or limit <= 0:
            return IdPage([], None)
        with self.db.session() as session:
            if queue_filter.search_terms() and not self.db.is_sqlite:
                found = self._walked_search(session, queue_filter, site_ids, after, limit)
            else:
                if queue_filter.search_terms():
                    query = self._search_page(queue_filter, site_ids, after, limit)
                else:
                    query = self._merged_page(
                        queue_filter, site_ids, after, limit, self.db.is_sqlite
                    )
                found = [(row[0], row[1]) for row in session.execute(query)]
        ids = [comment_id for comment_id, _ in found]
        if len(found) < limit:
            return IdPage(ids, None)
        last_id, last_created = found[-1]
        return IdPage(ids, QueueCursor(last_created, last_id))

    def _merged_page(
        self,
        queue_filter: QueueFilter,
        site_ids: list[int],
        after: QueueCursor | None,
        limit: int,
        sqlite: bool,
    ) -> Select[int, datetime]:
        """Index-ordered branches merged by one ORDER BY over their UNION ALL, which both
        databases read lazily (SQLite's merge of co-routines, PostgreSQL's Merge Append):
        a page reads about `limit` index entries however many branches there are.

        The branches are over the comments, or over the suggestions of one code, which hold
        the comment's site, status and time for exactly this. There is one branch per
        (site, status) for a few sites, or one per status over every chosen site when that
        reads fewer entries (`_by_status`), the site then filtered inside the index."""
        statuses = sorted(queue_filter.statuses or CommentStatus)
        code = queue_filter.suggestion if _is_code(queue_filter.suggestion) else None
        if code is None:
            id_column, time_column = Comment.id, Comment.created_at
            site_column, status_column = Comment.site_id, Comment.status
            common = self._common_conditions(queue_filter, after)
        else:
            s = CommentSuggestion
            id_column, time_column = s.comment_id, s.created_at
            site_column, status_column = s.site_id, s.status
            common = [
                s.code == code,
                *_time_conditions(queue_filter, after, s.created_at, s.comment_id),
            ]
        wheres: list[list[ColumnElement[bool]]]
        if _by_status(len(site_ids), self._site_count):
            wheres = [[status_column == status.value, site_column.in_(site_ids)]
                      for status in statuses]  # fmt: skip
        else:
            wheres = [[site_column == site_id, status_column == status.value]
                      for site_id, status in itertools.product(site_ids, statuses)]  # fmt: skip
        newest_first = (time_column.desc(), id_column.desc())
        branches = [
            select(id_column.label("id"), time_column.label("created_at")).where(*where, *common)
            for where in wheres
        ]
        if len(branches) == 1:
            return branches[0].order_by(*newest_first).limit(limit)
        if not sqlite:
            # PostgreSQL merges (Merge Append) only branches each ordered and limited:
            # without, it appends every branch and sorts them. SQLite's merge wants them bare.
            branches = [
                b.order_by(*newest_first).limit(limit).subquery().select() for b in branches
            ]
        merged = union_all(*branches)
        newest = merged.selected_columns
        return merged.order_by(newest.created_at.desc(), newest.id.desc()).limit(limit)  # type: ignore[return-value]

    def _walked_search(
        self,
        session: Session,
        queue_filter: QueueFilter,
        site_ids: list[int],
        after: QueueCursor | None,
        limit: int,
    ) -> list[tuple[int, datetime]]:
        """PostgreSQL: the queue's own walk (`_merged_page`), each row's words tested, while
        the word is common enough that the page is near; else the rest from the full-text
        index (`_search_page`). Left to itself the planner walks for a word in 1 % of the
        comments (it prices the test of a row's words as a single operator, not the making
        of a tsvector) and read 100,000 rows for a page; or, started from the index, a word
        in every comment would fetch every row."""
        terms = queue_filter.search_terms()
        hit = search_index.postgresql_match("comments", terms)
        # Of several words, how many rows each starts a word of (`_tested_words`).
        each = (
            [search_index.starts_a_word("postgresql", "comments", t) for t in terms]
            if len(terms) > 1
            else []
        )
        seen = [0] * len(each)
        found: list[tuple[int, datetime]] = []
        walked, step = 0, WALK_FIRST
        while True:
            walk = self._merged_page(queue_filter, site_ids, after, step, False).subquery()
            # Put in order here: a sort on the server would sit above the comments' rows.
            rows = sorted(
                session.execute(
                    select(walk.c.id, walk.c.created_at, hit, *each).join(
                        Comment, Comment.id == walk.c.id
                    )
                ).all(),
                key=lambda row: (row[1], row[0]),
                reverse=True,
            )
            found += [(row[0], row[1]) for row in rows if row[2]]
            seen = [n + sum(1 for row in rows if row[3 + i]) for i, n in enumerate(seen)]
            walked += len(rows)
            if len(found) >= limit or len(rows) < step:  # a full page, or the queue's end
                return found[:limit]
            after = QueueCursor(rows[-1][1], rows[-1][0])
            share = len(found) / walked
            if share < WALK_SHARE:
                break
            step = min(WALK_MOST, math.ceil((limit - len(found)) / share * 1.25))
        tested = _tested_words(seen, walked)
        rest = self._search_page(queue_filter, site_ids, after, limit - len(found), tested)
        return found + [(row[0], row[1]) for row in session.execute(rest)]

    def _search_page(
        self,
        queue_filter: QueueFilter,
        site_ids: list[int],
        after: QueueCursor | None,
        limit: int,
        tested: Sequence[int] = (),
    ) -> Select[int, datetime]:
        """One query starting from the full-text index, sorted afterwards: walking the queue
        in time order would read thousands of rows for each one that matches. On PostgreSQL
        the matches are a MATERIALIZED CTE, so the planner cannot turn it into that walk, and
        the words at the positions `tested` are tested on the rows the others found."""
        query = select(Comment.id, Comment.created_at).where(
            Comment.site_id.in_(site_ids),
            *self._status_conditions(queue_filter),
            *self._common_conditions(queue_filter, after),
        )
        query = self._with_search(query, queue_filter, tested)
        if not self.db.is_sqlite:
            matches = query.cte("matches").prefix_with("MATERIALIZED")
            query = select(matches.c.id, matches.c.created_at)
            newest_first = (matches.c.created_at.desc(), matches.c.id.desc())
            return query.order_by(*newest_first).limit(limit)
        return query.order_by(Comment.created_at.desc(), Comment.id.desc()).limit(limit)

    def _with_search(
        self, query: Select[*_Columns], queue_filter: QueueFilter, tested: Sequence[int] = ()
    ) -> Select[*_Columns]:
        """Narrow to comments whose author or text holds every word (as a word's start). On
        PostgreSQL the words at the positions `tested` are tested on the rows the index
        finds for the others (one of which, at least, is not tested)."""
        terms = queue_filter.search_terms()
        if not terms:
            return query
        dialect = self.db.engine.dialect.name
        if dialect == "sqlite":
            return query.join(_FTS, _FTS.c.rowid == Comment.id).where(
                _FTS.c.comments_fts.match(search_index.fts5_query(terms))
            )
        if dialect == "postgresql":
            indexed = [term for n, term in enumerate(terms) if n not in tested]
            return query.where(
                search_index.postgresql_match("comments", indexed),
                *(search_index.starts_a_word("postgresql", "comments", terms[n]) for n in tested),
            )
        raise ConfigurationError(f"Full-text search is not available on {dialect}.")

    @staticmethod
    def _status_conditions(queue_filter: QueueFilter) -> list[ColumnElement[bool]]:
        if not queue_filter.statuses:
            return []
        return [Comment.status.in_(sorted(s.value for s in queue_filter.statuses))]

    @staticmethod
    def _common_conditions(
        queue_filter: QueueFilter, after: QueueCursor | None = None
    ) -> list[ColumnElement[bool]]:
        conditions = _time_conditions(queue_filter, after, Comment.created_at, Comment.id)
        suggestion = queue_filter.suggestion
        if suggestion == ANY_SUGGESTION:
            conditions.append(Comment.suggested_code.is_not(None))
        elif suggestion == NO_SUGGESTION:
            conditions.append(Comment.suggested_code.is_(None))
        elif suggestion is not None:
            conditions.append(
                exists().where(
                    CommentSuggestion.comment_id == Comment.id,
                    CommentSuggestion.code == suggestion,
                )
            )
        return conditions

    def _site_ids(self, queue_filter: QueueFilter) -> list[int]:
        return [
            site.id
            for site in self._sites.values()
            if (not queue_filter.site_ids or site.id in queue_filter.site_ids)
            and (not queue_filter.platforms or site.platform in queue_filter.platforms)
        ]

    def matching(self, queue_filter: QueueFilter, ids: Iterable[int]) -> set[int]:
        """Which of these comments the filter shows now (a live update asks, for the rows
        whose comments changed elsewhere)."""
        wanted, site_ids = sorted(set(ids)), self._site_ids(queue_filter)
        if not wanted or not site_ids:
            return set()
        with self.db.session() as session:
            query = select(Comment.id).where(
                Comment.id.in_(wanted),
                Comment.site_id.in_(site_ids),
                *self._status_conditions(queue_filter),
                *self._common_conditions(queue_filter),
            )
            return set(session.scalars(self._with_search(query, queue_filter)))

    def newest(self, queue_filter: QueueFilter, limit: int) -> list[QueueRow]:
        """The first `limit` rows, newest first, read page by page as the window reads them."""
        rows: list[QueueRow] = []
        after: QueueCursor | None = None
        while len(rows) < limit:
            page = self.page(queue_filter, after, min(PAGE_SIZE, limit - len(rows)))
            rows += self.rows(page.ids)
            if page.next is None:
                break
            after = page.next
        return rows

    # --- rows --------------------------------------------------------------------------

    def rows(self, ids: Sequence[int]) -> list[QueueRow]:
        """The rows of these comments, in the order given; ids the person may not see are
        left out."""
        if not ids or not self._sites:
            return []
        with self.db.session() as session:
            found = session.connection().execute(_ROWS, {"ids": list(ids)}).all()
            # By primary key alone: with the site condition in SQL too, SQLite may walk the
            # site index instead, through every comment of those sites.
            by_id = {row[0]: row for row in found if row[2] in self._sites}
            under_way = [row for row in by_id.values() if row[8] is not None]
            names = person_names(session, [row[9] for row in under_way])  # none asked: no query
            acting = {row[0]: names[row[9]] for row in under_way}
            present = holders(session, by_id, self.username)
            suggested = [row[0] for row in by_id.values() if row[10] is not None]
            suggestions = _suggestions_of(session, suggested)
        result = []
        for comment_id in ids:
            row = by_id.get(comment_id)
            if row is None:
                continue
            (_, created, site_id, author, excerpt, status, state, version, *_, reconnect) = row
            site = self._sites[site_id]
            holding = present.get(comment_id)
            result.append(
                QueueRow(
                    comment_id, created, site_id, site.name, site.platform, author, excerpt,
                    status, state, version, acting.get(comment_id),
                    suggestions.get(comment_id, ()), bool(reconnect),
                    open_by_words(holding) if holding else "",
                )
            )  # fmt: skip
        return result

    # --- counts ------------------------------------------------------------------------

    def counts(self, queue_filter: QueueFilter) -> FilterCounts:
        """Counts for every choice of the site, platform, status and suggestion filters.

        Two grouped queries under the date and search filters, one over the comments (with a
        suggestion or not), one over the suggestions by code (a comment counts under each
        code it has); each facet then keeps the other filters and drops its own.
        """
        all_sites = list(self._sites)
        groups: list[tuple[int, str, bool, int]] = []
        code_groups: list[tuple[int, str, str, int]] = []
        if all_sites:
            dates = QueueFilter(
                received_from=queue_filter.received_from, received_to=queue_filter.received_to
            )
            with self.db.session() as session:
                # Grouped in the order of ix_comments_site_queue, which holds every column
                # read: one pass over the index, no table rows, no sort.
                query = (
                    select(
                        Comment.site_id, Comment.status, func.count(),
                        func.count(Comment.suggested_code),
                    )
                    .where(Comment.site_id.in_(all_sites), *self._common_conditions(dates))
                    .group_by(Comment.site_id, Comment.status)
                )  # fmt: skip
                query = self._with_search(query, queue_filter)
                for site_id, status, count, suggested in session.execute(query):
                    groups += [(site_id, status, True, suggested),
                               (site_id, status, False, count - suggested)]  # fmt: skip
                s = CommentSuggestion
                by_code = select(s.code, s.site_id, s.status, func.count()).where(
                    s.site_id.in_(all_sites),
                    *_time_conditions(dates, None, s.created_at, s.comment_id),
                )
                terms = queue_filter.search_terms()
                if terms:
                    dialect = session.get_bind().dialect.name
                    by_code = by_code.where(s.comment_id.in_(comments_matching(dialect, terms)))
                by_code = by_code.group_by(s.code, s.site_id, s.status)
                code_groups = [(r[1], r[2], r[0], r[3]) for r in session.execute(by_code)]

        statuses = {s.value for s in queue_filter.statuses}
        wanted = queue_filter.suggestion

        def site_ok(site_id: int) -> bool:
            return not queue_filter.site_ids or site_id in queue_filter.site_ids

        def platform_ok(site_id: int) -> bool:
            return not queue_filter.platforms or self._sites[site_id].platform in (
                queue_filter.platforms
            )

        def status_ok(status: str) -> bool:
            return not statuses or status in statuses

        def suggestion_ok(has: bool) -> bool:
            if wanted == ANY_SUGGESTION:
                return has
            return not has if wanted == NO_SUGGESTION else True  # a code: `facet` is its own

        # The groups the other facets count: the comments, or one code's suggestions.
        facet: list[tuple[int, str, bool, int]]
        if _is_code(wanted):
            facet = [(site, status, True, n) for site, status, code, n in code_groups
                     if code == wanted]  # fmt: skip
        else:
            facet = groups
        total = 0
        by_status: dict[str, int] = dict.fromkeys((s.value for s in CommentStatus), 0)
        by_site: dict[int, int] = dict.fromkeys(all_sites, 0)
        by_platform: dict[str, int] = dict.fromkeys(self.platforms(), 0)
        for site_id, status, has, count in facet:
            checks = (site_ok(site_id), platform_ok(site_id), status_ok(status))
            fits = suggestion_ok(has)
            if all(checks) and fits:
                total += count
            if checks[0] and checks[1] and fits:
                by_status[status] = by_status.get(status, 0) + count
            if checks[1] and checks[2] and fits:
                by_site[site_id] += count
            if checks[0] and checks[2] and fits:
                by_platform[self._sites[site_id].platform] += count
        by_suggestion: dict[str | None, int] = {}
        with_any = 0
        for site_id, status, has, count in groups:
            if site_ok(site_id) and platform_ok(site_id) and status_ok(status):
                if has:
                    with_any += count
                else:
                    by_suggestion[None] = by_suggestion.get(None, 0) + count
        for site_id, status, code, count in code_groups:
            if site_ok(site_id) and platform_ok(site_id) and status_ok(status):
                by_suggestion[code] = by_suggestion.get(code, 0) + count
        return FilterCounts(total, by_status, by_site, by_platform, by_suggestion, with_any)

    # --- sync status -------------------------------------------------------------------

    def sync_status(self) -> list[SiteSync]:
        """When each of the person's sites was last synced, and its last error."""
        with self.db.session() as session:
            states = {
                state.site_id: state
                for state in session.scalars(
                    select(SyncState).where(SyncState.site_id.in_(list(self._sites)))
                )
            }
            gaps: dict[int, int] = dict(
                session.execute(
                    select(CaptureGap.site_id, func.count())
                    .where(CaptureGap.site_id.in_(list(self._sites)))
                    .group_by(CaptureGap.site_id)
                ).all()
            )
            reconnect: dict[int, datetime] = {
                mark.site_id: mark.reconnect_needed_at
                for mark in session.scalars(
                    select(SiteConnection).where(SiteConnection.site_id.in_(list(self._sites)))
                )
                if mark.reconnect_needed_at is not None
            }
        result = []
        for site in self._sites.values():
            state = states.get(site.id)
            result.append(
                SiteSync(
                    site.id, site.name, site.platform,
                    state.last_sync_at if state else None, state.last_error if state else "",
                    state.last_ok_at if state else None,
                    state.unreadable_since if state else None,
                    GapKind(state.unreadable_kind).words
                    if state and state.unreadable_kind else "",
                    gaps.get(site.id, 0), reconnect.get(site.id),
                )
            )  # fmt: skip
        return result


def _time_conditions(
    queue_filter: QueueFilter,
    after: QueueCursor | None,
    created_at: ColumnElement[datetime] | InstrumentedAttribute[datetime],
    row_id: ColumnElement[int] | InstrumentedAttribute[int],
) -> list[ColumnElement[bool]]:
    """The received dates and where the page starts, on the comments or their suggestions."""
    conditions: list[ColumnElement[bool]] = []
    low, high = received_bounds(queue_filter.received_from, queue_filter.received_to)
    if low is not None:
        conditions.append(created_at >= low)
    if high is not None:
        conditions.append(created_at < high)
    if after is not None:
        # The first term is an index range; the second breaks ties between equal times.
        conditions.append(created_at <= after.created_at)
        conditions.append(or_(created_at < after.created_at, row_id < after.id))
    return conditions


def _by_status(chosen: int, every: int) -> bool:
    """Whether one branch per status over the `chosen` sites of `every` site reads fewer
    index entries than one branch per site and status. With comments spread evenly, a page of
    n reads about n * every / chosen entries a status that way (the other sites' skipped in
    the index), against n * chosen the other (each branch's first rows, before the merge
    keeps n); it also keeps the branches few, however many sites a City has."""
    return chosen * chosen > every


# Every stored suggestion of some comments, and whether it was marked wrong (screening's
# entry for the code, in the same statement: a round trip fewer on PostgreSQL).
_SUGGESTIONS = select(
    CommentSuggestion.comment_id,
    CommentSuggestion.rank,
    CommentSuggestion.code,
    CommentSuggestion.why,
    exists().where(
        LogEntry.comment_id == CommentSuggestion.comment_id,
        LogEntry.kind == EntryKind.SCREENING.value,
        LogEntry.reason_code == CommentSuggestion.code,
    ),
).where(in_ids(CommentSuggestion.comment_id))


def _suggestions_of(
    session: Session, comment_ids: Sequence[int]
) -> dict[int, tuple[RowSuggestion, ...]]:
    """Every stored suggestion of these comments, in screening's order, marks included."""
    if not comment_ids:
        return {}
    found: dict[int, list[RowSuggestion]] = {}
    # Put in screening's order here: a few rows a comment, read by the primary key.
    rows = sorted(session.connection().execute(_SUGGESTIONS, {"ids": list(comment_ids)}))
    for comment_id, _, code, why, wrong in rows:
        found.setdefault(comment_id, []).append(RowSuggestion(code, why, bool(wrong)))
    return {comment_id: tuple(items) for comment_id, items in found.items()}


def search_terms(text: str) -> list[str]:
    """The words of a search, each matched as the start of a stored word
    (rules/search_words.py: the words the databases index, split alike)."""
    return words(text)


def comments_matching(dialect: str, terms: Sequence[str]) -> Select[int]:
    """The ids of comments whose author or text holds every term, from the full-text index."""
    return rows_matching(dialect, "comments", terms)


def rows_matching(dialect: str, table: str, terms: Sequence[str]) -> Select[int]:
    """The ids of the rows of `table` whose author_name or text holds every term: comments,
    retained_records or comment_versions, each by its own index (db/search_index.py)."""
    return search_index.rows_matching(dialect, table, terms)  # type: ignore[return-value]


def _tested_words(seen: Sequence[int], walked: int) -> list[int]:
    """The positions of the words to test on the rows the index finds for the others: those
    that started a word in TESTED_SHARE of the `walked` rows or more (`seen` of them each),
    never the rarest. The index's list of a word is read whole, 150 ms of the server for a
    word in every comment (the benchmark's "resident", in every author's name), where testing
    it on the rows of a word in 1 % costs a few ms; the rows themselves are read either way."""
    if not seen:
        return []
    rarest = min(range(len(seen)), key=seen.__getitem__)
    return [n for n, count in enumerate(seen) if n != rarest and count >= TESTED_SHARE * walked]


def _is_code(suggestion: str | None) -> bool:
    return suggestion is not None and suggestion not in (ANY_SUGGESTION, NO_SUGGESTION)


def received_bounds(
    received_from: date | None, received_to: date | None
) -> tuple[datetime | None, datetime | None]:
    """Local calendar days (America/Chicago, both inclusive) as a half-open UTC range."""

    def start_of(day: date) -> datetime:
        return datetime.combine(day, time(0), CITY_TZ).astimezone(UTC)

    low = start_of(received_from) if received_from else None
    high = start_of(received_to + timedelta(days=1)) if received_to else None
    return low, high


__all__ = [
    "ANY_SUGGESTION",
    "NO_SUGGESTION",
    "FilterCounts",
    "IdPage",
    "QueueCursor",
    "QueueFilter",
    "QueueRow",
    "QueueView",
    "RowSuggestion",
    "SiteInfo",
    "SiteSync",
]
