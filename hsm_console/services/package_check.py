"""`hsm-console verify-package`: re-check a records package on its own, without the database
(docs/design.md, "Search and export packages").

Whoever received a package (a requester, a court) can run it: every file the manifest lists
is there and nothing else, each file's SHA-256 is the manifest's, every log entry in
records.jsonl recomputes its own hash and links to the entry before it where both are in the
package, every retained record recomputes its hash and is the one its entries cite, no entry
is past the chain head the manifest names, and the counts are the manifest's. Each problem
names the file it is in.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import operator
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hsm_console.db.chain import ALL_ENTRY_FIELDS, entry_hash_of_row, record_hash
from hsm_console.db.disposal import is_blank
from hsm_console.errors import UserError
from hsm_console.services.records_package import CSV_FILE, FORMAT, JSONL_FILE, MANIFEST

_CHUNK = 1 << 20
# records.jsonl's line types, and the manifest's count of each.
_COUNTED = {"comment": "comments", "record": "retained_records", "version": "versions",
            "entry": "log_entries"}  # fmt: skip
# Picked in C: a package holds hundreds of thousands of entries and rows.
_entry_fields = operator.itemgetter(*ALL_ENTRY_FIELDS)
_first = operator.itemgetter(0)
_decode = json.JSONDecoder().decode  # `json.loads` without its per-call checks


@dataclass
class PackageCheck:
    path: Path
    problems: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    entries: int = 0  # log entries re-proved

    @property
    def ok(self) -> bool:
        return not self.problems


class _Source:
    """The package's files, in a folder or a zip."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.archive: zipfile.ZipFile | None = None
        if path.is_file():
            try:
                self.archive = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise UserError(f"{path} is neither a package folder nor a zip: {exc}") from exc
        elif not path.is_dir():
            raise UserError(f"There is no package at {path}.")

    def names(self) -> set[str]:
        if self.archive is not None:
            return {name for name in self.archive.namelist() if not name.endswith("/")}
        found = set()
        for item in self.path.rglob("*"):
            if item.is_file() or item.is_symlink():
                found.add(item.relative_to(self.path).as_posix())
            elif item.is_dir() and not any(item.iterdir()):
                found.add(item.relative_to(self.path).as_posix() + "/")
        return found

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self.archive is not None:
            with self.archive.open(name) as stream:
                yield stream
        else:
            with (self.path / name).open("rb") as stream:
                yield stream

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()


def verify_package(path: Path, progress: Callable[[str], None] | None = None) -> PackageCheck:
    """Every problem found in the package at `path` (a folder or a zip)."""
    check = PackageCheck(Path(path))
    source = _Source(Path(path))
    try:
        _verify(source, check, progress or (lambda _: None))
    finally:
        source.close()
    return check


def _verify(source: _Source, check: PackageCheck, progress: Callable[[str], None]) -> None:
    problems = check.problems
    names = source.names()
    if MANIFEST not in names:
        problems.append(f"{MANIFEST}: missing, so nothing in the package can be checked.")
        return
    try:
        with source.open(MANIFEST) as stream:
            manifest = json.load(stream)
        files = manifest["files"]
        listed = {name: str(files[name]["sha256"]) for name in files}
        if not isinstance(manifest["counts"], dict) or "id" not in manifest["chain_head"]:
            raise KeyError("counts or chain_head")
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"{MANIFEST}: altered or not a package's manifest ({exc}).")
        return
    check.manifest = manifest
    if manifest.get("format") != FORMAT:
        problems.append(f"{MANIFEST}: the format is {manifest.get('format')!r}, not {FORMAT}.")
    for name in sorted(set(listed) - names):
        problems.append(f"{name}: listed in the manifest but missing from the package.")
    for name in sorted(names - set(listed) - {MANIFEST}):
        problems.append(f"{name}: not part of the package (the manifest does not list it).")
    for name in sorted(set(listed) & names):
        progress(f"Checking {name}")
        if _sha256(source, name) != listed[name]:
            problems.append(f"{name}: altered (its SHA-256 is not the one in the manifest).")
    if JSONL_FILE in names:
        progress(f"Re-proving the log entries of {JSONL_FILE}")
        _check_jsonl(source, check)
    if CSV_FILE in names:
        _check_csv(source, check)


def _sha256(source: _Source, name: str) -> str:
    digest = hashlib.sha256()
    with source.open(name) as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Entry:
    """What the chain checks need of one entry; its hash is recomputed as it is read, so a
    package of hundreds of thousands of entries is never held whole."""

    id: int
    kind: str
    prev_hash: str
    entry_hash: str
    matches: bool  # its fields recompute its own hash
    record_id: int | None
    record_sha256: str | None


def _check_jsonl(source: _Source, check: PackageCheck) -> None:
    problems, manifest = check.problems, check.manifest
    counted: Counter[str] = Counter()
    entries: dict[int, _Entry] = {}
    records: dict[int, str] = {}
    with source.open(JSONL_FILE) as stream, io.TextIOWrapper(stream, encoding="utf-8") as text:
        for number, raw in enumerate(text, start=1):
            try:
                line = _decode(raw)
                kind = line["type"]
            except (ValueError, KeyError, TypeError):
                problems.append(f"{JSONL_FILE}: line {number} is not a record of the package.")
                return
            counted[kind] += 1
            try:
                if kind == "entry":
                    computed = entry_hash_of_row(_entry_fields(line))
                    entries[line["id"]] = _Entry(
                        line["id"], line["kind"], line["prev_hash"], line["entry_hash"],
                        computed == line["entry_hash"], line["record_id"], line["record_sha256"],
                    )  # fmt: skip
                elif kind == "record":
                    records[line["id"]] = line["sha256"]
                    if "disposed" in line:  # proven by the hash its entries carry
                        if not is_blank(line):
                            problems.append(
                                f"{JSONL_FILE}: retained record {line['id']} (line {number}) "
                                "is said to be disposed of but holds content: altered."
                            )
                    elif record_hash(line) != line["sha256"]:
                        problems.append(
                            f"{JSONL_FILE}: retained record {line['id']} (line {number}) does "
                            "not match its own hash: altered."
                        )
            except (KeyError, TypeError, ValueError):
                problems.append(f"{JSONL_FILE}: line {number} lacks fields of its kind.")
                return
    for kind, name in _COUNTED.items():
        expected = manifest["counts"].get(name)
        if counted[kind] != expected:
            problems.append(
                f"{JSONL_FILE}: holds {counted[kind]} {name.replace('_', ' ')}, the manifest "
                f"says {expected}."
            )
    kinds = Counter(entry.kind for entry in entries.values())
    for kind, name in (("review", "reviews"), ("note", "notes")):
        if kinds[kind] != manifest["counts"].get(name):
            problems.append(
                f"{JSONL_FILE}: holds {kinds[kind]} {name}, the manifest says "
                f"{manifest['counts'].get(name)}."
            )
    _prove_entries(entries, records, manifest["chain_head"], problems)
    check.entries = len(entries)


def _prove_entries(
    entries: dict[int, _Entry], records: dict[int, str], head: dict[str, Any], problems: list[str]
) -> None:
    previous: _Entry | None = None
    for entry_id in sorted(entries):
        entry = entries[entry_id]
        where = f"{JSONL_FILE}: log entry #{entry_id}"
        if not entry.matches:
            problems.append(f"{where} does not match its own hash: altered.")
        if previous and previous.id == entry_id - 1 and entry.prev_hash != previous.entry_hash:
            problems.append(f"{where} does not follow #{entry_id - 1} in the chain.")
        if entry_id > head["id"]:
            problems.append(f"{where} is past the chain head the manifest names (#{head['id']}).")
        if entry_id == head["id"] and entry.entry_hash != head["entry_hash"]:
            problems.append(f"{where} is the chain head, but not the one the manifest names.")
        cited = entry.record_id
        if cited is not None and cited in records and records[cited] != entry.record_sha256:
            problems.append(f"{where} cites retained record {cited}, but not as it is here.")
        previous = entry


def _check_csv(source: _Source, check: PackageCheck) -> None:
    counts = check.manifest["counts"]
    # A comment may be a megabyte long; the module's limit is 128 KiB (C long: 2**31 - 1).
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    with source.open(CSV_FILE) as stream, io.TextIOWrapper(stream, "utf-8", newline="") as text:
        try:
            rows = csv.reader(text)
            next(rows, None)  # the header
            counted = Counter(map(_first, filter(None, rows)))
        except (csv.Error, UnicodeDecodeError):
            check.problems.append(f"{CSV_FILE}: not a CSV file any more.")
            return
    for kind, name in _COUNTED.items():
        if counted[kind] != counts.get(name):
            check.problems.append(
                f"{CSV_FILE}: holds {counted[kind]} {name.replace('_', ' ')} rows, the "
                f"manifest says {counts.get(name)}."
            )


__all__ = ["PackageCheck", "verify_package"]
