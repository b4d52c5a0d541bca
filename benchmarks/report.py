"""The table of figures, printed and written to docs/performance.md with the machine's
description."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from benchmarks.measure import Figure
from hsm_console.display import CITY_TZ

UNITS = {
    "ms": "{:,.1f} ms",
    "s": "{:,.1f} s",
    "/s": "{:,.0f}/s",
    "MB": "{:,.0f} MB",
    "%": "{:.0f} %",
}


def shown(value: float | None, unit: str) -> str:
    return "—" if value is None else UNITS[unit].format(value)


def target_text(figure: Figure) -> str:
    if figure.target is None:
        return ""
    sign = "≥" if figure.higher_is_better else "<"
    return f"{sign} {shown(figure.target, figure.unit)}"


def rows(figures: list[Figure]) -> list[tuple[str, ...]]:
    return [
        (
            f"{f.area}: {f.name}",
            f.database,
            target_text(f),
            shown(f.measured, f.unit),
            shown(f.cpu, f.unit) if f.cpu is not None else "",
            f.verdict,
            f.note,
        )
        for f in figures
    ]


HEADER = ("figure", "database", "target", "measured", "CPU", "", "note")


def print_table(figures: list[Figure]) -> None:
    table = [HEADER, *rows(figures)]
    widths = [min(max(len(r[i]) for r in table), 60) for i in range(len(HEADER) - 1)]
    for row in table:
        print(
            "  ".join(cell.ljust(width)[:width] for cell, width in zip(row, widths, strict=False))
            + f"  {row[-1]}"
        )


def machine(postgres_version: str | None, load: str) -> list[str]:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kb = int(meminfo.read_text(encoding="ascii").split()[1])
        memory = f"{total_kb / 1024 / 1024:.0f} GB RAM"
    return [
        f"- Machine: {cpu}, {os.cpu_count()} cores, {memory}; {platform.system()} "
        f"{platform.release()}; load average at the start {load} (a machine shared with others)",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
        + (
            f", PostgreSQL {postgres_version} (on loopback, fsync off as in the tests)"
            if postgres_version
            else ""
        ),
        f"- Date: {datetime.now(CITY_TZ):%Y-%m-%d %H:%M} (America/Chicago)",
    ]


def write(
    path: Path, figures: list[Figure], description: list[str], commands: list[str], notes: list[str]
) -> None:
    lines = [
        "# Performance",
        "",
        "Measured by the benchmark (`benchmarks/`): a City's years of data generated on SQLite",
        "and PostgreSQL, every screen measured through the services the window uses. Wall",
        "times are the median of three runs after a first (cold) one; CPU is this process's",
        "CPU time for the same work (on PostgreSQL the server's share is not in it). Written",
        "by the command below; do not edit by hand.",
        "",
        *(f"    {command}" for command in commands),
        "",
        *description,
        *notes,
        "",
        "| " + " | ".join(HEADER[:-1]) + " | note |",
        "|" + "---|" * len(HEADER),
    ]
    for row in rows(figures):
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def dump(
    path: Path, figures: list[Figure], description: list[str], command: str, notes: list[str]
) -> None:
    found = {
        "figures": [asdict(f) for f in figures],
        "machine": description,
        "command": command,
        "notes": notes,
    }
    path.write_text(json.dumps(found, indent=1), encoding="utf-8")


def combine(runs: list[Path], out: Path, extra: list[str]) -> None:
    """One table of runs made apart (e.g. each database in its own process)."""
    figures: list[Figure] = []
    commands: list[str] = []
    notes: list[str] = []
    description: list[str] = []
    for path in runs:
        found = json.loads(path.read_text(encoding="utf-8"))
        figures += [Figure(**f) for f in found["figures"]]
        commands.append(found["command"])
        notes += found["notes"]
        description = description or found["machine"]
        if any("PostgreSQL" in line for line in found["machine"]):
            description = found["machine"]
    write(out, figures, description, commands, notes + [f"- {line}" for line in extra])
