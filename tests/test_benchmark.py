"""A short run of the benchmark (`python -m benchmarks run`) on each database: it asserts
nothing about time, but every figure must be measured, and the table must be written.

10,000 comments and 2,000 log entries rather than the issue's 50,000: the data, every
screen, a FOIA export and the window in a fresh process cost about 40 s a database on the
shared two-core machine at that size, and CI's whole suite has 20 minutes.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import report, window
from benchmarks.generate import Scale, fill
from benchmarks.measure import Plans, Runner
from hsm_console.app import current_username
from hsm_console.db.engine import Database

AREAS = {"window", "queue", "log", "dashboard", "review", "admin", "records", "actions", "sync"}


def test_every_figure_of_the_benchmark_is_measured(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    try:
        filled = fill(db, Scale(5_000, 1_000), current_username(db), progress=lambda _: None)
        plans = Plans(db)
        runner = Runner(db, filled, db.dialect, plans, quick=True)
        window.add_figures(runner, db_url, steps=40, runs=1)
        figures = runner.run_all(tmp_path)
    finally:
        db.dispose()
    unmeasured = [f"{f.area}: {f.name}: {f.note}" for f in figures if f.measured is None]
    assert unmeasured == []
    assert {f.area for f in figures} == AREAS
    assert all(f.measured is not None and f.measured >= 0 for f in figures)
    assert sum(f.target is not None for f in figures) >= 40
    if not db.is_sqlite:  # every query's plan was read
        assert len(plans.found) > 50
        assert all("Execution Time" in plan for _, _, plan in plans.found)
    out = tmp_path / "performance.md"
    report.write(out, figures, report.machine(None, "0"), ["python -m benchmarks run"], [])
    written = out.read_text(encoding="utf-8")
    assert written.count("\n| ") == len(figures) + 1  # the header and a row a figure
    assert "queue: open (new, every site)" in written
