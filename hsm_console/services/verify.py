"""Proving the log (actions and administrative changes alike) and the retained records were
not altered.

Walks the chain in order: each entry's id follows the last (no gaps), its `prev_hash` is the
previous entry's hash, and its own hash recomputes from its fields. Then every retained record
is hashed again and compared with the hash the log entries cite.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
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

BATCH = 5000
# Positions in a row of ALL_ENTRY_FIELDS (then entry_hash).
_ID, _PREV, _AT = (ENTRY_FIELDS.index(f) for f in ("id", "prev_hash", "at"))
_RECORD, _RECORD_HASH = ENTRY_FIELDS.index("record_id"), ENTRY_FIELDS.index("record_sha256")
_ACTION, _KIND, _AFTER = ENTRY_FIELDS.index("action"), len(ENTRY_FIELDS), len(ENTRY_FIELDS) + 3


@dataclass(frozen=True)
class VerifyReport:
    entries_checked: int
    records_checked: int
    head_id: int
    head_hash: str
    problem: str = ""  # empty when everything matches
    first_bad_entry: int | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.problem and not self.cancelled


def verify_log(
    db: Database,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> VerifyReport:
    # Server-side cursors (yield_per) must be closed even when we stop early.
    with db.session() as session, contextlib.ExitStack() as cursors:
        return _verify(session, cursors, progress, cancelled)


def _verify(
    session: Session,
    cursors: contextlib.ExitStack,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool],
) -> VerifyReport:
    entry_columns: list[Any] = [
        LogEntry.__table__.c[name] for name in (*ALL_ENTRY_FIELDS, "entry_hash")
    ]
    raw_times = session.get_bind().dialect.name == "sqlite"
    if raw_times:  # read `at` as stored text; sqlite_time_text makes it canonical
        entry_columns[_AT] = type_coerce(entry_columns[_AT], String)
    record_columns = [RetainedRecord.__table__.c[n] for n in ("id", *RECORD_FIELDS, "sha256")]
    cited: dict[int, tuple[str, int]] = {}  # record id -> (hash cited, first entry citing it)
    disposed: set[tuple[int, str]] = set()  # (record id, SHA-256) a disposal entry lists
    total = session.scalar(select(func.count()).select_from(LogEntry)) or 0
    previous_id, previous_hash, checked = 0, GENESIS_HASH, 0
    # Core rows, not ORM rows: verification reads every entry, and ORM loading triples the cost.
    rows = session.connection().execute(
        select(*entry_columns).order_by(LogEntry.id).execution_options(yield_per=BATCH)
    )
    cursors.callback(rows.close)
    for row in rows:
        entry_id, stored_hash = row[_ID], row[-1]
        problem = ""
        if entry_id != previous_id + 1:
            problem = f"entries {previous_id + 1} to {entry_id - 1} are missing"
        elif row[_PREV] != previous_hash:
            problem = f"entry {entry_id} does not follow entry {previous_id} (chain broken)"
        elif entry_hash_of_row(_canonical_times(row, raw_times)) != stored_hash:
            problem = f"entry {entry_id} was altered: its contents no longer match its hash"
        if problem:
            return VerifyReport(
                checked, 0, previous_id, previous_hash, problem, first_bad_entry=entry_id
            )
        if row[_RECORD] is not None and row[_RECORD] not in cited:
            cited[row[_RECORD]] = (row[_RECORD_HASH], entry_id)
        if (row[_KIND], row[_ACTION]) == ("disposal", "dispose"):  # records it blanked
            disposed.update(
                (r, h) for c in json.loads(row[_AFTER])["comments"] for r, h in c["records"]
            )
        previous_id, previous_hash = entry_id, stored_hash
        checked += 1
        if checked % BATCH == 0:
            if progress is not None:
                progress(checked, total)
            if cancelled():
                return VerifyReport(checked, 0, previous_id, previous_hash, cancelled=True)
    if progress is not None:
        progress(checked, total)

    records = 0
    records_rows = session.connection().execute(
        select(*record_columns).order_by(RetainedRecord.id).execution_options(yield_per=BATCH)
    )
    cursors.callback(records_rows.close)
    for row in records_rows:
        values = row._asdict()
        actual = record_hash(values)
        if (values["id"], values["sha256"]) in disposed and is_blank(values):
            actual = values["sha256"]  # proven by the hash kept, as the disposal entry lists it
        expected, entry_id = cited.get(values["id"], (values["sha256"], None))
        if actual != expected or actual != values["sha256"]:
            where = f" (cited by log entry {entry_id})" if entry_id else ""
            return VerifyReport(
                checked, records, previous_id, previous_hash,
                f"retained record {values['id']}{where} was altered: it no longer matches "
                "its hash",
                first_bad_entry=entry_id,
            )  # fmt: skip
        records += 1
        if records % BATCH == 0 and cancelled():
            return VerifyReport(checked, records, previous_id, previous_hash, cancelled=True)
    return VerifyReport(checked, records, previous_id, previous_hash)


def _canonical_times(row: Any, raw_times: bool) -> list[Any]:
    values = list(row[:-1])
    if raw_times:
        values[_AT] = sqlite_time_text(values[_AT])
    return values
