"""Sync's storing path at volume: replies linked across pages in batches, statistics
refreshed after a large first sync, rows stored as the ORM stores them, a page's writes
in one statement or one transaction, and the benchmark's plain inserts indexing the same
words."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text

from benchmarks.ingest import FeedConnector, feed_comments, plain_insert
from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, Post
from hsm_console.rules.domain import Platform, Role
from hsm_console.rules.policy import load_policy
from hsm_console.rules.search_words import document
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


def test_sync_stores_a_new_comment_as_the_orm_would(db: Database) -> None:
    """`_insert_comments` binds the values itself: every column comes out as an ORM insert of
    the same values stores it (JSON text, times, the full-text words)."""
    site_id = _site(db)
    now = datetime.now(UTC)
    with db.transaction() as session:
        post = Post(site_id=site_id, external_id="p", text="", permalink="", created_at=now,
                    raw={})  # fmt: skip
        session.add(post)
        session.flush()
        rows = [
            dict(site_id=site_id, post_id=post.id, parent_id=None, external_id=key, author_id="a",
                 author_name="Ñame", text="héllo ﬁne\u200b \"q\"\n", created_at=now - timedelta(
                     microseconds=7), permalink="p", attachments=["a.png"],
                 raw={"é": [1, 2.5, None, True], "n": {"b": "\u2028"}}, platform_state="visible",
                 status="new", edited_at=now, gone_seen_at=None, suggested_code="PRF",
                 suggestion_why="why", fetched_at=now, version=0)
            for key in ("orm", "sync")
        ]  # fmt: skip
        session.execute(insert(Comment), [rows[0]])  # the column default makes its words
        new = sync._insert_comments(session, [{**rows[1], "search_words": "name hello fine q"}])
    assert list(new) == ["sync"]
    names = [c for c in sync._NEW_COLUMNS if c != "external_id"]
    read = ", ".join(f"CAST({name} AS TEXT)" for name in names)
    with db.session() as session:
        stored = dict(
            (row[0], row[1:])
            for row in session.execute(text(f"SELECT external_id, {read} FROM comments"))
        )
        assert (
            session.scalar(select(Comment.id).where(Comment.external_id == "sync")) == new["sync"]
        )
    assert stored["sync"] == stored["orm"]
    assert stored["sync"][names.index("search_words")] == "name hello fine q"


def test_the_plain_inserts_give_the_full_text_index_the_same_words(db: Database) -> None:
    """The benchmark's side of comparison indexes each comment's words, as sync does."""
    comments = feed_comments(20, "w")
    plain_insert(db, _site(db), comments)
    with db.session() as session:
        words = dict(session.execute(select(Comment.external_id, Comment.search_words)).all())
    assert words == {c.external_id: document(c.author_name, c.text) for c in comments}


def test_replies_are_inserted_with_their_parents_id_not_linked_afterwards(db: Database) -> None:
    """Parents on the same page go in first (on PostgreSQL, the page's one statement gives each
    reply its parent's id), so no reply needs an UPDATE (on PostgreSQL a new version of the row
    in every index); a circle of replies still stores and links both, on PostgreSQL in that
    same statement."""
    comments = feed_comments(100, "o")
    comments.reverse()  # newest first: replies before their parents
    a, b = comments[0], comments[1]
    comments[0] = replace(a, parent_external_id=b.external_id)
    comments[1] = replace(b, parent_external_id=a.external_id)
    _site(db)
    updates: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE comments SET parent_id"):
            updates.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert _sync(db, FeedConnector(comments)).new_comments == 100
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(updates) == (1 if db.is_sqlite else 0)  # SQLite: the circle's links, at once
    with db.session() as session:
        stored = dict(session.execute(select(Comment.external_id, Comment.id)).all())
        parents = dict(session.execute(select(Comment.id, Comment.parent_id)).all())
    replies = {c.external_id: c.parent_external_id for c in comments if c.parent_external_id}
    assert len(replies) > 20
    for child, parent in replies.items():
        assert parents[stored[child]] == stored[parent], child


def test_a_page_with_stored_comments_is_stored_in_one_transaction(
    postgres_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of new comments alone is one statement in autocommit; a page that also updates
    stored comments is one transaction: an insert that fails leaves the edit unstored. Either
    way the connection goes back to the pool out of autocommit."""
    db = postgres_db
    _site(db)
    comments = [replace(c, parent_external_id=None) for c in feed_comments(150, "e")]
    feed = FeedConnector(comments)
    assert _sync(db, feed).new_comments == 150  # two pages of new comments, in autocommit
    edited = replace(comments[0], text="An edit of the first comment.")
    feed.comments = [edited, *feed_comments(150, "f")[:20]]  # stored and new on one page

    def fails(*_: Any, **__: Any) -> dict[str, int]:
        raise RuntimeError("the insert failed")

    monkeypatch.setattr(sync, "_insert_comments", fails)
    with pytest.raises(RuntimeError):
        _sync(db, feed)
    with db.session() as session:
        first = session.scalar(select(Comment.text).where(Comment.external_id == "e-0"))
        versions = session.scalar(text("SELECT count(*) FROM comment_versions"))
        count = session.scalar(text("SELECT count(*) FROM comments"))
    assert (first, versions, count) == (comments[0].text, 0, 150)
    pooled = [db.engine.raw_connection() for _ in range(db.engine.pool.checkedin())]
    try:
        assert pooled
        assert not any(c.driver_connection.autocommit for c in pooled)  # type: ignore[union-attr]
    finally:
        for connection in pooled:
            connection.close()
