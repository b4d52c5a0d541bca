"""A City's years of data, written fast but honestly, on SQLite or PostgreSQL.

12 departments, 40 sites (five on each of the eight platforms), 250 posts a site, `comments`
comments in threads (three in ten answer an earlier comment of their post), two in a hundred
edited (an earlier version kept), and a log of `entries` entries on a valid hash chain:
decisions (each with its retained record, hashed) and their outcomes, and reviews of one in
ten decisions. The schema comes from the migrations, and every trigger stays in force as in
production (the append-only triggers, and SQLite's full-text triggers): rows go in by
`executemany` (SQLite) or `COPY` (PostgreSQL), in large transactions, with ids chosen here.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import func, select, text

from hsm_console.db.chain import (
    ALL_ENTRY_FIELDS,
    GENESIS_HASH,
    RECORD_FIELDS,
    entry_hash_of_row,
    record_hash,
)
from hsm_console.db.engine import Database
from hsm_console.db.models import Comment
from hsm_console.rules.domain import Platform, Role
from hsm_console.rules.search_words import document
from hsm_console.services import admin

DEPARTMENTS = (
    ("PARKS", "Parks & Recreation"),
    ("POLICE", "Police"),
    ("FIRE", "Fire"),
    ("CLERK", "City Clerk"),
    ("LIBRARY", "Library"),
    ("WATER", "Water Utility"),
    ("TRANSIT", "Transit"),
    ("HEALTH", "Public Health"),
    ("PLANNING", "Planning"),
    ("MAYOR", "Office of the Mayor"),
    ("COUNCIL", "City Council"),
    ("WORKS", "Public Works"),
)
SITES_PER_PLATFORM = 5
POSTS_PER_SITE = 250
COMMON_WORD = "playground"  # in about 1 comment in 100
RARE_WORD = "zephyrine"  # in about 1 comment in 20,000
CODES = ("PRF", "THR", "HAR", "DSC", "SEX", "SPM", "OFT", "COM", "PII")
MODERATORS = 24
SUPERVISOR = "chief"
RECORDS_OFFICER = "clerk"
ADMINISTRATOR = "itadmin"
# Decisions as moderators make them, and the status each leaves the comment in.
ACTIONS = (
    (("hide", "hidden"),) * 6
    + (("keep", "kept"),) * 5
    + (("flag", "flagged"),) * 3
    + (("remove", "removed"),)
)
BATCH = 50_000


@dataclass
class Scale:
    comments: int
    entries: int
    seed: int = 2026

    @property
    def decisions(self) -> int:
        """Each decision writes two entries (pending, outcome); one in fifteen is reviewed."""
        return max(1, round(self.entries / (2 + 1 / 15)))


@dataclass
class Filled:
    """What the runner needs to know of the data it measures."""

    username: str  # the person the window opens as: moderator, supervisor, records officer
    site_ids: list[int]
    department_ids: dict[str, int]
    comments: int
    entries: int
    records: int
    versions: int
    end: datetime
    moderators: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.comments:,} comments, {self.versions:,} earlier versions, "
            f"{self.records:,} retained records and {self.entries:,} log entries"
        )


def already_filled(db: Database, username: str) -> Filled:
    """What `fill` made in this database before (for measuring it again)."""
    with db.session() as session:

        def count(table: str) -> int:
            return int(session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)

        departments: dict[str, int] = dict(
            session.execute(text("SELECT code, id FROM departments")).all()
        )
        sites = list(
            session.scalars(
                text("SELECT id FROM sites WHERE external_id NOT LIKE 'ingest-%' ORDER BY id")
            )
        )
        end = session.scalar(select(func.max(Comment.created_at)))
        return Filled(
            username,
            sites,
            departments,
            count("comments"),
            count("action_log"),
            count("retained_records"),
            count("comment_versions"),
            end or datetime.now(UTC),
            [f"mod{n:02}" for n in range(MODERATORS)],
        )


def fill(db: Database, scale: Scale, username: str, progress: Any = print) -> Filled:
    """Fill an empty, migrated database."""
    department_ids, site_ids = _people_and_sites(db, username)
    rng = random.Random(scale.seed)  # noqa: S311 - test data, not secrets
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    begin = end - timedelta(days=730)
    writer = _Writer(db)
    posts = _posts(site_ids, begin, end, rng)
    writer.insert(
        "posts",
        ("id", "site_id", "external_id", "text", "permalink", "created_at", "fetched_at", "raw"),
        posts,
    )
    site_department = dict(_site_departments(db))
    acted = _acted(rng, scale)
    records: dict[int, dict[str, Any]] = {}  # comment id -> its retained record's values
    versions = 0
    words = text_maker(rng)
    for first in range(0, scale.comments, BATCH):
        rows, edits = [], []
        for number in range(first, min(first + BATCH, scale.comments)):
            post = posts[number * len(posts) // scale.comments]
            row = _comment(rng, number, post, words, end, acted.get(number + 1))
            rows.append(row)
            if acted.get(number + 1):
                records[row[0]] = _record_values(row, post, site_department)
            if rng.random() < 0.02:
                edits.append(_version(row, rng))
        writer.insert("comments", COMMENT_COLUMNS, rows)
        writer.insert(
            "comment_versions",
            ("comment_id", "author_name", "text", "raw", "edited_at", "replaced_seen_at"),
            edits,
        )
        versions += len(edits)
        progress(f"  {min(first + BATCH, scale.comments):>9,} comments")
    # Every suggestion as sync stores it (one a comment here), for the queue's code filter.
    writer.execute(
        "INSERT INTO comment_suggestions"
        " (comment_id, code, rank, why, spans, site_id, status, created_at)"
        " SELECT id, suggested_code, 0, suggestion_why, '[]', site_id, status, created_at"
        " FROM comments WHERE suggested_code IS NOT NULL"
    )
    record_ids = _write_records(writer, records)
    entries = _write_log(writer, rng, acted, records, record_ids, site_department, scale.entries)
    writer.finish()
    progress(f"  {len(records):,} retained records, {entries:,} log entries, {versions:,} versions")
    return Filled(
        username,
        site_ids,
        department_ids,
        scale.comments,
        entries,
        len(records),
        versions,
        end,
        [f"mod{n:02}" for n in range(MODERATORS)],
    )


# --- people, sites, posts -------------------------------------------------------------------


def _people_and_sites(db: Database, username: str) -> tuple[dict[str, int], list[int]]:
    with db.transaction() as session:
        departments = [admin.ensure_department(session, code, name) for code, name in DEPARTMENTS]
        site_ids = []
        for p, platform in enumerate(Platform):
            for n in range(SITES_PER_PLATFORM):
                department = departments[(p * SITES_PER_PLATFORM + n) % len(departments)]
                site = admin.ensure_site(
                    session,
                    department,
                    platform,
                    f"{department.name} on {platform.label} {n}",
                    f"{platform.value}-{n}",
                    "https://bench.invalid",
                )
                site_ids.append(site.id)
        user = admin.ensure_person(session, username, "Benchmark User")
        for department in departments:
            admin.grant(session, user, Role.MODERATOR, department)
        for role in (Role.SUPERVISOR, Role.RECORDS_OFFICER, Role.ADMINISTRATOR):
            admin.grant(session, user, role, None)
        for n in range(MODERATORS):
            person = admin.ensure_person(session, f"mod{n:02}", f"Moderator {n}")
            admin.grant(session, person, Role.MODERATOR, departments[n % len(departments)])
        for account, role in (
            (SUPERVISOR, Role.SUPERVISOR),
            (RECORDS_OFFICER, Role.RECORDS_OFFICER),
            (ADMINISTRATOR, Role.ADMINISTRATOR),
        ):
            admin.grant(session, admin.ensure_person(session, account, account.title()), role, None)
        return {d.code: d.id for d in departments}, site_ids


def _site_departments(db: Database) -> Iterable[tuple[int, int]]:
    with db.session() as session:
        return list(session.execute(text("SELECT id, department_id FROM sites")))


def _posts(
    site_ids: Sequence[int], begin: datetime, end: datetime, rng: random.Random
) -> list[tuple[Any, ...]]:
    """Posts in time order (ids follow time), each on one of the sites."""
    count = len(site_ids) * POSTS_PER_SITE
    span = (end - begin).total_seconds()
    rows = []
    for n in range(count):
        at = begin + timedelta(seconds=span * n / count)
        site = site_ids[rng.randrange(len(site_ids))]
        rows.append(
            (
                n + 1,
                site,
                f"post-{n}",
                f"Announcement {n}: pool hours and road work",
                f"https://bench.invalid/p/{n}",
                at,
                at,
                {"id": f"post-{n}"},
            )
        )
    return rows


# --- comments ------------------------------------------------------------------------------

COMMENT_COLUMNS = (
    "id", "site_id", "post_id", "parent_id", "external_id", "author_id", "author_name", "text",
    "created_at", "permalink", "attachments", "raw", "fetched_at", "platform_state", "status",
    "version", "last_actor", "last_action_at", "suggested_code", "suggestion_why", "edited_at",
)  # fmt: skip


@dataclass(frozen=True)
class _Decision:
    action: str
    status: str
    code: str | None
    actor: str
    delay: timedelta
    failed: bool
    reviewed: bool


def _acted(rng: random.Random, scale: Scale) -> dict[int, _Decision]:
    """The comments decided on (by id), and how."""
    chosen = rng.sample(range(1, scale.comments + 1), min(scale.decisions, scale.comments))
    decisions = {}
    for n, comment_id in enumerate(chosen):
        action, status = ACTIONS[n % len(ACTIONS)]
        decisions[comment_id] = _Decision(
            action,
            status,
            CODES[n % len(CODES)] if action != "keep" else None,
            f"mod{n % MODERATORS:02}",
            timedelta(minutes=10 + rng.randrange(3 * 24 * 60)),
            n % 20 == 0,
            n % 10 == 0,
        )
    return decisions


def _comment(
    rng: random.Random,
    number: int,
    post: tuple[Any, ...],
    words: Callable[[], str],
    end: datetime,
    decision: _Decision | None,
) -> tuple[Any, ...]:
    comment_id = number + 1
    posted: datetime = post[5]
    created = min(posted + timedelta(seconds=rng.randrange(20 * 86_400)), end)
    # Three in ten answer an earlier comment of the same post (comments come post by post).
    parent = comment_id - 1 - rng.randrange(5) if rng.random() < 0.3 and number > 5 else None
    author = number % 50_000
    code = CODES[rng.randrange(len(CODES))] if rng.random() < 0.1 else None
    actor: str | None = None
    acted: datetime | None = None
    if decision is not None:
        status, actor = decision.status, decision.actor
        acted = min(created + decision.delay, end)
    else:
        status = "new" if rng.random() < 0.85 else "kept"
    return (
        comment_id,
        post[1],
        post[0],
        parent,
        f"c-{number}",
        f"a-{author}",
        f"Resident {author}",
        words(),
        created,
        f"https://bench.invalid/c/{number}",
        [],
        {"id": f"c-{number}"},
        created,
        "hidden" if status == "hidden" else "removed" if status == "removed" else "visible",
        status,
        1 if decision else 0,
        actor,
        acted,
        code,
        f"Screening matched something ({code})" if code else "",
        None,
    )


def _version(row: tuple[Any, ...], rng: random.Random) -> tuple[Any, ...]:
    created: datetime = row[8]
    return (
        row[0],
        row[6],
        f"{row[7]} (before the author's edit)",
        row[11],
        created + timedelta(minutes=rng.randrange(1, 600)),
        created + timedelta(hours=12),
    )


def _record_values(
    row: tuple[Any, ...], post: tuple[Any, ...], site_department: dict[int, int]
) -> dict[str, Any]:
    values = dict(zip(COMMENT_COLUMNS, row, strict=True))
    return {
        "comment_id": values["id"],
        "captured_at": values["last_action_at"],
        "captured_by": values["last_actor"],
        "site_id": values["site_id"],
        "platform": "",
        "comment_external_id": values["external_id"],
        "parent_external_id": None
        if values["parent_id"] is None
        else f"c-{values['parent_id'] - 1}",
        "post_external_id": post[2],
        "post_text": post[3],
        "post_permalink": post[4],
        "author_id": values["author_id"],
        "author_name": values["author_name"],
        "text": values["text"],
        "created_at": values["created_at"],
        "permalink": values["permalink"],
        "attachments": [],
        "raw": values["raw"],
    }


RECORD_COLUMNS = ("id", *RECORD_FIELDS, "sha256")


def _write_records(writer: _Writer, records: dict[int, dict[str, Any]]) -> dict[int, int]:
    """Retained records in the order they were captured; returns comment id -> record id."""
    platforms = dict(writer.rows("SELECT id, platform FROM sites"))
    ordered = sorted(records.values(), key=lambda r: (r["captured_at"], r["comment_id"]))
    ids = {}
    rows = []
    for n, values in enumerate(ordered, start=1):
        values["platform"] = platforms[values["site_id"]]
        values["sha256"] = record_hash(values)
        ids[values["comment_id"]] = n
        rows.append((n, *(values[name] for name in RECORD_COLUMNS[1:])))
    for first in range(0, len(rows), BATCH):
        writer.insert("retained_records", RECORD_COLUMNS, rows[first : first + BATCH])
    return ids


# --- the log ---------------------------------------------------------------------------------

LOG_COLUMNS = (*ALL_ENTRY_FIELDS, "entry_hash")


def _write_log(
    writer: _Writer,
    rng: random.Random,
    acted: dict[int, _Decision],
    records: dict[int, dict[str, Any]],
    record_ids: dict[int, int],
    site_department: dict[int, int],
    limit: int,
) -> int:
    """Decisions, their outcomes and reviews in time order, each hashed on the one before;
    at most `limit` entries."""
    end = max(r["captured_at"] for r in records.values())
    events: list[tuple[datetime, int, int]] = []  # (when, comment id, 0 decision / 1 review)
    for comment_id, decision in acted.items():
        at = records[comment_id]["captured_at"]
        events.append((at, comment_id, 0))
        if decision.reviewed and decision.action != "keep":
            review_at = min(at + timedelta(hours=20 + rng.randrange(48)), end)
            events.append((review_at, comment_id, 1))
    events.sort()
    pending_of: dict[int, int] = {}
    chain = _Chain()
    for at, comment_id, is_review in events:
        decision = acted[comment_id]
        record = records[comment_id]
        site = record["site_id"]
        common = {
            "comment_id": comment_id,
            "site_id": site,
            "department_id": site_department[site],
            "reason_code": decision.code,
        }
        if is_review:
            refers = pending_of[comment_id]
            verdict = "question" if rng.random() < 0.1 else "concur"
            chain.add(
                at=at,
                actor=SUPERVISOR,
                state="applied",
                action=verdict,
                kind="review",
                subject=f"entry:{refers}",
                refers_to=refers,
                **common,
            )
        else:
            pending_of[comment_id] = chain.add(
                at=at,
                actor=decision.actor,
                state="pending",
                action=decision.action,
                record_id=record_ids[comment_id],
                record_sha256=record["sha256"],
                second_review=decision.code in ("HAR", "OFT"),
                **common,
            )
            chain.add(
                at=at + timedelta(seconds=1),
                actor=decision.actor,
                state="failed" if decision.failed else "applied",
                action=decision.action,
                record_id=record_ids[comment_id],
                record_sha256=record["sha256"],
                second_review=decision.code in ("HAR", "OFT"),
                outcome_of=pending_of[comment_id],
                **common,
            )
        if len(chain.rows) >= BATCH:
            writer.insert("action_log", LOG_COLUMNS, chain.take(limit))
        if chain.written >= limit:
            break
    writer.insert("action_log", LOG_COLUMNS, chain.take(limit))
    return min(chain.written, limit)


class _Chain:
    """Entries in ALL_ENTRY_FIELDS order and their hashes, each on the one before."""

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "record_id": None,
        "record_sha256": None,
        "note": "",
        "policy_version": "2026.1",
        "second_review": False,
        "outcome_of": None,
        "detail": "",
        "kind": "action",
        "subject": None,
        "before": None,
        "after": None,
        "refers_to": None,
    }

    def __init__(self) -> None:
        self.previous = GENESIS_HASH
        self.written = 0
        self.rows: list[tuple[Any, ...]] = []

    def add(self, **fields: Any) -> int:
        self.written += 1
        values = {**self.DEFAULTS, **fields, "id": self.written, "prev_hash": self.previous}
        row = tuple(values[name] for name in ALL_ENTRY_FIELDS)
        self.previous = entry_hash_of_row(row)
        self.rows.append((*row, self.previous))
        return self.written

    def take(self, limit: int) -> list[tuple[Any, ...]]:
        rows = [row for row in self.rows if row[0] <= limit]
        self.rows = []
        return rows


# --- writing ---------------------------------------------------------------------------------


# Tables whose rows carry `search_words` (rules/search_words.py), filled by the models' column
# default for the console's own inserts, by hand for these.
SEARCHED = frozenset({"comments", "comment_versions", "retained_records"})


class _Writer:
    """Bulk inserts through the driver itself: `executemany` on SQLite, `COPY` on PostgreSQL,
    one transaction a batch; the tables' triggers run as in production."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.connection = db.engine.raw_connection()
        self.cursor = self.connection.cursor()
        self.max_ids: dict[str, int] = {}
        self.gin: list[str] = []
        if db.is_sqlite:
            self.cursor.execute("PRAGMA synchronous=OFF")  # for the fill only
            return
        # Full-text indexes are built once at the end (as a restore does): kept up to date row
        # by row they cost most of the fill. They are indexes, not triggers.
        for name, definition in self.rows(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexdef LIKE '% USING gin %'"
        ):
            self.cursor.execute(f'DROP INDEX "{name}"')
            self.gin.append(definition)
        self.connection.commit()

    def execute(self, sql: str) -> None:
        """One statement in a transaction of its own."""
        if self.db.is_sqlite:
            self.cursor.execute("BEGIN")  # the engine's connections are in autocommit mode
            self.cursor.execute(sql)
            self.cursor.execute("COMMIT")
            return
        self.cursor.execute(sql)
        self.connection.commit()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        self.cursor.execute(sql)
        return list(self.cursor.fetchall())

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if table in SEARCHED:  # the words full-text search reads, as the models' default makes
            author, said = columns.index("author_name"), columns.index("text")
            columns = (*columns, "search_words")
            rows = [(*row, document(row[author], row[said])) for row in rows]
        if "id" in columns:
            self.max_ids[table] = max(self.max_ids.get(table, 0), max(r[0] for r in rows))
        if self.db.is_sqlite:
            marks = ", ".join("?" * len(columns))
            self.cursor.execute("BEGIN")  # the engine's connections are in autocommit mode
            self.cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                [tuple(_sqlite_value(v) for v in row) for row in rows],
            )
            self.cursor.execute("COMMIT")
            return
        with self.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in _pg_rows(rows):
                copy.write_row(row)
        self.connection.commit()

    def finish(self) -> None:
        for definition in self.gin:
            self.cursor.execute("SET maintenance_work_mem = '512MB'")
            self.cursor.execute(definition)
        if not self.db.is_sqlite:
            for table, last in self.max_ids.items():
                if table != "action_log":
                    self.cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {last})"
                    )
        self.connection.commit()
        self.connection.close()
        if not self.db.is_sqlite:
            # Statistics and the visibility map, as autovacuum makes them soon after a load.
            with self.db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                connection.execute(text("VACUUM ANALYZE"))


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _pg_rows(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        yield tuple(json.dumps(v) if isinstance(v, dict | list) else v for v in row)


def text_maker(rng: random.Random) -> Callable[[], str]:
    """Comments of 4 to 40 words from a vocabulary of 6,000 with a Zipf-like spread: the
    common word in about 1 in 100, the rare word in about 1 in 20,000."""
    vocabulary = [_word(rng) for _ in range(6000)]
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))

    def make() -> str:
        words = rng.choices(vocabulary, cum_weights=weights, k=rng.randint(4, 40))
        if rng.random() < 0.01:
            words.insert(rng.randrange(len(words)), COMMON_WORD)
        if rng.random() < 0.00005:
            words.insert(rng.randrange(len(words)), RARE_WORD)
        return " ".join(words).capitalize() + "."

    return make


def _word(rng: random.Random) -> str:
    return "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 10)))
