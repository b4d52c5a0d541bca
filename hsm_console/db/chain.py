"""Retained records and the hash-chained log: how they are written and hashed.

Each log entry carries the SHA-256 of the previous entry (`prev_hash`) and its own hash over a
canonical serialisation of every other field, so altering, removing or reordering any entry
breaks the chain from that point on. An action entry also carries the hash of the retained
record it cites, so the snapshot is covered by the chain as well.

Every kind of entry is in the one chain. Three canonical forms: `hsm-log-entry-v1` (the
action fields) for action entries, as they were always written, `hsm-log-entry-v2` (those
fields, then kind, subject, before and after) for every other kind, and `hsm-log-entry-v3`
(v2's, then `refers_to`) for an entry that refers to another: a review, a notice, an appeal,
a reversal. The form follows from the entry itself: v1 only for an action entry whose later
fields are empty, v3 only where `refers_to` is set, so filling one of them in an old entry
changes the form it is checked by, and the hash no longer matches.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from sqlalchemy import FromClause, Integer, select, text
from sqlalchemy.orm import Session

from hsm_console.db.models import Comment, LogEntry, RetainedRecord, utcnow
from hsm_console.rules.domain import AdminChange, EntryKind, EntryState

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


# Added by the second form; empty (kind "action") on every action entry.
FORM2_FIELDS = ("kind", "subject", "before", "after")
# Added by the third form; None on every entry that refers to no other.
FORM3_FIELDS = ("refers_to",)
ALL_ENTRY_FIELDS = ENTRY_FIELDS + FORM2_FIELDS + FORM3_FIELDS
_FORM2_DEFAULTS: dict[str, Any] = {"kind": EntryKind.ACTION.value, "subject": None,
                                   "before": None, "after": None, "refers_to": None}  # fmt: skip

_AT = ENTRY_FIELDS.index("at")
_KIND = len(ENTRY_FIELDS)
_REFERS = _KIND + len(FORM2_FIELDS)
_FORM1_TAIL = (EntryKind.ACTION.value, None, None, None)
# The canonical form names its own version, so a change of form stays verifiable.
_ENTRY_FORM = "hsm-log-entry-v1"
_ENTRY_FORM2 = "hsm-log-entry-v2"
_ENTRY_FORM3 = "hsm-log-entry-v3"
_RECORD_FORM = "hsm-retained-record-v1"
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _refuse(value: object) -> object:
    raise TypeError(f"{type(value).__name__} has no canonical form")


def _fast_encoder() -> Callable[[list[Any]], str]:
    """`_ENCODE` itself, minus its per-call cost: `JSONEncoder.encode` builds the json module's
    C encoder anew on every call, which was half of verification's time. The same C encoder,
    with the same settings, built once, writes the very same text; without the C module
    (another Python), `_ENCODE` is used."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODE
    encode = make(None, _refuse, json.encoder.encode_basestring, None, ":", ",", False, False,
                  False)  # fmt: skip

    def encoded(values: list[Any]) -> str:
        return "".join(encode(values, 0))

    return encoded


_ENCODE_LIST = _fast_encoder()
_ENCODE_SORTED = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, sort_keys=True
).encode


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _jsonable(value: Any) -> Any:
    return _utc_text(value) if isinstance(value, datetime) else value


def canonical(form: str, values: Sequence[Any]) -> bytes:
    """One byte string per set of values: a JSON array of the form's name and the values in
    the fixed field order, no spaces, UTF-8, times as UTC with microseconds."""
    return _ENCODE([form, *(_jsonable(v) for v in values)]).encode("utf-8")


def canonical_json(value: dict[str, Any] | None) -> str | None:
    """An administrative entry's before or after: stored as this text, and hashed as it."""
    return None if value is None else _ENCODE_SORTED(value)


def entry_hash(values: dict[str, Any]) -> str:
    full = {**_FORM2_DEFAULTS, **values}
    return entry_hash_of_row(tuple(full[name] for name in ALL_ENTRY_FIELDS))


def entry_hash_of_row(row: Sequence[Any]) -> str:
    """The hash of an entry given its values in ALL_ENTRY_FIELDS order.

    Verification's Python path: `at` is the entry's only time, so only it is converted.
    """
    return sha256(entry_form_of_row(row)).hexdigest()


def entry_form_of_row(row: Sequence[Any]) -> bytes:
    """The bytes `entry_hash_of_row` hashes."""
    at = row[_AT]
    if not isinstance(at, str):  # str: already canonical
        row = [*row[:_AT], _utc_text(at), *row[_AT + 1 :]]
    return canonical_entry_form(row)


def canonical_entry_form(row: Sequence[Any]) -> bytes:
    """The bytes hashed of an entry given in ALL_ENTRY_FIELDS order whose `at` is already
    canonical text; columns after ALL_ENTRY_FIELDS (the stored hash) are ignored."""
    if row[_REFERS] is not None:
        form = [_ENTRY_FORM3, *row[: _REFERS + 1]]
    elif (row[_KIND], row[_KIND + 1], row[_KIND + 2], row[_KIND + 3]) == _FORM1_TAIL:
        form = [_ENTRY_FORM, *row[:_KIND]]
    else:
        form = [_ENTRY_FORM2, *row[:_REFERS]]
    return _ENCODE_LIST(form).encode("utf-8")


def record_hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(record_form(values)).hexdigest()


def record_form(values: dict[str, Any]) -> bytes:
    """The bytes `record_hash` hashes."""
    return canonical(_RECORD_FORM, [values[name] for name in RECORD_FIELDS])


def canonical_record_hash(values: Sequence[Any]) -> str:
    """`record_hash` of a record's values in RECORD_FIELDS order whose times are already
    canonical text (verification's Python path, as `entry_form_of_row`)."""
    return sha256(_ENCODE_LIST([_RECORD_FORM, *values]).encode("utf-8")).hexdigest()


def snapshot(session: Session, comment: Comment, actor: str) -> RetainedRecord:
    """The retained record of a comment as it stands now (added to the session)."""
    parent_external_id = None
    if comment.parent_id is not None:  # from the session's identity map if loaded already
        parent = session.get(Comment, comment.parent_id)
        parent_external_id = parent.external_id if parent is not None else None
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
    """(id, entry_hash) of the newest entry, or (0, GENESIS_HASH) for an empty log.

    On PostgreSQL through `hsm_chain_head()` (db/roles.py): a login's row-level security hides
    other departments' entries, and the head may be one of them."""
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(text("SELECT id, entry_hash FROM hsm_chain_head()")).first()
        return (row[0], row[1]) if row and row[0] is not None else (0, GENESIS_HASH)
    row = session.execute(
        select(LogEntry.id, LogEntry.entry_hash).order_by(LogEntry.id.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, GENESIS_HASH)


def _locked_head(session: Session) -> tuple[int, str]:
    """`lock_chain`, then `chain_head`: on PostgreSQL in one round trip (every action's)."""
    if session.get_bind().dialect.name != "postgresql":
        return chain_head(session)  # the write transaction holds SQLite's lock already
    row = session.execute(
        text("SELECT id, entry_hash FROM hsm_locked_chain_head(:key)"), {"key": _PG_CHAIN_LOCK}
    ).first()
    return (row[0], row[1]) if row and row[0] is not None else (0, GENESIS_HASH)


def append_entry(session: Session, **fields: Any) -> LogEntry:
    """Append one entry at the head of the chain, inside the caller's transaction."""
    last_id, last_hash = _locked_head(session)
    values: dict[str, Any] = {
        "id": last_id + 1,
        "at": utcnow(),
        "note": "",
        "detail": "",
        "reason_code": None,
        "second_review": False,
        "outcome_of": None,
        **_FORM2_DEFAULTS,
        **fields,
        "prev_hash": last_hash,
    }
    entry = LogEntry(**values, entry_hash=entry_hash(values))
    session.add(entry)
    session.flush()
    return entry


def append_admin_entry(
    session: Session,
    actor: str,
    change: AdminChange,
    subject: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    department_id: int | None = None,
    site_id: int | None = None,
) -> LogEntry:
    """Append an administrative change: who, what (`subject`, e.g. "site:12"), and the thing
    as it stood before and after (None: it did not exist)."""
    return append_register_entry(
        session, actor, EntryKind.ADMIN, change.value, subject, before, after,
        department_id=department_id, site_id=site_id,
    )  # fmt: skip


def append_register_entry(
    session: Session,
    actor: str,
    kind: EntryKind,
    action: str,
    subject: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    **fields: Any,
) -> LogEntry:
    """Append a change of a register's row (a department, a request, a hold, a ban, a seal),
    made in the same transaction: its kind and step, what it is about (`subject`, e.g.
    "request:12"), the row as it stood before and after as canonical JSON (None: it did not
    exist). `fields` sets any other column (department, site, comment, note, state...)."""
    values: dict[str, Any] = {
        "state": EntryState.APPLIED.value, "comment_id": None, "site_id": None,
        "department_id": None, "record_id": None, "record_sha256": None,
        "policy_version": None, **fields,
    }  # fmt: skip
    return append_entry(
        session, actor=actor, action=action, kind=kind.value, subject=subject,
        before=canonical_json(before), after=canonical_json(after), **values,
    )  # fmt: skip


def append_comment_entry(
    session: Session,
    actor: str,
    kind: EntryKind,
    action: str,
    about: LogEntry | Comment,
    note: str,
    policy_version: str,
    *,
    subject: str,
    reason_code: str | None = None,
    after: dict[str, Any] | None = None,
    refers_to: int | None = None,
) -> LogEntry:
    """Append an entry about a comment that changes nothing on it (a review, note, notice or
    appeal): the comment, site and department of `about` (the comment or the action entry),
    no retained record of its own."""
    department = about.department_id if isinstance(about, LogEntry) else about.site.department_id
    return append_entry(
        session,
        actor=actor,
        state=EntryState.APPLIED.value,  # made in the same transaction as this entry
        action=action,
        comment_id=about.comment_id if isinstance(about, LogEntry) else about.id,
        site_id=about.site_id,
        department_id=department,
        record_id=None,
        record_sha256=None,
        reason_code=reason_code,
        note=note,
        policy_version=policy_version,
        kind=kind.value,
        subject=subject,
        after=canonical_json(after),
        refers_to=refers_to,
    )


# The canonical forms built by the database (verification's fast path, docs/design.md
# "Verification"): one byte string per row, the very bytes `canonical` makes for the values as
# the program reads them, so the driver hands Python one value to hash instead of every column.
# Each column becomes the JSON the C encoder writes for it: text escaped as `encode_basestring`
# does (", \, \b \f \n \r \t, other controls as \u00xx, the rest as is, NUL included), integers
# in decimal, booleans true/false, NULL null, times as `_utc_text`. Where the database's form
# could differ (a value the program never writes), it differs in a way no canonical form of any
# values has, so the hash fails and the entry is hashed again the Python way: never a false
# alarm, and never a match that the Python form would not give.
_SQL_TIMES = ("at", "captured_at", "created_at")
_SQL_JSON = ("attachments", "raw")
# regexp_replace's pattern, replacement and flags: a string token (kept whole), or a , or :
# and the one space json.dumps writes after it (kept without the space).
_JSON_SPACE = r"""'("(?:[^"\\]|\\.)*")|([,:]) ', '\1\2', 'g'"""


def _sqlite_json_check(version: tuple[int, ...]) -> str | None:
    """SQL true of JSON text that is one value by RFC 8259 alone. SQLite's json() reads JSON5
    from 3.42 on (NaN, comments, 'quotes'...), which the json module reads otherwise or not at
    all; json_valid(X, 1) (3.45 on) refuses it. Between the two: None (hashed in Python)."""
    if version < (3, 42):
        return "json_valid({c})"
    return "json_valid({c}, 1)" if version >= (3, 45) else None


def _sqlite_value(name: str, json_check: str) -> str:
    """A column as the argument of json_array that writes its canonical JSON."""
    column = f'"{name}"'
    if name in _SQL_TIMES:  # stored 'YYYY-MM-DD HH:MM:SS.ffffff', UTC; anything else as is
        return (f"CASE WHEN substr({column}, 11, 1) = ' ' THEN substr({column}, 1, 10) || 'T' "
                f"|| substr({column}, 12) || '+00:00' ELSE {column} END")  # fmt: skip
    if name == "second_review":  # stored 0 or 1
        return (f"CASE {column} WHEN 1 THEN json('true') WHEN 0 THEN json('false') "
                f"ELSE {column} END")  # fmt: skip
    if name in _SQL_JSON:  # json(): the stored text without the spaces json.dumps puts in
        return f"CASE WHEN {json_check.format(c=column)} THEN json({column}) END"
    return column


def _postgres_compact(column: str) -> str:
    """A json column's text as the C encoder writes its value, where the server can tell.
    json_strip_nulls parses the text and writes it again without whitespace, each string
    escaped as to_json escapes text, numbers as written: a fifth of the regular expression's
    time. It drops an object's null members and fails on \\u0000 or half a surrogate pair, so
    text holding `null` or `\\u` anywhere (inside a string too) takes the regular expression:
    it drops the one space after a `,` or `:` outside strings (a string is matched whole, so
    its own ", " is kept)."""
    text_ = f"{column}::text"
    return (f"CASE WHEN strpos({text_}, 'null') = 0 AND strpos({text_}, '\\u') = 0 "
            f"THEN json_strip_nulls({column})::text "
            f"ELSE regexp_replace({text_}, {_JSON_SPACE}) END")  # fmt: skip


def _postgres_value(name: str, kind: str) -> str:
    """A column's canonical JSON as text, by its type."""
    column = f'"{name}"'
    if name in _SQL_TIMES:  # a year before 1 would print as the same year after Christ
        text_ = (f"'\"' || to_char(timezone('UTC', {column}), "
                 f"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') || '\"'")  # fmt: skip
        return f"CASE WHEN {column} >= '0001-01-01 00:00:00+00' THEN {text_} ELSE 'null' END"
    if name in _SQL_JSON:  # json keeps the text written: written again without spaces
        return f"coalesce({_postgres_compact(column)}, 'null')"
    value = f"{column}::text" if kind == "integer" else f"to_json({column})::text"
    return f"coalesce({value}, 'null')"


def _sql_form(dialect: str, form: str, names: Sequence[str], kinds: dict[str, str],
              json_check: str) -> str:  # fmt: skip
    if dialect == "sqlite":
        return f"json_array('{form}', {', '.join(_sqlite_value(n, json_check) for n in names)})"
    tokens = " || ',' || ".join(_postgres_value(n, kinds[n]) for n in names)
    return f"""'["{form}",' || {tokens} || ']'"""


def _kinds(table: FromClause) -> dict[str, str]:
    """Each column's kind: "integer" for integers (written as they are), else ""."""
    return {c.name: "integer" if isinstance(c.type, Integer) else "" for c in table.columns}


def sql_entry_form(dialect: str) -> str:
    """SQL giving an `action_log` row's canonical form as bytes (`canonical_entry_form`'s),
    the form chosen as it chooses."""
    kinds = _kinds(LogEntry.__table__)
    forms = [
        _sql_form(dialect, name, fields, kinds, "")
        for name, fields in ((_ENTRY_FORM3, ALL_ENTRY_FIELDS), (_ENTRY_FORM, ENTRY_FIELDS),
                             (_ENTRY_FORM2, ENTRY_FIELDS + FORM2_FIELDS))
    ]  # fmt: skip
    v1 = " AND ".join(["\"kind\" = 'action'", *(f'"{n}" IS NULL' for n in FORM2_FIELDS[1:])])
    chosen = f'CASE WHEN "refers_to" IS NOT NULL THEN {forms[0]} WHEN {v1} THEN {forms[1]} ' \
             f"ELSE {forms[2]} END"  # fmt: skip
    return f"CAST({chosen} AS BLOB)" if dialect == "sqlite" else f"convert_to({chosen}, 'UTF8')"


def sql_digest(form: str) -> str:
    """PostgreSQL: the SHA-256 of a form (`sql_entry_form`, `sql_record_form`) as the hex
    text an entry and a record store, made by the server, so its client compares text alone.
    pg_catalog's own functions, whatever the search path."""
    return f"pg_catalog.encode(pg_catalog.sha256({form}), 'hex')"


def sql_record_form(dialect: str, version: tuple[int, ...] = ()) -> str | None:
    """SQL giving a `retained_records` row's canonical form as bytes (`record_hash`'s); None
    where the database's JSON cannot be trusted to read JSON as the json module does
    (`version`: SQLite's)."""
    kinds = _kinds(RetainedRecord.__table__)
    json_check = ""
    if dialect == "sqlite":
        check = _sqlite_json_check(version)
        if check is None:
            return None
        json_check = check
    form = _sql_form(dialect, _RECORD_FORM, RECORD_FIELDS, kinds, json_check)
    return f"CAST({form} AS BLOB)" if dialect == "sqlite" else f"convert_to({form}, 'UTF8')"
