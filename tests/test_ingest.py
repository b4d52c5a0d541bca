"""Sync's storing path at volume: replies linked across pages in batches, PostgreSQL's plans
made for each page's values, and statistics refreshed after a large first sync."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, select, text

from benchmarks.ingest import FeedConnector, feed_comments
from hsm_console.db.engine import Database
from hsm_console.db.models import Comment
from hsm_console.rules.domain import Platform, Role
from hsm_console.rules.policy import load_policy
from hsm_console.services import admin, sync
from hsm_console.services.moderation import ModerationService
from hsm_console.services.sync import SyncService

USER = "ingester"


def _site(db: Database) -> int:
    with db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks")
        site = admin.ensure_site(
            session, parks, Platform.FACEBOOK, "Parks", "1", "https://bench.invalid"
        )
        admin.grant(session, admin.ensure_person(session, USER), Role.MODERATOR, parks)
        return site.id


def _sync(db: Database, feed: FeedConnector) -> sync.SiteResult:
    moderation = ModerationService(db, load_policy(), lambda site: feed, USER)  # type: ignore[arg-type,return-value]
    [result] = SyncService(db, lambda site: feed, moderation).sync()  # type: ignore[arg-type,return-value]
    return result


def test_replies_are_linked_whether_their_parent_came_before_or_after(db: Database) -> None:
    comments = feed_comments(450, "t")
    # The newest-first order of a platform: every reply's parent on this page or a later one.
    comments.reverse()
    late = replace(comments[-1], external_id="t-late", parent_external_id=None)
    comments[5] = replace(comments[5], parent_external_id="t-late")  # parent on the last page
    comments.append(late)
    _site(db)
    assert _sync(db, FeedConnector(comments)).new_comments == len(comments)
    with db.session() as session:
        stored = dict(session.execute(select(Comment.external_id, Comment.id)).all())
        parents = dict(session.execute(select(Comment.id, Comment.parent_id)).all())
    expected = {c.external_id: c.parent_external_id for c in comments}
    replies = [key for key, parent in expected.items() if parent]
    assert len(replies) > 100
    for key in expected:
        parent = expected[key]
        assert parents[stored[key]] == (stored[parent] if parent else None), key


def test_known_comments_are_looked_up_with_plans_made_for_their_values(
    postgres_db: Database,
) -> None:
    """The driver prepares a statement run five times, and PostgreSQL would then reuse a
    generic plan made while the site had few comments. Every page's look-up is planned for
    its values: read from PostgreSQL itself while the sync runs (a ROLLBACK, as when a read
    session ends, makes the driver drop its prepared statements)."""
    db = postgres_db
    _site(db)
    feed = FeedConnector(feed_comments(3000, "p"))
    feed.comments = [replace(c, parent_external_id=None) for c in feed.comments]  # one SQL text
    plans: list[tuple[int, int]] = []

    def read_plans(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "comments.external_id IN" in statement:
            found = cursor.connection.execute(
                "SELECT coalesce(max(generic_plans), 0), coalesce(max(custom_plans), 0) "
                "FROM pg_prepared_statements "
                "WHERE statement LIKE 'SELECT comments.external_id, comments.id%'"
            ).fetchone()
            plans.append(found)

    event.listen(db.engine, "after_cursor_execute", read_plans)
    try:
        _sync(db, feed)
    finally:
        event.remove(db.engine, "after_cursor_execute", read_plans)
    assert len(plans) == 30
    assert max(custom for _, custom in plans) >= 10  # prepared, and run again and again
    assert max(generic for generic, _ in plans) == 0


def test_a_large_first_sync_refreshes_postgresqls_statistics(
    postgres_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync, "ANALYZE_AFTER", 300)
    _site(postgres_db)
    _sync(postgres_db, FeedConnector(feed_comments(300, "a")))
    with postgres_db.session() as session:
        analysed = session.scalar(
            text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'comments'")
        )
        estimate = session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'comments'"))
    assert analysed is not None
    assert estimate == 300
