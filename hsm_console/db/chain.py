"""Retained records and the hash-chained action log: how they are written and hashed.

Each log entry carries the SHA-256 of the previous entry (`prev_hash`) and its own hash over a
canonical serialisation of every other field, so altering, removing or reordering any entry
breaks the chain from that point on. Each entry also carries the hash of the retained record
it cites, so the snapshot is covered by the chain as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hsm_console.db.models import Comment, LogEntry, RetainedRecord, utcnow

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the chain's advisory lock on PostgreSQL.
_PG_CHAIN_LOCK = 7_315_001

ENTRY_FIELDS = (
    "id", "at", "actor", "state", "action", "comment_id", "site_id", "department_id",
    "record_id", "record_sha256", "reason_code", "note", "policy_version", "second_review",
    "outcome_of", "detail", "prev_hash",
)  # fmt: skip
RECORD_FIELDS = (
    "comment_id", "captured_at", "captured_by", "site_id", "platform", "comment_external_id",
    "parent_external_id", "post_external_id", "post_text", "post_permalink", "author_id",
    "author_name", "text", "created_at", "permalink", "attachments", "raw",
)  # fmt: skip


_AT = ENTRY_FIELDS.index("at")
# The canonical form names its own version, so a future change of form stays verifiable.
_ENTRY_FORM = "hsm-log-entry-v1"
_RECORD_FORM = "hsm-retained-record-v1"
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def sqlite_time_text(stored: str) -> str:
    """The canonical text of a time as SQLite stores it ('YYYY-MM-DD HH:MM:SS.ffffff', UTC),
    without parsing it: verification reads every entry, and parsing is most of its cost."""
    return f"{stored[:10]}T{stored[11:]}+00:00"


def _jsonable(value: Any) -> Any:
    return _utc_text(value) if isinstance(value, datetime) else value


def canonical(form: str, values: Sequence[Any]) -> bytes:
    """One byte string per set of values: a JSON array of the form's name and the values in
    the fixed field order, no spaces, UTF-8, times as UTC with microseconds."""
    return _ENCODE([form, *(_jsonable(v) for v in values)]).encode("utf-8")


def entry_hash(values: dict[str, Any]) -> str:
    return entry_hash_of_row(tuple(values[name] for name in ENTRY_FIELDS))


def entry_hash_of_row(row: Sequence[Any]) -> str:
    """The hash of an entry given its values in ENTRY_FIELDS order.

    Verification's fast path: `at` is the entry's only time, so only it is converted.
    """
    values = list(row)
    at = values[_AT]
    values[_AT] = at if isinstance(at, str) else _utc_text(at)  # str: already canonical
    return hashlib.sha256(_ENCODE([_ENTRY_FORM, *values]).encode("utf-8")).hexdigest()


def record_hash(values: dict[str, Any]) -> str:
    form = canonical(_RECORD_FORM, [values[name] for name in RECORD_FIELDS])
    return hashlib.sha256(form).hexdigest()


def snapshot(session: Session, comment: Comment, actor: str) -> RetainedRecord:
    """The retained record of a comment as it stands now (added to the session)."""
    parent_external_id = None
    if comment.parent_id is not None:
        parent_external_id = session.scalar(
            select(Comment.external_id).where(Comment.id == comment.parent_id)
        )
    values: dict[str, Any] = {
        "comment_id": comment.id,
        "captured_at": utcnow(),
        "captured_by": actor,
        "site_id": comment.site_id,
        "platform": comment.site.platform,
        "comment_external_id": comment.external_id,
        "parent_external_id": parent_external_id,
        "post_external_id": comment.post.external_id,
        "post_text": comment.post.text,
        "post_permalink": comment.post.permalink,
        "author_id": comment.author_id,
        "author_name": comment.author_name,
        "text": comment.text,
        "created_at": comment.created_at,
        "permalink": comment.permalink,
        "attachments": list(comment.attachments),
        "raw": comment.raw,
    }
    record = RetainedRecord(**values, sha256=record_hash(values))
    session.add(record)
    session.flush()
    return record


def lock_chain(session: Session) -> None:
    """Serialise writers of the chain for the rest of this transaction.

    SQLite write sessions already hold the write lock (BEGIN IMMEDIATE); PostgreSQL takes a
    transaction-scoped advisory lock. The unique `prev_hash` is the last line of defence.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CHAIN_LOCK})


def chain_head(session: Session) -> tuple[int, str]:
    """(id, entry_hash) of the newest entry, or (0, GENESIS_HASH) for an empty log."""
    row = session.execute(
        select(LogEntry.id, LogEntry.entry_hash).order_by(LogEntry.id.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, GENESIS_HASH)


def append_entry(session: Session, **fields: Any) -> LogEntry:
    """Append one entry at the head of the chain, inside the caller's transaction."""
    lock_chain(session)
    last_id, last_hash = chain_head(session)
    values: dict[str, Any] = {
        "id": last_id + 1,
        "at": utcnow(),
        "note": "",
        "detail": "",
        "reason_code": None,
        "second_review": False,
        "outcome_of": None,
        **fields,
        "prev_hash": last_hash,
    }
    entry = LogEntry(**values, entry_hash=entry_hash(values))
    session.add(entry)
    session.flush()
    return entry
