"""`hsm-console db move --to URL`: this workstation's SQLite file into the shared PostgreSQL
(services/move.py)."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import make_url

from hsm_console.cli.backup import progress_line
from hsm_console.cli.terminal import out
from hsm_console.errors import UserError
from hsm_console.host.config import Settings
from hsm_console.services.move import move_to_shared


def move_command(settings: Settings, args: argparse.Namespace) -> int:
    source = make_url(settings.database_url).database
    try:
        report = move_to_shared(settings.database_url, args.to, progress_line)
    except KeyboardInterrupt:
        print("\nhsm-console: stopped; nothing was moved, the shared database is as it was.",
              file=sys.stderr)  # fmt: skip
        return 130
    except UserError as exc:  # run by IT, who need the server's own words
        print(f"hsm-console: {exc.message}", file=sys.stderr)
        if exc.details:
            print(f"Details: {exc.details}", file=sys.stderr)
        return 1
    target = make_url(args.to).render_as_string(hide_password=True)
    out(f"Moved {source} into {target}: {report.total:,} rows in {len(report.rows)} tables.")
    entries = f"{report.entries:,} entr{'y' if report.entries == 1 else 'ies'}"
    out(f"The copy's log verifies ({entries}) and ends at entry "
        f"{report.head_id} ({report.head_hash[:16]}...), as the file's does.")  # fmt: skip
    out("Point this and every workstation at the shared database (database_url in the settings "
        "file, or HSM_DATABASE_URL) and keep the file, unchanged, as an archive.")  # fmt: skip
    return 0
