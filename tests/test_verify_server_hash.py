"""PostgreSQL hashes the canonical forms it builds (`chain.sql_digest`), and writes a JSON
column's text again by `json_strip_nulls` where it can (`chain._postgres_compact`): the
server's hash must be the hash of the very bytes Python hashes, a hash that differs must fall
back to Python's before anything is said, and what the compaction would hide must be named."""

from __future__ import annotations

import json
from hashlib import sha256
from typing import Any
from unittest.mock import patch

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from hsm_console.db.chain import (
    entry_form_of_row,
    record_form,
    sql_digest,
    sql_entry_form,
    sql_record_form,
)
from hsm_console.db.models import Comment, LogEntry, RetainedRecord
from hsm_console.rules.domain import Action
from hsm_console.services import verify
from hsm_console.services.verify import verify_log
from tests.conftest import World
from tests.test_verify import act_on_some, behind_the_triggers
from tests.test_verify_sql_form import (
    POSTGRESQL_ONLY,
    TIMES,
    _hostile_entries,
    _hostile_json,
    _texts,
)

pytestmark = POSTGRESQL_ONLY

# JSON with neither `null` nor `\u` in its text, which the server compacts by json_strip_nulls:
# the separators json.dumps writes inside strings and keys, every escape json.dumps writes
# without \u, nesting, numbers of every shape, empty containers and strings.
COMPACTED: list[tuple[list[Any], Any]] = [
    (["a, b: c", '", "', '": "', "\\", '"', "tab\t nl\n cr\r bs\b ff\f /"], {
        "id": "c-1", '", "key': {"nested": {"deep": '": ', "": ""}}, "e": [], "o": {},
        "n": [1, -2, 0.1, 1e300, -0.0, 1.5e-7, 2**70, True, False],
    }),
    ([], {}),
    ([[], {}], "just a string, with: separators"),
    ([1], 12.5),
]  # fmt: skip


def _server_hashes(session: Session, table: str, form: str, ids: list[int]) -> dict[int, str]:
    query = text(f'SELECT "id", {sql_digest(form)} FROM {table} WHERE "id" >= :low')
    return {row[0]: row[1] for row in session.execute(query, {"low": min(ids)})}


def test_server_hashes_the_entry_form_python_hashes(synced: World) -> None:
    with synced.db.write_session() as session:
        first = (session.scalar(select(LogEntry.id).order_by(LogEntry.id.desc())) or 0) + 1
        entries = _hostile_entries(False, first)
        session.execute(insert(LogEntry.__table__), entries)
        ids = [e["id"] for e in entries]
        hashes = _server_hashes(session, "action_log", sql_entry_form("postgresql"), ids)
        assert len(hashes) == len(entries)
        for entry_id in ids:
            python = sha256(entry_form_of_row(verify._entry(session, entry_id))).hexdigest()
            assert hashes[entry_id] == python, entry_id
        session.rollback()


def test_server_hashes_the_record_form_python_hashes(synced: World) -> None:
    """Hostile records, some of whose JSON the server compacts (no `null`, no `\\u`) and some
    it takes through the regular expression."""
    with synced.db.write_session() as session:
        comment = session.scalars(select(Comment).order_by(Comment.id)).first()
        assert comment is not None
        json_values = [*COMPACTED, *(_hostile_json(n, w) for n, w in enumerate(_texts(False)))]
        compacted = 0
        ids = []
        for n, (attachments, raw) in enumerate(json_values):
            words = _texts(False)[n % len(_texts(False))]
            stored = json.dumps(raw)
            compacted += "null" not in stored and "\\u" not in stored
            ids.append(session.execute(insert(RetainedRecord.__table__).values(
                comment_id=comment.id, captured_at=TIMES[n % len(TIMES)], captured_by="x",
                site_id=comment.site_id, platform="x", comment_external_id=words[:200],
                parent_external_id=None, post_external_id="x", post_text=words,
                post_permalink="x", author_id="x", author_name=words, text=words[::-1],
                created_at=TIMES[(n + 1) % len(TIMES)], permalink="x",
                attachments=attachments, raw=raw, sha256=f"hostile-{n}",
            )).inserted_primary_key[0])  # fmt: skip
        assert compacted >= len(COMPACTED)  # the compaction was tried
        hashes = _server_hashes(session, "retained_records", _record_form(), ids)
        for record_id in ids:
            python = sha256(record_form(verify._record(session, record_id))).hexdigest()
            assert hashes[record_id] == python, record_id
        session.rollback()


def _record_form() -> str:
    form = sql_record_form("postgresql")
    assert form is not None
    return form


def test_unescaped_json_is_hashed_by_the_server(synced: World) -> None:
    """JSON text holding its characters as they are (json.dumps escapes them: \\u) is
    compacted by the server to Python's form: no record needs Python's hash."""
    raw = {"text": "é ß 漢字 😀 𝄞 \u2028 \u202e", "é": ["😀", 1.5, True, {"ü": []}]}
    with synced.db.write_session() as session:
        comment = session.scalars(select(Comment).order_by(Comment.id)).first()
        assert comment is not None
        session.execute(update(Comment.__table__).where(Comment.id == comment.id).values(raw=raw))
        session.commit()
        comment_id = comment.id
    synced.app("alice").moderation.act(comment_id, Action.FLAG, "SPM", "x")
    act_on_some(synced, 3)
    stored = json.dumps(raw, ensure_ascii=False, indent=2).replace("'", "''")
    behind_the_triggers(
        synced.db, f"UPDATE retained_records SET raw = '{stored}' WHERE comment_id = {comment_id}"
    )
    hashed_in_python: list[int] = []
    original = verify._python_check
    with patch.object(verify, "_python_check") as python_check:  # the unsure list is cleared
        python_check.side_effect = lambda session, unsure, *rest: (
            hashed_in_python.extend(number for number, _ in unsure)
            or original(session, unsure, *rest)
        )
        report = verify_log(synced.db)
    assert report.ok, report.problem
    assert report.records_checked == 4
    assert python_check.called
    assert hashed_in_python == []


@pytest.mark.parametrize(
    "member",
    [
        '"hidden": null',  # json_strip_nulls would drop it
        '"t": "\\u0000"',  # json_strip_nulls would fail on it
        '"t": "\\ud83d"',  # half a surrogate pair: likewise
    ],
)
def test_what_the_compaction_cannot_show_is_named(synced: World, member: str) -> None:
    act_on_some(synced)
    behind_the_triggers(
        synced.db,
        "UPDATE retained_records SET raw = "
        f"('{{{member}, ' || substr(raw::text, 2))::json WHERE id = 2",
    )
    report = verify_log(synced.db)
    assert report.first_bad_entry == 3
    assert "retained record 2 (cited by log entry 3) was altered" in report.problem


def test_a_hash_the_server_makes_otherwise_is_no_false_alarm(synced: World) -> None:
    """Another hash from the server (here MD5: as if its sha256 were not SHA-256) makes every
    entry and record be hashed again in Python, and the log verifies; an altered entry is
    still named."""
    act_on_some(synced)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(verify, "sql_digest", lambda form: f"md5({form})")
        report = verify_log(synced.db)
        assert report.ok, report.problem
        assert (report.entries_checked, report.records_checked) == (8, 4)
        behind_the_triggers(synced.db, "UPDATE action_log SET note = 'x' WHERE id = 5")
        report = verify_log(synced.db)
    assert (report.first_bad_entry, report.entries_checked) == (5, 4)
    assert "entry 5 was altered" in report.problem
