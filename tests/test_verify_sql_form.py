"""Verification hashes the canonical form the database builds (`chain.sql_entry_form`,
`chain.sql_record_form`): it must be, byte for byte, the form Python hashes for the same row,
and a change to any column must still name its entry."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from hsm_console.db.chain import (
    ALL_ENTRY_FIELDS,
    entry_form_of_row,
    record_form,
    sql_entry_form,
    sql_record_form,
)
from hsm_console.db.models import Comment, LogEntry, RetainedRecord
from hsm_console.rules.domain import Action
from hsm_console.services import verify
from hsm_console.services.verify import verify_log
from tests.conftest import World
from tests.test_verify import act_on_some, behind_the_triggers

# Every character JSON escapes, and those it must not: quotes, backslashes, each control
# character, DEL, the Unicode escapes' own text, line and paragraph separators, bidi
# overrides, zero widths, a byte-order mark, CJK, emoji and other astral characters.
HOSTILE = (
    'q " b \\ sl / nl \n cr \r tab \t bs \b ff \f '
    + "".join(chr(c) for c in range(1, 32))
    + ' del \x7f u-escape \\u0041 \\ud83d "\\"'
    + " ls \u2028 ps \u2029 rlo \u202e lri \u2066 zw \u200b bom \ufeff é ß 漢字 😀 𝄞 \U0010fffd"
)
LONG = ("long ✓ " * 20_000) + '"\\'
TEXTS = ["", HOSTILE, LONG, "null", "[1,2]", '{"a": 1}', "1", " "]
TIMES = [
    datetime(2026, 3, 8, 7, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-6))),
    datetime(2026, 11, 1, 1, 30, tzinfo=timezone(timedelta(hours=-5))),
    datetime(1, 1, 1, 12, 0, 0, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2000, 2, 29, tzinfo=timezone(timedelta(hours=14))),
]

# What only one database can hold is tried on that one alone (the `db_url` fixture's param).
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
POSTGRESQL_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def _texts(sqlite: bool) -> list[str]:
    # PostgreSQL's text cannot hold NUL; SQLite's can, and the form must keep all of it.
    return [*TEXTS, "nul \x00 after", "\x00"] if sqlite else TEXTS


def _database_forms(session: Session, table: str, form: str, ids: list[int]) -> dict[int, bytes]:
    query = text(f'SELECT "id", {form} FROM {table} WHERE "id" >= :low ORDER BY "id"')
    return {row[0]: bytes(row[1]) for row in session.execute(query, {"low": min(ids)})}


def _hostile_entries(sqlite: bool, first: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for n, note in enumerate(_texts(sqlite)):
        # Each review refers to another entry (one verdict each); the largest integer too.
        kind, refers = [("action", None), ("admin", None), ("review", -n), ("seal", 2**31 - n)][
            n % 4
        ]
        entries.append({
            "id": first + n, "at": TIMES[n % len(TIMES)], "actor": note[:200],
            "state": note[:16], "action": note[-16:], "comment_id": None, "site_id": None,
            "department_id": None, "record_id": None, "record_sha256": note[:64] or None,
            "reason_code": note[:8] or None, "note": note, "policy_version": None,
            "second_review": n % 2 == 0, "outcome_of": None, "detail": note[::-1],
            "prev_hash": f"hostile-prev-{n}", "entry_hash": f"hostile-hash-{n}",
            # An action with no later fields is written in the first form.
            "kind": kind, "subject": None if kind == "action" else note[:300],
            "before": None if kind == "action" else note, "after": None if n % 3 else note,
            "refers_to": refers,
        })  # fmt: skip
    return entries


def test_database_builds_the_entry_form_python_hashes(synced: World) -> None:
    sqlite = synced.db.is_sqlite
    with synced.db.write_session() as session:
        first = (session.scalar(select(LogEntry.id).order_by(LogEntry.id.desc())) or 0) + 1
        entries = _hostile_entries(sqlite, first)
        session.execute(insert(LogEntry.__table__), entries)
        form = sql_entry_form(synced.db.dialect)
        built = _database_forms(session, "action_log", form, [e["id"] for e in entries])
        assert len(built) == len(entries)
        for entry in entries:
            read = verify._entry(session, entry["id"])  # as the program reads it
            assert read[ALL_ENTRY_FIELDS.index("note")] == entry["note"]
            assert built[entry["id"]] == entry_form_of_row(read), entry["id"]
        # All three forms were built.
        assert {b.split(b",", 1)[0] for b in built.values()} == {
            b'["hsm-log-entry-v1"',
            b'["hsm-log-entry-v2"',
            b'["hsm-log-entry-v3"',
        }
        session.rollback()


def _hostile_json(n: int, words: str) -> tuple[list[Any], dict[str, Any]]:
    """JSON the database passes through: ASCII text but DEL (json.dumps escapes the rest, so
    those records are hashed in Python) with every escape, the separators json.dumps writes
    inside strings, numbers of every shape."""
    ascii_text = "".join(c for c in words if c < "\x7f")
    attachments: list[Any] = [ascii_text, '", "', '": "', "a, b: c", "\\", '"']
    raw: dict[str, Any] = {
        "id": f"c-{n}", "text": ascii_text, "z": None, "a": [1, -2, 0.1, 1e300, -0.0, 1.5e-7,
        2**70, True, False, None, {}, []], '", "key': {"nested": {"deep": '": '}}, "": "",
    }  # fmt: skip
    return attachments, raw


def test_database_builds_the_record_form_python_hashes(synced: World) -> None:
    sqlite = synced.db.is_sqlite
    form = sql_record_form(synced.db.dialect, sqlite3.sqlite_version_info)
    if form is None:
        pytest.skip("this SQLite's JSON functions read JSON5: records are hashed in Python")
    with synced.db.write_session() as session:
        comment = session.scalars(select(Comment).order_by(Comment.id)).first()
        assert comment is not None
        records: list[dict[str, Any]] = []
        for n, words in enumerate(_texts(sqlite)):
            attachments, raw = _hostile_json(n, words)
            records.append({
                "comment_id": comment.id, "captured_at": TIMES[n % len(TIMES)],
                "captured_by": words[:200], "site_id": comment.site_id, "platform": words[:32],
                "comment_external_id": words[:200], "parent_external_id": None if n % 2 else
                words[:200], "post_external_id": words[-200:], "post_text": words,
                "post_permalink": words[:2000], "author_id": words[:200], "author_name": words,
                "text": words[::-1], "created_at": TIMES[(n + 1) % len(TIMES)],
                "permalink": words[:2000], "attachments": attachments, "raw": raw,
                "sha256": f"hostile-{n}",
            })  # fmt: skip
        ids = [
            session.execute(insert(RetainedRecord.__table__).values(**r)).inserted_primary_key[0]
            for r in records
        ]
        built = _database_forms(session, "retained_records", form, ids)
        for record_id, record in zip(ids, records, strict=True):
            read = verify._record(session, record_id)  # as the program reads it
            assert read["raw"] == record["raw"]
            assert built[record_id] == record_form(read), record_id
        session.rollback()


def test_non_ascii_json_in_a_record_is_no_false_alarm(synced: World) -> None:
    """json.dumps stored the record's JSON with \\u escapes, which the database's form keeps
    and Python's does not: those records are hashed again in Python, and the log verifies."""
    with synced.db.write_session() as session:
        comment = session.scalars(select(Comment).order_by(Comment.id)).first()
        assert comment is not None
        session.execute(
            update(Comment.__table__)
            .where(Comment.id == comment.id)
            .values(text=HOSTILE, author_name=HOSTILE, raw={"text": HOSTILE, "é": ["😀"]})
        )
        session.commit()
        comment_id = comment.id
    synced.app("alice").moderation.act(comment_id, Action.FLAG, "SPM", HOSTILE)
    rechecked: list[list[tuple[int, int]]] = []
    python_check = verify._python_check

    def counted(session: Session, unsure: list[tuple[int, int]], *args: Any) -> Any:
        rechecked.append(list(unsure))
        return python_check(session, unsure, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(verify, "_python_check", counted)
        report = verify_log(synced.db)
    assert report.ok, report.problem
    assert (report.entries_checked, report.records_checked) == (2, 1)
    assert [ids for ids in rechecked if ids] == [[(1, 0)]]


# A changed value for every column of an entry, as SQL both databases read.
ENTRY_CHANGES = {
    "at": None,  # by dialect, below
    "actor": "'mallory'", "state": "'failed'", "action": "'keep'",
    "comment_id": "comment_id + 1", "site_id": "site_id + 1",
    "department_id": "department_id + 1", "record_id": "record_id + 1",
    "record_sha256": "'" + "ab" * 32 + "'", "reason_code": "'NVL'", "note": "'nothing'",
    "policy_version": "'0'", "second_review": None, "outcome_of": "2", "detail": "'x'",
    "kind": "'admin'", "subject": "'site:1'", "before": "'{}'", "after": "'{}'",
    "refers_to": "1", "entry_hash": "'" + "cd" * 32 + "'",
}  # fmt: skip


@pytest.mark.parametrize("column", list(ENTRY_CHANGES))
def test_a_change_to_any_entry_column_names_the_entry(synced: World, column: str) -> None:
    act_on_some(synced)
    sqlite = synced.db.is_sqlite
    change = (
        ENTRY_CHANGES[column]
        or {
            "at": "'2001-02-03 04:05:06.000007'" if sqlite else "'2001-02-03 04:05:06.000007+00'",
            "second_review": "1 - second_review" if sqlite else "NOT second_review",
        }[column]
    )
    behind_the_triggers(synced.db, f'UPDATE action_log SET "{column}" = {change} WHERE id = 3')
    report = verify_log(synced.db)
    assert (report.first_bad_entry, report.entries_checked) == (3, 2)
    assert "entry 3 was altered" in report.problem


def test_a_change_to_the_link_names_the_entry(synced: World) -> None:
    act_on_some(synced)
    behind_the_triggers(synced.db, f"UPDATE action_log SET prev_hash = '{'ef' * 32}' WHERE id = 3")
    report = verify_log(synced.db)
    assert report.first_bad_entry == 3
    assert "entry 3 does not follow entry 2" in report.problem


@pytest.mark.parametrize(
    "change",
    [
        "note = note || char(0) || 'hidden'",  # SQLite keeps text past a NUL
        "second_review = 2",  # neither 0 nor 1
        "site_id = site_id + 0.5",  # a real where an integer was
    ],
)
@SQLITE_ONLY
def test_sqlite_only_changes_name_the_entry(synced: World, change: str) -> None:
    """Values only SQLite can hold: none may pass for the original by the database's form."""
    act_on_some(synced)
    behind_the_triggers(synced.db, f"UPDATE action_log SET {change} WHERE id = 3")
    report = verify_log(synced.db)
    assert report.first_bad_entry == 3
    assert "entry 3 was altered" in report.problem


@SQLITE_ONLY
def test_sqlite_time_read_alike_is_no_false_alarm(synced: World) -> None:
    """Another separator in a stored time: the database's form differs, and the program (as
    datetime.fromisoformat) reads the same time, so the Python form decides: no alarm."""
    act_on_some(synced)
    behind_the_triggers(
        synced.db, "UPDATE action_log SET at = substr(at, 1, 10) || 'X' || substr(at, 12)"
    )
    report = verify_log(synced.db)
    assert report.ok, report.problem
    assert report.entries_checked == 8


@pytest.mark.parametrize(
    ("table", "column", "named"),
    [
        ("action_log", "at", "entry 3 was altered"),
        ("retained_records", "captured_at", "retained record 2 (cited by log entry 3) was altered"),
    ],
)
@POSTGRESQL_ONLY
def test_postgres_time_moved_before_christ_is_named(
    synced: World, table: str, column: str, named: str
) -> None:
    """to_char writes 2026 BC's year as 2026: no form may take it for 2026 AD (the fast path
    before session 19 did), and the program, which cannot read it, must say so."""
    act_on_some(synced)
    key = 3 if table == "action_log" else 2
    behind_the_triggers(
        synced.db,
        f"UPDATE {table} SET {column} = (to_char({column} AT TIME ZONE 'UTC', "
        f"'YYYY-MM-DD HH24:MI:SS.US') || ' BC')::timestamp AT TIME ZONE 'UTC' WHERE id = {key}",
    )
    report = verify_log(synced.db)
    assert report.first_bad_entry == 3
    assert named in report.problem


RECORD_CHANGES = {
    "captured_at": None, "created_at": None, "captured_by": "'mallory'",
    "site_id": "site_id + 1", "platform": "'x'", "comment_external_id": "'x'",
    "parent_external_id": "'x'", "post_external_id": "'x'", "post_text": "'x'",
    "post_permalink": "'x'", "author_id": "'x'", "author_name": "'x'", "text": "'softened'",
    "permalink": "'x'", "attachments": "'[\"x\"]'", "raw": "'{\"id\": \"forged\"}'",
    "sha256": "'" + "ab" * 32 + "'",
}  # fmt: skip


@pytest.mark.parametrize("column", list(RECORD_CHANGES))
def test_a_change_to_any_record_column_names_it(synced: World, column: str) -> None:
    act_on_some(synced)
    change = RECORD_CHANGES[column] or (
        "'2001-02-03 04:05:06.000007'" if synced.db.is_sqlite else "'2001-02-03 04:05:06.000007+00'"
    )
    behind_the_triggers(
        synced.db, f'UPDATE retained_records SET "{column}" = {change} WHERE id = 2'
    )
    report = verify_log(synced.db)
    assert report.first_bad_entry == 3
    assert "retained record 2 (cited by log entry 3) was altered" in report.problem
    assert report.records_checked == 1


def test_a_record_written_again_with_other_spaces_is_no_false_alarm(synced: World) -> None:
    """The same JSON value in other text: the program reads the same record."""
    act_on_some(synced)
    spaced = "' ' || raw || ' '" if synced.db.is_sqlite else "(' ' || raw::text || ' ')::json"
    behind_the_triggers(synced.db, f"UPDATE retained_records SET raw = {spaced} WHERE id = 2")
    report = verify_log(synced.db)
    assert report.ok, report.problem
    assert report.records_checked == 4
