"""The queue service behind the window: isolation, keyset pages, filters, counts, search.

Runs on SQLite (FTS5) and PostgreSQL (tsvector + GIN) through the `db` fixture.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from hsm_console.db.models import Comment
from hsm_console.errors import PermissionDenied
from hsm_console.rules.domain import Action, CommentStatus
from hsm_console.services import queue_view
from hsm_console.services.comment_detail import CommentReader
from hsm_console.services.moderation import ModerationService
from hsm_console.services.queue_view import (
    ANY_SUGGESTION,
    NO_SUGGESTION,
    QueueFilter,
    QueueRow,
    QueueView,
    received_bounds,
)
from tests.conftest import World

EVERYTHING = QueueFilter(statuses=frozenset())


def all_ids(view: QueueView, queue_filter: QueueFilter, limit: int = 1000) -> list[int]:
    ids: list[int] = []
    page = view.page(queue_filter, None, limit)
    ids += page.ids
    while page.next is not None:
        page = view.page(queue_filter, page.next, limit)
        ids += page.ids
    return ids


def forget_suggestions(world: World) -> None:
    """Sync stores screening's suggestion with each comment; start these tests from none."""
    with world.db.transaction() as session:
        session.execute(update(Comment).values(suggested_code=None, suggestion_why=""))


def site_comment_ids(world: World, site_id: int) -> list[int]:
    """Every comment of a site, newest first, straight from the table."""
    with world.db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id FROM comments WHERE site_id = :s ORDER BY created_at DESC, id DESC"),
            {"s": site_id},
        )
        return [int(row[0]) for row in rows]


def test_a_moderator_sees_only_their_departments_comments(synced: World) -> None:
    alice = QueueView(synced.db, "alice")
    carol = QueueView(synced.db, "carol")
    parks = site_comment_ids(synced, synced.parks_site)
    police = site_comment_ids(synced, synced.police_site)
    assert parks
    assert police

    assert all_ids(alice, EVERYTHING) == parks
    assert all_ids(carol, EVERYTHING) == police
    assert [s.id for s in alice.sites()] == [synced.parks_site]
    # Asking for the other department's site or rows yields nothing.
    other_site = QueueFilter(statuses=frozenset(), site_ids=frozenset({synced.police_site}))
    assert alice.page(other_site).ids == []
    assert alice.rows(police[:5]) == []
    with pytest.raises(PermissionDenied):
        CommentReader(synced.db, "alice").comment(police[0])


def test_keyset_pages_cover_the_queue_once_in_order_even_with_equal_times(
    synced: World,
) -> None:
    # Give a run of comments the very same time, so only the id can order them.
    same_time = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    parks = site_comment_ids(synced, synced.parks_site)
    with synced.db.transaction() as session:
        session.execute(
            update(Comment).where(Comment.id.in_(parks[10:30])).values(created_at=same_time)
        )
    view = QueueView(synced.db, "alice")
    expected = site_comment_ids(synced, synced.parks_site)

    paged = all_ids(view, EVERYTHING, limit=7)

    assert paged == expected
    assert len(set(paged)) == len(paged)


def test_rows_come_back_in_the_order_asked_with_a_suggestion(synced: World) -> None:
    forget_suggestions(synced)
    view = QueueView(synced.db, "alice")
    ids = view.page(QueueFilter(), None, 50).ids
    rows = view.rows(list(reversed(ids)))
    assert [r.id for r in rows] == list(reversed(ids))
    assert all(r.site_name == "Highland Parks & Recreation" for r in rows)
    assert all(r.platform == "facebook" and r.status == "new" for r in rows)
    # A comment stored without a suggestion is screened as it is read.
    everything = view.rows(all_ids(view, EVERYTHING))
    suggested = [r for r in everything if r.suggested_code]
    assert suggested
    assert all(r.suggestion_why for r in suggested)
    # A suggestion stored by sync is shown as stored, not screened again.
    with synced.db.transaction() as session:
        session.execute(
            update(Comment)
            .where(Comment.id == ids[0])
            .values(suggested_code="COM", suggestion_why="stored at sync")
        )
    assert [(r.suggested_code, r.suggestion_why) for r in view.rows(ids[:1])] == [
        ("COM", "stored at sync")
    ]


def test_status_site_platform_and_suggestion_filters(synced: World) -> None:
    forget_suggestions(synced)
    app = synced.app("alice")
    view = QueueView(synced.db, "alice")
    newest = view.page(QueueFilter(), None, 3).ids
    app.moderation.act(newest[0], Action.FLAG, "PRF")
    app.moderation.act(newest[1], Action.KEEP)
    with synced.db.transaction() as session:
        session.execute(update(Comment).where(Comment.id == newest[2]).values(suggested_code="PII"))

    flagged = QueueFilter(statuses=frozenset({CommentStatus.FLAGGED}))
    assert all_ids(view, flagged) == [newest[0]]
    decided = QueueFilter(statuses=frozenset({CommentStatus.FLAGGED, CommentStatus.KEPT}))
    assert all_ids(view, decided) == newest[:2]
    assert newest[0] not in all_ids(view, QueueFilter())
    assert all_ids(view, QueueFilter(suggestion="PII")) == [newest[2]]
    assert all_ids(view, QueueFilter(suggestion=ANY_SUGGESTION)) == [newest[2]]
    assert newest[2] not in all_ids(view, QueueFilter(suggestion=NO_SUGGESTION))
    assert all_ids(view, QueueFilter(platforms=frozenset({"youtube"}))) == []
    on_site = QueueFilter(site_ids=frozenset({synced.parks_site}))
    assert all_ids(view, on_site) == all_ids(view, QueueFilter())


def test_date_range_is_in_city_time_and_inclusive(synced: World) -> None:
    view = QueueView(synced.db, "alice")
    ids = site_comment_ids(synced, synced.parks_site)
    # 23:30 in Chicago on 1 March (CST, UTC-6) is already 2 March in UTC.
    late_evening = datetime(2026, 3, 2, 5, 30, tzinfo=UTC)
    with synced.db.transaction() as session:
        session.execute(update(Comment).where(Comment.id == ids[0]).values(created_at=late_evening))
    march_first = QueueFilter(
        statuses=frozenset(), received_from=date(2026, 3, 1), received_to=date(2026, 3, 1)
    )
    assert ids[0] in all_ids(view, march_first)
    march_second = QueueFilter(statuses=frozenset(), received_from=date(2026, 3, 2))
    assert ids[0] not in all_ids(view, march_second)

    low, high = received_bounds(date(2026, 3, 1), date(2026, 3, 1))
    assert low == datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert high is not None
    assert high - low == timedelta(days=1)


def test_counts_per_filter_keep_the_other_filters(synced: World) -> None:
    forget_suggestions(synced)
    app = synced.app("alice")
    view = QueueView(synced.db, "alice")
    newest = view.page(QueueFilter(), None, 2).ids
    app.moderation.act(newest[0], Action.FLAG, "PRF")
    with synced.db.transaction() as session:
        session.execute(update(Comment).where(Comment.id == newest[1]).values(suggested_code="THR"))
    total = len(site_comment_ids(synced, synced.parks_site))

    counts = view.counts(QueueFilter())

    assert counts.total == len(all_ids(view, QueueFilter())) == total - 1
    assert counts.by_status["new"] == total - 1
    assert counts.by_status["flagged"] == 1
    assert counts.by_site == {synced.parks_site: total - 1}
    assert counts.by_platform == {"facebook": total - 1}
    assert counts.by_suggestion == {None: total - 2, "THR": 1}
    assert counts.any_suggestion() == 1

    # Choosing a suggestion narrows the status counts, not the suggestion counts.
    narrowed = view.counts(QueueFilter(suggestion="THR"))
    assert narrowed.total == 1
    assert narrowed.by_status["new"] == 1
    assert narrowed.by_status["flagged"] == 0
    assert narrowed.by_suggestion == counts.by_suggestion


def test_full_text_search_finds_words_prefixes_and_authors(synced: World) -> None:
    view = QueueView(synced.db, "alice")
    everything = view.rows(all_ids(view, EVERYTHING))
    target = next(r for r in everything if "playground" in r.excerpt.casefold())
    with_playground = {r.id for r in everything if "playground" in r.excerpt.casefold()}

    found = all_ids(view, QueueFilter(statuses=frozenset(), search="Playground"))
    assert target.id in found
    assert set(found) >= with_playground
    prefix = all_ids(view, QueueFilter(statuses=frozenset(), search="playgro"))
    assert set(prefix) == set(found)
    # Every word must match; the author's name is searched too.
    author_word = target.author_name.split()[0]
    both = all_ids(view, QueueFilter(statuses=frozenset(), search=f"{author_word} playground"))
    assert target.id in both
    assert set(both) <= set(found)
    assert view.counts(QueueFilter(statuses=frozenset(), search="playground")).total == len(found)
    # Punctuation is not query syntax.
    assert all_ids(view, QueueFilter(statuses=frozenset(), search='("playground" * -:)')) == found


def test_search_follows_inserts_and_edits_and_stays_in_the_department(synced: World) -> None:
    alice = QueueView(synced.db, "alice")
    carol = QueueView(synced.db, "carol")
    word = "zyxwvutsrq"
    parks = site_comment_ids(synced, synced.parks_site)
    police = site_comment_ids(synced, synced.police_site)
    with synced.db.transaction() as session:
        for comment_id in (parks[3], police[3]):  # as sync edits (its words follow the text)
            session.get_one(Comment, comment_id).text = f"Edited: {word}"
    search = QueueFilter(statuses=frozenset(), search=word)
    assert all_ids(alice, search) == [parks[3]]
    assert all_ids(carol, search) == [police[3]]

    with synced.db.transaction() as session:
        session.get_one(Comment, parks[3]).text = "Plain again"
    assert all_ids(alice, search) == []
    # The original words of an edited comment are no longer found under it.
    assert all_ids(alice, QueueFilter(statuses=frozenset(), search="plain again")) == [parks[3]]


def test_one_comment_with_thread_capabilities_history_and_suggestions(synced: World) -> None:
    app = synced.app("alice")
    reader = CommentReader(synced.db, "alice")
    with synced.db.engine.connect() as conn:
        reply_id, parent_id = conn.execute(
            text(
                "SELECT id, parent_id FROM comments WHERE site_id = :s AND parent_id IS NOT NULL "
                "ORDER BY id LIMIT 1"
            ),
            {"s": synced.parks_site},
        ).one()
    app.moderation.act(reply_id, Action.FLAG, "OFT", note="second look")

    shown = reader.comment(reply_id)

    assert shown.id == reply_id
    assert shown.status == "flagged"
    assert shown.post_link.startswith("https://www.highlandil.gov/parks/")
    assert shown.post_permalink.startswith("https://www.facebook.com/")
    relations = [(item.relation, item.id) for item in shown.thread]
    assert relations[0] == ("parent", parent_id)
    assert ("this", reply_id) in relations
    assert "hidden from everyone except the author" in shown.capabilities.hide_means
    assert [(h.state, h.reason_code, h.note) for h in shown.history] == [
        ("pending", "OFT", "second look"),
        ("applied", "OFT", ""),
    ]
    assert len(shown.records) == 1
    assert shown.records[0].id == shown.history[0].record_id


def test_detail_screens_the_whole_text_with_matched_spans(synced: World) -> None:
    reader = CommentReader(synced.db, "alice")
    comment_id = site_comment_ids(synced, synced.parks_site)[0]
    text_value = "Call me at 618-555-0142 about the park"
    with synced.db.transaction() as session:
        session.execute(update(Comment).where(Comment.id == comment_id).values(text=text_value))

    shown = reader.comment(comment_id)

    pii = next(s for s in shown.suggestions if s.code == "PII")
    assert [text_value[m.start : m.end] for m in pii.matches] == ["618-555-0142"]


def test_sync_status_names_each_site_and_when_it_was_synced(synced: World) -> None:
    statuses = QueueView(synced.db, "alice").sync_status()
    assert [(s.site_id, s.last_error) for s in statuses] == [(synced.parks_site, "")]
    assert statuses[0].last_sync_at is not None
    assert datetime.now(UTC) - statuses[0].last_sync_at < timedelta(hours=1)


def test_newest_reads_page_by_page_up_to_the_limit(
    synced: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_view, "PAGE_SIZE", 3)  # many pages from a small queue
    view = QueueView(synced.db, "alice")
    parks = site_comment_ids(synced, synced.parks_site)
    assert len(parks) > 7
    assert [row.id for row in view.newest(EVERYTHING, 7)] == parks[:7]
    assert [row.id for row in view.newest(EVERYTHING, len(parks) + 5)] == parks
    assert view.newest(EVERYTHING, 0) == []


def test_a_row_names_who_is_acting_on_it_while_the_platform_is_asked(
    synced: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = QueueView(synced.db, "alice")
    comment_id = site_comment_ids(synced, synced.parks_site)[0]
    seen: list[QueueRow] = []
    call_platform = ModerationService._call_platform

    def watched(service: ModerationService, pending: Any) -> Any:
        seen.extend(view.rows([comment_id]))
        return call_platform(service, pending)

    monkeypatch.setattr(ModerationService, "_call_platform", watched)
    assert synced.app("alice").moderation.act(comment_id, Action.FLAG, "SPM").ok
    assert [row.acting for row in seen] == ["Alice Moderator (alice)"]
    assert [row.acting for row in view.rows([comment_id])] == [None]
