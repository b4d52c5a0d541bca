"""The records officer's search: filters, counts, reach and refusals, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import text

from hsm_console.display import CITY_TZ
from hsm_console.errors import InvalidInput, PermissionDenied
from hsm_console.rules.records_query import DateBasis, RecordsQuery
from hsm_console.services import records_search
from hsm_console.services.records_search import RecordsSearch
from tests.conftest import World
from tests.records_fixtures import Records, build_records


@pytest.fixture
def records(world: World) -> Records:
    return build_records(world)


def test_search_counts_everything_of_the_comments_it_finds(records: Records) -> None:
    search = RecordsSearch(records.world.db, "rita")
    query = RecordsQuery(actions=frozenset({"hide"}), outcomes=frozenset({"applied"}))
    removed = search.search(query)
    assert [hit.comment_id for hit in removed.hits] == [records.hidden]
    assert not removed.truncated
    counts = search.count(query)
    # hide pending + applied, the review, the note; one retained record; one version
    assert (counts.comments, counts.records, counts.versions) == (1, 1, 1)
    assert (counts.entries, counts.reviews, counts.notes) == (4, 1, 1)
    hit = removed.hits[0]
    assert (hit.department, hit.records, hit.versions, hit.entries) == ("PARKS", 1, 1, 4)
    assert "4 log entries (of which 1 review(s) and 1 note(s))" in counts.describe()


def test_each_filter_narrows(records: Records) -> None:
    search = RecordsSearch(records.world.db, "clerk")

    def found(**filters: object) -> set[int]:
        return {hit.comment_id for hit in search.search(RecordsQuery(**filters)).hits}  # type: ignore[arg-type]

    everything = found()
    assert {records.hidden, records.hostile, records.police} <= everything
    police = found(departments=frozenset({"POLICE"}))
    assert police == found(site_ids=frozenset({records.world.police_site}))
    assert records.police in found(departments=frozenset({"POLICE"}))
    assert records.hidden not in found(departments=frozenset({"POLICE"}))
    assert found(platforms=frozenset({"youtube"})) == set()
    assert found(reason_codes=frozenset({"SPM"})) == {records.hostile, records.police}
    assert found(author="quinn") == {records.hidden}  # part of the name, any case
    assert found(author="=evil <B>") == {records.hostile}  # LIKE's own characters are text
    # Words: the comment now, and an earlier version of it (the full-text indexes).
    assert found(words="zanzibarquux") == {records.hidden}
    assert found(words="qwertyold") == {records.hidden}
    assert found(words="zanzibar fountain") == {records.hidden}
    assert found(words="nosuchwordanywhere") == set()
    # Days: of the action, or of the comment on the platform.
    today = datetime.now(CITY_TZ).date()  # the City's day, not the machine's
    assert found(on_from=today, dated=DateBasis.ACTED) == {
        records.hidden,
        records.hostile,
        records.police,
    }
    assert found(on_to=date(2000, 1, 1)) == set()
    assert found(outcomes=frozenset({"failed"})) == set()


def test_an_officer_reaches_only_their_departments(records: Records) -> None:
    rita = RecordsSearch(records.world.db, "rita")
    assert records.police not in {hit.comment_id for hit in rita.search(RecordsQuery()).hits}
    assert set(rita.department_codes().values()) == {"PARKS"}
    with pytest.raises(PermissionDenied, match="does not keep the records of department 'POLICE'"):
        rita.search(RecordsQuery(departments=frozenset({"POLICE"})))
    with pytest.raises(PermissionDenied, match=f"Site {records.world.police_site} is not"):
        rita.search(RecordsQuery(site_ids=frozenset({records.world.police_site})))


@pytest.mark.parametrize("username", ["alice", "sam", "ada"])
def test_anyone_not_a_records_officer_is_refused(records: Records, username: str) -> None:
    with pytest.raises(PermissionDenied, match="Only a records officer may search"):
        RecordsSearch(records.world.db, username)


def test_a_role_taken_back_applies_at_once(records: Records) -> None:
    search = RecordsSearch(records.world.db, "rita")
    records.world.app("ada").admin.revoke("rita", "records_officer", "PARKS")
    with pytest.raises(PermissionDenied):
        search.search(RecordsQuery())


def test_the_query_round_trips_through_json() -> None:
    query = RecordsQuery(
        on_from=date(2026, 7, 1), on_to=date(2026, 9, 30), dated=DateBasis.ACTED,
        departments=frozenset({"PARKS"}), site_ids=frozenset({3, 1}),
        platforms=frozenset({"facebook"}), author="Quinn", words="fountain",
        reason_codes=frozenset({"PRF"}), actions=frozenset({"remove", "hide"}),
        outcomes=frozenset({"applied"}),
    )  # fmt: skip
    data = query.to_json()
    assert data["site_ids"] == [1, 3]
    assert data["on_from"] == "2026-07-01"
    assert RecordsQuery.from_json(data) == query
    assert RecordsQuery.from_json({}) == RecordsQuery()
    assert RecordsQuery().to_json() == {}


@pytest.mark.parametrize(
    ("scope", "words"),
    [
        ([], "must be a JSON object"),
        ({"colour": "red"}, "does not know: 'colour'"),
        ({"site_ids": ["1"]}, "'site_ids' must be a list of int"),
        ({"site_ids": [True]}, "'site_ids' must be a list of int"),
        ({"departments": "PARKS"}, "'departments' must be a list of str"),
        ({"on_from": "<script>"}, "not a day as YYYY-MM-DD"),
        ({"on_from": "2026-09-30", "on_to": "2026-07-01"}, "run backwards"),
        ({"dated": "never"}, "must be 'posted' or 'acted'"),
        ({"words": 12}, "'words' must be text"),
    ],
)
def test_a_scope_that_cannot_be_read_is_refused_in_words(scope: object, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        RecordsQuery.from_json(scope)


def test_a_blanked_record_leaves_the_word_index(records: Records) -> None:
    """A lawful disposal blanks a retained record; its words must not stay searchable (on
    PostgreSQL the index is over the row itself; SQLite's FTS5 table follows by trigger)."""
    search = RecordsSearch(records.world.db, "clerk")
    assert records.hidden in {
        h.comment_id for h in search.search(RecordsQuery(words="zanzibarquux")).hits
    }
    with records.world.db.transaction() as session:
        guard = "retained_records_no_update" if records.world.db.is_sqlite else None
        if guard:
            session.execute(text(f"DROP TRIGGER {guard}"))
        else:
            session.execute(text("ALTER TABLE retained_records DISABLE TRIGGER USER"))
        session.execute(
            # As disposal blanks it: the text and the words the index holds (migration 0018).
            text(
                "UPDATE retained_records SET text = '', author_name = '', search_words = '' "
                "WHERE comment_id = :c"
            ),
            {"c": records.hidden},
        )
        session.execute(
            text("UPDATE comments SET text = 'gone', search_words = 'gone' WHERE id = :c"),
            {"c": records.hidden},
        )
    found = search.search(RecordsQuery(words="zanzibarquux"))
    assert found.hits == []
    assert search.count(RecordsQuery(words="zanzibarquux")).comments == 0


def test_the_answer_comes_in_windows_newest_first_and_is_counted_apart(
    records: Records,
) -> None:
    search = RecordsSearch(records.world.db, "clerk")
    everything = search.search(RecordsQuery())
    ids = [hit.comment_id for hit in everything.hits]
    assert len(ids) >= 3
    assert not everything.truncated
    assert search.count(RecordsQuery()).comments == len(ids)
    newest_first = [(hit.created_at, hit.comment_id) for hit in everything.hits]
    assert newest_first == sorted(newest_first, reverse=True)
    windows = [search.search(RecordsQuery(), limit=2, offset=at) for at in range(0, len(ids), 2)]
    assert [hit.comment_id for window in windows for hit in window.hits] == ids
    assert [window.more for window in windows] == [True] * (len(windows) - 1) + [False]
    assert all(window.truncated for window in windows)
    # The action filter, as one entry of the comment: a window of it, and its counts.
    hidden = RecordsQuery(actions=frozenset({"hide"}))
    assert [hit.comment_id for hit in search.search(hidden, limit=1).hits] == [records.hidden]
    assert search.count(hidden).comments == 1


def test_a_window_of_words_pages_as_the_table_orders(records: Records) -> None:
    """A search of words reads its window from the comments found by their own words, their
    retained records' or their versions' (on PostgreSQL sorted from a CTE of them,
    services/records_search.py `_found_by_words`): the same comments, newest first, each once,
    in the same windows, narrowed alike by department and action."""
    db = records.world.db
    search = RecordsSearch(db, "clerk")
    ids = [hit.comment_id for hit in search.search(RecordsQuery()).hits]
    assert len(ids) >= 3
    with db.transaction() as session:  # a word in every comment, as the words are stored
        session.execute(text("UPDATE comments SET search_words = ltrim(search_words || ' shared')"))
    shared = RecordsQuery(words="shared")
    assert [hit.comment_id for hit in search.search(shared).hits] == ids
    windows = [search.search(shared, limit=2, offset=at) for at in range(0, len(ids), 2)]
    assert [hit.comment_id for window in windows for hit in window.hits] == ids
    assert [window.more for window in windows] == [True] * (len(windows) - 1) + [False]
    hidden = search.search(RecordsQuery(words="shared zanzibarquux")).hits
    assert [(hit.comment_id, hit.records, hit.versions) for hit in hidden] == [
        (records.hidden, 1, 1)
    ]
    # Found by its own words and by its retained record's, and by its version's alone.
    assert [hit.comment_id for hit in search.search(RecordsQuery(words="zanzi")).hits] == [
        records.hidden
    ]
    assert [hit.comment_id for hit in search.search(RecordsQuery(words="qwertyold")).hits] == [
        records.hidden
    ]
    police = frozenset({"POLICE"})
    in_police = [hit.comment_id for hit in search.search(RecordsQuery(departments=police)).hits]
    assert records.police in in_police
    narrowed = RecordsQuery(words="shared", departments=police)
    assert [hit.comment_id for hit in search.search(narrowed).hits] == in_police
    hide = RecordsQuery(words="shared", actions=frozenset({"hide"}))
    assert [hit.comment_id for hit in search.search(hide).hits] == [records.hidden]
    assert search.count(shared).comments == len(ids)


@pytest.mark.parametrize("walk", ["walked whole", "walked in steps", "from the index"])
def test_a_window_of_words_is_the_same_walked_or_read_from_the_index(
    records: Records, walk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a window of words walks the newest comments, testing each, in steps,
    and reads the rest from the full-text indexes when that costs less (`_walked_words`):
    each way, the same comments in the same windows (SQLite answers in one query)."""
    db = records.world.db
    search = RecordsSearch(db, "clerk")
    ids = [hit.comment_id for hit in search.search(RecordsQuery()).hits]
    with db.transaction() as session:  # a word in every other comment, as the words are stored
        session.execute(
            text(
                "UPDATE comments SET search_words = ltrim(search_words || ' halves') "
                "WHERE id % 2 = 0"
            )
        )
    police = frozenset({"POLICE"})
    queries = [
        RecordsQuery(words="halves"), RecordsQuery(words="zanzi"), RecordsQuery(words="qwertyold"),
        RecordsQuery(words="halves", departments=police),
        RecordsQuery(words="halves", actions=frozenset({"hide"})),
    ]  # fmt: skip
    windows = [(None, 0), (1, 0), (1, 1), (2, 1), (2, 3)]

    def answers() -> list[list[tuple[int, int, int, int]]]:
        return [
            [(h.comment_id, h.records, h.versions, h.entries) for h in found.hits] + [found.more]
            for query in queries
            for limit, offset in windows
            for found in [search.search(query, limit or 500, offset)]
        ]  # type: ignore[misc]

    expected = answers()
    halves = [i for i in ids if i % 2 == 0]
    assert [h[0] for h in expected[0][:-1]] == halves  # the first query's whole window
    assert expected[5][:-1]  # a record's words find one
    assert expected[10][:-1]  # and a version's
    if walk == "walked in steps":
        monkeypatch.setattr(records_search, "WALK_FIRST", 1)
        monkeypatch.setattr(records_search, "WALK_MOST", 1)
        monkeypatch.setattr(
            records_search.search_index, "index_is_cheaper", lambda share, *_: not share
        )
    elif walk == "from the index":
        monkeypatch.setattr(records_search, "WALK_FIRST", 1)
        monkeypatch.setattr(records_search.search_index, "index_is_cheaper", lambda *_: True)
    assert answers() == expected
