"""`hsm-console review`, `reverse`, `note`, `notice` and `appeal`: a supervisor's review and
second review, notes on a comment, notices to commenters and their appeals, for scripts."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from hsm_console.app import App
from hsm_console.cli.terminal import out, to_json
from hsm_console.display import local_time, one_line, safe_text
from hsm_console.errors import InvalidInput
from hsm_console.rules.domain import AppealStep, EntryState, ReviewVerdict
from hsm_console.rules.review import Channel
from hsm_console.services.moderation import ActionResult
from hsm_console.services.review import Appeal, ReviewItem

CHANNELS = [c.value for c in Channel]


def add_parsers(commands: Any) -> None:
    review = commands.add_parser(
        "review", help="review an action (supervisors): review list | review ENTRY --concur"
    )
    review.add_argument("target", metavar="ENTRY|list", help="a log entry of the action, or list")
    verdict = review.add_mutually_exclusive_group()
    verdict.add_argument("--concur", action="store_true", help="the action stands")
    verdict.add_argument("--question", action="store_true", help="the action is questioned")
    review.add_argument("--note", default="", metavar="TEXT", help="why (required to question)")
    review.add_argument("--json", action="store_true")

    reverse = commands.add_parser(
        "reverse", help="unhide a hide questioned in review or overturned on appeal"
    )
    reverse.add_argument("entry", type=int, metavar="ENTRY", help="a log entry of the action")
    reverse.add_argument("--reason", required=True, metavar="TEXT", help="your own reason")

    note = commands.add_parser("note", help="add a note to a comment, or list its notes")
    note.add_argument("comment_id", type=int, metavar="ID")
    note.add_argument("text", nargs="?", metavar="TEXT", help="the note; without it, list")
    note.add_argument("--json", action="store_true")

    notice = commands.add_parser("notice", help="the notice to a commenter about an action")
    notice.add_argument("entry", type=int, metavar="ENTRY", help="a log entry of the action")
    notice.add_argument(
        "--sent",
        choices=CHANNELS,
        metavar="CHANNEL",
        help=f"record it as sent by CHANNEL ({', '.join(CHANNELS)}); without it, draft",
    )
    notice.add_argument("--text-file", type=Path, metavar="FILE", help="the words sent")
    notice.add_argument("--at", type=_moment, metavar="ISO-TIME", help="when (default: now)")

    appeal = commands.add_parser("appeal", help="appeals of actions: list, record, decide")
    steps = appeal.add_subparsers(dest="appeal_what", metavar="ACTION", required=True)
    listing = steps.add_parser("list", help="appeals in your departments, newest first")
    listing.add_argument("--open", action="store_true", help="only those not decided")
    listing.add_argument("--json", action="store_true")
    record = steps.add_parser("record", help="record an appeal as it arrived")
    record.add_argument("entry", type=int, metavar="ENTRY", help="a log entry of the action")
    record.add_argument("--text", required=True, metavar="TEXT", help="the appeal's words")
    record.add_argument("--channel", required=True, choices=CHANNELS)
    record.add_argument("--at", type=_moment, metavar="ISO-TIME", help="when it arrived")
    record.add_argument("--to", metavar="USER", help="the supervisor to decide it")
    decide = steps.add_parser("decide", help="uphold or overturn an appeal")
    decide.add_argument("appeal", type=int, metavar="APPEAL", help="the appeal's log entry")
    outcome = decide.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--uphold", action="store_true", help="the action stands")
    outcome.add_argument("--overturn", action="store_true", help="reverse it (unhide)")
    decide.add_argument("--note", required=True, metavar="TEXT", help="your reasons")


def handlers(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "review": lambda app: review(app, args),
        "reverse": lambda app: _reversal(app.review.reverse(args.entry, args.reason)),
        "note": lambda app: note(app, args.comment_id, args.text, args.json),
        "notice": lambda app: notice(app, args),
        "appeal": lambda app: appeal(app, args),
    }


def review(app: App, args: argparse.Namespace) -> int:
    if args.target == "list":
        items = app.review.needs_review()
        if args.json:
            out(to_json([_item_json(i) for i in items]))
        elif not items:
            out("No action waits for review in your departments.")
        for item in [] if args.json else items:
            out(
                f"#{item.entry_id} waiting {item.age}: {item.action} {item.reason_code} by "
                f"{item.moderator} on {safe_text(item.site_name)} (comment {item.comment_id})"
            )
            out(f"    | {one_line(item.text, 100)}")
        return 0
    try:
        entry = int(args.target)
    except ValueError:
        raise InvalidInput(f"{args.target!r} is neither a log entry number nor list.") from None
    if args.concur or args.question:
        verdict = ReviewVerdict.CONCUR if args.concur else ReviewVerdict.QUESTION
        review_id = app.review.review(entry, verdict, args.note)
        out(f"Recorded: {verdict.value} with action {entry}, log entry {review_id}.")
        return 0
    item = app.review.item(entry)
    if args.json:
        out(to_json(_item_json(item)))
        return 0
    _print_item(item)
    return 0


def _print_item(item: ReviewItem) -> None:
    out(
        f"Action {item.entry_id}: {item.action} {item.reason_code or '-'} ({item.code_name}) by "
        f"{item.moderator}, {local_time(item.at)}, {item.outcome}; review: {item.state.label}"
    )
    out(
        f"  Comment {item.comment_id} by {safe_text(item.author_name)} on "
        f"{safe_text(item.site_name)} ({item.platform}, {item.department})"
    )
    for line in safe_text(item.text).splitlines() or [""]:
        out(f"    | {line}")
    if item.moderator_note:
        out(f"  Moderator's note: {one_line(item.moderator_note, 200)}")
    if item.objective_test:
        out(f"  The objective test: {item.objective_test}")
    if item.review is not None:
        out(
            f"  Review #{item.review.entry_id}: {item.review.verdict} by {item.review.actor}, "
            f"{local_time(item.review.at)}: {one_line(item.review.note, 200)}"
        )
    if item.reversed_by is not None:
        out(f"  Reversed: log entry {item.reversed_by}")
    for sent in item.notices:
        out(f"  Notice #{sent.entry_id} sent by {sent.channel} {local_time(sent.sent_at)}")
    for received in item.appeals:
        _print_appeal(received)


def note(app: App, comment_id: int, text: str | None, as_json: bool) -> int:
    if text is not None:
        entry = app.notes.add(comment_id, text)
        out(f"Note added to comment {comment_id}: log entry {entry}.")
        return 0
    notes = app.notes.notes(comment_id)
    if as_json:
        out(to_json([asdict(n) for n in notes]))
        return 0
    if not notes:
        out(f"Comment {comment_id} has no notes.")
    for n in notes:
        out(f"#{n.entry_id} {local_time(n.at)} {n.actor}:")
        for line in safe_text(n.text).splitlines() or [""]:
            out(f"    | {line}")
    return 0


def notice(app: App, args: argparse.Namespace) -> int:
    if args.sent is None:
        out(app.review.draft_notice(args.entry))
        return 0
    if args.text_file is not None:
        try:
            text = args.text_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(
                f"Cannot read the notice's text from {args.text_file}: {exc}."
            ) from None
    else:
        text = app.review.draft_notice(args.entry)
    entry = app.review.record_notice(args.entry, Channel(args.sent), text, args.at)
    out(f"Recorded the notice sent by {Channel(args.sent).label}: log entry {entry}.")
    return 0


def appeal(app: App, args: argparse.Namespace) -> int:
    if args.appeal_what == "list":
        appeals = app.review.appeals(open_only=args.open)
        if args.json:
            out(to_json([asdict(a) for a in appeals]))
        elif not appeals:
            out("No appeals." if not args.open else "No appeal waits for a decision.")
        for received in [] if args.json else appeals:
            _print_appeal(received)
        return 0
    if args.appeal_what == "record":
        received = app.review.record_appeal(
            args.entry, args.text, Channel(args.channel), args.at, args.to
        )
        out(
            f"Appeal recorded as log entry {received.entry_id}, for {received.assigned_to} to "
            "decide."
        )
        return 0
    step = AppealStep.UPHOLD if args.uphold else AppealStep.OVERTURN
    decision, reversal = app.review.decide_appeal(args.appeal, step, args.note)
    out(f"Appeal {args.appeal}: {step.value}, log entry {decision}.")
    return _reversal(reversal) if reversal is not None else 0


def _print_appeal(received: Appeal) -> None:
    decided = (
        f"{received.decision.verdict} by {received.decision.actor}, "
        f"{local_time(received.decision.at)}"
        if received.decision
        else "open"
    )
    out(
        f"  Appeal #{received.entry_id} of action {received.action_entry_id} "
        f"(comment {received.comment_id}, {received.department}) received "
        f"{local_time(received.received_at)} by {received.channel}, for "
        f"{received.assigned_to}: {decided}"
    )
    out(f"    | {one_line(received.text, 100)}")


def _reversal(result: ActionResult) -> int:
    out(result.message)
    return 0 if result.state is not EntryState.FAILED else 1


def _item_json(item: ReviewItem) -> dict[str, Any]:
    return {**asdict(item), "state": item.state.value}


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time as 2026-12-01T14:30-06:00"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (e.g. -06:00 or Z)")
    return moment
