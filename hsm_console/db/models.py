"""The database schema as SQLAlchemy 2 typed models.

Two tables are records and never change once written: `retained_records` and `action_log`.
The database refuses UPDATE and DELETE on them (triggers, see `db/append_only.py`); every
other table is working state that the services keep up to date.
"""

# No `from __future__ import annotations` here: SQLAlchemy would evaluate every mapped
# annotation from its text, a quarter of this module's import (0.06 s of the window's start).
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from hsm_console.rules.search_words import document

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# A partial index's predicate is given to the dialect of the database opened
# (`use_predicates_of`, called by `Database`), not to both at import: SQLAlchemy imports a
# dialect to check the arguments named for it, and PostgreSQL's cost a window on SQLite 0.05 s
# of its start. The migrations create these indexes with both (Alembic does not compare them).
_PARTIAL: list[tuple[Index, str]] = []


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    index = Index(name, *columns, unique=unique)
    _PARTIAL.append((index, where))
    return index


def use_predicates_of(dialect: str) -> None:
    """The partial indexes' predicates for `dialect` ("sqlite" or "postgresql")."""
    for index, where in _PARTIAL:
        index.dialect_kwargs[f"{dialect}_where"] = sql_text(where)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sites: Mapped[list["Site"]] = relationship(back_populates="department")


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The operating-system account (DOMAIN\name on Windows) or the database login.
    username: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    grants: Mapped[list["RoleGrant"]] = relationship(back_populates="person")


class PersonLogin(Base):
    """A person's own PostgreSQL login on a City-wide database (db/roles.py): who the database
    takes `session_user` to be. None on SQLite, where the console acts as the OS account."""

    __tablename__ = "person_logins"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    login: Mapped[str] = mapped_column(String(63), unique=True)


class RoleGrant(Base):
    """A role held by a person, for one department or (department NULL) for all of them."""

    __tablename__ = "role_grants"
    __table_args__ = (
        UniqueConstraint("person_id", "role", "department_id"),
        # NULLs are distinct in the constraint above: a City-wide role is unique by this one.
        partial_index(
            "uq_role_grants_citywide", "person_id", "role", unique=True,
            where="department_id IS NULL",
        ),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))

    person: Mapped[Person] = relationship(back_populates="grants")


class Site(Base):
    """One account or page on one platform, belonging to one department."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("platform", "base_url", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(String(500))
    # Connector settings such as the Graph API version. Never a token: those are in the keyring.
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Served by the console's own sandbox, whose demo token is public.
    is_sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department] = relationship(back_populates="sites")


class Post(Base):
    """Content the City published on a site, kept as the context of its comments."""

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    permalink: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime]
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    raw: Mapped[dict[str, Any]]


def _search_words(context: Any) -> str:
    """A row's words for full-text search, made by the program as it is inserted
    (rules/search_words.py): the same words on every database."""
    values = context.get_current_parameters()
    return document(values.get("author_name") or "", values.get("text") or "")


class Comment(Base):
    """The working copy of a comment: what the queue shows and what actions change."""

    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("site_id", "external_id"),
        # The queue's walks and counts read these alone (migrations 0017, 0022).
        Index(
            "ix_comments_status_queue", "status", "created_at", "id", "site_id", "suggested_code"
        ),
        Index("ix_comments_site_queue", "site_id", "status", "created_at", "id", "suggested_code"),
        # The records search's window of the newest comments found (migration 0021).
        Index("ix_comments_newest", "created_at", "id"),
        # The author's other comments, shown with each comment (migration 0027).
        Index("ix_comments_author", "author_id", "created_at", "id"),
        # The few comments with an action in progress, for reconciling (migration 0028).
        partial_index(
            "ix_comments_pending", "pending_entry_id", where="pending_entry_id IS NOT NULL"
        ),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[str] = mapped_column(String(200))
    author_name: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    permalink: Mapped[str] = mapped_column(String(2000))
    attachments: Mapped[list[str]] = mapped_column(default=list)
    raw: Mapped[dict[str, Any]]
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Visibility on the platform as last seen (domain.PlatformState).
    platform_state: Mapped[str] = mapped_column(String(16))
    # The City's triage status (domain.CommentStatus); the queue shows "new".
    status: Mapped[str] = mapped_column(String(16), default="new")
    # Optimistic concurrency: every action bumps it; an action names the version it saw.
    version: Mapped[int] = mapped_column(Integer, default=0)
    # The log entry of an action recorded but not yet completed (None when idle).
    pending_entry_id: Mapped[int | None] = mapped_column(Integer)
    last_actor: Mapped[str | None] = mapped_column(String(200))
    last_action_at: Mapped[datetime | None]
    # Automatic screening's proposal (a reason code) and why; it never acts by itself.
    # Every suggestion is in `comment_suggestions`; these are the first (most harmful).
    suggested_code: Mapped[str | None] = mapped_column(String(8))
    suggestion_why: Mapped[str] = mapped_column(Text, default="", server_default="")
    # When the author last edited it (platform's time, where given) and when sync first
    # found it gone from the platform without any action of the City's.
    edited_at: Mapped[datetime | None]
    gone_seen_at: Mapped[datetime | None]
    # Full-text search's words of author_name and text (_search_words; migration 0018).
    search_words: Mapped[str] = mapped_column(Text, default=_search_words, server_default="")

    site: Mapped[Site] = relationship()
    post: Mapped[Post] = relationship()


class CommentSuggestion(Base):
    """One of screening's suggestions for a comment (every one, not only the first): the
    code, why, and the matched spans as [start, end] code-point offsets. Replaced when an edit
    is screened again; it never acts. The comment's site, status and time are copied (status
    kept in step by a trigger, migration 0019) so "any suggestion of code X" in the queue's
    order is one index walk per site and status."""

    __tablename__ = "comment_suggestions"
    __table_args__ = (
        Index(
            "ix_comment_suggestions_queue", "code", "site_id", "status", "created_at",
            "comment_id",
        ),
        Index(
            "ix_comment_suggestions_status_queue", "code", "status", "created_at",
            "comment_id", "site_id",
        ),
    )  # fmt: skip

    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)  # 0 first, in screening's order
    why: Mapped[str] = mapped_column(Text)
    spans: Mapped[list[list[int]]] = mapped_column(JSON)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class RetainedRecord(Base):
    """An immutable snapshot of a comment as it stood when acted on (append-only)."""

    __tablename__ = "retained_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    captured_at: Mapped[datetime]
    captured_by: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    platform: Mapped[str] = mapped_column(String(32))
    comment_external_id: Mapped[str] = mapped_column(String(200))
    parent_external_id: Mapped[str | None] = mapped_column(String(200))
    post_external_id: Mapped[str] = mapped_column(String(200))
    post_text: Mapped[str] = mapped_column(Text)
    post_permalink: Mapped[str] = mapped_column(String(2000))
    author_id: Mapped[str] = mapped_column(String(200))
    author_name: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    permalink: Mapped[str] = mapped_column(String(2000))
    attachments: Mapped[list[str]]
    raw: Mapped[dict[str, Any]]
    # SHA-256 of the record's canonical form; the log entry that cites it carries it too.
    sha256: Mapped[str] = mapped_column(String(64))
    # Full-text search's words of author_name and text (_search_words; not hashed: derived).
    search_words: Mapped[str] = mapped_column(Text, default=_search_words, server_default="")


# Entries that give a verdict: a review of an action, a decision on an appeal.
VERDICT_ENTRIES = "kind = 'review' OR (kind = 'appeal' AND action <> 'appeal')"
# The actions a second reviewer may owe: a hide's or removal's first entry under a judgement
# code (services/review.py, `review_state_condition`, spells these terms alike, with literals:
# a database uses a partial index only where it proves the predicate from the query's terms,
# SQLite by comparing their text, and neither from a bound parameter's value).
SECOND_REVIEW_ACTIONS = (
    "kind = 'action' AND outcome_of IS NULL AND second_review IS true "
    "AND action IN ('hide', 'remove')"
)


class LogEntry(Base):
    """One entry of the append-only, hash-chained log: every kind of entry in one chain.

    `id` is the position in the chain, assigned under the chain lock (no gaps, no forks:
    `prev_hash` is unique, so two writers can never both extend the same head). An action
    entry cites a comment and its retained record; an administrative entry names what it
    changed (`subject`) and holds it as it stood before and after, as canonical JSON.
    """

    __tablename__ = "action_log"
    __table_args__ = (
        # The first administrator is made once: the database refuses a second `init`.
        partial_index(
            "uq_action_log_first_run", "kind", "action", unique=True,
            where="kind = 'admin' AND action = 'init'",
        ),
        # One verdict per action (a review) and per appeal (its decision).
        partial_index("uq_action_log_verdict", "refers_to", unique=True, where=VERDICT_ENTRIES),
        # The review list's candidates in log order, with their department (migration 0030).
        partial_index(
            "ix_action_log_second_review", "kind", "id", "department_id",
            where=SECOND_REVIEW_ACTIONS,
        ),
        # The dashboard's (migration 0009): its passes over decisions read these alone.
        Index("ix_action_log_decisions", "kind", "state", "at", "action", "reason_code",
              "department_id", "site_id", "actor", "second_review", "comment_id"),
        Index("ix_action_log_outcomes", "state", "comment_id", "outcome_of"),
        # One outcome per pending entry (migration 0026).
        partial_index(
            "uq_action_log_outcome", "outcome_of", unique=True, where="outcome_of IS NOT NULL"
        ),
        # A register row's history: its entries by subject, e.g. "request:12" (migration 0010).
        Index("ix_action_log_subject", "subject"),
        # A comment's action entries, as the records search's filters read them (0021).
        Index("ix_action_log_comment_kind", "comment_id", "kind", "action", "state", "at"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("retained_records.id"))
    record_sha256: Mapped[str | None] = mapped_column(String(64))
    reason_code: Mapped[str | None] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text, default="")
    policy_version: Mapped[str | None] = mapped_column(String(32))
    second_review: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set on outcome entries: the pending entry this completes.
    outcome_of: Mapped[int | None] = mapped_column(ForeignKey("action_log.id"))
    detail: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # domain.EntryKind; entries written before it existed are all actions.
    kind: Mapped[str] = mapped_column(String(16), default="action", server_default="action")
    subject: Mapped[str | None] = mapped_column(String(300))  # e.g. "site:12"
    before: Mapped[str | None] = mapped_column(Text)  # canonical JSON, as hashed
    after: Mapped[str | None] = mapped_column(Text)
    # The entry this one is about: the action a review, notice or appeal concerns, the
    # appeal a decision decides, the review or decision a reversal carries out.
    refers_to: Mapped[int | None] = mapped_column(Integer, index=True)


def _decided_index(name: str, *keys: str) -> Index:
    """An index of the dashboard's decisions led by `keys`, holding every other column the
    counts and the log view's filters read, so a pass reads the index alone."""
    rest = ("action", "second_review", "department_id", "site_id", "reason_code", "actor",
            "at", "comment_id")  # fmt: skip
    return Index(name, *keys, *(c for c in rest if c not in keys))


class DashboardDecision(Base):
    """Derived data, not a record: one row per applied decision (a pending action entry with
    an `applied` outcome), with what the dashboard groups by, so it groups this table instead
    of probing the log (migration 0026). The database writes it itself: a trigger on INSERT
    into `action_log` adds the decision when its applied outcome is recorded, so no Python
    path can forget it and the log stays untouched. Verification and the records never read
    it; it can be rebuilt from the log at any time (the migration's backfill does that).
    """

    __tablename__ = "dashboard_decisions"
    __table_args__ = (
        # One index per grouping of the weekly counts, each holding every column the counts
        # and the log view's filters read: each GROUP BY walks its index in order, no sort.
        _decided_index("ix_dashboard_decisions_reason", "week", "reason_code"),
        _decided_index("ix_dashboard_decisions_place", "week", "department_id", "site_id"),
        _decided_index("ix_dashboard_decisions_person", "week", "actor"),
        # The time to decision: each department's first decisions in order of the wait, so a
        # percentile is one step into the index (ORDER BY ... OFFSET), not a sort.
        _decided_index("ix_dashboard_decisions_first", "first_of_comment", "department_id",
                       "waited"),
        # The trigger's question: the decisions of this comment before or after this one.
        Index("ix_dashboard_decisions_comment", "comment_id", "id"),
        {"info": {"derived": True}},  # rebuilt by its trigger, never copied (services/move)
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # the pending entry
    at: Mapped[datetime]  # the pending entry's, as the log has it
    week: Mapped[date]  # the Monday of `at`'s week in America/Chicago
    comment_id: Mapped[int | None]
    department_id: Mapped[int | None]
    site_id: Mapped[int | None]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(8))
    second_review: Mapped[bool] = mapped_column(Boolean)
    # Seconds from the comment's time on the platform (as it stood) to the decision.
    waited: Mapped[float | None] = mapped_column(Float)
    # The comment's first applied decision (lowest id): the time to decision counts it alone.
    first_of_comment: Mapped[bool] = mapped_column(Boolean)


class CommentCount(Base):
    """Derived data, not a record: how many comments each site has in each status, so the
    dashboard's backlog reads a row per site instead of counting every waiting comment
    (migration 0029). Triggers on `comments` keep it equal to counting them (no row for
    none), so no Python path can forget it; it can be rebuilt from `comments` at any time.
    """

    __tablename__ = "comment_counts"
    __table_args__ = ({"info": {"derived": True}},)  # rebuilt by its triggers (services/move)

    site_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    comments: Mapped[int]


class SiteConnection(Base):
    """A site's sign-in as the console last found it (a row only once something happened)."""

    __tablename__ = "site_connections"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    # When the platform refused to renew the site's sign-in; None while it is connected.
    reconnect_needed_at: Mapped[datetime | None]


class SyncState(Base):
    """Per-site sync bookkeeping: how far we have read, and what went wrong last."""

    __tablename__ = "sync_state"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    high_water: Mapped[datetime | None]
    cursor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_sync_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    wait_until: Mapped[datetime | None]
    last_ok_at: Mapped[datetime | None]  # end of the last sync that read the site
    # The gap still open (written to `capture_gaps` when it ends): since when, why, in words.
    unreadable_since: Mapped[datetime | None]
    unreadable_kind: Mapped[str | None] = mapped_column(String(16))
    unreadable_detail: Mapped[str] = mapped_column(Text, default="", server_default="")


class CaptureGap(Base):
    """An interval in which a site could not be read (append-only; written when it ended)."""

    __tablename__ = "capture_gaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # services.health.GapKind
    began_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    detail: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime]


class SiteCheck(Base):
    """The latest outcome of one of the policy's checks on one site (`rules.site_checks`):
    working state, updated in place at each sync; not a record."""

    __tablename__ = "site_checks"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    check: Mapped[str] = mapped_column(String(16), primary_key=True)  # site_checks.Check
    state: Mapped[str] = mapped_column(String(16))  # site_checks.CheckState
    detail: Mapped[str] = mapped_column(Text)  # what fails, in words
    failing: Mapped[list[str]]  # posts: permalinks (or ids) of those that fail
    seen: Mapped[str] = mapped_column(Text)  # the profile text as read (untrusted)
    checked_at: Mapped[datetime]


class CommentVersion(Base):
    """A comment's text as it stood before its author edited it (append-only).

    The working copy in `comments` shows the newest version; every earlier one is kept here,
    so an edit never loses what the public first read.
    """

    __tablename__ = "comment_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    author_name: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]]
    edited_at: Mapped[datetime | None]  # when this version was replaced, per the platform
    replaced_seen_at: Mapped[datetime]  # when sync saw the new version
    # Full-text search's words of author_name and text (_search_words; not hashed: derived).
    search_words: Mapped[str] = mapped_column(Text, default=_search_words, server_default="")


class ApiUsage(Base):
    """Units spent per platform and quota day, for platforms that meter calls (YouTube)."""

    __tablename__ = "api_usage"
    __table_args__ = (UniqueConstraint("platform", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    day: Mapped[str] = mapped_column(String(10))  # the platform's quota day, YYYY-MM-DD
    units: Mapped[int] = mapped_column(Integer, default=0)


class RecordsRequest(Base):
    """A public-records request in the register (issue 10): working state, each change of it
    an entry of the log (`EntryKind.REQUEST`, subject `request:<id>`)."""

    __tablename__ = "records_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The department that answers it; None: the City Clerk's office, for the whole City.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    received_at: Mapped[datetime]
    requester: Mapped[str] = mapped_column(Text)  # as given: no form or purpose may be demanded
    words: Mapped[str] = mapped_column(Text)  # the request as written
    scope: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the search that answers it
    due_on: Mapped[date]
    extended_to: Mapped[date | None]
    extension_reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16))  # draft, open, extended, answered, withdrawn
    handler: Mapped[str | None] = mapped_column(String(200))  # a records officer's username
    # A comment coded FOI in the queue, and when the moderator handed it over.
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"), index=True)
    handed_over_at: Mapped[datetime | None]


class LegalHold(Base):
    """A legal hold (issue 10): working state, each placing and lifting an entry of the log
    (`EntryKind.HOLD`, subject `hold:<id>`). In force while `lifted_at` is None; it keeps
    every comment its criteria match (`rules.retention.HoldScope`) from disposal."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    author_id: Mapped[str | None] = mapped_column(String(200))
    from_on: Mapped[date | None]
    thru_on: Mapped[date | None]
    request_id: Mapped[int | None] = mapped_column(ForeignKey("records_requests.id"))
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(200))
    placed_at: Mapped[datetime]
    lifted_by: Mapped[str | None] = mapped_column(String(200))
    lifted_at: Mapped[datetime | None]
    lift_reason: Mapped[str] = mapped_column(Text, default="")


class DisposalCertificate(Base):
    """A Local Records Disposal Certificate the Commission approved, as recorded by a records
    officer (the `certify` entry); records it covers may be disposed of from `allowed_from`."""

    __tablename__ = "disposal_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    notice_given_on: Mapped[date]  # sent to the Commission: the thirty days' notice
    approved_on: Mapped[date]
    allowed_from: Mapped[date]  # rules.retention.disposal_allowed_from
    covers: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # retention.Coverage lines
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime]
    entry_id: Mapped[int] = mapped_column(ForeignKey("action_log.id"))


class DisposedRecord(Base):
    """A record disposed of under a certificate (append-only): a retained record (`record_id`)
    or a comment's working copy with its versions (`record_id` None), its SHA-256 as it
    stood, and the `dispose` entry that lists it. The row it names is kept, blanked."""

    __tablename__ = "disposed_records"
    __table_args__ = (
        partial_index(
            "uq_disposed_records_comment", "comment_id", unique=True, where="record_id IS NULL"
        ),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("retained_records.id"), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    certificate_id: Mapped[int] = mapped_column(ForeignKey("disposal_certificates.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("action_log.id"), index=True)
    disposed_at: Mapped[datetime]


class Ban(Base):
    """A ban of a comment's author in the blocked-accounts register (issue 10): working state,
    each step of it an entry of the log (`EntryKind.BAN`, subject `ban:<id>`)."""

    __tablename__ = "bans"
    __table_args__ = (Index("ix_bans_state_ends_at", "state", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    platform: Mapped[str] = mapped_column(String(32))
    author_id: Mapped[str] = mapped_column(String(200))  # the platform's id of the author
    author_name: Mapped[str] = mapped_column(Text)  # as the platform gave it (untrusted)
    # The comment the ban is made through (YouTube bans by rejecting one) and all it cites.
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"))
    cited_comments: Mapped[list[int]] = mapped_column(JSON)
    codes: Mapped[list[str]] = mapped_column(JSON)
    basis: Mapped[str] = mapped_column(Text)
    ends_on: Mapped[date]
    ends_at: Mapped[datetime]  # the start of `ends_on` in America/Chicago
    state: Mapped[str] = mapped_column(String(16))  # rules.bans.BanState
    proposed_by: Mapped[str] = mapped_column(String(200))
    proposed_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    carried_out_at: Mapped[datetime | None]
    by_hand: Mapped[bool] = mapped_column(Boolean, default=False)  # carried out by a person
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(200))
    end_reason: Mapped[str] = mapped_column(Text, default="")
    # The pending entry of a platform call not yet completed (None when idle).
    pending_entry_id: Mapped[int | None] = mapped_column(Integer)
    last_detail: Mapped[str] = mapped_column(Text, default="")  # the last outcome, in words


class Presence(Base):
    """Who has which comment open (migration 0016): working state, never a record. A row per
    open window showing a comment (`holder`, a random id), kept fresh by a heartbeat and
    deleted when the window leaves it; a row whose heartbeat is older than
    `services.presence.EXPIRY` is ignored. Written only on PostgreSQL."""

    __tablename__ = "presence"

    holder: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(200))
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    opened_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


# --- The agent (services/agent.py, migration 0015): working state, none of it a record -------


class Agent(Base):
    """A running `hsm-console agent`: its public key, to which tokens are sealed, and its
    heartbeat. `instance` names this run of it: a claim by an instance whose heartbeat is
    stale was interrupted."""

    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))  # X25519, base64
    instance: Mapped[str] = mapped_column(String(36))
    host: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]


class AgentJob(Base):
    """A platform step a workstation recorded (steps 1-2) for the agent to carry out (3-4):
    the pending entry it completes. Deleted with the outcome entry's transaction."""

    __tablename__ = "agent_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("action_log.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # "action" or "ban"
    queued_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(36))  # an agent's instance
    claimed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None]  # after a reconciliation that could not ask


class SiteLease(Base):
    """Which agent syncs a site, until when (renewed with its heartbeat)."""

    __tablename__ = "agent_site_leases"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]


class SealedSecret(Base):
    """A keyring entry sealed to one agent's public key on an administrator's workstation;
    the agent opens it into its own keyring and deletes the row."""

    __tablename__ = "sealed_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent: Mapped[str] = mapped_column(ForeignKey("agents.name"), index=True)
    key: Mapped[str] = mapped_column(String(600))  # the keyring entry's name, e.g. "app:x"
    sealed: Mapped[str] = mapped_column(Text)  # base64 of the sealed box
    sealed_by: Mapped[str] = mapped_column(String(200))
    sealed_at: Mapped[datetime]


class AgentSignIn(Base):
    """One site's sign-in as one agent holds it (migration 0023): its state and expiry, never
    a token, for the workstations' Sign-in column and `doctor` in the City-wide mode."""

    __tablename__ = "agent_sign_ins"

    agent: Mapped[str] = mapped_column(ForeignKey("agents.name"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(24))  # services/health.TokenState
    until: Mapped[datetime | None]
    problem: Mapped[str] = mapped_column(Text, default="")  # why its keyring could not be read
    checked_at: Mapped[datetime]


@event.listens_for(Comment, "before_update")
def _reword_comment(mapper: Any, connection: Any, comment: Comment) -> None:
    """An edited comment's words follow its text (an author's edit, seen by sync)."""
    state = inspect(comment)
    if state.attrs.text.history.has_changes() or state.attrs.author_name.history.has_changes():
        comment.search_words = document(comment.author_name, comment.text)
