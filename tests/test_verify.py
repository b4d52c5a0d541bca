"""The hash chain proves the log and the retained records were not altered."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from hsm_console.db.chain import (
    GENESIS_HASH,
    append_entry,
    canonical_json,
    entry_hash,
    snapshot,
)
from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, LogEntry
from hsm_console.rules.domain import Action
from hsm_console.services import verify
from hsm_console.services.verify import verify_log
from tests.conftest import World


def act_on_some(world: World, n: int = 4) -> None:
    with world.db.session() as session:
        ids = list(
            session.scalars(
                select(Comment.id).where(Comment.site_id == world.parks_site).order_by(Comment.id)
            )
        )[:n]
    for comment_id in ids:
        world.app("alice").moderation.act(comment_id, Action.FLAG, "SPM", "flooding")


def behind_the_triggers(db: Database, statement: str) -> None:
    """What a database administrator could do: switch the protection off, change a row."""
    if db.is_sqlite:  # a connection of its own: foreign keys are off unless asked for
        with contextlib.closing(sqlite3.connect(str(db.engine.url.database))) as conn, conn:
            for name in (
                "action_log_no_update",
                "action_log_no_delete",
                "retained_records_no_update",
                "retained_records_no_delete",
            ):
                conn.execute(f"DROP TRIGGER IF EXISTS {name}")
            conn.execute(statement)
        return
    with db.engine.begin() as conn:
        conn.execute(text("SET session_replication_role = replica"))  # triggers, foreign keys off
        conn.execute(text(statement))
        conn.execute(text("SET session_replication_role = origin"))


def test_empty_log_verifies(db: Database) -> None:
    report = verify_log(db)
    assert report.ok
    assert (report.entries_checked, report.head_id, report.head_hash) == (0, 0, GENESIS_HASH)


def test_intact_log_verifies_with_progress(synced: World) -> None:
    act_on_some(synced)
    seen: list[tuple[int, int]] = []
    report = verify_log(synced.db, progress=lambda done, total: seen.append((done, total)))
    assert report.ok
    assert (report.entries_checked, report.records_checked, report.head_id) == (8, 4, 8)
    assert seen[-1] == (8, 8)
    with synced.db.session() as session:
        head = session.scalars(select(LogEntry).order_by(LogEntry.id.desc())).first()
        assert head is not None
        assert report.head_hash == head.entry_hash


def test_altered_entry_is_named(synced: World) -> None:
    act_on_some(synced)
    behind_the_triggers(synced.db, "UPDATE action_log SET reason_code = 'NVL' WHERE id = 3")
    report = verify_log(synced.db)
    assert not report.ok
    assert report.first_bad_entry == 3
    assert "entry 3 was altered" in report.problem
    assert report.entries_checked == 2


def test_rehashed_entry_is_caught_by_the_next_link(synced: World) -> None:
    """A forger who recomputes the altered entry's hash breaks the following entry's link."""
    act_on_some(synced)
    with synced.db.session() as session:
        entry = session.get(LogEntry, 5)
        assert entry is not None
        values = {c.name: getattr(entry, c.name) for c in LogEntry.__table__.columns}
    values["note"] = "nothing to see"
    forged = entry_hash(values)
    behind_the_triggers(
        synced.db,
        f"UPDATE action_log SET note = 'nothing to see', entry_hash = '{forged}' WHERE id = 5",
    )
    report = verify_log(synced.db)
    assert report.first_bad_entry == 6
    assert "does not follow entry 5" in report.problem


def test_deleted_entry_is_found(synced: World) -> None:
    act_on_some(synced)
    behind_the_triggers(synced.db, "DELETE FROM action_log WHERE id = 8")
    assert verify_log(synced.db).ok  # the head itself: only an outside copy of the head proves it
    behind_the_triggers(synced.db, "DELETE FROM action_log WHERE id = 4")
    report = verify_log(synced.db)
    assert report.first_bad_entry == 5
    assert "entries 4 to 4 are missing" in report.problem


def test_altered_retained_record_is_named_with_its_entry(synced: World) -> None:
    act_on_some(synced)
    behind_the_triggers(synced.db, "UPDATE retained_records SET text = 'softened' WHERE id = 2")
    report = verify_log(synced.db)
    assert not report.ok
    assert "retained record 2 (cited by log entry 3) was altered" in report.problem
    assert report.first_bad_entry == 3


def test_verification_can_be_cancelled(synced: World, monkeypatch: pytest.MonkeyPatch) -> None:
    act_on_some(synced, 10)  # 20 entries
    monkeypatch.setattr(verify, "BATCH", 3)  # the cancel check runs between batches
    seen: list[tuple[int, int]] = []
    # Cancelled once the progress bar has moved twice, as a person watching it might.
    report = verify_log(
        synced.db, lambda done, total: seen.append((done, total)), lambda: len(seen) >= 2
    )
    assert report.cancelled
    assert not report.ok
    assert seen == [(3, 20), (6, 20)]  # the walk stopped after two batches of 20 entries
    assert (report.entries_checked, report.head_id) == (6, 6)
    assert verify_log(synced.db).entries_checked == 20  # uncancelled, it walks them all


def test_concurrent_writers_never_fork_the_chain(synced: World) -> None:
    with synced.db.session() as session:
        ids = list(session.scalars(select(Comment.id).where(Comment.site_id == synced.parks_site)))[
            :24
        ]
    chunks = [ids[i::4] for i in range(4)]
    errors: list[BaseException] = []

    def work(chunk: list[int]) -> None:
        try:
            app = synced.app("alice")
            for comment_id in chunk:
                app.moderation.act(comment_id, Action.FLAG, "SPM")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = verify_log(synced.db)
    assert report.ok
    assert report.entries_checked == 48


# --- every record the log cites, and only those -------------------------------------------


def test_deleted_retained_record_is_named(synced: World) -> None:
    act_on_some(synced)
    behind_the_triggers(synced.db, "DELETE FROM retained_records WHERE id = 2")
    report = verify_log(synced.db)
    assert "retained record 2 (cited by log entry 3) is missing: it was deleted" in report.problem
    assert (report.first_bad_entry, report.entries_checked) == (3, 8)


def test_renumbered_retained_record_is_named(synced: World) -> None:
    act_on_some(synced)
    behind_the_triggers(synced.db, "UPDATE retained_records SET id = 99 WHERE id = 2")
    report = verify_log(synced.db)
    assert "retained record 2 (cited by log entry 3) is missing" in report.problem
    assert "or its id was changed" in report.problem
    assert report.records_checked == 1  # record 1 matched; the lowest problem is named


def test_record_moved_to_another_comment_is_named(synced: World) -> None:
    act_on_some(synced)
    with synced.db.session() as session:
        other = session.scalar(select(Comment.id).where(Comment.site_id == synced.police_site))
    behind_the_triggers(synced.db, f"UPDATE retained_records SET comment_id = {other} WHERE id = 3")
    report = verify_log(synced.db)
    assert "retained record 3 (cited by log entry 5) was moved to another comment" in (
        report.problem
    )
    assert f"the record now says comment {other}" in report.problem


def test_record_added_behind_the_logs_back_is_named(synced: World) -> None:
    """An insert needs no trigger switched off: only the log's citations can expose it."""
    act_on_some(synced, 2)
    with synced.db.transaction() as session:
        comment = session.scalars(select(Comment).order_by(Comment.id.desc())).first()
        assert comment is not None
        forged = snapshot(session, comment, "mallory").id  # a well-formed record, hash and all
    report = verify_log(synced.db)
    assert f"retained record {forged} is cited by no log entry" in report.problem
    assert report.first_bad_entry is None


def test_entries_citing_one_record_alike(synced: World) -> None:
    act_on_some(synced, 1)  # entries 1 (pending) and 2 (outcome) cite record 1
    with synced.db.session() as session:
        other = session.scalar(select(Comment.id).order_by(Comment.id.desc()))
        entry = session.get(LogEntry, 2)
        assert entry is not None
        values = {c.name: getattr(entry, c.name) for c in LogEntry.__table__.columns}
    values["comment_id"] = other  # re-hashed, so only the citation betrays it
    behind_the_triggers(
        synced.db,
        f"UPDATE action_log SET comment_id = {other}, entry_hash = '{entry_hash(values)}' "
        "WHERE id = 2",
    )
    report = verify_log(synced.db)
    assert "entry 2 cites retained record 1 with another hash or comment than entry 1" in (
        report.problem
    )


def test_seal_entry_that_seals_another_head_is_named(synced: World) -> None:
    act_on_some(synced, 1)
    with synced.db.transaction() as session:
        append_entry(
            session, actor="mallory", state="applied", action="on_demand", comment_id=None,
            site_id=None, department_id=None, record_id=None, record_sha256=None,
            policy_version=None, kind="seal", subject="entry:1",
            after=canonical_json({"entry_id": 1, "entry_hash": GENESIS_HASH, "entries": 1,
                                  "sealed_at": "2026-12-01T12:00:00+00:00"}),
        )  # fmt: skip
    report = verify_log(synced.db)
    assert report.problem == (
        "seal entry 3 does not match the entries it seals: it says entry 1 of 1, but it "
        "follows entry 2"
    )
    assert report.first_bad_entry == 3


def test_canonical_form_is_unchanged() -> None:
    """Hashes made before verification was sped up (by the json module's encoder, called as
    it was then): entries of each form, with every kind of awkward text, still hash alike."""
    at = datetime(2026, 3, 8, 7, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-6)))
    action: dict[str, object] = {
        "id": 7, "at": at, "actor": "modé", "state": "pending", "action": "hide",
        "comment_id": 12, "site_id": 3, "department_id": 1, "record_id": 4,
        "record_sha256": "ab" * 32, "reason_code": "SPM",
        "note": 'quote " back \\ nl \n tab \t nul \x00 ls \u2028 rlo \u202e zw \u200b emoji 😀',
        "policy_version": "2026.1", "second_review": True, "outcome_of": None, "detail": "",
        "prev_hash": "0" * 64,
    }  # fmt: skip
    admin = {**action, "kind": "admin", "subject": "site:3", "before": None, "after": '{"a":1}'}
    review = {**admin, "kind": "review", "refers_to": 5, "second_review": False,
              "comment_id": 2**40}  # fmt: skip
    assert [entry_hash(values) for values in (action, admin, review)] == [
        "7eb7968317d782c8b2e074d0b9957b39b910f4c880bf660e8b238eff122e2307",
        "7b3d6c2e8b0b6ffce98e1a238c22fabb25825d0388458911731713314b931773",
        "83cbb75f6433f1b124a68e73721fd090b6d11676fe1f5fa8dec8441ee56e1852",
    ]


def test_problem_in_a_later_batch_names_the_entry_and_what_was_checked(
    synced: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole batches are checked a list at a time: one altered entry in the middle of a batch
    is still named exactly, with the entries before it counted as checked."""
    act_on_some(synced, 6)  # 12 entries
    monkeypatch.setattr(verify, "BATCH", 5)
    assert verify_log(synced.db).ok
    behind_the_triggers(synced.db, "UPDATE action_log SET note = 'changed' WHERE id = 8")
    report = verify_log(synced.db)
    assert (report.first_bad_entry, report.entries_checked, report.head_id) == (8, 7, 7)
    assert "entry 8 was altered" in report.problem
    with synced.db.session() as session:
        assert report.head_hash == session.scalar(
            select(LogEntry.entry_hash).where(LogEntry.id == 7)
        )
