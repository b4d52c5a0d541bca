"""Screening's suggestions kept whole, marked wrong in the log, and weighed against decisions.

Runs on SQLite and PostgreSQL through the `db` fixtures.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select, text

from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, CommentSuggestion, LogEntry, Post, Site
from hsm_console.errors import NotFound, NotPossible, PermissionDenied
from hsm_console.rules.domain import Action, EntryKind, Role
from hsm_console.rules.screening import Screener
from hsm_console.services import admin, suggestions
from hsm_console.services.agreement import AGREEMENT_COLUMNS, agreement_table
from hsm_console.services.comment_detail import CommentReader
from hsm_console.services.log_view import LogFilter, LogView
from hsm_console.services.queue_view import QueueFilter, QueueView
from hsm_console.services.verify import verify_log
from hsm_sandbox import SandboxServer
from tests.conftest import World, build_world


def suggested(world: World, *, at_least: int = 1) -> list[int]:
    """Parks comments with at least this many suggestions, oldest first."""
    with world.db.session() as session:
        rows = session.execute(
            select(CommentSuggestion.comment_id)
            .where(CommentSuggestion.site_id == world.parks_site)
            .group_by(CommentSuggestion.comment_id)
            .having(sa.func.count() >= at_least)
            .order_by(CommentSuggestion.comment_id)
        )
        return [row[0] for row in rows]


def codes(world: World, comment_id: int) -> list[str]:
    with world.db.session() as session:
        return [s.code for s in suggestions.stored(session, comment_id)]


def test_a_wrong_suggestion_is_an_entry_of_the_one_chain(synced: World) -> None:
    comment_id = suggested(synced, at_least=2)[0]
    first, second = codes(synced, comment_id)[:2]
    service = synced.app("alice").suggestions

    entry_id = service.mark_wrong(comment_id, second, "a City number")

    with synced.db.session() as session:
        entry = session.get(LogEntry, entry_id)
        assert entry is not None
        assert (entry.kind, entry.action, entry.reason_code, entry.actor, entry.note) == (
            EntryKind.SCREENING.value, suggestions.WRONG, second, "alice", "a City number",
        )  # fmt: skip
        assert (entry.comment_id, entry.site_id) == (comment_id, synced.parks_site)
    assert verify_log(synced.db).ok
    # Shown as marked, never hidden: in the queue's row and in the detail.
    [row] = QueueView(synced.db, "alice").rows([comment_id])
    assert [(s.code, s.marked_wrong) for s in row.suggestions][:2] == [
        (first, False),
        (second, True),
    ]
    shown = CommentReader(synced.db, "alice").comment(comment_id)
    assert [(m.code, m.actor, m.note) for m in shown.wrong_marks] == [
        (second, "alice", "a City number")
    ]
    assert second in [s.code for s in shown.suggestions]
    # Once per suggestion; only a suggestion made; only by the department's people.
    with pytest.raises(NotPossible, match="already marked wrong by alice"):
        synced.app("bob").suggestions.mark_wrong(comment_id, second)
    with pytest.raises(NotPossible, match="no suggestion EMG"):
        service.mark_wrong(comment_id, "EMG")
    with pytest.raises((PermissionDenied, NotFound)):
        synced.app("carol").suggestions.mark_wrong(comment_id, first)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), synced.db.engine.begin() as c:
        c.execute(text("DELETE FROM action_log WHERE id = :e"), {"e": entry_id})


def test_agreement_sets_each_code_against_what_moderators_decided(synced: World) -> None:
    moderation = synced.app("alice").moderation
    by_code: dict[str, list[int]] = {}
    for comment_id in suggested(synced):
        by_code.setdefault(codes(synced, comment_id)[0], []).append(comment_id)
    code, comments = max(by_code.items(), key=lambda item: len(item[1]))
    assert len(comments) >= 3
    moderation.act(comments[0], Action.FLAG, code)  # decided with it
    moderation.act(comments[1], Action.KEEP)  # decided otherwise (kept, NVL)
    synced.app("alice").suggestions.mark_wrong(comments[1], code)
    with synced.db.session() as session:
        expected_suggested = session.scalar(
            select(sa.func.count()).where(
                CommentSuggestion.code == code, CommentSuggestion.site_id == synced.parks_site
            )
        )

    with synced.db.transaction() as session:  # a supervisor of Parks alone
        pat = admin.ensure_person(session, "pat", "Pat Supervisor")
        parks = session.get(Site, synced.parks_site)
        assert parks is not None
        admin.grant(session, pat, Role.SUPERVISOR, parks.department)

    table = agreement_table(LogView(synced.db, "pat"), LogFilter())

    assert table.columns == AGREEMENT_COLUMNS
    rows = {row[0]: row[1:] for row in table.rows}
    assert rows[code] == (expected_suggested, 1, 1, 1)
    assert set(rows) == {c for c in by_code} | {
        c for comment_id in suggested(synced) for c in codes(synced, comment_id)
    }
    # The police's comments are not pat's to count; the oversight group sees both.
    police = agreement_table(LogView(synced.db, "sam"), LogFilter())
    assert sum(int(row[1] or 0) for row in police.rows) >= sum(v[0] for v in rows.values())
    with pytest.raises(PermissionDenied):
        LogView(synced.db, "alice")  # a moderator reads no dashboard


def test_the_copies_follow_the_comment_and_a_disposal_blanks_the_why(synced: World) -> None:
    comment_id = suggested(synced)[0]
    synced.app("alice").moderation.act(comment_id, Action.FLAG, "OFT")
    view = QueueView(synced.db, "alice")
    code = codes(synced, comment_id)[0]
    flagged = QueueFilter(statuses=frozenset(), suggestion=code)
    assert comment_id in view.page(flagged).ids
    assert comment_id not in view.page(QueueFilter(suggestion=code)).ids

    with synced.db.engine.begin() as connection:
        connection.execute(text("UPDATE comments SET text = '' WHERE id = :c"), {"c": comment_id})
    with synced.db.session() as session:
        blanked = session.scalars(
            select(CommentSuggestion).where(CommentSuggestion.comment_id == comment_id)
        ).all()
    assert blanked
    assert all((row.why, row.spans) == ("", []) for row in blanked)


_OLD_TEXTS = {
    "ad": "Buy cheap pills at highlandil-gov.com, call 618-555-0142, best deals!",
    "plain": "When does the pool open this summer?",
    "repeat": "Same words posted twice by a bot, hello there",
}


def test_the_migration_screens_the_comments_already_stored(
    unmigrated_url: str,
    sandbox: SandboxServer,
) -> None:
    texts = _OLD_TEXTS
    db = Database(unmigrated_url)
    try:
        _store_before_0019(db, sandbox)
        db.upgrade()
        with db.session() as session:
            by_key = {c.external_id: c for c in session.scalars(select(Comment))}
            stored = {key: suggestions.stored(session, c.id) for key, c in by_key.items()}
    finally:
        db.dispose()
    screened = Screener.default().screen(texts["ad"])
    assert len(screened) > 1
    assert [(s.code, s.why, s.matches) for s in stored["ad"]] == [
        (s.code, s.why, s.matches) for s in screened
    ]
    assert by_key["ad"].suggested_code == screened[0].code  # stored before, first now
    assert stored["plain"] == []
    # What sync found and screening cannot (a repeat) is kept.
    assert [(s.code, s.why) for s in stored["repeat"]] == [
        ("SPM", "The same text as 1 other comment(s).")
    ]


def _store_before_0019(db: Database, sandbox: SandboxServer) -> None:
    """Comments as sync stored them before migration 0019: the first suggestion only."""
    config = db._alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0018")  # the one before 0019
    world = build_world(db, sandbox)
    with db.transaction() as session:
        now = datetime.now(UTC)
        post = Post(
            site_id=world.parks_site,
            external_id="p1",
            text="Pool",
            permalink="",
            created_at=now,
            raw={},
        )
        session.add(post)
        session.flush()
        for key, words in _OLD_TEXTS.items():
            session.add(
                Comment(
                    site_id=world.parks_site, post_id=post.id, external_id=key, author_id="a",
                    author_name="A", text=words, created_at=now, permalink="",
                    raw={}, platform_state="visible", status="new",
                    suggested_code="SPM" if key == "repeat" else None,
                    suggestion_why="The same text as 1 other comment(s)." if key == "repeat"
                    else "",
                )
            )  # fmt: skip
