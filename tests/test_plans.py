"""PostgreSQL's plans of the main queries, read rather than guessed: none may read a whole
big table or sort one (issue 12).

A test table is small, and on a small table a sequential scan is the planner's right choice,
so the plans are read with `enable_seqscan` off: a sequential scan that still comes back
means no index can serve the query. A sort is allowed only over rows a LIMIT already bounded
(the merge of a queue page's branches); a sort straight over a table's rows, such as a
branch ordered by (created_at, id) from an index without the id, fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import event, text

from benchmarks.generate import COMMON_WORD, RARE_WORD, Scale, fill
from benchmarks.ingest import FeedConnector, feed_comments
from hsm_console.app import current_username
from hsm_console.db.engine import Database
from hsm_console.db.models import Department
from hsm_console.rules.domain import CommentStatus, Platform, Role
from hsm_console.rules.policy import load_policy
from hsm_console.services import admin
from hsm_console.services.comment_detail import CommentReader
from hsm_console.services.dashboard import DashboardView
from hsm_console.services.log_view import LogFilter, LogView
from hsm_console.services.moderation import ModerationService
from hsm_console.services.queue_view import ANY_SUGGESTION, QueueFilter, QueueView
from hsm_console.services.review import ReviewService
from hsm_console.services.sync import SyncService

BIG = {
    "comments",
    "comment_suggestions",
    "action_log",
    "retained_records",
    "comment_versions",
    "posts",
}
SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


@contextmanager
def statements(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs the block runs, with their parameters."""
    found: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        reads = statement.lstrip().upper().startswith(("SELECT", "WITH"))
        tables = ("FROM comments", "FROM action_log", "FROM comment_suggestions")
        if reads and any(table in statement for table in tables):
            found.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        yield found
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


def plan(db: Database, statement: str, parameters: Any) -> dict[str, Any]:
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        row = cursor.fetchone()
        assert row is not None
        found = row[0]
        tree = found if isinstance(found, list) else json.loads(found)
        return dict(tree[0]["Plan"])
    finally:
        connection.rollback()
        connection.close()


def sqlite_steps(db: Database, statement: str, parameters: Any) -> list[str]:
    """SQLite's plan of a statement, a line per step (EXPLAIN QUERY PLAN)."""
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return [str(row[-1]) for row in cursor.fetchall()]
    finally:
        connection.close()


def problems(node: dict[str, Any]) -> list[str]:
    """Whole-table scans, and sorts of a table's rows (no LIMIT between sort and scan)."""
    kind = node["Node Type"]
    found = []
    if kind == "Seq Scan" and node.get("Relation Name") in BIG:
        found.append(f"Seq Scan on {node['Relation Name']}")
    if kind in ("Sort", "Incremental Sort"):
        tables = _tables_below(node) & BIG
        if tables:
            found.append(f"{kind} of {sorted(tables)} rows")
    for child in node.get("Plans", []):
        found += problems(child)
    return found


def _tables_below(node: dict[str, Any]) -> set[str]:
    """Tables scanned below `node` with no LIMIT in between."""
    if node["Node Type"] in SCANS:
        return {node.get("Relation Name", "")}
    if node["Node Type"] == "Limit":
        return set()
    found: set[str] = set()
    for child in node.get("Plans", []):
        found |= _tables_below(child)
    return found


def _checked(db: Database, work: Callable[[], object]) -> list[str]:
    with statements(db) as found:
        work()
    assert found, "the work ran no query on comments or action_log"
    return [p for statement, parameters in found for p in problems(plan(db, statement, parameters))]


def test_the_main_queries_read_indexes_in_order(postgres_db: Database) -> None:
    db = postgres_db
    user = current_username(db)
    filled = fill(db, Scale(3000, 600), user, progress=lambda _: None)
    queue = QueueView(db, user)
    first = queue.page(QueueFilter(), None, 50)
    site = filled.site_ids[0]
    log = LogView(db, user)
    cases: dict[str, Callable[[], object]] = {
        "queue: open": lambda: queue.page(QueueFilter(), None, 500),
        "queue: the next page": lambda: queue.page(QueueFilter(), first.next, 500),
        "queue: one site": lambda: queue.page(QueueFilter(site_ids=frozenset({site})), None, 500),
        "queue: rows": lambda: queue.rows(first.ids),
        **_queue_walks(queue, filled.site_ids),
        "log: open": lambda: log.page(LogFilter()),
        "log: the next page": lambda: log.page(LogFilter(), log.page(LogFilter()).next),
        "log: one department": lambda: log.page(
            LogFilter(department_ids=frozenset(filled.department_ids.values()))
        ),
        "log: rows": lambda: log.rows(log.page(LogFilter()).ids),
        # A word in every comment: the log walked in order, each entry's comment probed by
        # id (a rarer word's page is then read through the comments the index finds).
        "log: search, a word in all": lambda: log.page(LogFilter(search="resident")),
    }
    found = {name: _checked(db, work) for name, work in cases.items()}
    assert found == {name: [] for name in cases}


def _queue_walks(queue: QueueView, site_ids: list[int]) -> dict[str, Callable[[], object]]:
    """The queue's other walks (migration 0022): by status over every site, per (site,
    status) for a few, over one code's suggestions, and the counts in index order."""
    every = QueueFilter(statuses=frozenset())
    cases = {
        "any status": every,
        "flagged": QueueFilter(statuses=frozenset({CommentStatus.FLAGGED})),
        "two sites, any status": replace(every, site_ids=frozenset(site_ids[:2])),
        "one code": QueueFilter(suggestion="PII"),
        "one code, two sites": QueueFilter(suggestion="PII", site_ids=frozenset(site_ids[:2])),
        "any suggestion": QueueFilter(suggestion=ANY_SUGGESTION),
        # A search: a word in every comment is walked, rarer ones read from the index.
        "search, a word in all": QueueFilter(search="resident"),
        "search, a common word": QueueFilter(search=COMMON_WORD),
        "search, a rare word, any status": replace(every, search=RARE_WORD),
        # The word in every comment is tested on the rows the index finds for the other.
        "search, two words, one in all": replace(every, search=f"{COMMON_WORD} resident"),
    }
    walks: dict[str, Callable[[], object]] = {
        f"queue: {name}": lambda f=queue_filter: queue.page(f, None, 500)  # type: ignore[misc]
        for name, queue_filter in cases.items()
    }
    walks["queue: counts"] = lambda: queue.counts(QueueFilter())
    return walks


def test_syncs_look_up_of_known_comments_probes_the_unique_key(postgres_db: Database) -> None:
    """Each page's look-up probes (site, platform id) for its ids, even while PostgreSQL's
    statistics hold none of the site's comments (its first sync, before its ANALYZE): given
    as `site_id = %s`, the site looked empty to the planner, which then walked all of the
    site's comments in another index for every page."""
    db = postgres_db
    with db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks")
        for key in ("old", "new"):
            admin.ensure_site(session, parks, Platform.FACEBOOK, key, key, "https://bench.invalid")
        admin.grant(session, admin.ensure_person(session, "syncer"), Role.MODERATOR, parks)
    feeds = {
        key: FeedConnector([replace(c, parent_external_id=None) for c in feed_comments(300, key)])
        for key in ("old", "new")
    }

    def connectors(site: Any) -> Any:
        return feeds[site.external_id]

    moderation = ModerationService(db, load_policy(), connectors, "syncer")
    sync = SyncService(db, connectors, moderation)
    [old, new] = sync.sites()
    sync.sync([old.id])
    with db.transaction() as session:
        session.execute(text("ANALYZE comments"))  # statistics of the old site's comments alone
    with statements(db) as found:
        sync.sync([new.id])  # new comments, then every one known
        sync.sync([new.id])
    lookups = [(s, p) for s, p in found if "unnest" in s and "FROM comments" in s]
    assert len(lookups) == 6
    for statement, parameters in lookups:
        tree = plan(db, statement, parameters)
        assert problems(tree) == []
        scans = [n for n in _nodes(tree) if n.get("Relation Name") == "comments"]
        assert [n.get("Index Name") for n in scans] == ["uq_comments_site_id"]


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_a_filtered_dashboard_and_the_review_list_read_indexes(postgres_db: Database) -> None:
    """A filtered dashboard reads only the decisions it shows: no whole `action_log` (or
    `comments`). Its sorts are of those decisions (the percentiles), bounded by the filter,
    so only scans are asked of it here; likewise the review list's page."""
    db = postgres_db
    user = current_username(db)
    filled = fill(db, Scale(3000, 600), user, progress=lambda _: None)
    dashboard = DashboardView(LogView(db, user))
    end = filled.end.date()
    filters = {
        "one department": LogFilter(department_ids=frozenset({filled.department_ids["POLICE"]})),
        "the last four weeks": LogFilter(on_from=end - timedelta(weeks=4)),
        "one reason code": LogFilter(reason_codes=frozenset({"OFT"})),
        "one moderator": LogFilter(actors=frozenset({"mod03"})),
    }
    scans = {
        name: [p for p in _checked(db, lambda f=f: dashboard.compute(f)) if p.startswith("Seq")]  # type: ignore[misc]
        for name, f in filters.items()
    }
    assert scans == {name: [] for name in filters}
    moderation = ModerationService(db, load_policy(), lambda site: None, user)  # type: ignore[arg-type,return-value]
    review = ReviewService(db, load_policy(), moderation, user)
    assert review.needs_review()  # the generated log has actions under HAR and OFT
    # Its first query sorts the actions under second-review codes (not the table) for the
    # page's LIMIT; the rest read by id from the page's entries.
    assert [p for p in _checked(db, review.needs_review) if p.startswith("Seq")] == []


def test_a_records_search_window_walks_the_newest_comments(postgres_db: Database) -> None:
    """The records officer's window of the newest comments found (migration 0021) reads
    `ix_comments_newest` in order, with no whole-table read or sort. Windows of one
    department or of an action filter, with words or without, also walk it at 200,000
    comments and more (read with EXPLAIN ANALYZE, docs/design.md), but on a test table
    sorting a few hundred rows is cheaper, and the planner rightly does."""
    from hsm_console.rules.records_query import RecordsQuery
    from hsm_console.services.records_search import RecordsSearch

    db = postgres_db
    user = current_username(db)
    fill(db, Scale(3000, 600), user, progress=lambda _: None)
    search = RecordsSearch(db, user)
    queries = {
        "every comment": RecordsQuery(),
        # Read from the full-text indexes after a short walk (`_walked_words`)...
        "words": RecordsQuery(words=COMMON_WORD),
        # ...or, for a word in every comment (every author's name), walked alone, newest
        # first, each comment's records and versions probed by its id.
        "a word in all": RecordsQuery(words="resident"),
        "a word in all, a later window": RecordsQuery(words="resident"),
    }
    found = {
        name: _checked(db, partial(search.search, q, offset=600 if "later" in name else 0))
        for name, q in queries.items()
    }
    assert found == {name: [] for name in queries}
    for words in ("resident", RARE_WORD):  # each walks first, in the index's order
        with statements(db) as seen:
            search.search(RecordsQuery(words=words))
        trees = [plan(db, statement, parameters) for statement, parameters in seen]
        walks = [tree for tree in trees if _walks_newest(tree)]
        assert walks, words
        for tree in walks:  # the records and versions probed by comment id, never hashed
            subplans = [n for n in _nodes(tree) if "Subplan Name" in n]
            assert sorted(n["Subplan Name"] for n in subplans) == ["SubPlan 1", "SubPlan 2"]
            assert {n.get("Index Name") for n in subplans} == {
                "ix_retained_records_comment_id", "ix_comment_versions_comment_id",
            }  # fmt: skip
        # The word in every comment is answered by the walk alone; the rare one's window
        # is read from the full-text indexes after it.
        from_index = [tree for tree in trees if any(n.get("CTE Name") for n in _nodes(tree))]
        assert (words, len(from_index)) == (words, 0 if words == "resident" else 1)


def test_a_records_count_of_words_joins_the_comments_found(postgres_db: Database) -> None:
    """The background count of a words query (the package's ids are found the same way):
    the comments whose own words, their records' or their versions' match are one set, found
    once in one statement and joined to what is counted, never a subplan run for each
    comment. As three IN's joined by OR, a set too big for work_mem to hash (a word in most
    of a million comments) was searched row by row for every comment: over twenty minutes;
    as one statement a count, each found them again (84 s)."""
    from hsm_console.rules.records_query import RecordsQuery
    from hsm_console.services.records_search import RecordsSearch

    db = postgres_db
    user = current_username(db)
    fill(db, Scale(3000, 600), user, progress=lambda _: None)
    search = RecordsSearch(db, user)
    with statements(db) as seen:
        counts = search.count(RecordsQuery(words="resident"))
    assert counts.comments == 3000  # in every author's name
    [(statement, parameters)] = seen  # the comments found once, and what they bring
    nodes = _nodes(plan(db, statement, parameters))
    subplans = [n["Subplan Name"] for n in nodes if "Subplan Name" in n]
    assert "CTE found" in subplans  # the comments found, once...
    assert [name for name in subplans if not name.startswith(("InitPlan", "CTE"))] == []
    assert len(subplans) >= 3  # ...and each count an InitPlan, run once


def _walks_newest(tree: dict[str, Any]) -> bool:
    """Whether the plan is a LIMIT over `ix_comments_newest` read backwards."""
    return tree["Node Type"] == "Limit" and any(
        n.get("Index Name") == "ix_comments_newest" and n.get("Scan Direction") == "Backward"
        for n in tree["Plans"]
    )


def test_a_comment_shown_finds_its_authors_other_comments_by_index(db: Database) -> None:
    """Each comment shown lists its author's other comments (services/notes.py), read from
    `ix_comments_author` in order (migration 0027): without it SQLite walked every comment of
    the platform's sites and sorted the author's, 130 ms of CPU a comment at a million."""
    user = current_username(db)
    fill(db, Scale(3000, 600), user, progress=lambda _: None)
    first = QueueView(db, user).page(QueueFilter(), None, 1).ids[0]
    with statements(db) as found:
        CommentReader(db, user).comment(first)
    history = [(s, p) for s, p in found if "comments.author_id =" in s]
    assert len(history) == 1
    statement, parameters = history[0]
    if db.is_sqlite:
        steps = sqlite_steps(db, statement, parameters)
        assert any("USING INDEX ix_comments_author" in step for step in steps), steps
        assert not any("TEMP B-TREE" in step for step in steps), steps
    else:
        tree = plan(db, statement, parameters)
        assert problems(tree) == []
        assert "ix_comments_author" in json.dumps(tree)


def test_the_review_list_reads_the_index_of_its_candidates(db: Database) -> None:
    """A page of the actions needing review reads `ix_action_log_second_review` (migration
    0030), for the oversight group as for one department's supervisor, on both databases.
    Its terms must be written as the index's predicate is, with literals: else SQLite walked
    every action of the log and sorted them (0.14 s of CPU at a million comments) and
    PostgreSQL read the log from the page's start until the page was full. SQLite walks the
    index in order; PostgreSQL does at a million comments (read with EXPLAIN ANALYZE,
    docs/design.md) but rightly sorts a test table's few candidates."""
    user = current_username(db)
    filled = fill(db, Scale(3000, 600), user, progress=lambda _: None)
    with db.transaction() as session:
        police = session.get(Department, filled.department_ids["POLICE"])
        assert police is not None
        admin.grant(session, admin.ensure_person(session, "polly"), Role.SUPERVISOR, police)
    for who in (user, "polly"):
        moderation = ModerationService(db, load_policy(), lambda site: None, who)  # type: ignore[arg-type,return-value]
        review = ReviewService(db, load_policy(), moderation, who)
        with statements(db) as found:
            assert review.needs_review()  # the generated log has actions under HAR and OFT
        [(statement, parameters)] = [(s, p) for s, p in found if "LIMIT" in s]
        if db.is_sqlite:
            steps = sqlite_steps(db, statement, parameters)
            [walk] = [s for s in steps if s.startswith(("SEARCH action_log ", "SCAN action_log "))]
            assert "USING INDEX ix_action_log_second_review" in walk, steps
            assert not any("TEMP B-TREE" in step for step in steps), steps
        else:
            tree = plan(db, statement, parameters)
            assert [p for p in problems(tree) if p.startswith("Seq")] == []
            indexes = {n.get("Index Name") for n in _nodes(tree)}
            assert "ix_action_log_second_review" in indexes
            assert "pk_action_log" not in indexes
