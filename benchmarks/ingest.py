"""Sync ingest's two sides: a connector serving comments as fast as memory allows, and the
plain bulk inserts of the same comments it is compared with."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

from hsm_console.connectors.base import Page, RemoteComment, RemotePost
from hsm_console.db.engine import Database
from hsm_console.db.models import Post
from hsm_console.rules.domain import Platform, PlatformState
from hsm_console.rules.search_words import document

PAGE = 100  # comments a page, as the platforms list them
POST = "ingest-post"


def feed_comments(count: int, prefix: str, seed: int = 7) -> list[RemoteComment]:
    """`count` comments on one post, a few minutes apart, three in ten replies."""
    from benchmarks.generate import text_maker

    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    words = text_maker(rng)
    start = datetime.now(UTC) - timedelta(days=2)
    comments = []
    for n in range(count):
        parent = f"{prefix}-{n - 1 - rng.randrange(5)}" if n > 5 and rng.random() < 0.3 else None
        comments.append(
            RemoteComment(
                external_id=f"{prefix}-{n}",
                post_external_id=POST,
                parent_external_id=parent,
                author_id=f"a-{n % 5000}",
                author_name=f"Resident {n % 5000}",
                text=words(),
                created_at=start + timedelta(seconds=n),
                permalink=f"https://bench.invalid/{prefix}/{n}",
                state=PlatformState.VISIBLE,
                attachments=(),
                raw={"id": f"{prefix}-{n}"},
            )
        )
    return comments


class FeedConnector:
    """One recent post and its comments, in pages of 100; never calls anything."""

    platform = Platform.FACEBOOK

    def __init__(self, comments: list[RemoteComment]) -> None:
        self.comments = comments
        self.post = RemotePost(
            POST,
            "City announcement",
            datetime.now(UTC) - timedelta(days=2),
            "https://bench.invalid/p",
            {},
        )

    def list_posts(self, cursor: str | None = None) -> Page[RemotePost]:
        return Page([self.post], None)

    def list_comments(self, post: str, cursor: str | None = None, since: Any = None) -> Any:
        start = int(cursor or 0)
        end = min(start + PAGE, len(self.comments))
        return Page(self.comments[start:end], str(end) if end < len(self.comments) else None)

    def fetch_state(self, external_id: str) -> PlatformState:
        return PlatformState.VISIBLE

    def profile(self) -> None:  # the site checks read nothing (as on a platform without)
        return None

    def post_links(self, post: RemotePost) -> tuple[str, ...]:
        return ()

    def close(self) -> None:
        return None


COLUMNS = (
    "site_id", "post_id", "external_id", "author_id", "author_name", "text", "created_at",
    "permalink", "attachments", "raw", "platform_state", "status", "suggested_code",
    "suggestion_why", "fetched_at", "version", "search_words",
)  # fmt: skip


def plain_insert(db: Database, site_id: int, comments: list[RemoteComment]) -> tuple[float, float]:
    """The same comments inserted by the driver alone, a page of 100 a transaction as sync
    commits them (SQLite `executemany`; PostgreSQL one statement a page, as sync's), with the
    rows made beforehand: (wall s, CPU s)."""
    with db.transaction() as session:
        post = Post(
            site_id=site_id,
            external_id=POST,
            text="City announcement",
            permalink="https://bench.invalid/p",
            created_at=comments[0].created_at,
            raw={},
        )
        session.add(post)
        session.flush()
        post_id = post.id
    now = datetime.now(UTC)
    sqlite = db.is_sqlite

    def at(moment: datetime) -> Any:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else moment

    rows = [
        (
            site_id,
            post_id,
            c.external_id,
            c.author_id,
            c.author_name,
            c.text,
            at(c.created_at),
            c.permalink,
            json.dumps(list(c.attachments)),
            json.dumps(c.raw),
            c.state.value,
            "new",
            None,
            "",
            at(now),
            0,
            document(c.author_name, c.text),
        )
        for c in comments
    ]
    marks = "(" + ", ".join(["?" if sqlite else "%s"] * len(COLUMNS)) + ")"
    statement = f"INSERT INTO comments ({', '.join(COLUMNS)}) VALUES "
    pages = [rows[first : first + PAGE] for first in range(0, len(rows), PAGE)]
    # PostgreSQL: a page in one statement, as sync sends it (psycopg's executemany runs a
    # statement a row, and each would fire the statement trigger of comment_counts, migration
    # 0029, that sync fires once a page), its parameters flattened here, before the clock.
    statements = [statement + ", ".join([marks] * len(page)) for page in pages]
    flat = [tuple(chain.from_iterable(page)) for page in pages]
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cpu = time.process_time()
        started = time.perf_counter()
        for n, page in enumerate(pages):
            if sqlite:
                cursor.execute("BEGIN")  # the engine's connections are in autocommit mode
                cursor.executemany(statement + marks, page)
                cursor.execute("COMMIT")
            else:
                cursor.execute(statements[n], flat[n])
                connection.commit()
        wall = time.perf_counter() - started
        return wall, time.process_time() - cpu
    finally:
        connection.close()
