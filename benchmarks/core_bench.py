"""Measures the record-first core against the design's targets (docs/design.md, "Targets").

    .venv/bin/python benchmarks/core_bench.py [--entries 200000] [--comments 50000]

- an action recorded (steps 1-2: checks, retained record, pending entry, committed): p50/p95
- sync ingest: comments stored per second (from an in-memory connector: the database side)
- hash-chain verification: log entries checked per second
- the action log view (a supervisor's): first and deep pages, rare filters, a search, counts
- the consistency dashboard over a year of decisions (`--entries` log entries: pending entries
  and their outcomes), on SQLite and, with `--postgres URL` (an empty database), PostgreSQL

Runs on a SQLite file in a temporary folder. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

from hsm_console.connectors.base import Page, RemoteComment, RemotePost
from hsm_console.db.chain import GENESIS_HASH, entry_hash, record_hash
from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, LogEntry, Post, RetainedRecord, Site
from hsm_console.rules.domain import Action, Platform, PlatformState, Role
from hsm_console.rules.policy import load_policy
from hsm_console.services import admin
from hsm_console.services.dashboard import DashboardView
from hsm_console.services.log_view import LogFilter, LogView
from hsm_console.services.moderation import ModerationService
from hsm_console.services.sync import SyncService
from hsm_console.services.verify import verify_log

START = datetime.now(UTC) - timedelta(days=1)


class FeedConnector:
    """Serves `count` comments on one post in pages of 100, as fast as memory allows."""

    platform = Platform.FACEBOOK

    def __init__(self, count: int) -> None:
        self.count = count

    def list_posts(self, cursor: str | None = None) -> Page[RemotePost]:
        post = RemotePost("bench-post", "City announcement", START, "https://example.test/p", {})
        return Page([post], None)

    def list_comments(self, post: str, cursor: str | None = None, since: Any = None) -> Any:
        start = int(cursor or 0)
        end = min(start + 100, self.count)
        items = [
            RemoteComment(
                external_id=f"c{i}", post_external_id=post, parent_external_id=None,
                author_id=f"a{i % 977}", author_name=f"Resident {i % 977}",
                text=f"Comment number {i} about the pool hours and the parking lot.",
                created_at=START + timedelta(seconds=i), permalink=f"https://example.test/c{i}",
                state=PlatformState.VISIBLE, attachments=(), raw={"id": f"c{i}"},
            )
            for i in range(start, end)
        ]  # fmt: skip
        return Page(items, str(end) if end < self.count else None)

    def fetch_state(self, external_id: str) -> PlatformState:
        return PlatformState.VISIBLE

    def profile(self) -> None:  # the site checks read nothing here (as on a platform without)
        return None

    def post_links(self, post: RemotePost) -> tuple[str, ...]:
        return ()

    def close(self) -> None:
        return None


def setup(db: Database) -> int:
    with db.transaction() as session:
        department = admin.ensure_department(session, "BENCH", "Benchmarks")
        site = admin.ensure_site(
            session, department, Platform.FACEBOOK, "Bench", "1", "http://127.0.0.1:9", {},
            demo_token="benchmark-token",  # noqa: S106 (no platform is called)
        )  # fmt: skip
        person = admin.ensure_person(session, "bench", "Bench Moderator")
        admin.grant(session, person, Role.MODERATOR, department)
        return site.id


def bench_ingest(db: Database, comments: int) -> float:
    feed = FeedConnector(comments)
    moderation = ModerationService(db, load_policy(), lambda site: feed, "bench")  # type: ignore[arg-type,return-value]
    sync = SyncService(db, lambda site: feed, moderation)  # type: ignore[arg-type,return-value]
    started = time.perf_counter()
    [result] = sync.sync()
    elapsed = time.perf_counter() - started
    assert result.new_comments == comments, result
    return comments / elapsed


def bench_record(db: Database, samples: int) -> tuple[float, float]:
    """Steps 1-2 only: the platform is not called, so this is the console's own cost."""
    moderation = ModerationService(db, load_policy(), lambda site: None, "bench")  # type: ignore[arg-type,return-value]
    with db.session() as session:
        ids = list(session.scalars(select(Comment.id).order_by(Comment.id).limit(samples)))
    timings = []
    for comment_id in ids:
        started = time.perf_counter()
        moderation._record(comment_id, Action.HIDE, "SPM", "bench", None)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def fill_log(db: Database, entries: int) -> None:
    """A long chain written directly (as valid entries), to time verification."""
    with db.transaction() as session:
        comment = session.scalars(select(Comment).limit(1)).one()
        site = comment.site
        values: dict[str, Any] = {
            "comment_id": comment.id, "captured_at": START, "captured_by": "bench",
            "site_id": site.id, "platform": "facebook", "comment_external_id": comment.external_id,
            "parent_external_id": None, "post_external_id": "bench-post", "post_text": "p",
            "post_permalink": "https://example.test/p", "author_id": comment.author_id,
            "author_name": comment.author_name, "text": comment.text,
            "created_at": comment.created_at, "permalink": comment.permalink, "attachments": [],
            "raw": {},
        }  # fmt: skip
        record = RetainedRecord(**values, sha256=record_hash(values))
        session.add(record)
        session.flush()
        last = session.scalars(select(LogEntry).order_by(LogEntry.id.desc()).limit(1)).first()
        previous_id, previous_hash = (last.id, last.entry_hash) if last else (0, GENESIS_HASH)
        batch: list[dict[str, Any]] = []
        for n in range(entries):
            entry: dict[str, Any] = {
                "id": previous_id + n + 1, "at": START + timedelta(microseconds=n),
                "actor": "bench", "state": "pending", "action": "flag",
                "comment_id": comment.id, "site_id": site.id,
                "department_id": site.department_id, "record_id": record.id,
                "record_sha256": record.sha256, "reason_code": "SPM", "note": "",
                "policy_version": "2026.1", "second_review": False, "outcome_of": None,
                "detail": "", "prev_hash": previous_hash,
            }  # fmt: skip
            entry["entry_hash"] = previous_hash = entry_hash(entry)
            batch.append(entry)
            if len(batch) == 10_000:
                session.execute(insert(LogEntry), batch)
                batch = []
        if batch:
            session.execute(insert(LogEntry), batch)


def bench_log_view(db: Database) -> None:
    """A supervisor's log: each query timed as the Log tab runs it (ms, best of three)."""
    with db.transaction() as session:
        person = admin.ensure_person(session, "chief", "Bench Supervisor")
        admin.grant(session, person, Role.SUPERVISOR, None)
    view = LogView(db, "chief")
    middle = view.page(LogFilter(), None, 1)
    deep = (middle.ids[0] // 2) if middle.ids else None
    cases: dict[str, Any] = {
        "first page": lambda: view.page(LogFilter()),
        "a page half-way down": lambda: view.page(LogFilter(), deep),
        "first page of a reason": lambda: view.page(LogFilter(reason_codes=frozenset({"SPM"}))),
        "first page of a rare person": lambda: view.page(LogFilter(actors=frozenset({"x"}))),
        "first page of a search": lambda: view.page(LogFilter(search="bench")),
        "count, no filter": lambda: view.count(LogFilter()),
        "rows of a window (100)": lambda: view.rows(view.page(LogFilter(), None, 100).ids),
    }
    for name, run in cases.items():
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            run()
            timings.append((time.perf_counter() - started) * 1000)
        print(f"log view, {name}: {min(timings):.1f} ms")


def fill_decisions(db: Database, entries: int, comments: int) -> None:
    """A year of decisions by 16 moderators in 4 departments on 8 sites: half the entries are
    decisions, half their outcomes (1 in 20 failed); written directly as valid entries."""
    codes = ["PRF", "THR", "HAR", "DSC", "SEX", "SPM", "OFT", "COM", "PII"]
    actions = ["flag"] * 6 + ["hide"] * 6 + ["keep"] * 5 + ["remove", "unhide", "unhide"]
    begin = datetime.now(UTC) - timedelta(days=365)
    step = 365 * 86400 / max(entries // 2, 1)  # seconds between decisions: a year of them
    with db.transaction() as session:
        sites = []
        for d in range(4):
            department = admin.ensure_department(session, f"D{d}", f"Department {d}")
            for s in range(2):
                site = admin.ensure_site(
                    session, department, Platform.FACEBOOK, f"Site {d}.{s}", f"{d}{s}",
                    "http://127.0.0.1:9", {}, demo_token="benchmark-token",  # noqa: S106
                )  # fmt: skip
                post = Post(site_id=site.id, external_id="p", text="post", permalink="p",
                            created_at=begin, raw={})  # fmt: skip
                session.add(post)
                session.flush()
                sites.append((site, post.id))
        person = admin.ensure_person(session, "chief", "Bench Supervisor")
        admin.grant(session, person, Role.SUPERVISOR, None)
        rows = []
        for i in range(comments):
            site, post_id = sites[i % len(sites)]
            rows.append({
                "site_id": site.id, "post_id": post_id, "external_id": f"c{i}",
                "author_id": f"a{i % 977}", "author_name": f"Resident {i % 977}",
                "text": f"Comment {i} on the pool hours", "permalink": f"https://x.test/{i}",
                "created_at": begin + timedelta(seconds=i * step), "raw": {},
                "platform_state": "visible", "status": "new" if i % 10 == 0 else "kept",
                "attachments": [],
            })  # fmt: skip
        session.execute(insert(Comment), rows)
        comment_ids = list(session.scalars(select(Comment.id).order_by(Comment.id)))
        site_of = dict(session.execute(select(Comment.id, Comment.site_id)).all())
        department_of = dict(session.execute(select(Site.id, Site.department_id)).all())
        previous_id, previous_hash = 0, GENESIS_HASH
        batch: list[dict[str, Any]] = []
        for n in range(entries // 2):
            comment = comment_ids[n % len(comment_ids)]
            code = codes[n % len(codes)]
            action = actions[n % len(actions)]
            at = begin + timedelta(seconds=n * step + (n % 7) * 3600)
            common: dict[str, Any] = {
                "actor": f"mod{n % 16}", "action": action, "comment_id": comment,
                "site_id": site_of[comment], "department_id": department_of[site_of[comment]],
                "record_id": None, "record_sha256": None,
                "reason_code": code if action in ("flag", "hide", "remove") else None,
                "note": "", "policy_version": "2026.1",
                "second_review": action in ("flag", "hide", "remove") and code in ("HAR", "OFT"),
                "detail": "",
            }  # fmt: skip
            for state, outcome_of, moment in (
                ("pending", None, at),
                ("failed" if n % 20 == 0 else "applied", previous_id + 1, at),
            ):
                entry = {**common, "id": previous_id + 1, "at": moment, "state": state,
                         "outcome_of": outcome_of, "prev_hash": previous_hash}  # fmt: skip
                entry["entry_hash"] = previous_hash = entry_hash(entry)
                previous_id += 1
                batch.append(entry)
            if len(batch) >= 10_000:
                session.execute(insert(LogEntry), batch)
                batch = []
        if batch:
            session.execute(insert(LogEntry), batch)


def bench_dashboard(db: Database, entries: int, comments: int, where: str) -> None:
    """The oversight group's dashboard, as the Dashboard tab computes it (ms, best of three)."""
    fill_decisions(db, entries, comments)
    if not db.is_sqlite:
        # Statistics and the visibility map, as autovacuum makes them soon after a bulk load.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE action_log, comments"))
    view = LogView(db, "chief")
    dashboard = DashboardView(view)
    department = next(iter(view.departments))
    today = datetime.now(UTC).date()
    cases: dict[str, LogFilter] = {
        "no filter": LogFilter(),
        "one department": LogFilter(department_ids=frozenset({department})),
        "the last four weeks": LogFilter(on_from=today - timedelta(weeks=4)),
        "one reason code": LogFilter(reason_codes=frozenset({"OFT"})),
        "one moderator": LogFilter(actors=frozenset({"mod3"})),
    }
    for name, log_filter in cases.items():
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            dashboard.compute(log_filter)
            timings.append((time.perf_counter() - started) * 1000)
        print(f"dashboard ({where}, {entries:,} entries), {name}: {min(timings):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--comments", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database too")
    parser.add_argument("--dashboard-only", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        pg = Database(args.postgres)
        pg.upgrade()
        bench_dashboard(pg, args.entries, args.comments, "PostgreSQL")
        pg.dispose()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'dashboard.sqlite3'}")
        db.upgrade()
        bench_dashboard(db, args.entries, args.comments, "SQLite")
        db.dispose()
        if args.dashboard_only:
            return
        db = Database(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        db.upgrade()
        setup(db)
        rate = bench_ingest(db, args.comments)
        print(f"sync ingest: {rate:,.0f} comments/s ({args.comments:,} comments)")
        p50, p95 = bench_record(db, args.samples)
        print(f"action recorded (steps 1-2): p50 {p50:.1f} ms, p95 {p95:.1f} ms "
              f"({args.samples} actions)")  # fmt: skip
        fill_log(db, args.entries)
        with db.session() as session:
            assert session.scalar(select(Post.id)) is not None
        started = time.perf_counter()
        report = verify_log(db)
        elapsed = time.perf_counter() - started
        assert report.ok, report.problem
        print(f"hash-chain verification: {report.entries_checked / elapsed:,.0f} entries/s "
              f"({report.entries_checked:,} entries, {report.records_checked:,} records, "
              f"{elapsed:.2f} s)")  # fmt: skip
        bench_log_view(db)
        db.dispose()


if __name__ == "__main__":
    main()
