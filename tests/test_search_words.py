"""Full-text search finds what it should, alike on SQLite and PostgreSQL (issue 12, item 6):
a hostile comment is found by each of its own words, wherever the City kept it (the comment,
its retained record, an earlier version), and nothing typed is ever query syntax."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_console.db import search_index
from hsm_console.db.chain import snapshot
from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, CommentVersion, Post, RetainedRecord
from hsm_console.rules.domain import Platform, Role
from hsm_console.rules.search_words import MAX_WORD, document, words
from hsm_console.services import admin
from hsm_console.services.queue_view import QueueFilter, QueueView, rows_matching
from tests.test_admin import without_search_words

LONG_WORD = "Supercalifragilistic" * 150  # 3,000 characters
# What residents write, and what someone trying to break a search writes (PostgreSQL refuses
# NUL in text; every other control character is here).
HOSTILE = {
    "tags": "<p>Pool <b>closed</b> on <a href='https://x.test'>Monday</a></p><script>x()</script>",
    "urls": "See https://parks.example.gov/pools/north-side?day=mon&lane=3 or www.city.test/f.html",
    "entities": "Caf&eacute; &#233;t&eacute; &lt;fees&gt;&nbsp;lifeguard&amp;staff",
    "right-to-left": "\u202eliveNOW\u202c reversed \u200fמים חמים\u200e and \u2067isolate\u2069",
    "zero-width": "pa\u200bss\u200cwo\u200drd free\ufeffbie sof\u00adtly",
    "combining": "cafe\u0301 nai\u0308ve Zoe\u0308 A\u030angstro\u0308m \u1e9b\u0323 hi\u0307",
    "control": "bell\x07ring esc\x1b[31mred\x1b[0m tab\tbed\rcar\x7fdel\x0bvt",
    "formula": '=HYPERLINK("http://x.test","click") +cmd|\'/C calc\'!A0 -2+3 @SUM(A1:A9)',
    "long word": f"{LONG_WORD} ends here",
    "scripts": "中文評論 שלום مرحبا Привет ΕΛΛΆΔΑ हिन्दी 한국어 ＦＵＬＬ ﬁne",
    "paths": "bob.smith@example.com /usr/local/bin C:\\temp\\f.txt v1.2.3 3.14 -42 snake_case",
    "query syntax": 'pool OR gym NEAR(lane deep) -closed text:fees "half * ^start col:x',
}


def _parks_post(session: Session) -> Post:
    """A post on the Parks site, whose moderator is "mo"."""
    department = admin.ensure_department(session, "PARKS", "Parks")
    site = admin.ensure_site(
        session, department, Platform.FACEBOOK, "Parks", "1", "http://127.0.0.1:9", {},
        demo_token="search-token",
    )  # fmt: skip
    admin.grant(session, admin.ensure_person(session, "mo", "Mo"), Role.MODERATOR, department)
    post = Post(site_id=site.id, external_id="p", text="post", permalink="p",
                created_at=datetime.now(UTC), raw={})  # fmt: skip
    session.add(post)
    session.flush()
    return post


@pytest.fixture
def comments(db: Database) -> dict[str, int]:
    """One comment per hostile text, retained when acted on and with an earlier version
    (the author, too, is hostile: 'author_name' is searched alike)."""
    ids: dict[str, int] = {}
    with db.transaction() as session:
        post = _parks_post(session)
        now = post.created_at
        for number, (name, text) in enumerate(HOSTILE.items()):
            comment = Comment(
                site_id=post.site_id, post_id=post.id, external_id=f"c{number}", author_id="a",
                author_name=f"<i>Ré\u200bsident</i> #{number}", text=text, created_at=now,
                permalink="p", attachments=[], raw={}, platform_state="visible",
            )  # fmt: skip
            session.add(comment)
            session.flush()
            snapshot(session, comment, "mo")
            session.add(CommentVersion(comment_id=comment.id, author_name="x", text=text,
                                       raw={}, edited_at=None, replaced_seen_at=now))  # fmt: skip
            ids[name] = comment.id
    return ids


def _searches(text: str) -> list[str]:
    """What a person would search for: each word, each run between spaces as pasted."""
    return [*words(text), *(chunk for chunk in text.split() if words(chunk))]


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_comment_is_found_by_each_of_its_own_words(
    db: Database, comments: dict[str, int], name: str
) -> None:
    comment = comments[name]
    dialect = db.engine.dialect.name
    queue = QueueView(db, "mo")
    with db.session() as session:
        record, version = (
            session.scalar(select(model.id).where(model.comment_id == comment))
            for model in (RetainedRecord, CommentVersion)
        )
        for search in _searches(HOSTILE[name]):
            terms = QueueFilter(search=search).search_terms()
            found = {
                table: set(session.scalars(rows_matching(dialect, table, terms)))
                for table in ("comments", "retained_records", "comment_versions")
            }
            assert comment in found["comments"], search
            assert record in found["retained_records"], search
            assert version in found["comment_versions"], search
            assert comment in queue.page(QueueFilter(search=search)).ids, search
        # The author's name is searched too, invisible characters and all.
        assert comment in queue.page(QueueFilter(search="résident")).ids


def test_a_word_tested_on_a_row_is_found_as_the_index_finds_it(
    db: Database, comments: dict[str, int]
) -> None:
    """A word can be tested on a row already read (a walk newest first), by `strpos` or
    `instr` over the stored words (db/search_index.py `starts_a_word`): for every word of
    every hostile comment and author, and its start, its end and its inside, it finds exactly
    the rows the full-text index finds, on both databases."""
    texts = [*HOSTILE.values(), "<i>Ré\u200bsident</i> #1"]
    terms = sorted(
        {piece for text in texts for word in words(text)
         for piece in (word, word[:3], word[1:], word[-2:], word[1:-1]) if piece}
    )  # fmt: skip
    found_any = 0
    with db.session() as session:
        dialect = session.get_bind().dialect.name
        for term in terms:
            indexed = session.scalars(
                select(Comment.id).where(
                    Comment.id.in_(search_index.rows_matching(dialect, "comments", [term]))
                )
            )
            tested = session.scalars(
                select(Comment.id).where(search_index.starts_a_word(dialect, "comments", term))
            )
            expected = set(indexed)
            assert set(tested) == expected, term
            found_any += bool(expected)
    assert 0 < found_any < len(terms)  # found by some pieces (whole words), not by others


def test_query_syntax_is_taken_literally(db: Database, comments: dict[str, int]) -> None:
    """Quotes, stars, NEAR(, OR, a leading minus, a column prefix: words like any other, on
    both databases, never an error and never an operator."""
    queue = QueueView(db, "mo")
    syntax = comments["query syntax"]
    for search in ('"half', "half*", "NEAR(lane", "pool OR", "-closed", "text:fees", "col:x",
                   "^start", "near lane deep", "HALF* col:X"):  # fmt: skip
        assert syntax in queue.page(QueueFilter(search=search)).ids, search
    # "or", "not", "near" are words here, and none of these finds it: it lacks "fountain".
    for search in ("pool OR fountain", "gym NOT fountain", "NEAR(gym fountain)", "-fountain"):
        assert syntax not in queue.page(QueueFilter(search=search)).ids, search
    for search in ("'", "\\", "(", "*", '"', "-", ":"):  # no words: the search is empty
        assert len(queue.page(QueueFilter(search=search)).ids) == len(comments), search
    # "-closed" asks for the word, not its absence: the tags comment holds it too.
    assert set(queue.page(QueueFilter(search="-closed")).ids) == {syntax, comments["tags"]}


def test_words_are_one_tokenisation() -> None:
    assert words("Café <b>BOLD</b> https://x.test/a-b") == ["cafe", "b", "bold", "b", "https",
                                                            "x", "test", "a", "b"]  # fmt: skip
    assert words("pa\u200bss \u202eevil\u202c") == ["pass", "evil"]  # invisible: dropped
    assert words("ＦＵＬＬ ﬁne snake_case") == ["full", "fine", "snake", "case"]
    assert words(LONG_WORD) == [LONG_WORD[:MAX_WORD].lower()]
    assert words("=+-*/\"'()[]<>&;:") == []
    assert document("Ré\u0301sident", "a  b") == "resident a b"


def test_rows_written_before_0018_are_found_after_it(unmigrated_url: str) -> None:
    """Migration 0018 fills the words of the rows already there (the record tables'
    guards switched off for that alone) and indexes them."""
    db = Database(unmigrated_url)
    config = db._alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0013")
    text = HOSTILE["urls"]
    with db.transaction() as session:
        post = _parks_post(session)
        now = post.created_at
        common = {"id": 1, "author_name": "Old Résident", "text": text, "raw": {}}
        session.execute(sa.insert(without_search_words(Comment)).values(
            **common, site_id=post.site_id, post_id=post.id, external_id="c", author_id="a",
            created_at=now, permalink="p", attachments=[], fetched_at=now,
            platform_state="visible", status="new", version=0, suggestion_why="",
        ))  # fmt: skip
        session.execute(sa.insert(without_search_words(RetainedRecord)).values(
            **common, comment_id=1, captured_at=now, captured_by="mo", site_id=post.site_id,
            platform="facebook", comment_external_id="c", post_external_id="p",
            post_text="post", post_permalink="p", author_id="a", created_at=now,
            permalink="p", attachments=[], sha256="0" * 64,
        ))  # fmt: skip
        session.execute(sa.insert(without_search_words(CommentVersion)).values(
            **common, comment_id=1, replaced_seen_at=now
        ))  # fmt: skip
    db.upgrade()
    dialect = db.engine.dialect.name
    with db.session() as session:
        for table in ("comments", "retained_records", "comment_versions"):
            for search in [*_searches(text), "résident"]:
                found = set(session.scalars(rows_matching(dialect, table, words(search))))
                assert found == {1}, (table, search)
    guarded = pytest.raises(sa.exc.DBAPIError, match="append-only")  # the guard is back
    with guarded, db.transaction() as session:
        session.execute(sa.text("UPDATE retained_records SET search_words = 'x'"))
    db.dispose()
