"""`hsm-console db backup FILE` and `db restore FILE --to URL` (services/backup.py)."""

from __future__ import annotations

import argparse
import sys

from hsm_console.cli.terminal import out
from hsm_console.db.engine import Database
from hsm_console.host.config import Settings
from hsm_console.services.backup import backup, restore, sidecar


def backup_command(settings: Settings, args: argparse.Namespace) -> int:
    tools = settings.pg_tools_folder
    if args.db_command == "backup":
        db = Database(settings.database_url)
        try:
            info = backup(db, args.file, tools, progress_line)
        finally:
            db.dispose()
        out(f"Backed up to {args.file} ({info.size:,} bytes): the log's head is entry "
            f"{info.head_id} of {info.entries:,}.")  # fmt: skip
        out(f"Keep {sidecar(args.file).name} with it: a restore proves the backup by it.")
        return 0
    done = restore(args.file, args.to, tools, progress_line)
    out(f"Restored {args.file} and proved its log: {done.report.entries_checked:,} entries, "
        f"head entry {done.report.head_id} as the backup says.")  # fmt: skip
    return 0


def progress_line(done: int, total: int) -> None:
    """A percentage on a terminal's stderr, once a step (a backup: every 16 MB or so)."""
    if sys.stderr.isatty():
        print(f"\r{done * 100 // max(total, 1)}%", end="" if done < total else "\n",
              file=sys.stderr, flush=True)  # fmt: skip
