"""The debug log: for engineers, in the user's log folder. Never the action log, never secrets."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from hsm_console.host.config import APP_DIRS

MAX_BYTES = 2_000_000
BACKUPS = 5


def configure_logging(level: int = logging.INFO) -> Path | None:
    """A rotating file under the user log folder; silent if the folder cannot be written."""
    root = logging.getLogger("hsm_console")
    if root.handlers:
        return None
    folder = Path(APP_DIRS.user_log_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            folder / "hsm-console.log", maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    return folder / "hsm-console.log"
