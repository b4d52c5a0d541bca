"""`hsm-console records search | export` (records officers) and `verify-package` (anyone,
no database): the search that answers a records request, its package, and the package's
check (docs/design.md, "Search and export packages")."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from hsm_console.app import App
from hsm_console.cli.terminal import out, to_json
from hsm_console.display import local_time, one_line
from hsm_console.errors import InvalidInput
from hsm_console.rules.domain import Action, EntryState
from hsm_console.rules.records_query import DateBasis, RecordsQuery
from hsm_console.services.records_package import PackageExporter, PackageProgress
from hsm_console.services.records_search import RecordsSearch, SearchCounts, SearchResult

# Filters given more than once, as the query's sets (`--department PARKS --department POLICE`).
SET_FILTERS = {
    "department": ("departments", str, "a department's code"),
    "site": ("site_ids", int, "a site's id"),
    "platform": ("platforms", str, "a platform"),
    "reason": ("reason_codes", str, "a reason code"),
    "action": ("actions", str, ", ".join(a.value for a in Action)),
    "outcome": ("outcomes", str, ", ".join(s.value for s in EntryState)),
}


def add_parsers(commands: Any, day: Any) -> None:
    records = commands.add_parser(
        "records", help="search the records for a request, export its package (records officers)"
    )
    what = records.add_subparsers(dest="records_what", metavar="ACTION", required=True)
    search = what.add_parser(
        "search", help="what a search finds, counted, before anything is exported"
    )
    search.add_argument(
        "--request", type=int, metavar="ID", help="the search a request's scope holds"
    )
    for option, (_, kind, words) in SET_FILTERS.items():
        search.add_argument(f"--{option}", action="append", type=kind, metavar=option.upper(),
                            help=f"{words} (repeat for more)")  # fmt: skip
    search.add_argument("--author", default="", help="the platform's author id or part of a name")
    search.add_argument("--words", default="", help="full text: the comment, records, versions")
    search.add_argument("--from", dest="on_from", type=day, metavar="YYYY-MM-DD")
    search.add_argument("--to", dest="on_to", type=day, metavar="YYYY-MM-DD")
    search.add_argument(
        "--dated", choices=[b.value for b in DateBasis], default=DateBasis.POSTED.value,
        help="the days are those the comment was posted (default) or acted on",
    )  # fmt: skip
    search.add_argument("--limit", type=int, default=50, help="hits listed (the counts are all)")
    search.add_argument("--offset", type=int, default=0, help="newest hits skipped (a next page)")
    search.add_argument("--json", action="store_true")

    export = what.add_parser("export", help="write a request's package: CSV, JSONL, PDF, manifest")
    export.add_argument("request", type=int, metavar="REQUEST")
    export.add_argument("--out", type=Path, required=True, metavar="FOLDER",
                        help="a new folder (or .zip with --zip) for the package")  # fmt: skip
    export.add_argument("--zip", action="store_true", help="one zip file instead of a folder")

    verify = commands.add_parser(
        "verify-package", help="re-check a records package on its own, without the database"
    )
    verify.add_argument("package", type=Path, metavar="FOLDER|ZIP")


def handlers(args: argparse.Namespace) -> dict[str, Any]:
    return {"records": lambda app: records(app, args)}


def records(app: App, args: argparse.Namespace) -> int:
    if args.records_what == "search":
        return search(app, args)
    return export(app, args.request, args.out, args.zip)


def query_of(args: argparse.Namespace) -> RecordsQuery:
    values: dict[str, Any] = {
        field: frozenset(getattr(args, option) or [])
        for option, (field, _, _) in SET_FILTERS.items()
    }
    return RecordsQuery(
        on_from=args.on_from, on_to=args.on_to, dated=DateBasis(args.dated),
        author=args.author, words=args.words, **values,
    )  # fmt: skip


def search(app: App, args: argparse.Namespace) -> int:
    query = query_of(args)
    if args.request is not None:
        if query != RecordsQuery():
            raise InvalidInput("Give either --request or filters, not both.")
        query = PackageExporter(app.db, app.username).request(args.request).query
    _check_days(query.on_from, query.on_to)
    searcher = RecordsSearch(app.db, app.username)
    result = searcher.search(query, max(args.limit, 0), max(args.offset, 0))
    counts = searcher.count(query)
    if args.json:
        out(to_json(_result_json(result, counts)))
        return 0
    out(f"Found {counts.describe()}.")
    for hit in result.hits:
        out(
            f"  {hit.comment_id:>8}  {local_time(hit.created_at)}  {hit.department} "
            f"{one_line(hit.site_name, 30)} ({hit.platform})  {one_line(hit.author_name, 30)}  "
            f"[{hit.status}; {hit.records} rec, {hit.versions} ver, {hit.entries} entries]"
        )
        out(f"            | {one_line(hit.excerpt, 100)}")
    if result.truncated:
        rest = counts.comments - len(result.hits)
        out(f"  … and {rest} more (the counts are of all; --offset shows later ones).")
    return 0


def _check_days(on_from: date | None, on_to: date | None) -> None:
    if on_from and on_to and on_from > on_to:
        raise InvalidInput(f"--from {on_from} is after --to {on_to}.")


def _result_json(result: SearchResult, counts: SearchCounts) -> dict[str, Any]:
    return {
        "query": result.query.to_json(),
        "counts": counts.as_dict(),
        "offset": result.offset,
        "hits": [{**hit.__dict__, "created_at": hit.created_at.isoformat()} for hit in result.hits],
    }


def export(app: App, request_id: int, folder: Path, as_zip: bool) -> int:
    def progress(step: PackageProgress) -> None:
        print(f"\rWritten {step.done} of {step.total} comments", end="", file=sys.stderr,
              flush=True)  # fmt: skip

    shown = sys.stderr.isatty()
    result = PackageExporter(app.db, app.username).export(
        request_id, folder, as_zip=as_zip, progress=progress if shown else None
    )
    if shown:
        print(file=sys.stderr)
    out(f"Package of request {request_id} written to {result.path}: {result.counts.describe()}.")
    out(f"Manifest SHA-256 {result.manifest_sha256}, logged as entry {result.entry_id}.")
    return 0


def verify_package_command(path: Path) -> int:
    from hsm_console.services.package_check import verify_package

    check = verify_package(path)
    if check.ok:
        head = check.manifest["chain_head"]
        out(f"Package {path} verified: every file is as its manifest lists it, and its "
            f"{check.entries} log entries re-prove their own hashes (chain head #{head['id']}, "
            f"{head['entry_hash']}).")  # fmt: skip
        return 0
    out(f"PACKAGE CHECK FAILED for {path}:")
    for problem in check.problems:
        out(f"  {one_line(problem, 300)}")
    return 1
