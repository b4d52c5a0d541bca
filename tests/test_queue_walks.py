"""The queue's walks (services/queue_view.py): one branch per (site, status), or one per
status over many sites, merged under one ORDER BY and LIMIT, page exactly as the table reads
in order, on SQLite and PostgreSQL; the counts group the same rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text, update

from hsm_console.db.models import Comment
from hsm_console.rules.domain import CommentStatus, Role
from hsm_console.services import admin, queue_view
from hsm_console.services.queue_view import ANY_SUGGESTION, NO_SUGGESTION, QueueFilter, QueueView
from tests.conftest import World
from tests.test_queue_view import all_ids, forget_suggestions, suggest

STATUSES = ("new", "new", "flagged", "kept", "hidden")


def in_table_order(world: World, where: str, **values: object) -> list[int]:
    """The comments of both sites that `where` keeps, newest first, straight from the table."""
    with world.db.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT id FROM comments c WHERE {where} ORDER BY created_at DESC, id DESC"),
            values,
        )
        return [int(row[0]) for row in rows]


@pytest.mark.parametrize("by_status", [False, True], ids=["per site", "per status"])
def test_both_walks_page_as_the_table_orders(
    synced: World, monkeypatch: pytest.MonkeyPatch, by_status: bool
) -> None:
    monkeypatch.setattr(queue_view, "_by_status", lambda chosen, every: by_status)
    with synced.db.transaction() as session:
        police = admin.ensure_department(session, "POLICE", "Police Department")
        admin.grant(session, admin.ensure_person(session, "alice"), Role.MODERATOR, police)
    forget_suggestions(synced)
    ids = in_table_order(synced, "1 = 1")
    assert len(ids) > 20
    with synced.db.transaction() as session:
        for n, comment_id in enumerate(ids):
            session.execute(
                text("UPDATE comments SET status = :s WHERE id = :id"),
                {"s": STATUSES[n % len(STATUSES)], "id": comment_id},
            )
        # A run of equal times across both sites: only the id orders them.
        session.execute(
            update(Comment)
            .where(Comment.id.in_(ids[5:15]))
            .values(created_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
        )
    for comment_id in ids[::3]:
        suggest(synced, comment_id, "PII")
    for comment_id in ids[1::4]:
        suggest(synced, comment_id, "COM", "PII")
    view = QueueView(synced.db, "alice")
    assert len(view.sites()) == 2
    cases = {
        "c.status = 'new'": QueueFilter(),
        "1 = 1": QueueFilter(statuses=frozenset()),
        "c.status IN ('flagged', 'kept')": QueueFilter(
            statuses=frozenset({CommentStatus.FLAGGED, CommentStatus.KEPT})
        ),
        "c.suggested_code IS NOT NULL": QueueFilter(
            statuses=frozenset(), suggestion=ANY_SUGGESTION
        ),
        "c.suggested_code IS NULL AND c.status = 'new'": QueueFilter(suggestion=NO_SUGGESTION),
        "EXISTS (SELECT 1 FROM comment_suggestions s WHERE s.comment_id = c.id "
        "AND s.code = 'PII')": QueueFilter(statuses=frozenset(), suggestion="PII"),
        f"c.site_id = {synced.police_site}": QueueFilter(
            statuses=frozenset(), site_ids=frozenset({synced.police_site})
        ),
    }
    for where, queue_filter in cases.items():
        expected = in_table_order(synced, where)
        assert expected, where
        assert all_ids(view, queue_filter, limit=4) == expected, where
        assert all_ids(view, queue_filter, limit=1000) == expected, where
        if queue_filter.suggestion != "PII":
            assert view.counts(queue_filter).total == len(expected), where
    pii = view.counts(QueueFilter(statuses=frozenset(), suggestion="PII"))
    assert pii.total == len(in_table_order(synced, list(cases)[5]))


@pytest.mark.parametrize(
    ("first", "most", "share"),
    [(3, 4, 0.02), (3, 4, 1.0), (10_000, 10_000, 0.02)],
    ids=["walked then indexed", "indexed after the first rows", "walked whole"],
)
def test_a_search_pages_as_the_table_orders(
    synced: World, monkeypatch: pytest.MonkeyPatch, first: int, most: int, share: float
) -> None:
    """On PostgreSQL a search tests the queue's newest rows in order while its word is
    common, then reads the rest from the full-text index (tiny steps here, so one page
    crosses from one to the other); on SQLite it starts from the index. Either way the
    pages are the matches in the table's order, whatever the word's share."""
    ids = _walks_for_alice(synced, monkeypatch, first, most, share)
    with synced.db.transaction() as session:
        for n, comment_id in enumerate(ids):
            words = ["common" if n % 3 else "other", "rare" if n % 7 == 2 else "plain"]
            session.execute(
                text("UPDATE comments SET search_words = :w, status = :s WHERE id = :id"),
                {"w": " ".join(words), "s": STATUSES[n % len(STATUSES)], "id": comment_id},
            )
    view = QueueView(synced.db, "alice")
    cases = {
        "c.search_words LIKE 'common%' AND c.status = 'new'": QueueFilter(search="comm"),
        "c.search_words LIKE '%rare' AND c.status = 'new'": QueueFilter(search="rare"),
        "c.search_words LIKE 'common rare'": QueueFilter(
            statuses=frozenset(), search="rare common"
        ),
        "c.search_words LIKE '%rare' AND c.status IN ('flagged', 'kept')": QueueFilter(
            statuses=frozenset({CommentStatus.FLAGGED, CommentStatus.KEPT}), search="rare"
        ),
    }
    for where, queue_filter in cases.items():
        expected = in_table_order(synced, where)
        assert expected, where
        assert all_ids(view, queue_filter, limit=4) == expected, where
        assert all_ids(view, queue_filter, limit=500) == expected, where


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # PostgreSQL's walk alone
def test_a_word_in_most_rows_is_tested_on_the_rows_a_rarer_one_finds(
    synced: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL, of several words, one that started a word in most rows walked is left
    out of the index's search and tested on the rows the rarer one finds (`_tested_words`):
    the pages are the same, and a row where it is inside a word, not its start, is not found."""
    ids = _walks_for_alice(synced, monkeypatch, 3, 4, 1.0)  # to the index after 3 rows
    with synced.db.transaction() as session:
        for n, comment_id in enumerate(ids):
            words = ["common" if n % 2 == 0 else "xcommon", "rare" if n % 5 == 0 else "plain"]
            session.execute(
                text("UPDATE comments SET search_words = :w WHERE id = :id"),
                {"w": " ".join(words), "id": comment_id},
            )
    sent: list[str] = []
    event.listen(synced.db.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    view = QueueView(synced.db, "alice")
    expected = in_table_order(synced, "c.search_words = 'common rare'")
    assert expected
    assert len(expected) < len(in_table_order(synced, "c.search_words LIKE '%rare'"))
    every = QueueFilter(statuses=frozenset(), search="comm rare")
    assert all_ids(view, every, limit=4) == expected
    assert all_ids(view, every, limit=500) == expected
    # The index was asked for "rare" alone, "comm" tested on its rows.
    assert any("strpos" in statement and "matches" in statement for statement in sent)


def _walks_for_alice(
    synced: World, monkeypatch: pytest.MonkeyPatch, first: int, most: int, share: float
) -> list[int]:
    """The walk's steps and share set; alice moderates both sites, whose comments these are,
    newest first."""
    monkeypatch.setattr(queue_view, "WALK_FIRST", first)
    monkeypatch.setattr(queue_view, "WALK_MOST", most)
    monkeypatch.setattr(queue_view, "WALK_SHARE", share)
    with synced.db.transaction() as session:
        police = admin.ensure_department(session, "POLICE", "Police Department")
        admin.grant(session, admin.ensure_person(session, "alice"), Role.MODERATOR, police)
    ids = in_table_order(synced, "1 = 1")
    assert len(ids) > 20
    return ids
