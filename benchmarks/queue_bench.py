#!/usr/bin/env python3
"""The queue with a million comments: how fast it opens, re-filters and searches, how soon
the window is usable, and how much memory it takes.

    python benchmarks/queue_bench.py [--comments 1000000] [--database PATH] [--keep]

With --database PATH --keep the filled file is kept, and a later run measures it again
without filling.

Fills a SQLite file (fast bulk insert, the full-text triggers in force as in production),
then measures through the same `QueueView` the window uses, and starts the real window in a
fresh process (offscreen) to time start-up and read its memory. Prints the numbers next to
the targets of docs/design.md; it never fails on them.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hsm_console.db.engine import Database
    from hsm_console.services.queue_view import QueueView

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS_MS = {"queue": 150.0, "search": 300.0, "start": 2000.0}
TARGET_RSS_MB = 400.0
COMMON_WORD = "playground"  # in about 1 comment in 100
RARE_WORD = "zephyrine"  # in about 1 comment in 20,000
SITES = (  # (department, platform, site name)
    ("PARKS", "facebook", "Parks on Facebook"),
    ("PARKS", "instagram", "Parks on Instagram"),
    ("PARKS", "youtube", "Parks on YouTube"),
    ("PARKS", "wordpress", "Parks news blog"),
    ("POLICE", "facebook", "Police on Facebook"),
    ("POLICE", "x", "Police on X"),
    ("CLERK", "facebook", "City Clerk on Facebook"),
    ("CLERK", "linkedin", "City on LinkedIn"),
    ("FIRE", "facebook", "Fire on Facebook"),
    ("FIRE", "tiktok", "Fire on TikTok"),
)
STATUS_WEIGHTS = {"new": 80, "flagged": 3, "hidden": 5, "removed": 2, "kept": 10}
CODES = ("PRF", "PII", "SPM", "THR", "COM")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument(
        "--database", type=Path, help="SQLite file: filled if missing, else measured as it is"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--startup", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.startup:
        return startup_child(args.startup)

    folder = tempfile.TemporaryDirectory(prefix="hsm-bench-")
    path = args.database or Path(folder.name) / "bench.sqlite3"
    url = f"sqlite:///{path}"
    try:
        if path.exists():
            from hsm_console.host.identity import os_username

            print(f"Measuring the existing {path.name} (delete it to fill a new one).\n")
            username = os_username()
        else:
            print(f"Filling {path.name} with {args.comments:,} comments…", flush=True)
            started = time.perf_counter()
            username = fill(url, path, args.comments)
            seconds = time.perf_counter() - started
            size = path.stat().st_size / 1e6
            print(f"  filled in {seconds:.1f} s ({size:.0f} MB on disk)\n", flush=True)
        measure_queries(url, username)
        measure_window(url)
    finally:
        if args.keep:
            print(f"\nDatabase kept at {path}")
        else:
            folder.cleanup()
    return 0


# --- filling ---------------------------------------------------------------------------


def fill(url: str, path: Path, comments: int) -> str:
    """Schema by the migrations, people and sites by the services, comments in bulk."""
    from hsm_console.db import search_index
    from hsm_console.db.engine import Database
    from hsm_console.host.identity import os_username
    from hsm_console.rules.domain import Platform, Role
    from hsm_console.rules.search_words import document
    from hsm_console.services import admin

    db = Database(url)
    db.upgrade()
    username = os_username()
    site_ids: list[int] = []
    with db.transaction() as session:
        person = admin.ensure_person(session, username, "Benchmark Moderator")
        departments = {}
        for code, platform, name in SITES:
            if code not in departments:
                departments[code] = admin.ensure_department(session, code, code.title())
            site = admin.ensure_site(
                session, departments[code], Platform(platform), name, f"page-{len(site_ids)}",
                "https://bench.invalid",
            )  # fmt: skip
            site_ids.append(site.id)
        admin.grant(session, person, Role.MODERATOR, departments["PARKS"])
    db.dispose()

    rng = random.Random(1_000_000)  # noqa: S311 - test data, not secrets
    vocabulary = [_word(rng) for _ in range(6000)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    end = datetime(2026, 11, 1, tzinfo=UTC)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    with connection:
        when = _stamp(end)
        posts = [
            (
                site_id,
                f"post-{index}-{number}",
                "A post",
                "https://bench.invalid/p",
                when,
                when,
                "{}",
            )
            for index, site_id in enumerate(site_ids)
            for number in range(100)
        ]
        connection.executemany(
            "INSERT INTO posts (site_id, external_id, text, permalink, created_at, fetched_at, "
            "raw) VALUES (?, ?, ?, ?, ?, ?, ?)",
            posts,
        )
        post_ids = [row[0] for row in connection.execute("SELECT id FROM posts ORDER BY id")]
    # Index the text once at the end instead of row by row: drop the full-text triggers for
    # the load, then let the migration's own DDL create them again and rebuild the index.
    search_ddl = search_index.sqlite_ddl("comments")
    with connection:
        for name in ("after_insert", "after_delete", "after_update"):
            connection.execute(f"DROP TRIGGER comments_fts_{name}")
    statuses = list(STATUS_WEIGHTS)
    status_weights = list(STATUS_WEIGHTS.values())
    batch = 50_000
    for first in range(0, comments, batch):
        rows = []
        for number in range(first, min(first + batch, comments)):
            post_index = rng.randrange(len(post_ids))
            site_id = site_ids[post_index // 100]
            words = rng.choices(vocabulary, weights, k=rng.randint(4, 40))
            if rng.random() < 0.01:
                words.insert(rng.randrange(len(words)), COMMON_WORD)
            if rng.random() < 0.00005:
                words.insert(rng.randrange(len(words)), RARE_WORD)
            created = end - timedelta(seconds=rng.randrange(2 * 365 * 86_400))
            status = rng.choices(statuses, status_weights)[0]
            code = rng.choice(CODES) if rng.random() < 0.1 else None
            body = " ".join(words).capitalize() + "."
            rows.append((
                site_id, post_ids[post_index], f"c-{number}", f"a-{number % 50_000}",
                f"Resident {number % 50_000}", body,
                _stamp(created), "https://bench.invalid/c", "[]", "{}", _stamp(end),
                "hidden" if status == "hidden" else "visible", status, code,
                f"Screening matched something ({code})" if code else "",
                document(f"Resident {number % 50_000}", body),
            ))  # fmt: skip
        with connection:
            connection.executemany(
                "INSERT INTO comments (site_id, post_id, external_id, author_id, author_name, "
                "text, created_at, permalink, attachments, raw, fetched_at, platform_state, "
                "status, version, suggested_code, suggestion_why, search_words) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                rows,
            )
        print(f"  {min(first + batch, comments):>9,} comments", end="\r", flush=True)
    print("\n  indexing the text…", flush=True)
    with connection:
        for statement in search_ddl:
            connection.execute(statement)
    connection.close()
    return username


def _word(rng: random.Random) -> str:
    return "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 10)))


def _stamp(moment: datetime) -> str:
    """The text SQLAlchemy stores for a UTC time in SQLite."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# --- queries ---------------------------------------------------------------------------


def timed(work: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    """(first run, median of the repeats) in milliseconds."""
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return times[0], statistics.median(times[1:])


def measure_queries(url: str, username: str) -> None:
    from hsm_console.db.engine import Database
    from hsm_console.rules.domain import CommentStatus
    from hsm_console.services.queue_view import ANY_SUGGESTION, QueueFilter, QueueView

    db = Database(url)
    view = QueueView(db, username)
    in_view = _count(db, view)
    print(f"The moderator's departments hold {in_view:,} of the comments.\n")
    first_site = view.sites()[0].id

    def show(queue_filter: QueueFilter) -> Callable[[], object]:
        """What the window does for a filter: the first page of ids, the rows on screen."""

        def run() -> object:
            page = view.page(queue_filter, None, 500)
            return view.rows(page.ids[:60])

        return run

    cursor = view.page(QueueFilter(), None, 500).next
    for _ in range(39):  # 20,000 comments down, or as deep as the queue goes
        after = view.page(QueueFilter(), cursor, 500).next if cursor else None
        if after is None:
            break
        cursor = after

    def deep() -> object:
        page = view.page(QueueFilter(), cursor, 500)
        return view.rows(page.ids[:60])

    cases: list[tuple[str, str, Callable[[], object]]] = [
        ("queue", "open the queue (new, all sites)", show(QueueFilter())),
        ("queue", "re-filter: one site", show(QueueFilter(site_ids=frozenset({first_site})))),
        ("queue", "re-filter: platform Instagram",
         show(QueueFilter(platforms=frozenset({"instagram"})))),
        ("queue", "re-filter: status flagged",
         show(QueueFilter(statuses=frozenset({CommentStatus.FLAGGED})))),
        ("queue", "re-filter: any status", show(QueueFilter(statuses=frozenset()))),
        ("queue", "re-filter: suggestion PII", show(QueueFilter(suggestion="PII"))),
        ("queue", "re-filter: with a suggestion",
         show(QueueFilter(suggestion=ANY_SUGGESTION))),
        ("queue", "re-filter: received in October 2026",
         show(QueueFilter(received_from=datetime(2026, 10, 1).date(),
                          received_to=datetime(2026, 10, 31).date()))),
        ("queue", "a page 20,000 comments down (keyset)", deep),
        ("search", f"search a common word ({COMMON_WORD!r})",
         show(QueueFilter(search=COMMON_WORD))),
        ("search", f"search a rare word ({RARE_WORD!r})", show(QueueFilter(search=RARE_WORD))),
        ("search", "search a prefix ('playgr')", show(QueueFilter(search="playgr"))),
        ("search", "search two words, any status",
         show(QueueFilter(statuses=frozenset(), search=f"{COMMON_WORD} resident"))),
    ]  # fmt: skip
    print(f"{'measure':<44}{'first':>10}{'median':>10}{'target':>10}")
    for kind, name, work in cases:
        first, median = timed(work)
        target = TARGETS_MS[kind]
        mark = "ok" if median < target else "SLOW"
        print(f"{name:<44}{first:>8.1f}ms{median:>8.1f}ms{target:>8.0f}ms  {mark}")
    first, median = timed(lambda: view.counts(QueueFilter()), repeat=3)
    print(f"{'counts per filter (in the background)':<44}{first:>8.1f}ms{median:>8.1f}ms"
          f"{'':>10}  (not a target)")  # fmt: skip
    first, median = timed(lambda: view.counts(QueueFilter(search=COMMON_WORD)), repeat=3)
    print(f"{'counts under a search (in the background)':<44}{first:>8.1f}ms{median:>8.1f}ms"
          f"{'':>10}  (not a target)")  # fmt: skip
    db.dispose()


def _count(db: Database, view: QueueView) -> int:
    from sqlalchemy import func, select

    from hsm_console.db.models import Comment

    site_ids = [site.id for site in view.sites()]
    with db.session() as session:
        found = session.scalar(select(func.count()).where(Comment.site_id.in_(site_ids)))
        return int(found or 0)


# --- the window ------------------------------------------------------------------------


def measure_window(url: str) -> None:
    """Start the real window in a new process: time to a usable queue, then its memory."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = time.perf_counter()
    child = subprocess.Popen(  # noqa: S603 - this very script, with the same interpreter
        [sys.executable, str(Path(__file__).resolve()), "--startup", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    lines = []
    ready = None
    for line in child.stdout:  # line by line, so READY is timed when it arrives
        lines.append(line)
        if line.startswith("READY"):
            ready = (time.perf_counter() - started) * 1000
    errors = child.stderr.read()
    child.wait(timeout=300)
    if ready is None:
        print(f"\nThe window did not start: {''.join(lines)}{errors}")
        return
    target = TARGETS_MS["start"]
    mark = "ok" if ready < target else "SLOW"
    name = "start to a usable window (new process)"
    print(f"\n{name:<44}{ready:>8.0f}ms{'':>10}{target:>8.0f}ms  {mark}")
    for line in lines:
        if line.startswith("RSS"):
            _, label, megabytes = line.split("|")
            value = float(megabytes)
            mark = "ok" if value < TARGET_RSS_MB else "HIGH"
            print(f"{label:<44}{value:>8.0f}MB{'':>10}{TARGET_RSS_MB:>8.0f}MB  {mark}")


def startup_child(url: str) -> int:
    """In the child: open the console as `hsm-console --database URL` does, report when the
    first page and the first comment show, scroll, and report resident memory."""
    from PySide6.QtCore import QSettings

    from hsm_console.gui.settings import GuiSettings
    from hsm_console.gui.start import qt_application, start_console

    application = qt_application()
    with tempfile.TemporaryDirectory() as folder:
        settings = GuiSettings(QSettings(str(Path(folder) / "gui.ini"), QSettings.Format.IniFormat))
        settings.auto_sync_minutes = 0
        console = start_console(url, False, settings)
        window = console.window

        def wait_until(condition: Callable[[], bool]) -> None:
            deadline = time.monotonic() + 120
            while not condition() and time.monotonic() < deadline:
                application.processEvents()
                time.sleep(0.002)

        wait_until(lambda: window.model.rowCount() > 0 and window.detail.comment_id is not None)
        print("READY", flush=True)
        print(f"RSS|resident memory, window open|{_rss_mb():.1f}", flush=True)
        for _ in range(20):  # scroll through 10,000 comments, page by page
            window.table.scrollToBottom()
            wait_until(lambda: not window.loader.loading and not window.runner.busy())
            application.processEvents()
        rows = window.model.rowCount()
        print(f"RSS|resident memory, {rows:,} rows scrolled|{_rss_mb():.1f}", flush=True)
        console.close()
    return 0


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    raise SystemExit(main())
