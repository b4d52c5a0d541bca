"""The export package that answers one records request (docs/design.md, "Search and export
packages").

Four files, written into a temporary folder beside the destination, each flushed to disk,
and renamed into place only when all are complete (or zipped first, the zip renamed the same
way): a cancel, a full disk or a folder that cannot be written leaves nothing behind.

- `records.csv`: one row per comment, retained record, earlier version and log entry, for a
  spreadsheet; no cell can start a formula (`log_export.safe_cell`);
- `records.jsonl`: the same with every field, the platforms' raw payloads, and every log
  entry with all its hashed fields, so the package re-proves its entries and records on its
  own (`package_check`);
- `package.pdf`: for people (`package_pdf`): a section per comment, or, for a package of more
  than PDF_SECTIONS comments, one index line per comment (every comment named; their texts,
  records and entries are in the CSV and JSONL, which a reader of that many turns to anyway);
- `manifest.json`: the SHA-256 of each file, the query, the counts, the log's chain head and
  the number of entries up to it, who exported and when.

The data is read up to the chain head taken at the start, so the counts, the entries and the
head agree however busy the log is. The export is then logged against its request (kind
`request`, action `export`, subject `request:<id>`, the manifest's SHA-256 in `after`), in
the transaction that renames the package into place: there is no package without its entry.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import functools
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from _json import make_encoder
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from json.encoder import encode_basestring_ascii
from json.scanner import make_scanner
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, TypeVar

from sqlalchemy import (
    JSON,
    ClauseElement,
    Connection,
    Date,
    Dialect,
    Select,
    Text,
    cast,
    func,
    select,
    text,
    type_coerce,
)
from sqlalchemy.orm import Session

from hsm_console import __version__
from hsm_console.db.chain import append_entry, canonical_json, chain_head
from hsm_console.db.engine import Database
from hsm_console.db.id_lists import id_rows
from hsm_console.db.models import (
    Comment,
    CommentVersion,
    Department,
    DisposalCertificate,
    DisposedRecord,
    LogEntry,
    Post,
    RecordsRequest,
    RetainedRecord,
    Site,
    UTCDateTime,
)
from hsm_console.display import CITY_TZ, local_time
from hsm_console.errors import NotFound, NotPossible, PermissionDenied, UserError
from hsm_console.rules.domain import EntryKind, EntryState
from hsm_console.rules.records_query import PackageAction, RecordsQuery
from hsm_console.rules.seals import Seal
from hsm_console.services.access import require_records_officer
from hsm_console.services.collector import collector_paused
from hsm_console.services.log_export import FORMULA_STARTS
from hsm_console.services.records_search import Heads, RecordsSearch, SearchCounts, count_all
from hsm_console.services.seals import latest_seal

if TYPE_CHECKING:  # fpdf2 is a third of the window's start: imported when a package is made
    from hsm_console.services.package_pdf import PackagePdf

FORMAT = "hsm-records-package-v1"
CSV_FILE, JSONL_FILE, PDF_FILE, MANIFEST = (
    "records.csv", "records.jsonl", "package.pdf", "manifest.json",
)  # fmt: skip
BATCH = 1000  # comments read at a time: four queries each; more saves no time, costs memory
# The most comments whose PDF has a section each. Above, the PDF is an index, one line per
# comment: a section costs some 300 µs of CPU (14,000 pages for 100,000 comments), which the
# 20 s a 100,000 records target cannot pay (docs/design.md, "Search and export packages").
PDF_SECTIONS = 2000
WITHDRAWN = "withdrawn"
CSV_COLUMNS = (
    "type", "id", "comment_id", "department", "site", "platform", "at_utc", "at_chicago",
    "author_name", "author_id", "text", "kind", "action", "state", "reason_code", "actor",
    "note", "detail", "permalink", "sha256",
)  # fmt: skip


@dataclass(frozen=True)
class PackageProgress:
    done: int  # comments written
    total: int


@dataclass(frozen=True)
class PackageResult:
    path: Path
    request_id: int
    counts: SearchCounts
    manifest_sha256: str = ""
    entry_id: int | None = None  # the export's log entry
    cancelled: bool = False  # then nothing was written at `path`


@dataclass(frozen=True)
class RequestInfo:
    id: int
    requester: str  # untrusted, as given
    words: str
    received_at: datetime
    due_on: date  # the extended day, if it was extended
    state: str
    query: RecordsQuery  # its scope


class _Cancelled(Exception):
    """The person stopped the export; the temporary package is removed."""


def iso_utc(moment: datetime) -> str:
    """A time as the chain hashes it: UTC, microseconds (`db.chain.canonical`)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _open_new(path: Path) -> IO[bytes]:
    """Every byte of a package goes through here (the tests put a full disk in its place)."""
    return open(path, "xb")


class _HashedFile:
    """A new file of the package, hashed as it is written, flushed to disk when closed."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.stream = _open_new(path)
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray) -> None:
        self.stream.write(data)
        self.sha256.update(data)
        self.size += len(data)

    def close(self) -> None:
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.stream.close()

    def listed(self) -> dict[str, Any]:
        return {"sha256": self.sha256.hexdigest(), "bytes": self.size}


class PackageExporter:
    """Exports for one records officer; a session per call (thread-safe)."""

    def __init__(self, db: Database, username: str) -> None:
        self.db = db
        self.username = username
        self.search = RecordsSearch(db, username)  # refuses anyone not a records officer

    def request(self, request_id: int) -> RequestInfo:
        """The request as the officer exports it, with the search its scope holds."""
        with self.db.session() as session:
            request = self._request(session, request_id)
            return RequestInfo(
                request.id, request.requester, request.words, request.received_at,
                request.extended_to or request.due_on, request.state,
                RecordsQuery.from_json(request.scope),
            )  # fmt: skip

    def _request(self, session: Session, request_id: int) -> RecordsRequest:
        """The request, if it may be exported by this person now."""
        actor = self.search.officer(session)
        request = session.get(RecordsRequest, request_id)
        if request is None:
            raise NotFound(f"There is no records request {request_id}.")
        doing = f"export a package for records request {request_id}"
        if request.department_id is None:
            if actor.keeps_records is not None:
                raise PermissionDenied(
                    f"Records request {request_id} is for the whole City: its package is "
                    f"exported by the City Clerk's office, and {actor.describe()} keeps the "
                    "records of some departments only."
                )
        else:
            require_records_officer(actor, doing, request.department_id)
        if request.state == WITHDRAWN:
            raise NotPossible(
                f"Records request {request_id} was withdrawn: nothing is exported for it."
            )
        return request

    def export(
        self,
        request_id: int,
        out: Path,
        *,
        as_zip: bool = False,
        query: RecordsQuery | None = None,
        progress: Callable[[PackageProgress], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> PackageResult:
        """Write the package of the request (its scope, or `query`) at `out`, a new folder
        or, `as_zip`, a new .zip file; then log the export against the request."""
        out = Path(out)
        _check_destination(out)
        with self.db.session() as session:
            request = self._request(session, request_id)
            query = query or RecordsQuery.from_json(request.scope)
            heads = Heads.read(session)
            head_id, head_hash = chain_head(session)
            heads = Heads(head_id, heads.record, heads.version)
            found = self.search.matching(session, query)
            ids = list(session.scalars(found.order_by(Comment.id)))
            # The counts from the ids found, not the search run again (0.2 s of CPU of a
            # package of 100,000 comments on SQLite).
            counts = count_all(session, id_rows(ids, session.get_bind().dialect), heads)
            header = _Header(
                request=_request_json(session, request),
                query=query.to_json(),
                counts=counts.as_dict(),
                chain_head={
                    "id": head_id,
                    "entry_hash": head_hash,
                    "entries": session.scalar(select(func.count()).where(LogEntry.id <= head_id))
                    or 0,
                },
                exported_by=self.username,
                exported_at=iso_utc(datetime.now(UTC)),
                seal=_seal_json(latest_seal(session), head_id),
            )
        try:
            temporary = _temporary_folder(out)
        except OSError as exc:
            raise _plain(exc, out.parent) from exc
        final = temporary
        try:
            with self.db.session() as session:
                manifest = _write_package(
                    session, temporary, header, ids, heads, progress, cancelled
                )
            if as_zip:
                final = _zipped(temporary, out)
            return self._logged(request_id, out, final, manifest, counts, query, as_zip)
        except _Cancelled:
            return PackageResult(out, request_id, counts, cancelled=True)
        except OSError as exc:
            raise _plain(exc, out.parent) from exc
        finally:
            _remove(temporary)
            if final != temporary:
                _remove(final)

    def _logged(
        self,
        request_id: int,
        out: Path,
        final: Path,
        manifest: bytes,
        counts: SearchCounts,
        query: RecordsQuery,
        as_zip: bool,
    ) -> PackageResult:
        """The export's entry, and the package renamed into place before it commits."""
        digest = hashlib.sha256(manifest).hexdigest()
        placed = False
        try:
            with self.db.transaction() as session:
                request = self._request(session, request_id)  # not withdrawn meanwhile
                entry = append_entry(
                    session,
                    actor=self.username,
                    state=EntryState.APPLIED.value,  # the package is in place when this commits
                    action=PackageAction.EXPORT.value,
                    comment_id=None,
                    site_id=None,
                    department_id=request.department_id,
                    record_id=None,
                    record_sha256=None,
                    policy_version=None,
                    kind=EntryKind.REQUEST.value,
                    subject=f"request:{request_id}",
                    after=canonical_json(
                        {
                            "manifest_sha256": digest, "package": out.name,
                            "form": "zip" if as_zip else "folder", "counts": counts.as_dict(),
                            "query": query.to_json(),
                        }
                    ),
                )  # fmt: skip
                entry_id = entry.id
                os.rename(final, out)
                placed = True
                _sync_folder(out.parent)
        except BaseException:
            if placed:
                _remove(out)
            raise
        return PackageResult(out, request_id, counts, digest, entry_id)


@dataclass(frozen=True)
class _Header:
    request: dict[str, Any]
    query: dict[str, Any]
    counts: dict[str, int]
    chain_head: dict[str, Any]
    exported_by: str
    exported_at: str
    seal: dict[str, Any] | None  # the newest seal of the log up to the chain head


def _check_destination(out: Path) -> None:
    if out.exists() or out.is_symlink():
        raise UserError(
            f"{out} already exists: a package is never written over anything. Choose a new name."
        )
    if not out.parent.is_dir():
        raise UserError(f"There is no folder {out.parent} to write the package in.")


def _temporary_folder(out: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))


def _write_package(
    session: Session,
    folder: Path,
    header: _Header,
    ids: Sequence[int],
    heads: Heads,
    progress: Callable[[PackageProgress], None] | None,
    cancelled: Callable[[], bool],
) -> bytes:
    """The three files and the manifest in `folder`; returns the manifest's bytes."""
    pdf = _cover(header)
    files: list[_HashedFile] = []
    try:
        files += [_HashedFile(folder / name) for name in (CSV_FILE, JSONL_FILE)]
        csv_file, jsonl = files
        csv_file.write(_csv_text([list(CSV_COLUMNS)]).encode("utf-8"))
        json_lines: list[str] = []  # the batch's, written at once
        cells: list[list[str]] = []  # the batch's CSV rows
        if ids:
            pdf.new_page()  # the certification page stands alone
        draw = _section if len(ids) <= PDF_SECTIONS else _index_line
        if draw is _index_line:
            _index_heading(pdf)
        reader = _Reader(session, heads)
        batches = [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]
        # SQLite's rows are read in turn: its driver lets go of the GIL around each row's
        # step only, so a reading thread traded the GIL with this one at every row, which
        # cost more than the overlap saved (`_read_ahead`).
        reading = _read_in_turn if reader.connection.dialect.name == "sqlite" else _read_ahead
        done = 0
        with collector_paused(), contextlib.closing(reading(reader.fetch, batches)) as read:
            for fetched in read:
                for item in reader.items(fetched):
                    if cancelled():
                        raise _Cancelled
                    json_lines.extend(map(_json, item.lines()))
                    cells += item.cells
                    draw(pdf, item)
                if json_lines:
                    json_lines.append("")  # each line ends with a newline
                    jsonl.write("\n".join(json_lines).encode("utf-8"))
                    json_lines.clear()
                csv_file.write(_csv_text(cells).encode("utf-8"))
                cells.clear()
                done += len(fetched.comments)
                if progress is not None:
                    progress(PackageProgress(done, len(ids)))
        if cancelled():
            raise _Cancelled
        document = _HashedFile(folder / PDF_FILE)
        files.append(document)
        document.write(pdf.output())
    except BaseException:
        pdf.close()
        for file in files:  # the folder goes; its files need no flushing
            with contextlib.suppress(OSError):
                file.stream.close()
        raise
    for file in files:
        file.close()
    manifest = {
        "format": FORMAT,
        "request": header.request,
        "query": header.query,
        "counts": header.counts,
        "chain_head": header.chain_head,
        "seal": header.seal,
        "files": {file.name: file.listed() for file in files},
        "exported_by": header.exported_by,
        "exported_at": header.exported_at,
        "program": f"HSM Console {__version__}",
    }
    data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    written = _HashedFile(folder / MANIFEST)
    written.write(data)
    written.close()
    _sync_folder(folder)
    return data


@dataclass
class _Item:
    """One comment and everything of it, as read for the package, with its CSV rows."""

    comment: dict[str, Any]
    shared: list[str]  # the CSV cells every row of the comment repeats, made safe once
    records: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    entries: list[dict[str, Any]]
    cells: list[list[str]]  # the CSV rows of `lines()`, in its order

    def lines(self) -> list[dict[str, Any]]:
        return [self.comment, *self.records, *self.versions, *self.entries]


IDS = "__batch_ids__"  # where a table's compiled query takes each batch's comment ids
# The time of each kind of line the CSV shows; the cells after it, by the keys a line has:
# the first of each pair it holds (it holds one of the two, or neither: the cell is empty). All
# are text columns (str or None), so a cell is made safe without `str` (`_cell`).
_AT = {"comment": "created_at", "record": "captured_at", "version": "replaced_seen_at",
       "entry": "at"}  # fmt: skip
_CSV_TEXTS = (
    ("author_name",), ("author_id",), ("text",), ("kind",), ("action",), ("state", "status"),
    ("reason_code",), ("actor", "captured_by"), ("note",), ("detail",), ("permalink",),
    ("entry_hash", "sha256"),
)  # fmt: skip
_FORMULA = frozenset(FORMULA_STARTS)  # of one character each, so one set look-up


def _cell(value: Any) -> str:
    """A CSV cell as `log_export.safe_cell` makes it (None empty, as `csv` writes it)."""
    if value is None:
        return ""
    cell = str(value)
    return "'" + cell if cell[:1] in _FORMULA else cell


def _csv_text(rows: Sequence[list[str]]) -> str:
    """The rows (of text cells) as `csv.writer` writes them, which was a sixth of the export's
    CPU (it scans every character). A row none of whose cells holds a comma, a quote or a line
    break, and that is not one cell, is its cells joined, as `csv` quotes none of them: the
    counts of commas, quotes and line ends over the batch's text prove it of every row at
    once, or, failing that, of each row; any other row is written by `csv` itself."""
    lines = list(map(",".join, rows))
    text = "\r\n".join([*lines, ""])
    count = len(rows)
    if (
        text.count(",") == sum(map(len, rows)) - count
        and '"' not in text
        and text.count("\r") == count
        and text.count("\n") == count
        and all(len(row) > 1 for row in rows)
    ):
        return text
    buffer = io.StringIO()
    table = csv.writer(buffer)
    for row, line in zip(rows, lines, strict=True):
        if (
            len(row) > 1
            and line.count(",") == len(row) - 1
            and '"' not in line
            and "\r" not in line
            and "\n" not in line
        ):
            buffer.write(line + "\r\n")
        else:
            table.writerow(row)
    return buffer.getvalue()


class _Table:
    """One table's rows for the package, through the driver: its query compiled once (each
    batch's ids put where IDS stands: integers of the search's own answer), its rows as
    plain tuples, and only the columns that need it converted, as SQLAlchemy's types would
    (times to `iso_utc`'s text, days to ISO, SQLite's booleans and JSON)."""

    def __init__(self, kind: str, query: Select[Any], connection: Connection) -> None:
        self.kind = kind
        self.connection = connection
        self.sql = _compiled(query, connection)
        columns = list(query.selected_columns)
        self.keys = ("type", *(column.name for column in columns))  # the line's key order
        dialect = connection.dialect
        self.converters = [
            (index, convert)
            for index, column in enumerate(columns, start=1)
            if (convert := _converter(column.type, dialect)) is not None
        ]
        # Each row read is [kind, *columns, None]: a key the line lacks picks that None.
        at = {key: index for index, key in enumerate(self.keys)}
        missing = len(self.keys)
        self.id_at = at["id"]
        self.at_at = at[_AT[kind]]
        self.texts = itemgetter(
            *(next((at[key] for key in keys if key in at), missing) for keys in _CSV_TEXTS)
        )

    def fetch(self, ids: Sequence[int]) -> Sequence[Any]:
        return _run(self.sql, self.connection, ids)

    def rows(self, fetched: Sequence[Any]) -> Iterator[list[Any]]:
        converters = self.converters
        for row in fetched:
            values = [self.kind, *row, None]
            for index, convert in converters:
                if (value := values[index]) is not None:
                    values[index] = convert(value)
            yield values

    def line(self, values: list[Any]) -> dict[str, Any]:
        return dict(zip(self.keys, values))  # noqa: B905 (the last value is the None picked)

    def csv_row(self, values: list[Any], shared: list[str]) -> list[str]:
        at = values[self.at_at]
        return [
            self.kind, str(values[self.id_at]), *shared, at, _local(at),
            *["" if cell is None else cell if cell[:1] not in _FORMULA else "'" + cell
              for cell in self.texts(values)],
        ]  # fmt: skip


def _converter(kind: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """What turns the driver's value of a column of type `kind` into the JSON's."""
    process: Callable[[Any], Any] | None = kind.dialect_impl(dialect).result_processor(
        dialect, None
    )
    if isinstance(kind, UTCDateTime):  # SQLite's (PostgreSQL's are read as text: `_exported`)
        assert process is not None  # UTCDateTime's own, at least
        return functools.partial(_sqlite_time, process)
    if isinstance(kind, Date):
        return lambda value: (process(value) if process else value).isoformat()
    if isinstance(kind, JSON):  # PostgreSQL's are read as text (`_exported`)
        return _json_value(process or json.loads)
    return process


def _sqlite_time(process: Callable[[Any], datetime], stored: str) -> str:
    """A UTC time as SQLAlchemy stores it in SQLite ('YYYY-MM-DD HH:MM:SS.ffffff') made
    `iso_utc`'s text by moving characters; any other form read by SQLAlchemy's own type."""
    if len(stored) == 26 and stored[10] == " ":
        return f"{stored[:10]}T{stored[11:]}+00:00"
    return iso_utc(process(stored))


# `iso_utc`'s text, as PostgreSQL writes it for a time (no datetime object made per value).
_PG_ISO_UTC = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'


def _exported(table: Any, dialect: Dialect) -> list[Any]:
    """A table's columns as the package holds them: not the search index's words, which the
    program derives from the text (rules/search_words.py) and are no record of the City's.
    PostgreSQL writes each time as `iso_utc`'s text itself, and gives JSON as its text
    (`_json_value` reads it faster than psycopg)."""
    return [_column(column, dialect, column.name) for column in table.columns
            if column.name != "search_words"]  # fmt: skip


def _column(column: Any, dialect: Dialect, name: str) -> Any:
    """A column as the package reads it (`_exported`), labelled `name`."""
    if dialect.name == "postgresql" and isinstance(column.type, UTCDateTime):
        return func.to_char(func.timezone("UTC", column), _PG_ISO_UTC).label(name)
    if dialect.name == "postgresql" and isinstance(column.type, JSON):
        return type_coerce(cast(column, Text), column.type).label(name)  # `_converter` reads it
    return column.label(name) if name != column.name else column


class _Reader:
    """The package's comments a batch at a time: one query per table, by comment id."""

    def __init__(self, session: Session, heads: Heads) -> None:
        connection = session.connection()
        self.connection = connection
        comments = (
            select(
                *_exported(Comment.__table__, connection.dialect), Site.name.label("site_name"),
                Site.platform.label("platform"),
                Department.code.label("department"), Post.external_id.label("post_external_id"),
                Post.text.label("post_text"), Post.permalink.label("post_permalink"),
                _column(Post.raw, connection.dialect, "post_raw"),
            )
            .join(Site, Site.id == Comment.site_id)
            .join(Department, Department.id == Site.department_id)
            .join(Post, Post.id == Comment.post_id)
            .where(_in_batch(Comment.__table__.c.id, connection))
            .order_by(Comment.id)
        )  # fmt: skip
        self.comments = _Table("comment", comments, connection)
        self.held = [
            (_Table(kind, _held(table, extra, connection), connection), held)
            for kind, held, table, extra in (
                ("record", "records", RetainedRecord.__table__,
                 RetainedRecord.id <= heads.record),
                ("version", "versions", CommentVersion.__table__,
                 CommentVersion.id <= heads.version),
                ("entry", "entries", LogEntry.__table__, LogEntry.id <= heads.entry),
            )
        ]  # fmt: skip
        disposed = (
            select(DisposedRecord.record_id, DisposedRecord.entry_id, DisposalCertificate.number)
            .join(DisposalCertificate, DisposalCertificate.id == DisposedRecord.certificate_id)
            .where(_in_batch(DisposedRecord.__table__.c.record_id, connection))
        )
        self.disposed = _compiled(disposed, connection)

    def fetch(self, ids: Sequence[int]) -> _Fetched:
        """A batch's rows, as the driver gives them: the reader's only use of the connection
        (`_read_ahead` calls it on its thread on PostgreSQL)."""
        held = [table.fetch(ids) for table, _ in self.held]
        records, _ = self.held[0]  # `held` lists the records first (`__init__`)
        record_ids = [row[records.id_at - 1] for row in held[0]]  # `rows` puts the kind first
        disposed = _run(self.disposed, self.connection, record_ids) if record_ids else []
        return _Fetched(self.comments.fetch(ids), held, disposed)

    def items(self, fetched: _Fetched) -> Iterator[_Item]:
        by_comment: dict[int, _Item] = {}
        comments = self.comments
        for values in comments.rows(fetched.comments):
            comment = comments.line(values)
            shared = [
                str(comment["id"]), *map(_cell, (
                    comment["department"], comment["site_name"], comment["platform"],
                )),
            ]  # fmt: skip
            item = _Item(comment, shared, [], [], [], [])
            item.cells.append(comments.csv_row(values, shared))
            by_comment[comment["id"]] = item
        for (table, held), rows in zip(self.held, fetched.held, strict=True):
            line_of, csv_row, lines_of = table.line, table.csv_row, attrgetter(held)
            for values in table.rows(rows):
                line = line_of(values)
                item = by_comment[line["comment_id"]]
                lines_of(item).append(line)
                item.cells.append(csv_row(values, item.shared))
        if fetched.disposed:  # a record disposed of under a certificate: blank, its hash kept
            records = {line["id"]: line for item in by_comment.values() for line in item.records}
            for record_id, entry_id, number in fetched.disposed:
                records[record_id]["disposed"] = {"entry_id": entry_id, "certificate": number}
        yield from by_comment.values()


class _Fetched(NamedTuple):
    comments: Sequence[Any]
    held: list[Sequence[Any]]  # in `_Reader.held`'s order
    disposed: Sequence[Any]  # (record id, entry id, certificate number)


_T = TypeVar("_T")


def _read_in_turn(
    fetch: Callable[[Sequence[int]], _T], batches: Sequence[Sequence[int]]
) -> Generator[_T, None, None]:
    """Each batch's rows, read when the caller asks for them."""
    for batch in batches:
        yield fetch(batch)


def _read_ahead(
    fetch: Callable[[Sequence[int]], _T], batches: Sequence[Sequence[int]]
) -> Generator[_T, None, None]:
    """Each batch's rows in turn, the next one read on a thread while the caller writes this
    one: the database's work, in PostgreSQL's server, overlaps the Python that writes the
    package. One read at a time uses the connection, and none once this generator is closed
    (it waits for the read under way)."""
    if not batches:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="package-read") as pool:
        pending = pool.submit(fetch, batches[0])
        for following in batches[1:]:
            fetched = pending.result()
            pending = pool.submit(fetch, following)
            yield fetched
        yield pending.result()


def _in_batch(column: Any, connection: Connection) -> Any:
    return text(f"{column.compile(connection)} IN ({IDS})")


def _compiled(query: ClauseElement, connection: Connection) -> str:
    """The driver's SQL of a query whose condition has an `_in_batch`, compiled once (an IN
    list of a thousand bound ids costs SQLAlchemy some milliseconds a query to expand)."""
    return str(query.compile(connection, compile_kwargs={"literal_binds": True}))


def _run(sql: str, connection: Connection, ids: Iterable[int]) -> Sequence[Any]:
    """The rows of `_compiled` SQL for these ids (integers, put into its IN list)."""
    return connection.exec_driver_sql(sql.replace(IDS, ",".join(map(str, map(int, ids))))).all()


def _held(table: Any, extra: Any, connection: Connection) -> Select[Any]:
    """A table's rows of the batch's comments, each comment's in id order (as the package
    holds them): in its comment_id index's order, so SQLite sorts nothing."""
    return (
        select(*_exported(table, connection.dialect))
        .where(_in_batch(table.c.comment_id, connection), extra)
        .order_by(table.c.comment_id, table.c.id)
    )


# `json.dumps(line, allow_nan=False)`: ASCII escapes (any character survives), key order kept
# (the record hash needs it). The C encoder is made once: `JSONEncoder.encode` makes a new one
# per call, a fifth of a line's time. No check for cycles: rows read from a database hold none.
_encoder = make_encoder(
    None, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ", False, False,
    False,
)  # fmt: skip


def _json(line: dict[str, Any]) -> str:
    return "".join(_encoder(line, 0))


# `json.loads`'s own scanner (C), called straight: the parse of a JSON column's text by
# SQLAlchemy or psycopg goes through five Python calls, which cost four times the parse.
_scan = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # (typeshed: any decoder)


def _json_value(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON column's text read as `process` (`json.loads`, or SQLAlchemy's) reads it: text
    that is one JSON value from its first character to its last is that value; anything else
    (spaces around it, a number SQLite stored as one, an error to raise) goes to `process`."""

    def convert(value: Any) -> Any:
        if value.__class__ is str:
            try:
                found, end = _scan(value, 0)
            except StopIteration:  # not a value at the first character
                return process(value)
            if end == len(value):
                return found
        return process(value)

    return convert


def _local(at: str) -> str:
    """A stored time (`iso_utc`) in the City's time, as `display.local_time` writes it: the
    City's hour and zone looked up once per UTC hour (its clocks change on the hour, by whole
    hours), the minutes and seconds kept, as `strftime` on a million times costs seconds."""
    hour, zone = _city_hour(at[:13])
    if hour is None:  # an offset of minutes (none since 1883)
        offset, zone = _zone_in_hour(at[:13])
        return f"{(datetime.fromisoformat(at[:19]) + offset).isoformat(' ')} {zone}"
    return f"{hour}{at[13:19]} {zone}"


@functools.lru_cache(maxsize=65536)
def _city_hour(hour: str) -> tuple[str | None, str]:
    """The City's 'YYYY-MM-DD HH' and zone name in the UTC hour `hour` ('YYYY-MM-DDTHH'),
    None for the hour if the offset is not whole hours."""
    offset, zone = _zone_in_hour(hour)
    if offset % timedelta(hours=1):
        return None, zone
    return (datetime.fromisoformat(f"{hour}:00:00") + offset).isoformat(" ")[:13], zone


@functools.lru_cache(maxsize=65536)
def _zone_in_hour(hour: str) -> tuple[timedelta, str]:
    """The City's UTC offset and zone name in the UTC hour `hour` ('YYYY-MM-DDTHH')."""
    local = datetime.fromisoformat(f"{hour}:00:00+00:00").astimezone(CITY_TZ)
    return local.utcoffset() or timedelta(0), local.tzname() or ""


def _request_json(session: Session, request: RecordsRequest) -> dict[str, Any]:
    department = session.get(Department, request.department_id) if request.department_id else None
    return {
        "id": request.id, "received_at": iso_utc(request.received_at),
        "requester": request.requester, "words": request.words,
        "due_on": request.due_on.isoformat(),
        "extended_to": request.extended_to.isoformat() if request.extended_to else None,
        "state": request.state, "handler": request.handler,
        "department": department.code if department else None,
    }  # fmt: skip


# --- the PDF ------------------------------------------------------------------------------


def _cover(header: _Header) -> PackagePdf:
    from hsm_console.services.package_pdf import Line, PackagePdf

    request = header.request
    pdf = PackagePdf(f"Records request {request['id']}")
    pdf.new_page()
    pdf.heading("City of Highland — public records request package", 15)
    when = local_time(datetime.fromisoformat(request["received_at"]))
    due = request["extended_to"] or request["due_on"]
    pdf.lines([
        Line(f"Request {request['id']}, received {when}; due {due}; state {request['state']}."),
        Line(f"Department: {request['department'] or 'the whole City'}. Handled by: "
             f"{request['handler'] or '(not named)'}."),
        Line("Requester, as given:", bold=True),
    ])  # fmt: skip
    pdf.paragraph(request["requester"], indent=12)
    pdf.lines([Line("The request, as written:", bold=True)])
    pdf.paragraph(request["words"], indent=12)
    pdf.heading("The search that produced this package")
    pdf.lines([Line(pdf.shown(line), indent=12) for line in _query_lines(header.query)])
    pdf.heading("What it holds")
    counts = header.counts
    pdf.lines([
        Line(f"{counts['comments']} comments, {counts['retained_records']} retained records "
             f"(each comment as it stood when acted on), {counts['versions']} earlier versions "
             f"(text its author replaced), {counts['log_entries']} log entries (of which "
             f"{counts['reviews']} reviews and {counts['notes']} notes)."),
        Line(f"The action log as it stood: {header.chain_head['entries']} entries, the newest "
             f"#{header.chain_head['id']} with SHA-256 {header.chain_head['entry_hash']}."),
        Line(f"Exported by {header.exported_by} on "
             f"{local_time(datetime.fromisoformat(header.exported_at))}."),
        Line(_seal_words(header.seal)),
    ])  # fmt: skip
    pdf.heading("The files")
    pdf.lines([
        Line(f"{PDF_FILE}: this document, for people; times in America/Chicago. "
             + (f"It lists the {counts['comments']} comments one line each (more than "
                f"{PDF_SECTIONS}): their texts, records and entries are in {CSV_FILE} and "
                f"{JSONL_FILE}." if counts["comments"] > PDF_SECTIONS else
                "A section per comment: its text, earlier texts, records and log entries.")),
        Line(f"{CSV_FILE}: one row per comment, record, version and log entry, for a "
             "spreadsheet (a cell that would start a formula begins with an apostrophe)."),
        Line(f"{JSONL_FILE}: every field exactly, with the platforms' raw payloads and each "
             "log entry's hashed fields."),
        Line(f"{MANIFEST}: the SHA-256 of every file, the search, the counts and the chain "
             "head. Anyone can re-check the package: hsm-console verify-package FOLDER."),
        Line("Characters that cannot be printed (control characters, direction overrides) "
             "or that this document's font has no letter for are shown here as \\u codes; "
             f"very long texts are cut here. {JSONL_FILE} holds every text exactly."),
    ])  # fmt: skip
    _certification(pdf, header)
    return pdf


def _certification(pdf: PackagePdf, header: _Header) -> None:
    from hsm_console.services.package_pdf import Line

    pdf.new_page()
    pdf.heading("Certification of records", 15)
    pdf.lines([
        Line("I certify that the records in this package are true and complete copies of the "
             "public records the City of Highland keeps in HSM Console that answer records "
             f"request {header.request['id']} under the search stated on the cover page, as "
             f"they stood at action log entry #{header.chain_head['id']}, and that the files "
             f"of the package are those whose SHA-256 {MANIFEST} lists."),
    ])  # fmt: skip
    pdf.space(3 * 11.5)
    for label in ("Signature", "Name", "Title", "Date"):
        pdf.lines([Line(f"{label}: " + "_" * 60)])
        pdf.space(2 * 11.5)


def _seal_json(seal: Seal | None, head_id: int) -> dict[str, Any] | None:
    """The newest seal within the exported chain, as a seal file names it."""
    if seal is None or seal.seal_entry_id is None or seal.seal_entry_id > head_id:
        return None
    return {**seal.body(), "sealed_by": seal.sealed_by, "seal_entry_id": seal.seal_entry_id,
            "seal_entry_hash": seal.seal_entry_hash}  # fmt: skip


def _seal_words(seal: dict[str, Any] | None) -> str:
    if seal is None:
        return "The log had not been sealed yet."
    return (
        f"The log's newest seal (entry #{seal['seal_entry_id']}, by {seal['sealed_by']}, "
        f"{_local(seal['sealed_at'])}) sealed entry #{seal['entry_id']} with SHA-256 "
        f"{seal['entry_hash']}."
    )


def _query_lines(query: dict[str, Any]) -> list[str]:
    if not query:
        return ["Everything in the departments the records officer keeps (no filter)."]
    return [f"{name}: {json.dumps(value, ensure_ascii=False)}" for name, value in query.items()]


def _when(text: str | None) -> str:
    return _local(text) if text else "(not known)"


def _section(pdf: PackagePdf, item: _Item) -> None:
    """One comment, compactly: a package may hold a hundred thousand, and every character
    costs (the hashes and the post are in the CSV and JSONL)."""
    from hsm_console.services.package_pdf import Line

    comment = item.comment
    where = f"{comment['site_name']} ({comment['platform']}), {comment['department']}"
    pdf.heading(pdf.shown(f"Comment {comment['id']} — {where}"), 10.5)
    pdf.lines([
        Line(pdf.shown(f"By {comment['author_name']} ({comment['author_id']}), posted "
                       f"{_when(comment['created_at'])}; now {comment['status']} here, "
                       f"{comment['platform_state']} on the platform.")),
        Line(pdf.shown(comment["permalink"])),
    ])  # fmt: skip
    pdf.paragraph(comment["text"], indent=12)
    for version in item.versions:
        pdf.lines([Line(f"Earlier text, replaced {_when(version['edited_at'])} (seen "
                        f"{_when(version['replaced_seen_at'])}):", bold=True)])  # fmt: skip
        pdf.paragraph(version["text"], indent=12)
    for record in item.records:
        if (disposed := record.get("disposed")) is not None:
            pdf.lines(
                [
                    Line(
                        f"Retained record {record['id']}: disposed of under certificate "
                        f"{pdf.shown(disposed['certificate'])} (log entry "
                        f"#{disposed['entry_id']}); its SHA-256 is kept.",
                        bold=True,
                    )
                ]
            )
            continue
        pdf.lines([Line(pdf.shown(f"Retained record {record['id']}: captured "
                                  f"{_when(record['captured_at'])} by {record['captured_by']}"
                                  + ("; its text then:" if record["text"] != comment["text"]
                                     else ", text as above.")), bold=True)])  # fmt: skip
        if record["text"] != comment["text"]:
            pdf.paragraph(record["text"], indent=12)
    for entry in item.entries:
        what = " ".join(
            part for part in (
                _when(entry["at"]), entry["action"] if entry["kind"] == "action"
                else f"{entry['kind']} {entry['action']}", entry["state"],
                entry["reason_code"] or "", f"by {entry['actor']}", f"(#{entry['id']}"
                + (f", of #{entry['outcome_of']})" if entry["outcome_of"] else ")"),
            ) if part
        )  # fmt: skip
        pdf.lines([Line(pdf.shown(what), indent=12)])
        for words in (entry["note"], entry["detail"]):
            if words:
                pdf.paragraph(words, indent=24)
    pdf.rule()


def _index_heading(pdf: PackagePdf) -> None:
    from hsm_console.services.package_pdf import Line

    pdf.new_page()
    pdf.heading("The comments, one line each", 15)
    pdf.lines([
        Line(f"More than {PDF_SECTIONS} comments: each is named here by its id, posting time, "
             f"department, site, author and status, with how many retained records, earlier "
             f"texts and log entries it has (records/texts/entries). Every field of each is in "
             f"{CSV_FILE} (by comment id) and {JSONL_FILE}."),
    ])  # fmt: skip
    pdf.space()


def _index_line(pdf: PackagePdf, item: _Item) -> None:
    """One comment of a large package, on one line (names cut so that it mostly fits)."""
    c = item.comment
    pdf.line(pdf.shown(
        f"{c['id']}  {_when(c['created_at'])}  {c['department']}  {c['site_name'][:24]}  "
        f"{c['author_name'][:20]}  {c['status']}  "
        f"{len(item.records)}/{len(item.versions)}/{len(item.entries)}"
    ))  # fmt: skip


# --- files --------------------------------------------------------------------------------


def _zipped(folder: Path, out: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{out.name}.partial-", suffix=".zip", dir=out.parent)
    target = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
                for name_in in (CSV_FILE, JSONL_FILE, PDF_FILE, MANIFEST):
                    archive.write(folder / name_in, name_in)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        _remove(target)
        raise
    return target


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX; Windows has no directory handle for it)."""
    if os.name != "posix":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _plain(exc: OSError, folder: Path) -> UserError:
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        words = (
            f"The disk holding {folder} is full: the package was not written, and nothing of "
            "it was left there. Free some space or choose another folder."
        )
    else:
        words = (
            f"The package could not be written in {folder}: {exc.strerror or exc}. Nothing of "
            "it was left there. Choose a folder you may write in."
        )
    return UserError(words, details=f"{type(exc).__name__}: {exc}")


__all__ = [
    "CSV_COLUMNS",
    "CSV_FILE",
    "FORMAT",
    "JSONL_FILE",
    "MANIFEST",
    "PDF_FILE",
    "PackageExporter",
    "PackageProgress",
    "PackageResult",
    "RequestInfo",
    "iso_utc",
]
