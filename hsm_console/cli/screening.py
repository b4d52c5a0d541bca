"""`hsm-console screening report`: how often screening is right on a hand-labelled set.

Reads no database: the set is a file (the project's own in a source checkout, or --set).
Exits 1 when a figure falls below its target, so a script or CI can rely on it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hsm_console.cli.terminal import out, to_json
from hsm_console.display import safe_text
from hsm_console.services.screening_report import (
    CRITICISM,
    MAX_FALSE_ALARM_RATE,
    ScreeningReport,
    default_set,
    evaluate,
)


def add_parser(commands: Any) -> None:
    screening = commands.add_parser(
        "screening", help="how often automatic screening is right (a labelled set)"
    )
    what = screening.add_subparsers(dest="screening_what", metavar="ACTION", required=True)
    report = what.add_parser(
        "report", help="precision and recall per code, false alarms, misses; exit 1 below target"
    )
    report.add_argument(
        "--set",
        dest="set_file",
        type=Path,
        metavar="FILE",
        help="a JSON-lines set of labelled comments (default: the project's, in a source tree)",
    )
    report.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    report = evaluate(args.set_file or default_set())
    if args.json:
        out(to_json(report.as_dict()))
    else:
        _print(report)
    return 1 if report.shortfalls() else 0


def _rate(value: float | None) -> str:
    return "  -  " if value is None else f"{value:5.2f}"


def _print(report: ScreeningReport) -> None:
    out(f"Screening on {report.comments} labelled comments")
    out(f"  overall precision {_rate(report.precision)}")
    out(
        f"  false alarms on the {report.deserving_nothing} comments that deserve nothing: "
        f"{report.false_alarms_on_nothing} ({report.false_alarm_rate:.1%}; "
        f"target under {MAX_FALSE_ALARM_RATE:.0%})"
    )
    out(
        f"  suggestions on the {report.criticism} comments in {CRITICISM!r}: "
        f"{report.suggestions_on_criticism} (target: none)"
    )
    out("")
    out("  code  labelled  suggested  right  precision  recall")
    for f in report.per_code:
        note = "" if f.covered else "  (not screened: a moderator's judgement)"
        out(
            f"  {f.code}   {f.labelled:8}  {f.suggested:9}  {f.right:5}  "
            f"{_rate(f.precision):>9}  {_rate(f.recall):>6}{note}"
        )
    covered_misses = [
        m for m in report.misses if m.code in {f.code for f in report.per_code if f.covered}
    ]
    for title, slips in (("False alarms", report.false_alarms), ("Misses", covered_misses)):
        out("")
        out(f"{title}: {len(slips)}")
        for slip in slips:
            out(f"  {slip.key} {slip.code} [{slip.category}] {safe_text(slip.text)[:100]}")
            out(f"      {safe_text(slip.why)[:160]}")
    shortfalls = report.shortfalls()
    out("")
    if shortfalls:
        out("Below target:")
        for shortfall in shortfalls:
            out(f"  {shortfall}")
    else:
        out("Every target is met.")
