"""The debug log: for engineers, in the user's log folder. Never the action log, never secrets.

Connectors scrub the secrets they know (`connectors/http.py`); the log file scrubs again what
looks like one, whatever wrote it: a password in a database address, an Authorization
header's credential, a token, secret, password or key given by name. Rotated at 2 MB, five
files kept.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

from hsm_console.host.config import APP_DIRS

MAX_BYTES = 2_000_000
BACKUPS = 5
LOG_NAME = "hsm-console.log"
REDACTED = "[redacted]"
_SECRETS = (
    # postgresql://user:PASSWORD@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE), rf"\1{REDACTED}@"),
    # Authorization: Bearer ..., Basic ...
    (re.compile(r"\b(Bearer|Basic|Token|OAuth)\s+[\w.~+/=-]+", re.IGNORECASE), rf"\1 {REDACTED}"),
    # access_token=..., "client_secret": "...", Api-Key: ..., PGPASSWORD=...
    (
        re.compile(
            r"((?:access|refresh|id|page|user)?[_-]?token|client[_-]?secret|app[_-]?secret|"
            r"appsecret_proof|api[_-]?key|secret|code_verifier)"
            r"([\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;}]+",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}",
    ),
    # A password may hold spaces (WordPress's Application Passwords): to the line's end.
    (
        re.compile(r"(passw(?:or)?d)([\"']?\s*[=:]\s*[\"']?)[^\n\"'&,;}]+", re.IGNORECASE),
        rf"\1\2{REDACTED}",
    ),
)


def redact(text: str) -> str:
    """The text with whatever looks like a secret replaced by "[redacted]"."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def file_handler(folder: Path, max_bytes: int = MAX_BYTES) -> logging.Handler:
    """The log file in `folder`, rotating at `max_bytes`, redacting every line."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        folder / LOG_NAME, maxBytes=max_bytes, backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


def configure_logging(level: int = logging.INFO) -> Path | None:
    """A rotating file under the user log folder; silent if the folder cannot be written."""
    root = logging.getLogger("hsm_console")
    if root.handlers:
        return None
    folder = Path(APP_DIRS.user_log_dir)
    try:
        handler = file_handler(folder)
    except OSError:
        return None
    root.addHandler(handler)
    root.setLevel(level)
    return folder / LOG_NAME
