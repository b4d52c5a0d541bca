"""The export package of a records request and `verify_package`, on SQLite and PostgreSQL:
its four files, hostile text through each, cancel, faults on disk, and alterations named."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from hsm_console.db.models import Comment, LogEntry
from hsm_console.display import local_time
from hsm_console.errors import NotFound, NotPossible, PermissionDenied, UserError
from hsm_console.rules.records_query import RecordsQuery
from hsm_console.services import records_package
from hsm_console.services.log_export import FORMULA_STARTS
from hsm_console.services.package_check import verify_package
from hsm_console.services.package_pdf import PDF_TEXT_CHARS, PackagePdf
from hsm_console.services.records_package import (
    CSV_COLUMNS,
    CSV_FILE,
    JSONL_FILE,
    MANIFEST,
    PDF_FILE,
    PackageExporter,
    PackageProgress,
)
from hsm_console.services.records_search import RecordsSearch
from hsm_console.services.seals import SealService
from hsm_console.services.verify import verify_log
from tests.conftest import World
from tests.records_fixtures import EARLIER, HOSTILE, MEGABYTE, Records, build_records
from tests.test_retention import certify, officers
from tests.test_retention import service as retention_service

FILES = {CSV_FILE, JSONL_FILE, PDF_FILE, MANIFEST}


@pytest.fixture
def records(world: World) -> Records:
    return build_records(world)


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    """A folder of its own: the test's SQLite database is beside it."""
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def _export_entries(records: Records) -> list[LogEntry]:
    with records.world.db.session() as session:
        return list(
            session.scalars(
                select(LogEntry).where(LogEntry.kind == "request").order_by(LogEntry.id)
            )
        )


def _lines(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / JSONL_FILE).read_text("utf-8").splitlines()]


def test_the_package_holds_four_files_proved_by_its_manifest(
    records: Records, exports: Path
) -> None:
    out = exports / "request-1"
    seen: list[PackageProgress] = []
    result = PackageExporter(records.world.db, "rita").export(
        records.parks_request, out, progress=seen.append
    )
    assert {p.name for p in out.iterdir()} == FILES
    assert [p.name for p in exports.iterdir()] == ["request-1"]  # no temporary left
    assert seen[-1].done == seen[-1].total == result.counts.comments
    manifest = json.loads((out / MANIFEST).read_text("utf-8"))
    for name in FILES - {MANIFEST}:
        data = (out / name).read_bytes()
        assert manifest["files"][name] == {
            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
        }  # fmt: skip
    assert manifest["query"] == {"departments": ["PARKS"]}
    assert manifest["request"]["requester"] == "Jo Requester <jo@example.test>"
    assert manifest["counts"] == result.counts.as_dict()
    assert manifest["counts"]["reviews"] == manifest["counts"]["notes"] == 1
    assert manifest["exported_by"] == "rita"
    with records.world.db.session() as session:
        head = session.scalars(select(LogEntry).order_by(LogEntry.id.desc())).first()
    assert head is not None
    # The head as it stood before the export's own entry, which is the newest now.
    assert manifest["chain_head"]["id"] == head.id - 1 == manifest["chain_head"]["entries"]

    lines = _lines(out)
    kinds = [line["type"] for line in lines]
    assert kinds.count("comment") == manifest["counts"]["comments"]
    assert kinds.count("entry") == manifest["counts"]["log_entries"]
    comments = {line["id"]: line for line in lines if line["type"] == "comment"}
    assert comments[records.hidden]["raw"]["message"] == comments[records.hidden]["text"]
    assert {line["department"] for line in comments.values()} == {"PARKS"}
    assert records.police not in comments
    assert [line["text"] for line in lines if line["type"] == "version"] == [EARLIER]
    entry = next(line for line in lines if line["type"] == "entry")
    assert {"prev_hash", "entry_hash", "record_sha256", "kind", "refers_to"} <= set(entry)

    check = verify_package(out)
    assert check.ok, check.problems
    assert check.entries == manifest["counts"]["log_entries"]

    (logged,) = _export_entries(records)
    assert (logged.action, logged.subject, logged.actor) == (
        "export", f"request:{records.parks_request}", "rita",
    )  # fmt: skip
    after = json.loads(logged.after or "")
    assert after["manifest_sha256"] == hashlib.sha256((out / MANIFEST).read_bytes()).hexdigest()
    assert after["manifest_sha256"] == result.manifest_sha256
    assert logged.id == result.entry_id
    assert verify_log(records.world.db).ok  # the export's entry is in the one chain


def test_hostile_text_survives_csv_jsonl_and_pdf(world: World, exports: Path) -> None:
    # NUL too where the database can hold it: PostgreSQL refuses it in text, so no comment
    # there ever has one.
    records = build_records(world, HOSTILE + (" nul\x00byte" if world.db.is_sqlite else ""))
    out = exports / "package"
    PackageExporter(records.world.db, "rita").export(records.parks_request, out)
    csv.field_size_limit(2**31 - 1)  # a cell of a megabyte
    with (out / CSV_FILE).open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    assert all(not cell.startswith(FORMULA_STARTS) for row in rows for cell in row)
    assert any(cell.startswith("'=HYPERLINK(") for row in rows for cell in row)
    assert any(cell == "'-1 =cmd|' /C calc'!A0" for row in rows for cell in row)

    with records.world.db.session() as session:
        stored = session.get(Comment, records.hostile)
        assert stored is not None
        original = stored.text
    assert len(original) > MEGABYTE - 200
    jsonl = _lines(out)
    hostile = next(ln for ln in jsonl if ln["type"] == "comment" and ln["id"] == records.hostile)
    assert hostile["text"] == original  # every character, exactly
    assert ("nul\x00byte" in original) is world.db.is_sqlite
    assert any(cell == "'" + original for row in rows for cell in row)  # the CSV's, whole
    assert (out / JSONL_FILE).read_bytes().isascii()

    reader = PdfReader(out / PDF_FILE)
    assert len(reader.pages) < 40  # a megabyte is cut, not laid out over hundreds of pages
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "<script>alert(1)</script>" in text  # shown as the words it is
    assert "\\u202eevil\\u202c" in text  # the override made visible, not obeyed
    assert "\\x1b[31mred" in text
    assert "\u202e" not in text
    assert "more characters: the whole text is in records.jsonl" in text
    assert "Certification of records" in text
    assert "Jo Requester <jo@example.test>" in text
    assert "America/Chicago" in text
    assert "CST" in text or "CDT" in text


def test_a_large_package_lists_every_comment_in_the_pdf_and_still_verifies(
    records: Records, exports: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above PDF_SECTIONS comments the PDF is an index, a line each; nothing is dropped."""
    monkeypatch.setattr(records_package, "PDF_SECTIONS", 1)
    out = exports / "package"
    result = PackageExporter(records.world.db, "clerk").export(
        records.city_request, out, query=RecordsQuery()
    )
    check = verify_package(out)
    assert check.ok, check.problems
    comments = {ln["id"] for ln in _lines(out) if ln["type"] == "comment"}
    assert len(comments) == result.counts.comments > 1
    reader = PdfReader(out / PDF_FILE)
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "The comments, one line each" in text
    assert f"It lists the {result.counts.comments} comments one line each" in " ".join(text.split())
    starts = {words[0] for words in map(str.split, text.splitlines()) if words}
    assert {str(comment) for comment in comments} <= starts  # every comment named
    hidden = next(line for line in text.splitlines() if line.startswith(f"{records.hidden} "))
    assert " ".join(hidden.split()).endswith("hidden 1/1/4")  # record, earlier text, entries
    assert "=Evil <b>Author" in text  # a hostile author name as the words it is
    assert "<script>" not in text  # texts are in the CSV and JSONL, not the index


def test_the_city_time_of_each_row_is_the_displays_across_clock_changes() -> None:
    start = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 2 AM CST becomes 3 AM CDT at 08:00
    for moments in (start, datetime(2026, 11, 1, 5, 0, tzinfo=UTC)):  # and back at 07:00
        for minutes in range(0, 4 * 60, 13):
            moment = moments + timedelta(minutes=minutes, seconds=minutes % 60, microseconds=7)
            at = records_package.iso_utc(moment)
            assert records_package._local(at) == local_time(moment)


@pytest.mark.parametrize(
    "stored",
    ['{"id": "c-1", "n": [1, 2.5, -0, 1e400, true, null]}', ' {"a": 1} ', '"\\ud800 x"',
     '{"a": 1, "a": 2}', "12", 7, 2.5, None],
)  # fmt: skip
def test_a_json_column_is_read_as_json_loads_reads_it(stored: Any) -> None:
    def loads(value: Any) -> Any:  # as SQLAlchemy's for SQLite: a number stored as one is kept
        return json.loads(value) if isinstance(value, str) else value

    read = records_package._json_value(loads)(stored)
    assert repr(read) == repr(loads(stored))  # the same types and values


@pytest.mark.parametrize("stored", ["", " ", "{", '{"a": 1} x', "NaN x", "[1,]"])
def test_a_json_column_that_is_not_json_fails_as_json_loads_does(stored: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(stored)
    with pytest.raises(json.JSONDecodeError) as raised:
        records_package._json_value(json.loads)(stored)
    assert str(raised.value) == str(expected.value)


@pytest.mark.parametrize(
    ("cell", "quoted"),
    [("a,b", True), ('say "hi"', True), ("two\nlines", True), ("a\r\nb", True),
     ("lone\rreturn", True), ("'=1+2", False), ("", False), ("nul\x00 é 中 \u2028", False)],
)  # fmt: skip
def test_the_csv_of_a_batch_is_what_csv_writes(
    cell: str, quoted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row is its cells joined unless one needs quoting, or it is one cell; either way the
    text is `csv.writer`'s, and `csv` writes only the rows that need it."""
    plain = [["comment", "7", "PARKS", "Parks on Facebook", "", "x y z"], ["entry"] + [""] * 5]
    odd = [cell, "1", "2", "3", "4", "5"]

    writer = csv.writer

    def written(rows: list[list[str]]) -> str:
        buffer = io.StringIO()
        writer(buffer).writerows(rows)
        return buffer.getvalue()

    by_csv: list[list[str]] = []
    monkeypatch.setattr(records_package.csv, "writer", lambda out: _Rows(writer(out), by_csv))
    assert records_package._csv_text(plain) == written(plain)
    assert by_csv == []
    batch = [*plain, odd, *plain]
    assert records_package._csv_text(batch) == written(batch)
    assert by_csv == ([odd] if quoted else [])
    uneven = [["a", "b", "c"], ["x", "y,z"]]  # as many commas as even rows would have
    assert records_package._csv_text(uneven) == written(uneven)
    assert records_package._csv_text([[""], ["a"]]) == written([[""], ["a"]])  # '""' alone
    assert records_package._csv_text([]) == ""


class _Rows:
    """A `csv.writer` that keeps the rows it is given."""

    def __init__(self, writer: Any, rows: list[list[str]]) -> None:
        self.writer = writer
        self.rows = rows

    def writerow(self, row: list[str]) -> None:
        self.rows.append(row)
        self.writer.writerow(row)


def test_reading_ahead_gives_every_batch_in_order_and_stops_when_closed() -> None:
    read: list[int] = []

    def fetch(batch: Sequence[int]) -> list[int]:
        read.append(batch[0])
        return [n * 10 for n in batch]

    batches = [[1, 2], [3], [4, 5]]
    assert list(records_package._read_ahead(fetch, batches)) == [[10, 20], [30], [40, 50]]
    assert list(records_package._read_ahead(fetch, [])) == []
    read.clear()
    ahead = records_package._read_ahead(fetch, batches)
    assert next(ahead) == [10, 20]
    ahead.close()  # the read of the second batch under way is waited for, no third begun
    assert read == [1, 3]


def test_sqlite_is_read_by_the_writing_thread_and_the_counts_are_the_searchs(
    records: Records, exports: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's rows are read in turn by the thread that writes (a reading thread traded the
    GIL with it at every row); PostgreSQL's next batch is read ahead on a thread. The counts
    come from the ids found, not from the search run again, and are the search's."""
    threads: list[int] = []
    fetch = records_package._Reader.fetch

    def fetched(reader: Any, ids: Sequence[int]) -> Any:
        threads.append(threading.get_ident())
        return fetch(reader, ids)

    monkeypatch.setattr(records_package._Reader, "fetch", fetched)
    db = records.world.db
    counts = RecordsSearch(db, "rita").count(RecordsQuery(departments=frozenset({"PARKS"})))
    result = PackageExporter(db, "rita").export(records.parks_request, exports / "package")
    assert result.counts == counts
    assert min(counts.comments, counts.records, counts.versions, counts.entries) > 0
    assert threads
    assert {thread == threading.get_ident() for thread in threads} == {db.is_sqlite}


def test_a_package_of_nothing_found_holds_no_rows_and_verifies(
    records: Records, exports: Path
) -> None:
    out = exports / "empty"
    nobody = RecordsQuery(departments=frozenset({"PARKS"}), author="no such author anywhere")
    result = PackageExporter(records.world.db, "rita").export(
        records.parks_request, out, query=nobody
    )
    assert set(result.counts.as_dict().values()) == {0}
    assert _lines(out) == []
    assert (out / CSV_FILE).read_text("utf-8").splitlines() == [",".join(CSV_COLUMNS)]
    check = verify_package(out)
    assert check.ok, check.problems


def test_nul_control_and_unprintable_characters_in_the_pdf(exports: Path) -> None:
    pdf = PackagePdf("hostile")
    pdf.new_page()
    nasty = "a\x00b\x07c\u202ed\ufeffe 中文 " + "W" * 500 + "\n" + "x " * (PDF_TEXT_CHARS * 2)
    pdf.paragraph(nasty)
    path = exports / "h.pdf"
    path.write_bytes(pdf.output())
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    assert "a\\x00b\\x07c\\u202ed\\ufeffe \\u4e2d\\u6587" in text
    assert "W" * 50 in text  # a word wider than the page is broken, not lost
    assert f"[… {len(nasty) - PDF_TEXT_CHARS:,} more characters: the whole text is in" in text


def test_a_zip_package_verifies_and_names_an_altered_member(
    records: Records, exports: Path
) -> None:
    out = exports / "package.zip"
    PackageExporter(records.world.db, "clerk").export(records.city_request, out, as_zip=True)
    assert [p.name for p in exports.iterdir()] == ["package.zip"]
    assert verify_package(out).ok
    with zipfile.ZipFile(out) as archive:
        assert set(archive.namelist()) == FILES
        members = {name: archive.read(name) for name in archive.namelist()}
    members[CSV_FILE] = members[CSV_FILE].replace(b"PARKS", b"PARKZ", 1)
    altered = exports / "altered.zip"
    with zipfile.ZipFile(altered, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    problems = verify_package(altered).problems
    assert problems[0] == f"{CSV_FILE}: altered (its SHA-256 is not the one in the manifest)."


def test_verify_names_the_altered_extra_and_missing_files(records: Records, exports: Path) -> None:
    out = exports / "package"
    PackageExporter(records.world.db, "rita").export(records.parks_request, out)
    data = bytearray((out / JSONL_FILE).read_bytes())
    at = data.index(b'"reason_code": "PRF"') + len(b'"reason_code": "')
    data[at : at + 3] = b"SPM"  # one entry's reason, changed in place
    (out / JSONL_FILE).write_bytes(bytes(data))
    problems = verify_package(out).problems
    assert problems[0] == f"{JSONL_FILE}: altered (its SHA-256 is not the one in the manifest)."
    assert any("does not match its own hash: altered" in p for p in problems[1:])
    assert all(p.startswith(JSONL_FILE) for p in problems)

    (out / "notes.txt").write_text("added later")
    (out / PDF_FILE).unlink()
    problems = verify_package(out).problems
    assert f"{PDF_FILE}: listed in the manifest but missing from the package." in problems
    assert "notes.txt: not part of the package (the manifest does not list it)." in problems

    (out / MANIFEST).unlink()
    assert verify_package(out).problems == [
        f"{MANIFEST}: missing, so nothing in the package can be checked."
    ]


def test_a_cancel_half_way_leaves_nothing(records: Records, exports: Path) -> None:
    asked = 0

    def cancelled() -> bool:
        nonlocal asked
        asked += 1
        return asked > 2  # after the second comment

    result = PackageExporter(records.world.db, "rita").export(
        records.parks_request, exports / "package", cancelled=cancelled
    )
    assert result.cancelled
    assert list(exports.iterdir()) == []
    assert _export_entries(records) == []


class _FullDisk:
    """A file on a disk that fills up after a few kilobytes."""

    def __init__(self, path: Path, room: int = 4096) -> None:
        self.stream = path.open("xb")
        self.room = room

    def write(self, data: bytes) -> int:
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.stream.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (errno.ENOSPC, "is full: the package was not written, and nothing of it was left"),
        (errno.EACCES, "could not be written in"),
    ],
)
def test_a_full_disk_or_a_folder_not_writable_leaves_nothing(
    records: Records, exports: Path, monkeypatch: pytest.MonkeyPatch, error: int, words: str
) -> None:
    def opener(path: Path) -> IO[bytes]:
        if error == errno.EACCES:
            raise PermissionError(error, "Permission denied", str(path))
        return _FullDisk(path)  # type: ignore[return-value]

    monkeypatch.setattr(records_package, "_open_new", opener)
    with pytest.raises(UserError, match=words):
        PackageExporter(records.world.db, "rita").export(records.parks_request, exports / "p")
    assert list(exports.iterdir()) == []
    assert _export_entries(records) == []


def test_a_destination_that_exists_or_has_no_folder_is_refused(
    records: Records, exports: Path
) -> None:
    exporter = PackageExporter(records.world.db, "rita")
    (exports / "taken").mkdir()
    with pytest.raises(UserError, match="already exists: a package is never written over"):
        exporter.export(records.parks_request, exports / "taken")
    with pytest.raises(UserError, match="There is no folder"):
        exporter.export(records.parks_request, exports / "nowhere" / "package")
    assert _export_entries(records) == []


def test_who_may_export_which_request(records: Records, exports: Path) -> None:
    db = records.world.db
    with pytest.raises(PermissionDenied, match="Only a records officer may"):
        PackageExporter(db, "sam")
    rita = PackageExporter(db, "rita")
    with pytest.raises(PermissionDenied, match="is for the whole City"):
        rita.export(records.city_request, exports / "a")
    with pytest.raises(NotPossible, match="was withdrawn"):
        rita.export(records.withdrawn, exports / "b")
    with pytest.raises(NotFound, match="There is no records request 999"):
        rita.export(999, exports / "c")
    with pytest.raises(PermissionDenied, match="does not keep the records of department"):
        rita.export(
            records.parks_request, exports / "d", query=RecordsQuery(departments={"POLICE"})
        )
    assert list(exports.iterdir()) == []
    assert rita.request(records.parks_request).query == RecordsQuery(departments={"PARKS"})


def test_a_disposed_record_is_proved_by_its_kept_hash_and_the_seal_is_named(
    records: Records, exports: Path
) -> None:
    world = records.world
    officers(world)
    seal = SealService(world.db, "rita", exports / "seals").seal().seal
    certify(world)
    disposed = retention_service(world).dispose("LRC-2032-0001", comment_ids=[records.hidden])
    assert disposed.records == 1
    out = exports / "after-disposal"
    PackageExporter(world.db, "rita").export(records.parks_request, out)

    manifest = json.loads((out / MANIFEST).read_text("utf-8"))
    assert manifest["seal"]["entry_id"] == seal.entry_id
    assert manifest["seal"]["seal_entry_hash"] == seal.seal_entry_hash
    (record,) = [
        line for line in _lines(out)
        if line["type"] == "record" and line["comment_id"] == records.hidden
    ]  # fmt: skip
    assert record["disposed"] == {"entry_id": disposed.entries[0], "certificate": "LRC-2032-0001"}
    assert record["text"] == ""
    pdf = "".join(page.extract_text() for page in PdfReader(out / PDF_FILE).pages)
    assert "disposed of under certificate LRC-2032-0001" in pdf
    assert f"sealed entry #{seal.entry_id}" in " ".join(pdf.split())
    check = verify_package(out)
    assert check.ok, check.problems

    # Filled back in behind the City's back, the disposed record is named.
    lines = (out / JSONL_FILE).read_text("utf-8").splitlines()
    forged = [
        line.replace('"text": ""', '"text": "forged"', 1) if f'"id": {record["id"]},' in line
        and '"type": "record"' in line else line
        for line in lines
    ]  # fmt: skip
    assert forged != lines
    (out / JSONL_FILE).write_text("\n".join(forged) + "\n", "utf-8")
    problems = " ".join(verify_package(out).problems)
    assert f"retained record {record['id']}" in problems
    assert "disposed of but holds content" in problems
