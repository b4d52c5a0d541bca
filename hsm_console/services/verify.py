"""Proving the log (actions and administrative changes alike) and the retained records were
not altered.

Walks the chain in order: each entry's id follows the last (no gaps), its `prev_hash` is the
previous entry's hash, its own hash recomputes from its fields, every entry citing a record
cites it alike, and a seal entry seals the entry before it. Given a seal the records officer
kept, the log must still hold the entries it sealed. Then every retained record is hashed
again and matched with the log's citations both ways: each cited record exists under that id,
with that comment and hash, and each record is cited (docs/design.md, "Verification").
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from hashlib import sha256
from typing import Any

from sqlalchemy import String, case, func, literal_column, select, text, type_coerce
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from hsm_console.db.chain import (
    ALL_ENTRY_FIELDS,
    ENTRY_FIELDS,
    GENESIS_HASH,
    RECORD_FIELDS,
    canonical_record_hash,
    chain_head,
    entry_hash_of_row,
    record_hash,
    sql_digest,
    sql_entry_form,
    sql_record_form,
)
from hsm_console.db.disposal import is_blank
from hsm_console.db.engine import Database
from hsm_console.db.models import LogEntry, RetainedRecord
from hsm_console.display import local_time
from hsm_console.errors import PermissionDenied
from hsm_console.rules.domain import EntryKind
from hsm_console.rules.seals import Seal, seal_entry_problem, seal_problem, watched
from hsm_console.services.collector import collector_paused

BATCH = 5000
# What the walk reads of an entry: these columns, then its canonical form made by the database
# (`chain.sql_entry_form`), or on PostgreSQL the form's SHA-256 made by the server
# (`chain.sql_digest`); None for a link alone, an entry this login may not read.
WALK_FIELDS = ("id", "prev_hash", "entry_hash", "kind", "record_id", "record_sha256",
               "comment_id")  # fmt: skip
_ID, _PREV, _HASH, _KIND, _RECORD, _RECORD_HASH, _COMMENT, _FORM = range(len(WALK_FIELDS) + 1)
# Positions in an entry read whole: ALL_ENTRY_FIELDS.
_ACTOR, _ACTION = ENTRY_FIELDS.index("actor"), ENTRY_FIELDS.index("action")
_AFTER = ALL_ENTRY_FIELDS.index("after")
_SEAL, _DISPOSAL, _ACTION_KIND = (
    EntryKind.SEAL.value, EntryKind.DISPOSAL.value, EntryKind.ACTION.value
)  # fmt: skip
# Positions in a row of ("id", *RECORD_FIELDS, "sha256").
_RECORD_COMMENT = 1 + RECORD_FIELDS.index("comment_id")
_ATTACHMENTS, _RAW = 1 + RECORD_FIELDS.index("attachments"), 1 + RECORD_FIELDS.index("raw")
# What the record pass reads of a record: these, then its canonical form made by the database
# (or its SHA-256, as the walk's entries).
_R_ID, _R_COMMENT, _R_HASH, _R_FORM = range(4)
_YEAR_ONE = "'0001-01-01 00:00:00+00'"
# What the log says of a retained record: (hash cited, the comment, the first entry citing it).
Citation = tuple[str, int | None, int]
# (record id, SHA-256) of each record a disposal entry says it blanked.
Disposed = set[tuple[int, str]]


@dataclass(frozen=True)
class VerifyReport:
    entries_checked: int
    records_checked: int
    head_id: int
    head_hash: str
    problem: str = ""  # empty when everything matches
    first_bad_entry: int | None = None
    cancelled: bool = False
    seal: Seal | None = None  # the seal the log was checked against, if one was given

    @property
    def ok(self) -> bool:
        return not self.problem and not self.cancelled


def verify_log(
    db: Database,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    against: Seal | None = None,
) -> VerifyReport:
    """`against`: a seal the records officer kept; the log must still hold all it sealed."""
    with db.session() as session:
        return verify_session(session, progress, cancelled, against)


def verify_session(
    session: Session,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    against: Seal | None = None,
) -> VerifyReport:
    """`verify_log` inside the caller's transaction: a move proves its copy before committing."""
    # Server-side cursors (yield_per) must be closed even when we stop early.
    with collector_paused(), contextlib.ExitStack() as cursors:
        return _verify(session, cursors, progress, cancelled, against)


def _verify(
    session: Session,
    cursors: contextlib.ExitStack,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool],
    against: Seal | None,
) -> VerifyReport:
    walk = _Walk(
        watch=frozenset(watched(against)) if against is not None else frozenset(),
        previous_hash=GENESIS_HASH,
        read=lambda entry_id: _entry(session, entry_id),
        hashed=_server_hashes(session),
    )
    total = session.scalar(select(func.count()).select_from(LogEntry)) or 0
    batches: Iterable[Sequence[Any]] = _entry_batches(session, cursors)
    if session.get_bind().dialect.name != "sqlite" and _reads_part(session):
        # Row-level security hides other departments' entries from this login: walk the
        # chain's links (docs/design.md, "Who the database lets do what") instead.
        links = _through_links(session, itertools.chain.from_iterable(batches))
        batches, total = _in_batches(links), chain_head(session)[0]
    for batch in batches:
        stopped = walk.batch(batch)
        if stopped is not None:
            return stopped
        if progress is not None:
            progress(walk.checked, total)
        if cancelled():
            return VerifyReport(
                walk.checked, 0, walk.previous_id, walk.previous_hash, cancelled=True
            )
    if progress is not None and not walk.checked:
        progress(0, total)
    walked = VerifyReport(walk.checked, 0, walk.previous_id, walk.previous_hash, seal=against)
    if against is not None:
        problem = seal_problem(against, walk.previous_id, walk.found,
                               local_time(against.sealed_at))  # fmt: skip
        if problem:
            return replace(walked, problem=problem)
    return _check_records(session, cursors, walk.cited, walk.disposed, cancelled, walked)


def _server_hashes(session: Session) -> bool:
    """PostgreSQL hashes the forms it builds (`sha256()`); SQLite has no SHA-256."""
    return session.get_bind().dialect.name == "postgresql"


def _hashed(session: Session, form: str) -> str:
    """SQL of `form`, or of its SHA-256 where the server hashes (`_server_hashes`)."""
    return sql_digest(form) if _server_hashes(session) else form


def _digest(value: Any, hashed: bool) -> str:
    """The hex SHA-256 of a row's last value: of its form, or the server's already."""
    return value if hashed else sha256(value).hexdigest()


def _entry_batches(
    session: Session, cursors: contextlib.ExitStack
) -> Iterator[Sequence[Sequence[Any]]]:
    """Every entry in id order, BATCH at a time: WALK_FIELDS, then its canonical form as the
    database makes it (hashed there on PostgreSQL), so the driver hands over eight values an
    entry instead of twenty-three and Python only hashes, or only compares (docs/design.md,
    "Verification")."""
    form = _hashed(session, sql_entry_form(session.get_bind().dialect.name))
    columns = ", ".join(f'"{name}"' for name in WALK_FIELDS)
    query = f'SELECT {columns}, {form} FROM action_log ORDER BY "id"'
    yield from _query_batches(session, cursors, query, "hsm_verify")


def _query_batches(
    session: Session, cursors: contextlib.ExitStack, query: str, name: str
) -> Iterator[Sequence[Sequence[Any]]]:
    """`query`'s rows, BATCH at a time, by the driver's own cursor (server-side on
    PostgreSQL, so it streams; binary there, so a canonical form comes as bytes as is)."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    assert driver is not None
    postgres = connection.dialect.name == "postgresql"
    cursor = driver.cursor(name=name, binary=True) if postgres else driver.cursor()
    cursors.callback(cursor.close)
    cursor.execute(query)
    while batch := cursor.fetchmany(BATCH):
        yield batch


def _driver_batches(
    session: Session,
    cursors: contextlib.ExitStack,
    columns: list[Any],
    times: Sequence[int],
    name: str,
    where: Any = None,
) -> Iterator[Sequence[Sequence[Any]]]:
    """`columns` of a table in id order (the first is the id), BATCH rows at a time, read by
    the driver's own cursor. The columns at `times` come as the canonical form's text, made by
    the database, so no row needs Python's datetimes; JSON columns come as the driver gives
    them (text on SQLite)."""
    connection = session.connection()
    dialect = connection.dialect.name
    columns = list(columns)
    for at in times:
        if dialect == "sqlite":  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff', UTC
            stored = type_coerce(columns[at], String)
            columns[at] = func.substr(stored, 1, 10) + "T" + func.substr(stored, 12) + "+00:00"
        else:  # NULL before year 1, which to_char would write as the same year after Christ
            text_ = func.to_char(
                func.timezone("UTC", columns[at]), 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'
            )
            columns[at] = case((columns[at] >= literal_column(_YEAR_ONE), text_))
    statement = select(*columns).order_by(columns[0])
    if where is not None:
        statement = statement.where(where)
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    yield from _query_batches(session, cursors, str(compiled), name)


@dataclass
class _Walk:
    """The walk along the chain so far. A batch whose ids, links and hashes are all right
    (checked a list at a time, the usual case) leaves only the rows that cite a record or
    are a seal, a disposal or a watched entry to look at one by one; a batch where
    something is wrong is walked row by row, which names the first problem exactly.

    An entry is hashed from the canonical form the database made (by the server itself where
    `hashed`: PostgreSQL); one whose hash does not match that way is read again as the
    program reads it (`read`: ALL_ENTRY_FIELDS, then the stored hash) and hashed by
    `chain.entry_hash_of_row`, and only that decides it was altered: the database's form or
    hash can make the check slower, never a false alarm."""

    watch: frozenset[int]
    previous_hash: str
    read: Callable[[int], Sequence[Any]]
    hashed: bool = False
    previous_id: int = 0
    checked: int = 0
    cited: dict[int, Citation] = field(default_factory=dict)
    disposed: Disposed = field(default_factory=set)
    found: dict[int, tuple[str, str | None, str | None]] = field(default_factory=dict)

    def batch(self, rows: Sequence[Any]) -> VerifyReport | None:
        if not self._all_right(rows):
            for row in rows:
                problem = self._links(row) or self._cites(row)
                if problem:
                    return VerifyReport(self.checked, 0, self.previous_id, self.previous_hash,
                                        problem, first_bad_entry=row[_ID])  # fmt: skip
                self.checked += 1
                self.previous_id, self.previous_hash = row[_ID], row[_HASH]
            return None  # the database's form differed, Python's matched
        self.checked += len(rows)
        self.previous_id, self.previous_hash = rows[-1][_ID], rows[-1][_HASH]
        return None

    def _all_right(self, rows: Sequence[Any]) -> bool:
        """The whole batch at once: ids, links, hashes, then citations; then the rare
        entries `_cites` must see (anything but an action, or watched). Any doubt, and the
        batch is walked row by row, which names the first problem (and sees every
        citation, seal and disposal again, to the same effect)."""
        stored = [row[_HASH] for row in rows]
        if not (
            rows[0][_ID] == self.previous_id + 1  # ids are unique and ascending: no gap
            and rows[-1][_ID] == self.previous_id + len(rows)
            and [row[_PREV] for row in rows] == [self.previous_hash, *stored[:-1]]
            # A link alone (no form: an entry this login may not read) is checked by place.
            and (
                [r[_HASH] if r[_FORM] is None else r[_FORM] for r in rows]
                if self.hashed
                else [r[_HASH] if r[_FORM] is None else sha256(r[_FORM]).hexdigest() for r in rows]
            )
            == stored
        ):
            return False
        cited, watch, rare = self.cited, self.watch, []
        for row in rows:
            if row[_RECORD] is not None:
                citation = cited.setdefault(
                    row[_RECORD], (row[_RECORD_HASH], row[_COMMENT], row[_ID])
                )
                if citation[0] != row[_RECORD_HASH] or citation[1] != row[_COMMENT]:
                    return False
            if row[_KIND] != _ACTION_KIND or row[_ID] in watch:
                rare.append(row)
        return not any(self._cites(row) for row in rare)

    def _links(self, row: Any) -> str:
        entry_id = row[_ID]
        if entry_id != self.previous_id + 1:
            return f"entries {self.previous_id + 1} to {entry_id - 1} are missing"
        if row[_PREV] != self.previous_hash:
            return f"entry {entry_id} does not follow entry {self.previous_id} (chain broken)"
        if row[_FORM] is not None and _digest(row[_FORM], self.hashed) != row[_HASH]:
            try:
                same = entry_hash_of_row(self.read(entry_id)) == row[_HASH]
            except (DataError, ValueError, TypeError):  # a value the program cannot read
                same = False  # (a time before year 1) or hash (a blob): not what was hashed
            if not same:
                return f"entry {entry_id} was altered: its contents no longer match its hash"
        return ""

    def _cites(self, row: Any) -> str:
        entry_id, record, kind = row[_ID], row[_RECORD], row[_KIND]
        if record is not None:
            citation = self.cited.get(record)
            if citation is None:
                self.cited[record] = (row[_RECORD_HASH], row[_COMMENT], entry_id)
            elif citation[0] != row[_RECORD_HASH] or citation[1] != row[_COMMENT]:
                return (
                    f"entry {entry_id} cites retained record {record} with another hash or "
                    f"comment than entry {citation[2]} does"
                )
        if kind not in (_SEAL, _DISPOSAL) and entry_id not in self.watch:
            return ""
        if row[_FORM] is None:  # a link alone: this login reads nothing more of it
            self.found[entry_id] = (row[_HASH], None, None)
            return ""
        # Rare: what the walk does not read of every entry, read for this one alone.
        whole = self.read(entry_id)
        if kind == _SEAL and record is None:
            problem = seal_entry_problem(entry_id, row[_PREV], whole[_AFTER])
            if problem:
                return problem
        if kind == _DISPOSAL and whole[_ACTION] == "dispose":  # the records it blanked
            self.disposed.update(
                (r, h) for c in json.loads(whole[_AFTER])["comments"] for r, h in c["records"]
            )
        if entry_id in self.watch:
            self.found[entry_id] = (row[_HASH], whole[_ACTOR], whole[_AFTER])
        return ""


def _reads_part(session: Session) -> bool:
    """PostgreSQL: this login reads only some entries (a policy applies and shows not all)."""
    if not session.scalar(text("SELECT row_security_active('action_log')")):
        return False  # the owner (and SQLite's every reader) reads the whole log
    return not session.scalar(text("SELECT hsm_sees_all()"))


_LINKS = "SELECT id, prev_hash, entry_hash FROM hsm_chain_links(:after, :count)"


def _through_links(session: Session, readable: Iterable[Any]) -> Iterator[Any]:
    """Every entry of the chain in id order, from `hsm_chain_links`: an entry this login reads
    as its row, any other as a link alone (id, prev_hash and hash; None elsewhere, kind
    included), which the walk checks for its place in the chain only."""
    rows = iter(readable)
    row = next(rows, None)
    after, width = 0, len(WALK_FIELDS) + 1
    while True:
        links = session.execute(text(_LINKS), {"after": after, "count": BATCH}).all()
        if not links and after == 0 and row is not None:
            raise PermissionDenied(
                "Your database login reads only part of the log, and not the chain's links: "
                "the log is verified by a supervisor, a records officer or an administrator."
            )
        for link_id, prev_hash, link_hash in links:
            if row is not None and row[_ID] == link_id:
                yield row
                row = next(rows, None)
            else:
                gap: list[Any] = [None] * width
                gap[_ID], gap[_PREV], gap[_HASH] = link_id, prev_hash, link_hash
                yield gap
            after = link_id
        if len(links) < BATCH:
            break
    if row is not None:  # a readable entry past the chain's last link
        yield row


def _in_batches(rows: Iterator[Any]) -> Iterator[list[Any]]:
    while batch := list(itertools.islice(rows, BATCH)):
        yield batch


def _check_records(
    session: Session,
    cursors: contextlib.ExitStack,
    cited: dict[int, Citation],
    disposed: Disposed,
    cancelled: Callable[[], bool],
    walked: VerifyReport,
) -> VerifyReport:
    """Every retained record against what the log cites, both in id order, so the first
    problem named is the lowest record's: one cited and missing (deleted, or its id changed),
    one cited by no entry (added behind the log's back), or one `record_problem` finds.

    A record is hashed from the canonical form the database made (`chain.sql_record_form`;
    hashed by PostgreSQL itself); those whose hash does not match that way (JSON that
    json.dumps escaped, a disposed record, an altered one) are hashed again in Python, a batch
    at a time (`_python_check`), before anything later is judged."""
    dialect = session.get_bind().dialect.name
    version = sqlite3.sqlite_version_info if dialect == "sqlite" else ()
    form = sql_record_form(dialect, version)
    form = "NULL" if form is None else _hashed(session, form)
    hashed = _server_hashes(session)
    query = f'SELECT "id", "comment_id", "sha256", {form} FROM retained_records ORDER BY "id"'
    expected = iter(sorted(cited))
    waiting = next(expected, None)
    records = 0
    unsure: list[tuple[int, int]] = []  # (record, records checked before it)

    def first_problem() -> VerifyReport | None:
        """The first problem among the unsure records (which come before anything later)."""
        found = _python_check(session, unsure, cited, disposed)
        unsure.clear()
        if found is None:
            return None
        checked, citation, problem = found
        return replace(walked, records_checked=checked, problem=problem,
                       first_bad_entry=citation[2])  # fmt: skip

    for batch in _query_batches(session, cursors, query, "hsm_verify_records"):
        for row in batch:
            number = row[_R_ID]
            if waiting is not None and waiting < number:
                break
            if waiting == number:
                citation, waiting = cited[number], next(expected, None)
                # The usual case, at the cost of one hash.
                if not (
                    row[_R_HASH] == citation[0]
                    and row[_R_COMMENT] == citation[1]
                    and row[_R_FORM] is not None
                    and _digest(row[_R_FORM], hashed) == citation[0]
                ):
                    unsure.append((number, records))
            else:
                return first_problem() or replace(walked, records_checked=records, problem=(
                    f"retained record {number} is cited by no log entry: it was added behind "
                    "the log's back, or the entries citing it were removed"
                ))  # fmt: skip
            records += 1
        else:
            stopped = first_problem()
            if stopped is not None:
                return stopped
            if cancelled():
                return replace(walked, records_checked=records, cancelled=True)
            continue
        break  # a cited record is missing
    if waiting is not None:
        entry = cited[waiting][2]
        return first_problem() or replace(walked, records_checked=records, first_bad_entry=entry,
            problem=(f"retained record {waiting} (cited by log entry {entry}) is missing: it "
                     "was deleted, or its id was changed"),
        )  # fmt: skip
    return first_problem() or replace(walked, records_checked=records)


def _python_check(
    session: Session, unsure: list[tuple[int, int]], cited: dict[int, Citation],
    disposed: Disposed,
) -> tuple[int, Citation, str] | None:  # fmt: skip
    """The first of `unsure` (records, each with the count checked before it) that is wrong,
    hashed as Python writes the canonical form: the driver's own rows, times made canonical
    by the database, JSON parsed by the driver on PostgreSQL and by the json module on
    SQLite; one that does not match that way either is judged by `record_problem` on the
    record as the program reads it."""
    if not unsure:
        return None
    table = RetainedRecord.__table__
    columns = [table.c[n] for n in ("id", *RECORD_FIELDS, "sha256")]
    times = [1 + RECORD_FIELDS.index(n) for n in ("captured_at", "created_at")]
    json_text = session.get_bind().dialect.name == "sqlite"  # PostgreSQL's driver parses it
    checked = dict(unsure)
    where = table.c.id.in_(list(checked))
    with contextlib.ExitStack() as cursors:  # closed now: the next batch opens another
        for batch in _driver_batches(session, cursors, columns, times, "hsm_verify_unsure",
                                     where):  # fmt: skip
            for row in batch:
                number, citation = row[0], cited[row[0]]
                if json_text:
                    row = (*row[:_ATTACHMENTS], json.loads(row[_ATTACHMENTS]),
                           json.loads(row[_RAW]), *row[_RAW + 1 :])  # fmt: skip
                if (
                    row[-1] == citation[0]
                    and row[_RECORD_COMMENT] == citation[1]
                    and _python_hash(row[1:-1]) == citation[0]
                ):
                    continue
                try:
                    problem = record_problem(_record(session, number), citation, disposed)
                except (DataError, ValueError, TypeError):  # a value the program cannot read
                    problem = _altered(number, citation)
                if problem:
                    return checked[number], citation, problem
    return None


def _python_hash(values: Sequence[Any]) -> str | None:
    """`chain.canonical_record_hash`, or None for values with no canonical form (half a
    surrogate pair in JSON written behind the log's back), which `record_problem` names."""
    try:
        return canonical_record_hash(values)
    except (ValueError, TypeError):
        return None


def _entry(session: Session, entry_id: int) -> Sequence[Any]:
    """An entry as the program reads it: ALL_ENTRY_FIELDS, then its stored hash."""
    columns = [LogEntry.__table__.c[n] for n in (*ALL_ENTRY_FIELDS, "entry_hash")]
    return session.connection().execute(select(*columns).where(LogEntry.id == entry_id)).one()


def _record(session: Session, record_id: int) -> dict[str, Any]:
    columns = [RetainedRecord.__table__.c[n] for n in ("id", *RECORD_FIELDS, "sha256")]
    query = select(*columns).where(RetainedRecord.id == record_id)
    return session.connection().execute(query).one()._asdict()


def record_problem(record: dict[str, Any], citation: Citation, disposed: Disposed) -> str:
    """What is wrong with one retained record that the log cites; empty when nothing is.
    The one place a record is judged: a record a disposal entry lists, blanked as disposal
    leaves it, is proven by the hash it kept."""
    cited_hash, comment, entry = citation
    where = f"retained record {record['id']} (cited by log entry {entry})"
    if record["comment_id"] != comment:
        return (
            f"{where} was moved to another comment: the entry is about comment {comment}, the "
            f"record now says comment {record['comment_id']}"
        )
    kept = record["sha256"]
    actual = kept if (record["id"], kept) in disposed and is_blank(record) else record_hash(record)
    if actual != cited_hash or kept != cited_hash:
        return _altered(record["id"], citation)
    return ""


def _altered(record: int, citation: Citation) -> str:
    return (
        f"retained record {record} (cited by log entry {citation[2]}) was altered: it no "
        "longer matches its hash"
    )
