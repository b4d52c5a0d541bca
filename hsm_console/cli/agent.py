"""`hsm-console agent run|status`: the City-wide mode's agent (services/agent.py), as a
systemd unit or a Windows service runs it (docs/deployment.md, "4. The agent")."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from hsm_console.app import current_username
from hsm_console.cli.terminal import out
from hsm_console.db.engine import Database
from hsm_console.db.models import AgentJob
from hsm_console.errors import InvalidInput
from hsm_console.host.config import Settings
from hsm_console.rules.policy import load_policy
from hsm_console.services import agent


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "agent",
        help="the City-wide mode's agent: holds the tokens, syncs, carries out every action",
    )
    what = parser.add_subparsers(dest="agent_command", metavar="ACTION", required=True)
    run = what.add_parser("run", help="run until stopped (as a service); logs to stderr too")
    run.add_argument(
        "--name", default=socket.gethostname(), help="this agent's name (default: the host's)"
    )
    run.add_argument(
        "--heartbeat", type=float, default=agent.HEARTBEAT, metavar="SECONDS",
        help=f"seconds between heartbeats and lease renewals (default {agent.HEARTBEAT:g})",
    )  # fmt: skip
    run.add_argument(
        "--stale-after", type=float, default=agent.STALE_AFTER, metavar="SECONDS",
        help="a heartbeat older than this means that agent stopped: its work is taken over "
        f"(default {agent.STALE_AFTER:g})",
    )  # fmt: skip
    run.add_argument(
        "--sync-minutes", type=float, default=agent.SYNC_EVERY.total_seconds() / 60,
        metavar="MINUTES", help="minutes between syncs of each site it holds (default 15)",
    )  # fmt: skip
    what.add_parser("status", help="each agent's heartbeat and the jobs waiting")


def agent_command(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    try:
        if args.agent_command == "status":
            return _status(db)
        return _run(db, args)
    finally:
        db.dispose()


def _run(db: Database, args: argparse.Namespace) -> int:
    if not 0 < args.heartbeat < args.stale_after:
        raise InvalidInput("--heartbeat must be above 0 and below --stale-after.")
    if args.sync_minutes <= 0:
        raise InvalidInput("--sync-minutes must be above 0.")
    db.ensure_schema()
    if sys.stderr is not None:  # None in the windowed Windows build: the debug log only
        stderr = logging.StreamHandler(sys.stderr)  # the service manager's log (journald)
        stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logging.getLogger("hsm_console").addHandler(stderr)
    logging.getLogger("hsm_console").setLevel(logging.INFO)
    service = agent.AgentService(
        db, load_policy(), args.name, current_username(db), heartbeat=args.heartbeat,
        stale_after=args.stale_after, sync_every=timedelta(minutes=args.sync_minutes),
    )  # fmt: skip
    stop = threading.Event()
    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):  # SIGBREAK: Windows' Ctrl+Break
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda *_: stop.set())
    service.run(stop)
    return 0


def _status(db: Database) -> int:
    seen = agent.agents_seen(db)
    with db.session() as session:
        waiting = session.scalar(select(func.count()).select_from(AgentJob)) or 0
    for name, host, alive in seen:
        out(f"{name} on {host}: {'running' if alive else 'stopped (no recent heartbeat)'}")
    if not seen:
        out("No agent has started on this database.")
    out(f"Jobs waiting: {waiting}.")
    return 0 if any(alive for *_, alive in seen) else 1
