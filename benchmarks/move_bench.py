"""Measures `db move` (services/move.py): a workstation's file into an empty PostgreSQL.

    .venv/bin/python benchmarks/move_bench.py --postgres URL [--comments 50000] [--entries 200000]

URL names an empty PostgreSQL database (no tables, or migrated and empty). The file is made
as core_bench makes its own: `--comments` synced comments, and a chain of `--entries` log
entries citing a retained record. Prints the rows copied, wall and CPU time (this process:
reading the file, hashing again; the server's own work is in the wall time only).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.core_bench import bench_ingest, fill_log, setup
from hsm_console.db.engine import Database
from hsm_console.services.move import move_to_shared


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", metavar="URL", required=True, help="an empty database")
    parser.add_argument("--comments", type=int, default=50_000)
    parser.add_argument("--entries", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "workstation.sqlite3"
        db = Database(f"sqlite:///{file}")
        db.upgrade()
        setup(db)
        bench_ingest(db, args.comments)
        fill_log(db, args.entries)
        db.dispose()
        wall, cpu = time.perf_counter(), time.process_time()
        report = move_to_shared(f"sqlite:///{file}", args.postgres)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"moved {report.total:,} rows ({report.entries:,} log entries; file "
              f"{file.stat().st_size / 1e6:,.0f} MB): wall {wall:.1f} s, CPU {cpu:.1f} s, "
              f"{report.total / wall:,.0f} rows/s")  # fmt: skip


if __name__ == "__main__":
    main()
