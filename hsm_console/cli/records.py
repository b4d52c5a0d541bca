"""`hsm-console requests`: the records requests register for records officers, for scripts.
Times are read and shown in America/Chicago."""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hsm_console.app import App
from hsm_console.cli.terminal import out, to_json
from hsm_console.display import CITY_TZ, local_time, one_line, safe_text
from hsm_console.errors import InvalidInput
from hsm_console.rules.records_requests import (
    ExtensionReason,
    RequestState,
    Urgency,
    time_left,
)
from hsm_console.services.records_requests import CITY_WIDE, RequestFilter, RequestRow

STATES = [s.value for s in RequestState]
REASONS = [r.value for r in ExtensionReason]


def add_parsers(commands: Any) -> None:
    requests = commands.add_parser("requests", help="the records requests register (FOIA)")
    steps = requests.add_subparsers(dest="requests_what", metavar="ACTION", required=True)
    listing = steps.add_parser("list", help="the register, the soonest due first")
    listing.add_argument("--state", action="append", choices=STATES, help="repeatable")
    listing.add_argument("--department", metavar="CODE", help=f"a department, or {CITY_WIDE}")
    listing.add_argument("--due-by", type=_day, metavar="YYYY-MM-DD", help="due on or before")
    listing.add_argument("--urgent", action="store_true", help="only overdue or due soon")
    listing.add_argument("--json", action="store_true")
    show = steps.add_parser("show", help="one request and its history")
    show.add_argument("request", type=int, metavar="ID")
    show.add_argument("--json", action="store_true")

    add = steps.add_parser("add", help="register a request as it was received")
    words = add.add_mutually_exclusive_group(required=True)
    words.add_argument("--words", metavar="TEXT", help="the request as written")
    words.add_argument("--words-file", type=Path, metavar="FILE", help="the request, UTF-8")
    add.add_argument("--requester", default="", metavar="TEXT", help="as given; may be empty")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--department", metavar="CODE", help="the department that answers it")
    where.add_argument("--city-wide", action="store_true", help="the City Clerk's office")
    add.add_argument(
        "--received", type=_moment, metavar="TIME",
        help="when it arrived, e.g. 2026-12-01T14:30 (Chicago time; default now)",
    )  # fmt: skip
    add.add_argument("--scope", type=_scope, metavar="JSON", help="the search that answers it")

    accept = steps.add_parser("accept", help="accept a draft handed over from the queue")
    accept.add_argument("request", type=int, metavar="ID")
    assign = steps.add_parser("assign", help="give a request to a records officer")
    assign.add_argument("request", type=int, metavar="ID")
    assign.add_argument("handler", metavar="USER")
    extend = steps.add_parser("extend", help="the one 5-business-day extension, 5 ILCS 140/3(e)")
    extend.add_argument("request", type=int, metavar="ID")
    extend.add_argument(
        "--reason", required=True, choices=REASONS, metavar="REASON",
        help="; ".join(f"{r.value}: {r.label}" for r in ExtensionReason),
    )  # fmt: skip
    extend.add_argument("--note", default="", metavar="TEXT", help="the explanation sent")
    answer = steps.add_parser("answer", help="mark a request answered")
    answer.add_argument("request", type=int, metavar="ID")
    answer.add_argument("--note", default="", metavar="TEXT", help="how it was answered")
    withdraw = steps.add_parser("withdraw", help="withdrawn, or a draft that was no request")
    withdraw.add_argument("request", type=int, metavar="ID")
    withdraw.add_argument("--reason", required=True, metavar="TEXT")


def handlers(args: argparse.Namespace) -> dict[str, Any]:
    return {"requests": lambda app: run(app, args)}


def run(app: App, args: argparse.Namespace) -> int:
    service = app.records_requests
    what = args.requests_what
    if what == "list":
        states = frozenset(RequestState(s) for s in args.state or [])
        rows = service.rows(RequestFilter(states, args.department, args.due_by, args.urgent))
        if args.json:
            out(to_json([_row_json(r) for r in rows]))
        elif not rows:
            out("No records request matches.")
        for row in [] if args.json else rows:
            out(_line(row))
        return 0
    if what == "show":
        return _show(app, args.request, args.json)
    if what == "add":
        text = args.words if args.words is not None else _read(args.words_file)
        department = None if args.city_wide else args.department
        received = args.received or service.clock()
        request_id = service.register(received, args.requester, text, department, args.scope)
        due = service.show(request_id).request.due_on
        out(f"Registered request {request_id}, due {due:%A %d %B %Y}.")
        return 0
    request_id = args.request
    if what == "accept":
        service.accept(request_id)
    elif what == "assign":
        service.assign(request_id, args.handler)
    elif what == "extend":
        service.extend(request_id, ExtensionReason(args.reason), args.note)
    elif what == "answer":
        service.answer(request_id, args.note)
    else:
        service.withdraw(request_id, args.reason)
    row = service.show(request_id).request
    out(f"Request {request_id}: {row.state.value}, due {row.due_on:%A %d %B %Y}.")
    return 0


def _show(app: App, request_id: int, as_json: bool) -> int:
    detail = app.records_requests.show(request_id)
    row = detail.request
    if as_json:
        history = [
            {"entry": e.entry_id, "at": local_time(e.at), "actor": e.actor, "step": e.step,
             "note": e.note}
            for e in detail.history
        ]  # fmt: skip
        out(to_json({**_row_json(row), "history": history, "may_handle": detail.handlers}))
        return 0
    out(_line(row))
    out(f"  Received:  {local_time(row.received_at)}")
    if row.handed_over_at is not None:
        out(f"  Handed over from comment {row.comment_id}: {local_time(row.handed_over_at)}")
    out(f"  Requester: {safe_text(row.requester) or '(not given)'}")
    if row.extended_to is not None:
        out(f"  Extended from {row.original_due} to {row.extended_to} ({row.extension_reason})")
    if row.scope:
        out(f"  Scope:     {safe_text(json.dumps(row.scope, ensure_ascii=False))}")
    out("  Words:")
    for line in safe_text(row.words).splitlines() or [""]:
        out(f"    | {line}")
    out("  History:")
    for event in detail.history:
        note = f": {one_line(event.note, 200)}" if event.note else ""
        out(f"    #{event.entry_id} {local_time(event.at)} {event.step} by {event.actor}{note}")
    return 0


def _line(row: RequestRow) -> str:
    flag = "DUE SOON " if row.urgency is Urgency.DUE_SOON else ""  # overdue says itself
    days = f" ({time_left(row.days_left)})" if row.state.is_open else ""
    return (
        f"#{row.id} {row.state.value:<9} {row.department:<10} due {row.due_on:%a %Y-%m-%d}{days} "
        f"{flag}handler {row.handler or '-'}: {one_line(row.requester, 30) or '(not given)'}"
        f" | {one_line(row.words, 60)}"
    )


def _row_json(row: RequestRow) -> dict[str, Any]:
    return {
        "id": row.id, "state": row.state.value, "department": row.department,
        "received_at": local_time(row.received_at), "requester": row.requester,
        "words": row.words, "scope": row.scope, "due_on": row.due_on.isoformat(),
        "original_due": row.original_due.isoformat(),
        "extension_reason": row.extension_reason or None, "handler": row.handler,
        "days_left": row.days_left, "urgency": row.urgency.value, "comment_id": row.comment_id,
        "handed_over_at": None if row.handed_over_at is None else local_time(row.handed_over_at),
    }  # fmt: skip


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text.") from None


def _moment(text: str) -> datetime:
    """A time as written; without a zone it is Highland's (America/Chicago)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time as 2026-12-01T14:30") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CITY_TZ)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day as 2026-12-01") from None


def _scope(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError("the scope is not JSON, e.g. '{\"site\": 3}'") from None
