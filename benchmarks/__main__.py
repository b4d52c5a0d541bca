"""The benchmark of the whole program, on SQLite and PostgreSQL in one run.

    .venv/bin/python -m benchmarks run [--comments 1000000] [--entries 200000]
        [--postgres URL] [--folder DIR] [--keep] [--plans FILE] [--out docs/performance.md]

Generates a City's years of data (`benchmarks/generate.py`) in a new SQLite file and, with
`--postgres URL` (a server the benchmark may create a database on), in a new PostgreSQL
database `hsm_bench`; measures every screen (`benchmarks/measure.py`) and the real window in a
fresh process (`benchmarks/window.py`); prints the table (figure, target, measured, ok or
SLOW) and writes it with the machine's description to `--out`. `--keep` keeps both databases
(`--folder` names where the SQLite file goes). `--plans FILE` writes every PostgreSQL query's
EXPLAIN (ANALYZE, BUFFERS). The exit status is 1 when a figure could not be measured; a SLOW
figure is reported, never a failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from benchmarks import report, window
from benchmarks.generate import Scale, already_filled, fill
from benchmarks.measure import Figure, Plans, Runner
from hsm_console.app import current_username
from hsm_console.db.engine import Database

PG_DATABASE = "hsm_bench"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="generate the data and measure every screen")
    run.add_argument("--comments", type=int, default=1_000_000)
    run.add_argument("--entries", type=int, default=200_000, help="log entries")
    run.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to measure too")
    run.add_argument("--no-sqlite", action="store_true", help="PostgreSQL alone")
    run.add_argument("--folder", type=Path, help="where the SQLite file and the exports go")
    run.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    run.add_argument(
        "--reuse",
        action="store_true",
        help="measure the databases --keep kept (the SQLite file in --folder, PostgreSQL's "
        f"{PG_DATABASE}), without filling them again",
    )
    run.add_argument("--json", type=Path, help="write the figures here too (for `report`)")
    run.add_argument("--no-window", action="store_true", help="skip the window's figures")
    run.add_argument("--plans", type=Path, help="write PostgreSQL's plans of every query here")
    run.add_argument("--out", type=Path, help="write the table here (docs/performance.md)")
    combine = commands.add_parser("report", help="one table of several runs' --json files")
    combine.add_argument("runs", type=Path, nargs="+")
    combine.add_argument("--out", type=Path, required=True)
    combine.add_argument("--note", action="append", default=[], help="a line for the notes")
    args = parser.parse_args(argv)
    if args.command == "report":
        report.combine(args.runs, args.out, args.note)
        return 0
    figures, _ = run_benchmark(args)
    return 1 if any(f.measured is None for f in figures) else 0


def run_benchmark(args: argparse.Namespace) -> tuple[list[Figure], list[str]]:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    scale = Scale(args.comments, args.entries)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="hsm-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    notes: list[str] = []
    postgres_version = None
    targets: list[tuple[str, str]] = []
    if not args.no_sqlite:
        path = folder / "bench.sqlite3"
        if not args.reuse:
            path.unlink(missing_ok=True)
        targets.append(("SQLite", f"sqlite:///{path}"))
    if args.postgres:
        targets.append(
            (
                "PostgreSQL",
                _pg_database(args.postgres) if args.reuse else _new_pg_database(args.postgres),
            )
        )
    all_plans: list[Plans] = []
    for where, url in targets:
        db = Database(url)
        try:
            db.upgrade()
            if not db.is_sqlite:
                with db.session() as session:
                    postgres_version = str(session.scalar(text("SHOW server_version")))
            if args.reuse:
                filled = already_filled(db, current_username(db))
                notes.append(f"- {where}: measured as generated before: {filled.describe()}")
            else:
                print(
                    f"{where}: filling {scale.comments:,} comments, {scale.entries:,} entries…",
                    flush=True,
                )
                cpu, started = time.process_time(), time.perf_counter()
                filled = fill(
                    db, scale, current_username(db), progress=lambda line: print(line, flush=True)
                )
                wall = time.perf_counter() - started
                notes.append(
                    f"- {where}: generated {filled.describe()} in {wall:.0f} s "
                    f"({time.process_time() - cpu:.0f} s of CPU here)"
                )
            print(notes[-1], flush=True)
            plans = Plans(db)
            all_plans.append(plans)
            runner = Runner(db, filled, where, plans, progress=True)
            if not args.no_window:
                window.add_figures(runner, url)
            runner.run_all(folder)
            figures += runner.figures
            report.print_table(runner.figures)
        finally:
            db.dispose()
            if not args.keep and not db.is_sqlite:
                _drop_pg_database(args.postgres)
    warnings = [w for plans in all_plans for w in plans.warnings()]
    if args.plans:
        with args.plans.open("w", encoding="utf-8") as out:
            for plans in all_plans:
                for figure, statement, plan in plans.found:
                    out.write(f"=== {figure}\n{statement}\n--- plan\n{plan}\n\n")
        print(f"Plans written to {args.plans}")
    for warning in warnings:
        print(f"PLAN: {warning}")
    notes += [f"- Plan read a whole table or sorted one: {w}" for w in warnings]
    print()
    report.print_table(figures)
    command = "python -m benchmarks run " + " ".join(sys.argv[2:])
    description = report.machine(postgres_version, load)
    if args.out:
        report.write(args.out, figures, description, [command], notes)
        print(f"\nWritten to {args.out}")
    if args.json:
        report.dump(args.json, figures, description, command, notes)
    if not args.keep and args.folder is None:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        folder.rmdir()
    return figures, notes


def _server(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _new_pg_database(url: str) -> str:
    _drop_pg_database(url)
    engine = create_engine(_server(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    engine.dispose()
    return _pg_database(url)


def _pg_database(url: str) -> str:
    return make_url(url).set(database=PG_DATABASE).render_as_string(hide_password=False)


def _drop_pg_database(url: str) -> None:
    engine = create_engine(_server(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
    engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
