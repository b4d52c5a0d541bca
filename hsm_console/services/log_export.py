"""Exports of the action log view: CSV for a spreadsheet, JSON Lines with every field.

What is exported is what `LogView` shows under the same filter, newest first, read page by
page so a view of hundreds of thousands of entries never sits in memory at once. A file is
written beside its destination under a temporary name and renamed into place only when
complete: a cancelled or failed export leaves no file, and never half of one.

Comment text is untrusted and a spreadsheet runs formulas: no CSV cell may start with
`= + - @`, a tab or a carriage return (docs/design.md, "Never"), so such a cell is prefixed
with an apostrophe, which spreadsheets show as text. JSON Lines keeps every value exactly.
"""

from __future__ import annotations

import contextlib
import csv
import enum
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from hsm_console.display import local_time
from hsm_console.errors import UserError
from hsm_console.services.log_view import PAGE_SIZE, LogFilter, LogView

# The fullwidth forms too: some spreadsheets read them as their ASCII twins.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

CSV_COLUMNS = (
    "id", "at", "at_chicago", "kind", "actor", "action", "state", "reason_code", "department",
    "site_name", "platform", "comment_id", "author_name", "text", "note", "detail", "subject",
    "outcome_of", "record_id", "policy_version", "entry_hash",
)  # fmt: skip


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


@dataclass(frozen=True)
class ExportProgress:
    done: int
    total: int


@dataclass(frozen=True)
class ExportResult:
    path: Path
    entries: int
    cancelled: bool = False  # then nothing was written at `path`


def safe_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[IO[str]]:
    """A text file that appears at `path` complete, or not at all."""
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise UserError(
            f"Cannot write in {path.parent}: {exc.strerror}. Choose another folder."
        ) from exc
    try:
        with open(handle, "w", encoding="utf-8", newline="") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


class _Cancelled(Exception):
    """The person stopped the export; the temporary file is removed."""


def export_log(
    view: LogView,
    log_filter: LogFilter,
    path: Path,
    export_format: ExportFormat,
    progress: Callable[[ExportProgress], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> ExportResult:
    """Write every entry of the view under `log_filter` to `path`, newest first."""
    total = view.count(log_filter)
    done = 0
    try:
        with atomic_file(path) as stream:
            write = _csv_writer(stream) if export_format is ExportFormat.CSV else _jsonl(stream)
            after: int | None = None
            while True:
                if cancelled():
                    raise _Cancelled
                page = view.page(log_filter, after, PAGE_SIZE)
                for record in view.export_records(page.ids):
                    write(record)
                done += len(page.ids)
                if progress is not None:
                    progress(ExportProgress(done, max(total, done)))
                if page.next is None:
                    break
                after = page.next
    except _Cancelled:
        return ExportResult(Path(path), done, cancelled=True)
    return ExportResult(Path(path), done)


def _csv_writer(stream: IO[str]) -> Callable[[dict[str, Any]], None]:
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)

    def write(record: dict[str, Any]) -> None:
        values = {**record, "at_chicago": local_time(record["at"])}
        writer.writerow([safe_cell(values.get(column)) for column in CSV_COLUMNS])

    return write


def _jsonl(stream: IO[str]) -> Callable[[dict[str, Any]], None]:
    def write(record: dict[str, Any]) -> None:
        # ASCII escapes: any character at all survives the round trip.
        stream.write(json.dumps(record, default=_json_value, sort_keys=True) + "\n")

    return write


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not exported")
