"""The queue service behind the window: isolation, keyset pages, filters, counts, search.

Runs on SQLite (FTS5) and PostgreSQL (tsvector + GIN) through the `db` fixture.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text, update

from hsm_console.db.models import Comment, CommentSuggestion
from hsm_console.errors import PermissionDenied
from hsm_console.rules.domain import Action, CommentStatus
from hsm_console.rules.screening import Screener, Suggestion
from hsm_console.services import queue_view, suggestions
from hsm_console.services.comment_detail import CommentReader
from hsm_console.services.moderation import ModerationService
from hsm_console.services.queue_view import (
    ANY_SUGGESTION,
    NO_SUGGESTION,
    QueueFilter,
    QueueRow,
    QueueView,
    RowSuggestion,
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
    """Sync stores screening's suggestions with each comment; start these tests from none."""
    with world.db.transaction() as session:
        session.execute(update(Comment).values(suggested_code=None, suggestion_why=""))
        session.execute(CommentSuggestion.__table__.delete())


def suggest(world: World, comment_id: int, *codes: str) -> None:
    """Store these suggestions for a comment, as sync does (the first on the comment too)."""
    found = [Suggestion(code, f"why {code}", ()) for code in codes]
    with world.db.transaction() as session:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        comment.suggested_code, comment.suggestion_why = codes[0], f"why {codes[0]}"
        session.flush()
        suggestions.replace_all(
            session, comment_id, comment.site_id, comment.status, comment.created_at, found
        )


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
    # Nothing is screened as it is read: a comment stored without a suggestion shows none.
    assert all(r.suggestions == () for r in view.rows(all_ids(view, EVERYTHING)))
    # Every suggestion stored at ingest is shown, in screening's order.
    suggest(synced, ids[0], "COM", "PII")
    [row] = view.rows(ids[:1])
    assert row.suggestions == (RowSuggestion("COM", "why COM"), RowSuggestion("PII", "why PII"))
    assert (row.suggested_code, row.suggestion_why) == ("COM", "why COM")


def test_status_site_platform_and_suggestion_filters(synced: World) -> None:
    forget_suggestions(synced)
    app = synced.app("alice")
    view = QueueView(synced.db, "alice")
    newest = view.page(QueueFilter(), None, 3).ids
    app.moderation.act(newest[0], Action.FLAG, "PRF")
    app.moderation.act(newest[1], Action.KEEP)
    suggest(synced, newest[2], "PII")
    suggest(synced, newest[1], "COM", "PII")  # kept: out of the default status filter

    flagged = QueueFilter(statuses=frozenset({CommentStatus.FLAGGED}))
    assert all_ids(view, flagged) == [newest[0]]
    decided = QueueFilter(statuses=frozenset({CommentStatus.FLAGGED, CommentStatus.KEPT}))
    assert all_ids(view, decided) == newest[:2]
    assert newest[0] not in all_ids(view, QueueFilter())
    assert all_ids(view, QueueFilter(suggestion="PII")) == [newest[2]]
    assert all_ids(view, QueueFilter(suggestion=ANY_SUGGESTION)) == [newest[2]]
    # Any suggestion of a code, not only the first; the status follows the comment's.
    assert all_ids(view, QueueFilter(statuses=frozenset(), suggestion="PII")) == newest[1:]
    assert all_ids(view, decided) == newest[:2]
    assert all_ids(view, replace(decided, suggestion="PII")) == [newest[1]]
    app.moderation.act(newest[2], Action.FLAG, "PII")
    assert all_ids(view, QueueFilter(suggestion="PII")) == []
    assert all_ids(view, replace(decided, suggestion="PII")) == newest[1:]
    assert all_ids(view, QueueFilter(suggestion="PII", search="zzzz-nowhere")) == []
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
    suggest(synced, newest[1], "THR")
    suggest(synced, newest[0], "PII", "THR")  # flagged: outside the status filter
    total = len(site_comment_ids(synced, synced.parks_site))

    counts = view.counts(QueueFilter())

    assert counts.total == len(all_ids(view, QueueFilter())) == total - 1
    assert counts.by_status["new"] == total - 1
    assert counts.by_status["flagged"] == 1
    assert counts.by_site == {synced.parks_site: total - 1}
    assert counts.by_platform == {"facebook": total - 1}
    assert counts.by_suggestion == {None: total - 2, "THR": 1}
    assert counts.any_suggestion() == 1
    # A comment with two suggestions counts under each code, and once in all.
    every_status = view.counts(QueueFilter(statuses=frozenset()))
    assert every_status.by_suggestion == {None: total - 2, "THR": 2, "PII": 1}
    assert every_status.any_suggestion() == 2
    assert every_status.regardless_of_suggestion() == total
    both = view.counts(QueueFilter(statuses=frozenset(), suggestion="THR"))
    assert (both.total, both.by_status["new"], both.by_status["flagged"]) == (2, 1, 1)

    # Choosing a suggestion narrows the status counts, not the suggestion counts.
    narrowed = view.counts(QueueFilter(suggestion="THR"))
    assert narrowed.total == 1
    assert narrowed.by_status["new"] == 1
    assert narrowed.by_status["flagged"] == 1  # the flagged one has THR among its two
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


def test_detail_shows_every_stored_suggestion_with_its_matched_spans(synced: World) -> None:
    reader = CommentReader(synced.db, "alice")
    [shown] = [
        shown
        for shown in map(reader.comment, site_comment_ids(synced, synced.parks_site))
        if len(shown.suggestions) > 1
    ][:1]
    assert [(s.code, s.why) for s in shown.suggestions] == [
        (s.code, s.why) for s in Screener.default().screen(shown.text)
    ]
    for suggestion in shown.suggestions:
        assert suggestion.matches
        assert all(shown.text[m.start : m.end].strip() for m in suggestion.matches)


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


def test_rows_under_way_name_each_actor_from_one_statement(synced: World) -> None:
    view = QueueView(synced.db, "alice")
    ids = site_comment_ids(synced, synced.parks_site)[:3]
    with synced.db.transaction() as session:
        entry = 1  # any: the row only needs an action under way
        for comment_id, actor in zip(ids, ["alice", "not-a-person", None], strict=True):
            session.execute(
                update(Comment)
                .where(Comment.id == comment_id)
                .values(pending_entry_id=entry, last_actor=actor)
            )
    asked: list[str] = []

    def count(*args: Any) -> None:
        if args[2].startswith("SELECT people."):  # the names (presence joins people too)
            asked.append(args[2])

    event.listen(synced.db.engine, "before_cursor_execute", count)
    try:
        rows = view.rows(ids)
    finally:
        event.remove(synced.db.engine, "before_cursor_execute", count)
    assert [row.acting for row in rows] == [
        "Alice Moderator (alice)",
        "not-a-person",
        "Another moderator",
    ]
    assert len(asked) == 1
