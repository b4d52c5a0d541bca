"""Measures a records request's export package against the design's target (docs/design.md,
"Targets": an export of 100,000 records < 20 s).

    .venv/bin/python benchmarks/records_export.py [--records 100000] [--zip]

A Parks department of `--records` comments on one site, each hidden under a reason code: one
retained record and two log entries (the pending action and its applied outcome) each, all
valid (hashed and chained), written directly. One request covers all of them; the export
writes records.csv, records.jsonl, package.pdf and manifest.json, and then the package is
verified on its own. Runs on a SQLite file in a temporary folder. Prints numbers; asserts
nothing.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from hsm_console.db.chain import GENESIS_HASH, entry_hash, record_hash
from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, LogEntry, Post, RecordsRequest, RetainedRecord
from hsm_console.rules.domain import Platform, Role
from hsm_console.services import admin
from hsm_console.services.package_check import verify_package
from hsm_console.services.records_package import PackageExporter, PackageProgress
from hsm_console.services.records_search import RecordsQuery as Query
from hsm_console.services.records_search import RecordsSearch

BEGIN = datetime(2026, 7, 1, tzinfo=UTC)
TEXT = "The pool hours changed again and nobody said so on the website; {i} people agree."


def fill(db: Database, count: int) -> int:
    """`count` hidden comments with their records and entries; returns the request's id."""
    with db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        site = admin.ensure_site(
            session, parks, Platform.FACEBOOK, "Highland Parks", "1", "http://127.0.0.1:9", {},
            demo_token="benchmark-token",  # noqa: S106 (no platform is called)
        )  # fmt: skip
        officer = admin.ensure_person(session, "clerk", "City Clerk")
        admin.grant(session, officer, Role.RECORDS_OFFICER, None)
        post = Post(
            site_id=site.id, external_id="p1", text="Summer pool hours",
            permalink="https://example.test/p1", created_at=BEGIN, raw={"id": "p1"},
        )  # fmt: skip
        session.add(post)
        session.flush()
        step = 92 * 86400 / count  # a quarter's comments
        session.execute(
            insert(Comment),
            [
                {
                    "site_id": site.id, "post_id": post.id, "external_id": f"c{i}",
                    "author_id": f"a{i % 977}", "author_name": f"Resident {i % 977}",
                    "text": TEXT.format(i=i), "permalink": f"https://example.test/c{i}",
                    "created_at": BEGIN + timedelta(seconds=i * step),
                    "raw": {"id": f"c{i}", "message": TEXT.format(i=i)},
                    "platform_state": "hidden", "status": "hidden", "attachments": [],
                }
                for i in range(count)
            ],
        )  # fmt: skip
        comments = list(
            session.execute(
                select(Comment.id, Comment.external_id, Comment.created_at).order_by(Comment.id)
            )
        )
        records = []
        for comment_id, external_id, created_at in comments:
            i = int(external_id[1:])
            values: dict[str, Any] = {
                "comment_id": comment_id, "captured_at": created_at + timedelta(hours=1),
                "captured_by": "mod", "site_id": site.id, "platform": "facebook",
                "comment_external_id": external_id, "parent_external_id": None,
                "post_external_id": "p1", "post_text": "Summer pool hours",
                "post_permalink": "https://example.test/p1", "author_id": f"a{i % 977}",
                "author_name": f"Resident {i % 977}", "text": TEXT.format(i=i),
                "created_at": created_at, "permalink": f"https://example.test/c{i}",
                "attachments": [], "raw": {"id": external_id, "message": TEXT.format(i=i)},
            }  # fmt: skip
            records.append({**values, "sha256": record_hash(values)})
        session.execute(insert(RetainedRecord), records)
        hashes = dict(session.execute(select(RetainedRecord.comment_id, RetainedRecord.id)).all())
        previous_id, previous_hash = 0, GENESIS_HASH
        batch: list[dict[str, Any]] = []
        for (comment_id, _, created_at), record in zip(comments, records, strict=True):
            common = {
                "actor": "mod", "action": "hide", "comment_id": comment_id, "site_id": site.id,
                "department_id": parks.id, "record_id": hashes[comment_id],
                "record_sha256": record["sha256"], "reason_code": "PRF", "note": "",
                "policy_version": "2026.1", "second_review": False, "detail": "",
            }  # fmt: skip
            for state, outcome_of in (("pending", None), ("applied", previous_id + 1)):
                entry = {**common, "id": previous_id + 1, "state": state,
                         "at": created_at + timedelta(hours=1), "outcome_of": outcome_of,
                         "prev_hash": previous_hash}  # fmt: skip
                entry["entry_hash"] = previous_hash = entry_hash(entry)
                previous_id += 1
                batch.append(entry)
            if len(batch) >= 10_000:
                session.execute(insert(LogEntry), batch)
                batch = []
        if batch:
            session.execute(insert(LogEntry), batch)
        request = RecordsRequest(
            department_id=parks.id, received_at=datetime.now(UTC), requester="Benchmark",
            words="Every hidden comment on Parks Facebook in the third quarter",
            scope=Query(departments=frozenset({"PARKS"}), actions=frozenset({"hide"})).to_json(),
            due_on=date.today(), extended_to=None, extension_reason="", state="open",
            handler="clerk", comment_id=None, handed_over_at=None,
        )  # fmt: skip
        session.add(request)
        session.flush()
        return request.id


def _reset_peak_memory() -> None:
    """Forget the filling's peak, so the peak measured is the export's (Linux only)."""
    clear = Path("/proc/self/clear_refs")
    if clear.exists():
        clear.write_text("5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--zip", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        db.upgrade()
        started = time.perf_counter()
        request = fill(db, args.records)
        print(f"Filled {args.records:,} hidden comments in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        found = RecordsSearch(db, "clerk").search(Query(departments=frozenset({"PARKS"})))
        print(f"Search and counts: {(time.perf_counter() - started) * 1000:.0f} ms: "
              f"{found.counts.describe()}")  # fmt: skip

        seen: list[tuple[float, PackageProgress]] = []
        _reset_peak_memory()
        cpu = time.process_time()
        started = time.perf_counter()
        result = PackageExporter(db, "clerk").export(
            request, Path(folder) / ("package.zip" if args.zip else "package"), as_zip=args.zip,
            progress=lambda step: seen.append((time.perf_counter(), step)),
        )  # fmt: skip
        total = time.perf_counter() - started
        cpu = time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        written = seen[-1][0] - started if seen else total
        rows = sum(result.counts.as_dict()[k] for k in
                   ("comments", "retained_records", "versions", "log_entries"))  # fmt: skip
        print(f"Export of {result.counts.comments:,} comments, {result.counts.records:,} retained "
              f"records and {result.counts.entries:,} log entries ({rows:,} rows): {total:.1f} s "
              f"({written:.1f} s to the last comment read and written; the rest is the PDF's "
              f"output, zip, manifest and log entry); {cpu:.1f} s of CPU (on a machine shared "
              f"with others, the fairer figure); peak memory {peak:.0f} MB")  # fmt: skip
        for path in sorted(Path(folder).glob("package*/*")):
            print(f"  {path.name}: {path.stat().st_size / 1e6:.1f} MB")
        cpu = time.process_time()
        started = time.perf_counter()
        check = verify_package(result.path)
        print(f"verify-package: {time.perf_counter() - started:.1f} s ("
              f"{time.process_time() - cpu:.1f} s of CPU), "
              f"{'ok' if check.ok else check.problems[:3]}")  # fmt: skip
        db.dispose()


if __name__ == "__main__":
    main()
