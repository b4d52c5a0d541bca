"""`hsm-console doctor`: the checks of services/doctor.py, one line each; exit 1 on a FAIL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from hsm_console.app import current_username
from hsm_console.cli.terminal import out, to_json
from hsm_console.db.engine import Database
from hsm_console.host.config import APP_DIRS, Settings
from hsm_console.host.identity import os_username
from hsm_console.services.doctor import Verdict, diagnose


def doctor_command(settings: Settings, as_json: bool) -> int:
    db = Database(settings.database_url)
    try:
        try:
            username = current_username(db)
        except SQLAlchemyError:  # the database check names the problem
            username = os_username()
        findings = diagnose(db, username, Path(APP_DIRS.user_log_dir), by_agent=settings.by_agent)
    finally:
        db.dispose()
    if as_json:
        out(to_json([
            {"check": f.check, "verdict": f.verdict.value, "words": f.words, "todo": f.todo}
            for f in findings
        ]))  # fmt: skip
    else:
        for f in findings:
            out(f"{f.verdict.value:<4}  {f.check}: {f.words}")
            if f.todo:
                out(f"      {f.todo}")
        failed = sum(f.verdict is Verdict.FAIL for f in findings)
        warned = sum(f.verdict is Verdict.WARN for f in findings)
        out(f"{failed} FAIL, {warned} WARN of {len(findings)} checks.")
    return 1 if any(f.verdict is Verdict.FAIL for f in findings) else 0
