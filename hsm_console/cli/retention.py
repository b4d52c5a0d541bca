"""`hsm-console retention`, `hold` and `disposal`: a records officer's retention classes, the
disposal worksheet, legal holds, and disposal only under an approved certificate."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from hsm_console.app import App
from hsm_console.cli.terminal import out, to_json
from hsm_console.display import local_time, safe_text
from hsm_console.rules.retention import Coverage, HoldScope, RecordClass
from hsm_console.services.retention import RetentionService

CLASSES = ", ".join(c.value for c in RecordClass)


def add_parsers(commands: Any) -> None:
    retention = commands.add_parser(
        "retention", help="retention classes and the disposal worksheet (records officers)"
    )
    what = retention.add_subparsers(dest="retention_what", metavar="ACTION", required=True)
    classes = what.add_parser("classes", help="each class of record, its period and schedule item")
    classes.add_argument("--json", action="store_true")
    sheet = what.add_parser(
        "worksheet", help="records past retention and on no hold, as the certificate asks"
    )
    sheet.add_argument("--csv", type=Path, metavar="FILE", help="write it as CSV")
    sheet.add_argument("--json", action="store_true")

    hold = commands.add_parser("hold", help="legal holds: place, lift, list (records officers)")
    steps = hold.add_subparsers(dest="hold_what", metavar="ACTION", required=True)
    place = steps.add_parser("place", help="keep records from disposal; name what it keeps")
    place.add_argument("--reason", required=True, metavar="TEXT")
    place.add_argument("--site", type=int, metavar="ID", help="a site's records")
    place.add_argument("--author", metavar="AUTHOR-ID", help="an author's (platform id)")
    place.add_argument("--from", dest="from_on", type=_day, metavar="YYYY-MM-DD")
    place.add_argument("--thru", dest="thru_on", type=_day, metavar="YYYY-MM-DD")
    place.add_argument("--request", type=int, metavar="ID", help="for a records request")
    place.add_argument("--department", metavar="CODE", help="without a site or request")
    lift = steps.add_parser("lift", help="lift a hold")
    lift.add_argument("hold_id", type=int, metavar="ID")
    lift.add_argument("--reason", required=True, metavar="TEXT")
    listing = steps.add_parser("list", help="holds in force (with --all, lifted ones too)")
    listing.add_argument("--all", action="store_true")
    listing.add_argument("--json", action="store_true")

    disposal = commands.add_parser(
        "disposal", help="disposal only by certificate: certify, dispose, list (records officers)"
    )
    acts = disposal.add_subparsers(dest="disposal_what", metavar="ACTION", required=True)
    certify = acts.add_parser("certify", help="record a certificate the Commission approved")
    certify.add_argument("number", metavar="NUMBER")
    certify.add_argument(
        "--notice-given-on",
        required=True,
        type=_day,
        metavar="YYYY-MM-DD",
        help="the day it was sent to the Commission (thirty days' notice)",
    )
    certify.add_argument("--approved-on", required=True, type=_day, metavar="YYYY-MM-DD")
    certify.add_argument(
        "--covers",
        required=True,
        action="append",
        type=_coverage,
        metavar="CLASS:FROM:THRU",
        help=f"a series and its dates ({CLASSES})",
    )
    certify.add_argument("--department", metavar="CODE", help="default: the whole City")
    dispose = acts.add_parser("dispose", help="dispose of what a certificate covers")
    dispose.add_argument("number", metavar="NUMBER")
    dispose.add_argument(
        "--comment",
        type=int,
        action="append",
        metavar="ID",
        help="only these comments (each must be covered and on no hold)",
    )
    dispose.add_argument("--yes", action="store_true", help="without it, only say how many")
    listing = acts.add_parser("list", help="certificates recorded")
    listing.add_argument("--json", action="store_true")  # fmt: skip


def handlers(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "retention": lambda app: retention(_service(app), args),
        "hold": lambda app: hold(_service(app), args),
        "disposal": lambda app: disposal(_service(app), args),
    }


def _service(app: App) -> RetentionService:
    return RetentionService(app.db, app.policy, app.username)


def retention(service: RetentionService, args: argparse.Namespace) -> int:
    if args.retention_what == "classes":
        classes = service.classes()
        if args.json:
            out(to_json([asdict(c) for c in classes]))
        for c in [] if args.json else classes:
            out(f"{c.record_class.value}: {c.period}, {c.series} ({c.schedule_item})")
        return 0
    rows = service.worksheet()
    if args.csv:
        service.export_worksheet(args.csv, rows)
        out(f"Wrote {len(rows)} lines of the worksheet to {args.csv}.")
    elif args.json:
        out(to_json([{**asdict(r), "volume": r.volume} for r in rows]))
    elif not rows:
        out("Nothing in your departments is past retention and on no hold.")
    for r in [] if args.csv or args.json else rows:
        out(f"{r.department} {r.retention.series} [{r.retention.schedule_item}], "
            f"{r.from_on} to {r.thru_on}: {r.volume}; certify as "
            f"--covers {r.retention.record_class.value}:{r.from_on}:{r.thru_on}")  # fmt: skip
    return 0


def hold(service: RetentionService, args: argparse.Namespace) -> int:
    if args.hold_what == "place":
        department = service.department_id(args.department) if args.department else None
        scope = HoldScope(department, args.site, args.author, args.from_on, args.thru_on,
                          args.request)  # fmt: skip
        out(f"Placed legal hold {service.place_hold(scope, args.reason)}.")
        return 0
    if args.hold_what == "lift":
        service.lift_hold(args.hold_id, args.reason)
        out(f"Lifted legal hold {args.hold_id}.")
        return 0
    holds = service.holds(in_force_only=not args.all)
    if args.json:
        out(to_json([{**asdict(h), "keeps": h.keeps()} for h in holds]))
        return 0
    if not holds:
        out("No legal hold is in force in your departments.")
    for h in holds:
        state = "in force" if h.in_force else f"lifted {local_time(h.lifted_at or h.placed_at)}"
        out(f"#{h.id} {safe_text(h.keeps())}; {state}; placed by {h.placed_by} "
            f"{local_time(h.placed_at)}: {safe_text(h.reason)}")  # fmt: skip
    return 0


def disposal(service: RetentionService, args: argparse.Namespace) -> int:
    if args.disposal_what == "certify":
        department = service.department_id(args.department) if args.department else None
        service.certify(args.number, args.notice_given_on, args.approved_on, args.covers,
                        department)  # fmt: skip
        out(f"Recorded certificate {args.number}.")
        return 0
    if args.disposal_what == "dispose":
        if not args.yes:
            count = len(args.comment) if args.comment else service.disposable_under(args.number)
            out(f"{count} comments and what was retained of them would be disposed of under "
                f"certificate {args.number}; run again with --yes to dispose of them.")  # fmt: skip
            return 0
        result = service.dispose(args.number, args.comment)
        out(f"Disposed of {result.comments} comments ({result.records} retained records) under "
            f"certificate {result.certificate}; log entries {result.entries or 'none'}; "
            f"{result.kept_on_hold} kept on legal hold.")  # fmt: skip
        return 0
    certificates = service.certificates()
    if args.json:
        out(to_json([asdict(c) for c in certificates]))
    elif not certificates:
        out("No disposal certificate is recorded.")
    for c in [] if args.json else certificates:
        lines = ", ".join(f"{x.record_class.value} {x.from_on} to {x.thru_on}" for x in c.covers)
        out(f"{safe_text(c.number)} ({c.department}): approved {c.approved_on}, notice "
            f"{c.notice_given_on}, disposal from {c.allowed_from}; {lines}; "
            f"{c.disposed} comments disposed of")  # fmt: skip
    return 0


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def _coverage(value: str) -> Coverage:
    try:
        name, start, end = value.split(":")
        return Coverage(RecordClass(name), date.fromisoformat(start), date.fromisoformat(end))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not CLASS:FROM:THRU (class one of {CLASSES}; dates YYYY-MM-DD)"
        ) from None
