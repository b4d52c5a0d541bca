"""The command line: for one comment at a time, what the console window does.

The acting person is always the operating-system user (or the database login on a shared
PostgreSQL); there is deliberately no option to act as anyone else.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hsm_console import __version__
from hsm_console.errors import UserError
from hsm_console.host.config import load_settings
from hsm_console.rules.domain import Action, CommentStatus

if TYPE_CHECKING:
    from hsm_console.cli.commands import LogQuery

DEFAULT_SANDBOX_PORT = 8765
# The log's filters that may be given more than once (`hsm-console log --action hide`).
LOG_FILTERS = {
    "department": "a department's code",
    "site": "a site's id",
    "platform": "a platform",
    "actor": "who acted (account)",
    "action": "what was done",
    "reason": "a reason code",
    "state": "outcome: pending, applied, failed, unconfirmed",
    "kind": "action, admin, review, note, notice or appeal",
    "review_state": "needs_review, concurred, questioned, not_needed",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hsm-console",
        description="City of Highland social media moderation console. "
        "Without a command, opens the console window.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--database", metavar="URL", help="database URL (default: HSM_DATABASE_URL, then SQLite)"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the window on a fresh demo database served by a built-in sandbox",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation: the window (offscreen) on a temporary demo database, "
        "a sync, one hide recorded first, the log verified; exits 0 if all passed",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("upgrade", help="create or migrate the schema to the newest version")
    db_commands.add_parser(
        "roles", help="PostgreSQL: create or update the group roles, grants and row policies"
    )
    db_commands.add_parser(
        "password", help="PostgreSQL: keep the database login's password in this computer's "
        "keyring (read without echo, or from a pipe), for an address without one",
    )  # fmt: skip
    db_backup = db_commands.add_parser(
        "backup", help="back the database up to FILE, with FILE.json naming its log's head"
    )
    db_backup.add_argument("file", type=Path, metavar="FILE")
    db_restore = db_commands.add_parser(
        "restore", help="restore FILE into a new, empty database and prove its log"
    )
    db_restore.add_argument("file", type=Path, metavar="FILE")
    db_restore.add_argument("--to", required=True, metavar="URL", help="the new database")
    db_move = db_commands.add_parser(
        "move", help="move this workstation's SQLite file into the empty shared PostgreSQL, "
        "keeping every id and hash, and prove the copy's log",
    )  # fmt: skip
    db_move.add_argument("--to", required=True, metavar="URL", help="the shared database")

    sandbox = commands.add_parser(
        "sandbox", help="serve the platform sandbox on 127.0.0.1",
        description="Serve every platform's API and sign-in on 127.0.0.1, for trying the "
        "console. On start it lists each platform's API address and seeded account id (for "
        "admin site add ... --api-url), the City's app to enter with admin app, the WordPress "
        "and Discourse secrets, and the control endpoints that age or revoke the tokens.",
    )  # fmt: skip
    sandbox.add_argument("--port", type=int, default=DEFAULT_SANDBOX_PORT)

    demo = commands.add_parser(
        "demo", help="create demo departments and sites on the sandbox; you moderate Parks"
    )
    demo.add_argument(
        "--sandbox-url", default=f"http://127.0.0.1:{DEFAULT_SANDBOX_PORT}", metavar="URL"
    )

    sync = commands.add_parser("sync", help="pull new posts and comments into the queue")
    sync.add_argument("--site", action="append", metavar="SITE", help="only this site (repeat)")

    queue = commands.add_parser("queue", help="list comments awaiting a decision, newest first")
    queue.add_argument(
        "--status", action="append", choices=[s.value for s in CommentStatus],
        help="statuses to list (default: new)",
    )  # fmt: skip
    queue.add_argument("--limit", type=int, default=50)
    queue.add_argument("--json", action="store_true")

    show = commands.add_parser("show", help="one comment, its retained records and history")
    show.add_argument("comment_id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true")

    act = commands.add_parser("act", help="act on one comment, record first")
    act.add_argument("comment_id", type=int, metavar="ID")
    act.add_argument("action", choices=[a.value for a in Action])
    act.add_argument("--reason", metavar="CODE", help="reason code from the comment policy")
    act.add_argument("--note", default="", metavar="TEXT")

    log = commands.add_parser("log", help="the action log, oldest first (supervisors)")
    log.add_argument("--comment", type=int, metavar="ID", help="only this comment's entries")
    _log_filters(log, LOG_FILTERS)
    log.add_argument("--limit", type=int, default=200)
    log.add_argument("--json", action="store_true")
    log.add_argument(
        "--export", type=Path, metavar="FILE", help="every entry shown, newest first, to a "
        ".csv (no formula cells) or .jsonl file (every field)",
    )  # fmt: skip

    dashboard = commands.add_parser(
        "dashboard", help="the consistency dashboard's figures, per week (supervisors)"
    )
    # Applied actions are what it counts: the outcome and kind filters do not apply.
    _log_filters(dashboard, {k: v for k, v in LOG_FILTERS.items() if k not in ("state", "kind")})
    dashboard.add_argument("--json", action="store_true")

    verify = commands.add_parser(
        "verify-log", help="prove the action log and records are unaltered"
    )
    verify.add_argument(
        "--against", type=Path, metavar="SEAL_FILE",
        help="a seal file (hsm-console seal): prove the log still holds all it sealed",
    )  # fmt: skip
    commands.add_parser(
        "seal", help="seal the log's chain head now, into the seals folder (records officers)"
    )

    sites = commands.add_parser("sites", help="list the configured sites")
    sites.add_argument("--json", action="store_true")
    sites.add_argument(
        "--health", action="store_true",
        help="each site's last good sync, last error and the gaps in which it was not read",
    )  # fmt: skip
    health = commands.add_parser("health", help="the same as: sites --health")
    health.add_argument("--json", action="store_true")
    checks = commands.add_parser(
        "site-checks", help="what fails of the policy's checks on your departments' sites"
    )
    checks.add_argument("--json", action="store_true")
    checks.add_argument("--all", action="store_true", help="the checks that pass too")

    platforms = commands.add_parser(
        "platforms", help="what the City can do on each platform (the capability map)"
    )
    platforms.add_argument("--json", action="store_true")

    codes = commands.add_parser("codes", help="list the reason codes of the comment policy")
    codes.add_argument("--json", action="store_true")

    from hsm_console.cli import admin, bans, records, records_package, review

    admin.add_parser(commands)
    records.add_parsers(commands)
    review.add_parsers(commands)
    from hsm_console.cli import retention

    retention.add_parsers(commands)
    bans.add_parser(commands)
    records_package.add_parsers(commands, _day)
    from hsm_console.cli import screening

    screening.add_parser(commands)

    credentials = commands.add_parser("credentials", help="platform tokens in the keyring")
    cred_commands = credentials.add_subparsers(dest="cred_command", metavar="ACTION", required=True)
    cred_set = cred_commands.add_parser("set", help="store a site's token (asked without echo)")
    cred_set.add_argument("site", metavar="SITE", help="site number or name")
    cred_delete = cred_commands.add_parser("delete", help="forget a site's token")
    cred_delete.add_argument("site", metavar="SITE")
    doctor = commands.add_parser(
        "doctor", help="check the database, keyring, platforms, sign-ins and log; exit 1 on a FAIL"
    )
    doctor.add_argument("--json", action="store_true")
    from hsm_console.cli import agent

    agent.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.self_test:  # before the log file: it writes nothing of the user's
        if args.command or args.demo or args.database:
            print("hsm-console: --self-test takes no command and no option.", file=sys.stderr)
            return 2
        from hsm_console.gui.self_test import run_self_test

        return run_self_test()
    from hsm_console.host.logsetup import configure_logging

    configure_logging()
    try:
        return _dispatch(args)
    except UserError as exc:
        print(f"hsm-console: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hsm-console: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except Exception as exc:
        words = _unreachable(exc)
        if words is None:
            raise
        logging.getLogger(__name__).info("database not reached", exc_info=True)
        print(f"hsm-console: {words}", file=sys.stderr)
        return 1


def _unreachable(exc: Exception) -> str | None:
    """Plain words for a database that refused the connection (not started, wrong address,
    no password for the login), or None for any other error."""
    from sqlalchemy.exc import OperationalError

    if not isinstance(exc, OperationalError):
        return None
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else ""
    return (
        f"the database could not be reached ({reason}). Check its address (--database, "
        "HSM_DATABASE_URL or the settings file), that the server is running, and your login; "
        "docs/deployment.md, section 11."
    )


def _dispatch(args: argparse.Namespace) -> int:
    from hsm_console.cli import commands, records
    from hsm_console.cli.site_checks import site_checks_command

    if args.command is None:
        from hsm_console.gui import run_gui

        return run_gui(args.database, args.demo)
    if args.demo:
        raise UserError("--demo opens the console window; it takes no command.")
    if args.command == "sandbox":
        return commands.serve_sandbox(args.port)
    if args.command == "platforms":
        return commands.platforms(args.json)
    from hsm_console.cli import records_package

    if args.command == "verify-package":  # on its own: no database
        return records_package.verify_package_command(args.package)
    if args.command == "screening":  # a labelled set, no database
        from hsm_console.cli import screening

        return screening.run(args)
    settings = load_settings(args.database)
    if args.command == "db" and args.db_command == "roles":
        return commands.db_roles(settings)
    if args.command == "db" and args.db_command == "password":
        return commands.db_password(settings, _read_secret)
    if args.command == "db" and args.db_command == "move":
        from hsm_console.cli.move import move_command

        return move_command(settings, args)
    if args.command == "db" and args.db_command != "upgrade":
        from hsm_console.cli.backup import backup_command

        return backup_command(settings, args)
    if args.command == "db":
        return commands.db_upgrade(settings)
    if args.command == "doctor":  # before open_app: it must not migrate what it checks
        from hsm_console.cli.doctor import doctor_command

        return doctor_command(settings, args.json)
    if args.command == "agent":  # a service of its own: no person, no first run
        from hsm_console.cli.agent import agent_command

        return agent_command(settings, args)
    from hsm_console.cli import admin, bans, retention, review

    handlers: dict[str, Any] = {
        **records.handlers(args),
        **review.handlers(args),
        **retention.handlers(args),
        "bans": lambda app: bans.run(app, args),
        **records_package.handlers(args),
        "admin": lambda app: admin.run(app, args, _read_secret),
        "demo": lambda app: commands.demo(app, args.sandbox_url),
        "sync": lambda app: commands.sync(app, args.site),
        "queue": lambda app: commands.queue(
            app,
            frozenset(map(CommentStatus, args.status or [CommentStatus.NEW])),
            args.limit,
            args.json,
        ),
        "show": lambda app: commands.show(app, args.comment_id, args.json),
        "act": lambda app: commands.act(
            app, args.comment_id, Action(args.action), args.reason, args.note
        ),
        "log": lambda app: commands.log(app, _log_query(args), args.limit, args.json, args.export),
        "dashboard": lambda app: commands.dashboard(app, _log_query(args), args.json),
        "verify-log": lambda app: commands.verify(app, args.against),
        "seal": commands.seal,
        "sites": lambda app: (commands.health if args.health else commands.sites)(app, args.json),
        "health": lambda app: commands.health(app, args.json),
        "site-checks": lambda app: site_checks_command(app, args.json, args.all),
        "codes": lambda app: commands.codes(app, args.json),
        "credentials": lambda app: commands.credentials(
            app, args.cred_command, args.site, _read_token
        ),
    }
    from hsm_console.app import open_app

    # The first person to start the console on an empty database becomes its administrator;
    # `demo` is a separate choice, and `admin init` says what it did itself.
    claim = args.command != "demo" and getattr(args, "admin_what", None) != "init"
    app = open_app(settings, claim_first_run=claim)
    if app.first_run is not None:
        print(
            f"hsm-console: this database had no users yet, so {app.username} is now its first "
            f"administrator (log entry {app.first_run.entry_id}).",
            file=sys.stderr,
        )
    try:
        result: int = handlers[args.command](app)
        return result
    finally:
        app.close()


def _log_query(args: argparse.Namespace) -> LogQuery:
    from hsm_console.cli.commands import LogQuery

    return LogQuery(
        getattr(args, "comment", None), args.department or [], args.site or [],
        args.platform or [], args.actor or [], args.action or [], args.reason or [],
        getattr(args, "state", None) or [], getattr(args, "kind", None) or [], args.on_from,
        args.on_to, args.search, getattr(args, "review_state", None) or [],
    )  # fmt: skip


def _log_filters(parser: argparse.ArgumentParser, filters: dict[str, str]) -> None:
    """The log view's filters, as `log` and `dashboard` take them."""
    for option, words in filters.items():
        parser.add_argument(
            f"--{option.replace('_', '-')}", action="append", metavar=option.upper(), help=words
        )
    parser.add_argument("--from", dest="on_from", type=_day, metavar="YYYY-MM-DD")
    parser.add_argument("--to", dest="on_to", type=_day, metavar="YYYY-MM-DD")
    parser.add_argument("--search", default="", metavar="WORDS", help="in the comment's text")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day as YYYY-MM-DD") from None


def _read_token() -> str:
    return _read_secret("Token (not shown): ")


def _read_secret(prompt: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().strip()  # piped from a password manager


if __name__ == "__main__":
    raise SystemExit(main())
