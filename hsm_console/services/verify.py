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
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session

from hsm_console.db.chain import (
    ALL_ENTRY_FIELDS,
    ENTRY_FIELDS,
    GENESIS_HASH,
    RECORD_FIELDS,
    entry_hash_of_row,
    record_hash,
    sqlite_time_text,
)
from hsm_console.db.disposal import is_blank
from hsm_console.db.engine import Database
from hsm_console.db.models import LogEntry, RetainedRecord
from hsm_console.display import local_time
from hsm_console.rules.domain import EntryKind
from hsm_console.rules.seals import Seal, seal_entry_problem, seal_problem, watched

BATCH = 5000
# Positions in a row of ALL_ENTRY_FIELDS (then entry_hash).
_ID, _PREV, _AT = (ENTRY_FIELDS.index(f) for f in ("id", "prev_hash", "at"))
_RECORD, _RECORD_HASH = ENTRY_FIELDS.index("record_id"), ENTRY_FIELDS.index("record_sha256")
_COMMENT, _KIND = ENTRY_FIELDS.index("comment_id"), ALL_ENTRY_FIELDS.index("kind")
_ACTOR, _ACTION = ENTRY_FIELDS.index("actor"), ENTRY_FIELDS.index("action")
_AFTER = ALL_ENTRY_FIELDS.index("after")
_SEAL = EntryKind.SEAL.value
_DISPOSE = (EntryKind.DISPOSAL.value, "dispose")
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
    with contextlib.ExitStack() as cursors:
        return _verify(session, cursors, progress, cancelled, against)


def _verify(
    session: Session,
    cursors: contextlib.ExitStack,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool],
    against: Seal | None,
) -> VerifyReport:
    entry_columns: list[Any] = [
        LogEntry.__table__.c[name] for name in (*ALL_ENTRY_FIELDS, "entry_hash")
    ]
    raw_times = session.get_bind().dialect.name == "sqlite"
    if raw_times:  # read `at` as stored text; sqlite_time_text makes it canonical
        entry_columns[_AT] = type_coerce(entry_columns[_AT], String)
    cited: dict[int, Citation] = {}
    disposed: Disposed = set()
    watch = frozenset(watched(against)) if against is not None else frozenset()
    found: dict[int, tuple[str, str, str | None]] = {}
    total = session.scalar(select(func.count()).select_from(LogEntry)) or 0
    previous_id, previous_hash, checked = 0, GENESIS_HASH, 0
    # Core rows, not ORM rows: verification reads every entry, and ORM loading triples the cost.
    rows = session.connection().execute(
        select(*entry_columns).order_by(LogEntry.id).execution_options(yield_per=BATCH)
    )
    cursors.callback(rows.close)
    for row in rows:
        entry_id, stored_hash, record = row[_ID], row[-1], row[_RECORD]
        problem = ""
        if entry_id != previous_id + 1:
            problem = f"entries {previous_id + 1} to {entry_id - 1} are missing"
        elif row[_PREV] != previous_hash:
            problem = f"entry {entry_id} does not follow entry {previous_id} (chain broken)"
        elif entry_hash_of_row(_canonical_times(row, raw_times)) != stored_hash:
            problem = f"entry {entry_id} was altered: its contents no longer match its hash"
        elif record is not None:
            citation = cited.get(record)
            if citation is None:
                cited[record] = (row[_RECORD_HASH], row[_COMMENT], entry_id)
            elif citation[0] != row[_RECORD_HASH] or citation[1] != row[_COMMENT]:
                problem = (
                    f"entry {entry_id} cites retained record {record} with another hash or "
                    f"comment than entry {citation[2]} does"
                )
        elif row[_KIND] == _SEAL:
            problem = seal_entry_problem(entry_id, row[_PREV], row[_AFTER])
        if problem:
            return VerifyReport(
                checked, 0, previous_id, previous_hash, problem, first_bad_entry=entry_id
            )
        if (row[_KIND], row[_ACTION]) == _DISPOSE:  # the records it blanked
            disposed.update(
                (r, h) for c in json.loads(row[_AFTER])["comments"] for r, h in c["records"]
            )
        if entry_id in watch:
            found[entry_id] = (stored_hash, row[_ACTOR], row[_AFTER])
        previous_id, previous_hash = entry_id, stored_hash
        checked += 1
        if checked % BATCH == 0:
            if progress is not None:
                progress(checked, total)
            if cancelled():
                return VerifyReport(checked, 0, previous_id, previous_hash, cancelled=True)
    if progress is not None:
        progress(checked, total)
    walked = VerifyReport(checked, 0, previous_id, previous_hash, seal=against)
    if against is not None:
        problem = seal_problem(against, previous_id, found, local_time(against.sealed_at))
        if problem:
            return replace(walked, problem=problem)
    return _check_records(session, cursors, cited, disposed, cancelled, walked)


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
    one cited by no entry (added behind the log's back), or one `record_problem` finds."""
    record_columns = [RetainedRecord.__table__.c[n] for n in ("id", *RECORD_FIELDS, "sha256")]
    rows = session.connection().execute(
        select(*record_columns).order_by(RetainedRecord.id).execution_options(yield_per=BATCH)
    )
    cursors.callback(rows.close)
    expected = iter(sorted(cited))
    waiting = next(expected, None)
    records = 0
    for row in rows:
        values = row._asdict()
        number = values["id"]
        if waiting is not None and waiting < number:
            break
        if waiting == number:
            citation, waiting = cited[number], next(expected, None)
            problem = record_problem(values, citation, disposed)
            if problem:
                return replace(walked, records_checked=records, problem=problem,
                               first_bad_entry=citation[2])  # fmt: skip
        else:
            return replace(walked, records_checked=records, problem=(
                f"retained record {number} is cited by no log entry: it was added behind the "
                "log's back, or the entries citing it were removed"
            ))  # fmt: skip
        records += 1
        if records % BATCH == 0 and cancelled():
            return replace(walked, records_checked=records, cancelled=True)
    if waiting is not None:
        entry = cited[waiting][2]
        return replace(walked, records_checked=records, first_bad_entry=entry, problem=(
            f"retained record {waiting} (cited by log entry {entry}) is missing: it was "
            "deleted, or its id was changed"
        ))  # fmt: skip
    return replace(walked, records_checked=records)


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
        return f"{where} was altered: it no longer matches its hash"
    return ""


def _canonical_times(row: Any, raw_times: bool) -> list[Any]:
    values = list(row[:-1])
    if raw_times:
        values[_AT] = sqlite_time_text(values[_AT])
    return values
