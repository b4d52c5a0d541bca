"""`hsm-console bans`: the blocked-accounts register (docs/design.md, "Blocked accounts") for
supervisors and records officers, and proposals by moderators."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from hsm_console.app import App
from hsm_console.cli.terminal import out, to_json
from hsm_console.display import one_line, safe_text
from hsm_console.errors import InvalidInput
from hsm_console.rules.bans import MAX_BAN_DAYS
from hsm_console.services.bans import BanResult, BanRow


def add_parser(commands: Any) -> None:
    bans = commands.add_parser("bans", help="the blocked-accounts register: bans of authors")
    steps = bans.add_subparsers(dest="bans_what", metavar="ACTION", required=True)
    listing = steps.add_parser("list", help="the register, newest first (active and past)")
    listing.add_argument("--active", action="store_true", help="only bans in force")
    listing.add_argument("--json", action="store_true")
    show = steps.add_parser("show", help="one ban in full")
    show.add_argument("ban", type=int, metavar="BAN")
    show.add_argument("--json", action="store_true")
    propose = steps.add_parser("propose", help="propose to ban the author of a comment")
    propose.add_argument("comment_id", type=int, metavar="COMMENT")
    propose.add_argument("--basis", required=True, metavar="TEXT", help="the basis, in words")
    propose.add_argument(
        "--code", action="append", required=True, metavar="CODE", help="a reason code it rests on"
    )
    propose.add_argument(
        "--comment", action="append", type=int, default=[], metavar="ID",
        help="another of the author's comments it rests on",
    )  # fmt: skip
    propose.add_argument(
        "--until", required=True, type=_day, metavar="YYYY-MM-DD",
        help=f"the day it ends (at most {MAX_BAN_DAYS} days away)",
    )  # fmt: skip
    for name, doing in (("approve", "approve (and carry out)"), ("refuse", "refuse")):
        step = steps.add_parser(name, help=f"{doing} a proposed ban (another supervisor)")
        step.add_argument("ban", type=int, metavar="BAN")
        step.add_argument("--reason", required=True, metavar="TEXT", help="your reason")
    carry = steps.add_parser(
        "carry-out", help="carry out an approved ban again, or record one done by hand"
    )
    carry.add_argument("ban", type=int, metavar="BAN")
    carry.add_argument("--note", default="", metavar="TEXT", help="what was done by hand")
    lift = steps.add_parser("lift", help="end an active ban (by hand where the API cannot)")
    lift.add_argument("ban", type=int, metavar="BAN")
    lift.add_argument("--reason", required=True, metavar="TEXT", help="why, in words")
    steps.add_parser("lift-due", help="end the bans whose end date has come")
    export = steps.add_parser("export", help="write the register as CSV")
    export.add_argument("path", type=Path, metavar="FILE")


def run(app: App, args: argparse.Namespace) -> int:
    service = app.bans
    what = args.bans_what
    if what == "list":
        rows = service.listing(active_only=args.active)
        if args.json:
            out(to_json([_json(row) for row in rows]))
        elif not rows:
            out("No bans in the register of your departments.")
        for row in [] if args.json else rows:
            _print_line(row)
    elif what == "show":
        row = service.get(args.ban)
        if args.json:
            out(to_json(_json(row)))
        else:
            _print_full(row)
    elif what == "propose":
        row = service.propose(args.comment_id, args.basis, args.code, args.until, args.comment)
        out(f"Proposed ban {row.id} of {safe_text(row.author_name)}; a supervisor decides it.")
    elif what in ("approve", "refuse"):
        decide = service.approve if what == "approve" else service.refuse
        return _said(decide(args.ban, args.reason))
    elif what == "carry-out":
        return _said(service.carry_out(args.ban, args.note))
    elif what == "lift":
        return _said(service.lift(args.ban, args.reason))
    elif what == "lift-due":
        due = service.lift_due()
        for result in due.lifted:
            out(result.message)
        for row in due.by_hand:
            out(
                f"Ban {row.id} ended on {row.ends_on.isoformat()}: lift it by hand on "
                f"{row.platform.label}, then: hsm-console bans lift {row.id} --reason TEXT"
            )
        for words in due.not_now:
            out(f"Not now: {words}")
        if not (due.lifted or due.by_hand or due.not_now):
            out("No ban's end date has come.")
        return 0 if all(r.ok or r.sent for r in due.lifted) else 1
    else:
        count = service.export_csv(args.path)
        out(f"Wrote {count} ban(s) to {args.path}.")
    return 0


def _said(result: BanResult) -> int:
    out(result.message)
    return 0 if result.ok or result.sent else 1


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a day written YYYY-MM-DD.") from None


def _print_line(row: BanRow) -> None:
    due = " (its end date has come)" if row.due else ""
    out(
        f"#{row.id} {row.state.label}{due}: {safe_text(row.author_name)} on "
        f"{safe_text(row.site_name)} ({row.platform.label}), {' '.join(row.codes)}, until "
        f"{row.ends_on.isoformat()}"
    )
    out(f"    | {one_line(row.basis, 100)}")


def _print_full(row: BanRow) -> None:
    out(safe_text(row.describe()))


def _json(row: BanRow) -> dict[str, Any]:
    return {**asdict(row), "state": row.state.value, "platform": row.platform.value}
