"""What each command-line command does: call a service, print the result for a person.

Comment text is untrusted: it is printed through `display.safe_text` (or as ASCII JSON).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from hsm_console.app import App
from hsm_console.cli.terminal import out, to_json
from hsm_console.db.engine import DEFAULT_PORT, Database
from hsm_console.db.models import Site
from hsm_console.display import local_time, one_line, safe_text
from hsm_console.errors import InvalidInput, PermissionDenied, UserError
from hsm_console.host.config import Settings
from hsm_console.host.credentials import CredentialStore
from hsm_console.rules.capabilities import capabilities_of
from hsm_console.rules.domain import (
    Action,
    CommentStatus,
    EntryKind,
    EntryState,
    Platform,
    ReviewState,
)
from hsm_console.services import admin, tokens
from hsm_console.services import health as site_health
from hsm_console.services.access import require_administrator
from hsm_console.services.agent_jobs import SENT
from hsm_console.services.agreement import agreement_table
from hsm_console.services.comment_detail import CommentReader, HistoryItem
from hsm_console.services.dashboard import DashboardView, Table
from hsm_console.services.log_export import ExportFormat, ExportProgress, export_log
from hsm_console.services.log_view import PAGE_SIZE, LogFilter, LogRow, LogView
from hsm_console.services.queue_view import QueueFilter, QueueView
from hsm_console.services.seals import read_seal_file
from hsm_console.services.sync import SyncProgress
from hsm_console.services.verify import verify_log


def db_upgrade(settings: Settings) -> int:
    db = Database(settings.database_url)
    try:
        revision = db.upgrade()
    finally:
        db.dispose()
    out(f"Database schema is at revision {revision}.")
    if db.is_sqlite:
        out("A SQLite file has no database roles: people act as their operating-system account.")
    else:
        out("Group roles, grants and row policies are up to date (db roles).")
    return 0


def db_password(settings: Settings, read_secret: Callable[[str], str]) -> int:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql" or not url.username or url.password is not None:
        raise UserError(
            "A password is kept only for a PostgreSQL address that names a login and holds no "
            "password, e.g. postgresql://jdoe@db.highland.local/hsm; nothing was stored."
        )
    host, port = url.host or "localhost", url.port or DEFAULT_PORT
    password = read_secret(f"Password of the database login {url.username} on {host}: ")
    CredentialStore().set_database_password(url.username, host, port, password)
    out(f"Kept the password of {url.username} on {host}:{port} in this computer's keyring.")
    return 0


def db_roles(settings: Settings) -> int:
    db = Database(settings.database_url)
    try:
        if db.is_sqlite:
            out("Nothing to do: a SQLite file has no database roles (people act as their "
                "operating-system account).")  # fmt: skip
            return 0
        db.ensure_schema()
        db.apply_roles()
    finally:
        db.dispose()
    out("Group roles, grants and row policies are up to date: hsm_person, hsm_moderator, "
        "hsm_supervisor, hsm_records_officer, hsm_administrator, hsm_agent.")  # fmt: skip
    return 0


def serve_sandbox(port: int) -> int:
    from hsm_sandbox.demo import guide
    from hsm_sandbox.seed import build
    from hsm_sandbox.server import SandboxServer

    server = SandboxServer(port=port, seed=build(end=datetime.now(UTC)))
    out(f"Sandbox serving the platform APIs at {server.url} (Ctrl+C to stop).")
    for line in guide(server.url):
        out(line)
    try:
        server.serve_forever()
    finally:
        server.stop()
    return 0


def demo(app: App, sandbox_url: str) -> int:
    from hsm_sandbox.demo import setup_demo

    setup = setup_demo(app.db, sandbox_url, app.username, app.username)
    out(f"Demo ready: {setup.moderator} moderates {setup.department} ({', '.join(setup.sites)}),")
    out(f"served by the sandbox at {sandbox_url}. Next: hsm-console sync")
    return 0


def sync(app: App, site_keys: list[str] | None) -> int:
    site_ids = None
    if site_keys:
        with app.db.session() as session:
            site_ids = [admin.find_site(session, key).id for key in site_keys]

    def progress(p: SyncProgress) -> None:
        out(
            f"[{p.site_index}/{p.site_count}] {p.site_name}: {p.message} "
            f"({p.new_comments} new of {p.seen_comments} comments read)"
        )

    results = app.sync.sync(site_ids, progress)
    failed = [r for r in results if r.error]
    total = sum(r.new_comments for r in results)
    if failed:  # "from 8 sites" would hide that some could not be read
        out(
            f"Sync finished: {total} new comments from {len(results) - len(failed)} of "
            f"{len(results)} sites; {len(failed)} could not be read:"
        )
    else:
        sites = f"{len(results)} site{'s' if len(results) != 1 else ''}"
        out(f"Sync finished: {total} new comments from {sites}.")
    for result in results:
        if result.reconciled:
            out(f"  {result.site_name}: {result.reconciled} interrupted actions reconciled.")
        if result.bans_ended:
            out(f"  {result.site_name}: {result.bans_ended} ban(s) whose end date came lifted.")
    for result in failed:
        out(f"  {result.site_name} FAILED: {result.error}")
    for result in results:
        if result.checks_problem:
            out(f"  {result.site_name}: the policy's site checks were not run: "
                f"{safe_text(result.checks_problem)}")  # fmt: skip
    return 1 if failed else 0


def queue(app: App, statuses: frozenset[CommentStatus], limit: int, as_json: bool) -> int:
    rows = QueueView(app.db, app.username).newest(QueueFilter(statuses=statuses), limit)
    if as_json:
        # The first suggestion's keys as before, beside every suggestion.
        first = ({"suggested_code": r.suggested_code, "suggestion_why": r.suggestion_why}
                 for r in rows)  # fmt: skip
        out(to_json([{**row._asdict(), "suggestions": [asdict(s) for s in row.suggestions],
                      **keys} for row, keys in zip(rows, first, strict=True)]))  # fmt: skip
        return 0
    if not rows:
        out("The queue is empty.")
        return 0
    out(f"{'ID':>6}  {'RECEIVED (Chicago)':<23}  {'SITE':<28}  {'AUTHOR':<18}  COMMENT")
    for row in rows:
        out(
            f"{row.id:>6}  {local_time(row.created_at):<23}  {one_line(row.site_name, 28):<28}  "
            f"{one_line(row.author_name, 18):<18}  {one_line(row.excerpt, 60)}"
        )
    if len(rows) == limit:  # more may wait: say so rather than look like the whole queue
        out(f"The newest {limit} are shown; --limit N shows more.")
    return 0


def show(app: App, comment_id: int, as_json: bool) -> int:
    view = CommentReader(app.db, app.username).comment(comment_id)
    if as_json:
        out(
            to_json(
                {
                    "id": view.id,
                    "site": view.site_name,
                    "platform": view.platform,
                    "external_id": view.external_id,
                    "author": view.author_name,
                    "text": view.text,
                    "created_at": view.created_at,
                    "permalink": view.permalink,
                    "status": view.status,
                    "platform_state": view.platform_state,
                    "post": {"text": view.post_text, "permalink": view.post_permalink},
                    "parent_id": view.parent_id,
                    "retained_records": [
                        {"id": r.id, "captured_at": r.captured_at, "sha256": r.sha256}
                        for r in view.records
                    ],
                    "history": [asdict(item) for item in view.history],
                    "notes": [asdict(note) for note in view.notes],
                    "author_history": [asdict(e) for e in view.author_history],
                    "suggestions": [asdict(s) for s in view.suggestions],
                    "wrong_marks": [asdict(m) for m in view.wrong_marks],
                }
            )
        )
        return 0
    out(f"Comment {view.id} on {view.site_name} ({view.platform})")
    out(f"  Author:    {safe_text(view.author_name)}")
    out(f"  Received:  {local_time(view.created_at)}")
    out(f"  Link:      {safe_text(view.permalink)}")
    out(f"  Status:    {view.status}; on the platform: {view.platform_state}")
    out(f"  In reply to the City's post: {one_line(view.post_text, 70)}")
    out(f"                               {safe_text(view.post_permalink)}")
    parent = next((item for item in view.thread if item.relation == "parent"), None)
    if parent is not None:
        out(f"  Replying to comment {parent.id}: {one_line(parent.excerpt, 60)}")
    out("  Text:")
    for line in safe_text(view.text).splitlines() or [""]:
        out(f"    | {line}")
    marks = {mark.code: mark for mark in reversed(view.wrong_marks)}
    for suggestion in view.suggestions:  # never applied by itself
        mark = marks.get(suggestion.code)
        wrong = f" (marked wrong by {mark.actor})" if mark else ""
        out(f"  Suggestion {suggestion.code}{wrong}: {one_line(suggestion.why, 160)}")
    out(f"  Retained records: {len(view.records)}")
    for record in view.records:
        out(
            f"    #{record.id} captured {local_time(record.captured_at)} by "
            f"{record.captured_by}, sha256 {record.sha256[:16]}…"
        )
    out(f"  History: {len(view.history)} log entries")
    for item in view.history:
        out("    " + _entry_line(item, view.id))
    out(f"  Notes: {len(view.notes)}")
    for note in view.notes:
        out(f"    #{note.entry_id} {local_time(note.at)} {note.actor}: {one_line(note.text, 200)}")
    out(f"  The author's earlier comments on your departments' sites: {len(view.author_history)}")
    for earlier in view.author_history:
        taken = (
            "; ".join(f"{a.action} {a.reason_code or '-'} {a.state}" for a in earlier.actions)
            or "no action"
        )
        out(f"    comment {earlier.comment_id} {local_time(earlier.created_at)} on "
            f"{safe_text(earlier.site_name)} ({earlier.status}): {taken}")  # fmt: skip
        out(f"      | {one_line(earlier.excerpt, 100)}")
    return 0


def _entry_line(entry: HistoryItem, comment_id: int | None) -> str:
    reason = entry.reason_code or "-"
    line = (
        f"#{entry.entry_id} {local_time(entry.at)} {entry.actor} {entry.action} {entry.state} "
        f"reason {reason} comment {comment_id} record {entry.record_id}"
    )
    if entry.outcome_of:
        line += f" (outcome of #{entry.outcome_of})"
    if entry.refers_to:
        line += f" (about #{entry.refers_to})"
    if entry.note:
        line += f" note: {one_line(entry.note, 60)}"
    if entry.detail:
        line += f" - {one_line(entry.detail, 100)}"
    return line


def act(app: App, comment_id: int, action: Action, reason: str | None, note: str) -> int:
    result = app.moderation.act(comment_id, action, reason, note)
    out(result.message)
    if result.outcome_entry_id is None:  # the agent's outcome has not come yet
        out(f"Log entries: #{result.pending_entry_id} pending ({SENT}).")
    else:
        out(f"Log entries: #{result.pending_entry_id} pending, #{result.outcome_entry_id} "
            f"{result.state.value}.")  # fmt: skip
    return 0 if result.state is not EntryState.FAILED else 1


@dataclass(frozen=True)
class LogQuery:
    """`hsm-console log`'s filters as typed: department codes, site ids as text."""

    comment: int | None
    departments: list[str]
    sites: list[str]
    platforms: list[str]
    actors: list[str]
    actions: list[str]
    reasons: list[str]
    states: list[str]
    kinds: list[str]
    on_from: date | None
    on_to: date | None
    search: str
    review_states: list[str]

    def log_filter(self, view: LogView) -> LogFilter:
        codes = {code: department for department, code in view.departments.items()}
        unknown = [code for code in self.departments if code.upper() not in codes]
        if unknown:
            raise PermissionDenied(
                f"{unknown[0]!r} is not a department {view.actor.describe()} supervises; "
                f"yours: {', '.join(codes) or 'none'}."
            )
        bad = [site for site in self.sites if not site.isdigit()]
        if bad:
            raise InvalidInput(f"--site takes a site's number (hsm-console sites), not {bad[0]!r}.")
        known = {state.value for state in ReviewState}
        odd = [state for state in self.review_states if state not in known]
        if odd:
            raise InvalidInput(
                f"--review-state is one of {', '.join(sorted(known))}, not {odd[0]!r}."
            )
        return LogFilter(
            department_ids=frozenset(codes[code.upper()] for code in self.departments),
            site_ids=frozenset(map(int, self.sites)),
            platforms=frozenset(self.platforms), actors=frozenset(self.actors),
            actions=frozenset(self.actions),
            reason_codes=frozenset(code.upper() for code in self.reasons),
            states=frozenset(self.states), kinds=frozenset(self.kinds),
            comment_id=self.comment, on_from=self.on_from, on_to=self.on_to, search=self.search,
            review_states=frozenset(self.review_states),
        )  # fmt: skip


def log(app: App, query: LogQuery, limit: int, as_json: bool, export: Path | None) -> int:
    view = LogView(app.db, app.username)
    log_filter = query.log_filter(view)
    if export is not None:
        return _export_log(view, log_filter, export)
    rows: list[LogRow] = []
    after: int | None = None
    while len(rows) < limit:
        page = view.page(log_filter, after, min(PAGE_SIZE, limit - len(rows)), newest_first=False)
        rows += view.rows(page.ids)
        if page.next is None:
            break
        after = page.next
    if as_json:
        out(to_json(view.export_records([row.id for row in rows])))
        return 0
    if not rows:
        out("The action log has no entries you may read under these filters.")
    for row in rows:
        out(_log_line(row))
    return 0


def dashboard(app: App, query: LogQuery, as_json: bool) -> int:
    view = LogView(app.db, app.username)
    log_filter = query.log_filter(view)
    shown = DashboardView(view).compute(log_filter)
    tables = [*shown.tables, agreement_table(view, log_filter)]  # suggestions against decisions
    if as_json:
        out(to_json([{"name": t.name, "title": t.title, "columns": t.columns, "rows": t.rows}
                     for t in tables]))  # fmt: skip
        return 0
    for table in tables:
        out(_table_text(table))
    return 0


def _table_text(table: Table) -> str:
    """A table in aligned columns, under its title; names are untrusted, so made safe."""
    if not table.rows:
        return f"{table.title}: nothing under these filters.\n"
    cells = [list(table.columns)] + [
        ["" if cell is None else safe_text(one_line(str(cell), 40)) for cell in row]
        for row in table.rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(table.columns))]
    lines = [
        "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                  for i, (cell, width) in enumerate(zip(line, widths, strict=True)))
        for line in cells
    ]  # fmt: skip
    return "\n".join([table.title, *lines, ""])


def _log_line(row: LogRow) -> str:
    if row.kind == EntryKind.ADMIN:
        change = " -> ".join(part or "(none)" for part in (row.before, row.after))
        return (
            f"#{row.id} {local_time(row.at)} {row.actor} "
            f"{row.action} {safe_text(row.subject)}: {safe_text(change)}"
        )
    item = HistoryItem(
        row.id, row.at, row.actor, row.action, row.state, row.reason_code, row.note,
        row.detail, row.outcome_of, row.record_id,
    )  # fmt: skip
    return _entry_line(item, row.comment_id)


def _export_log(view: LogView, log_filter: LogFilter, path: Path) -> int:
    formats = {".csv": ExportFormat.CSV, ".jsonl": ExportFormat.JSONL}
    export_format = formats.get(path.suffix.lower())
    if export_format is None:
        raise InvalidInput(f"Export to a .csv or a .jsonl file, not {path.name!r}.")

    def progress(step: ExportProgress) -> None:
        print(f"\rExported {step.done} of {step.total} entries", end="", file=sys.stderr,
              flush=True)  # fmt: skip

    result = export_log(
        view, log_filter, path, export_format, progress if sys.stderr.isatty() else None
    )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    out(f"Exported {result.entries} log entries to {path}.")
    return 0


def verify(app: App, against: Path | None = None) -> int:
    def progress(done: int, total: int) -> None:
        print(f"\rChecked {done} of {total} entries", end="", file=sys.stderr, flush=True)

    seal = None if against is None else read_seal_file(against)
    report = verify_log(app.db, progress if sys.stderr.isatty() else None, against=seal)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    out(f"Checked {report.entries_checked} log entries and {report.records_checked} retained "
        "records.")  # fmt: skip
    out(f"Chain head: entry {report.head_id}, sha256 {report.head_hash}")
    if seal is not None:
        out(f"Against the seal of {local_time(seal.sealed_at)}: entry {seal.entry_id}, sha256 "
            f"{seal.entry_hash}")  # fmt: skip
    if not report.ok:
        first = "" if report.first_bad_entry is None else (
            f" First entry that does not match: {report.first_bad_entry}."
        )  # fmt: skip
        out(f"VERIFICATION FAILED: {report.problem}.{first}")
        return 1
    out("The action log is intact" + (", and holds everything the seal sealed." if seal else "."))
    return 0


def seal(app: App) -> int:
    made = app.seals.seal()
    out(f"Sealed the log: entry {made.seal.entry_id} of {made.seal.entries}, sha256 "
        f"{made.seal.entry_hash} (seal entry {made.seal.seal_entry_id}).")  # fmt: skip
    out(f"Written: {made.json_path}")
    out(f"Printable: {made.text_path}")
    out("Keep them where the database's administrators cannot change them; later, "
        f"hsm-console verify-log --against {made.json_path.name} proves the log holds "
        "them.")  # fmt: skip
    return 0


def sites(app: App, as_json: bool) -> int:
    with app.db.session() as session:
        actor = app.moderation.actor(session)
        rows = [
            s
            for s in session.query(Site).order_by(Site.id)
            if actor.administers or actor.may_moderate(s.department_id)
            or actor.may_read_log(s.department_id)
        ]  # fmt: skip
        listing = [
            {"id": s.id, "name": s.name, "platform": s.platform, "department": s.department.name,
             "external_id": s.external_id, "base_url": s.base_url}
            for s in rows
        ]  # fmt: skip
    if as_json:
        out(to_json(listing))
        return 0
    for item in listing:
        out(f"{item['id']:>4}  {item['platform']:<10} {safe_text(str(item['name'])):<32} "
            f"{item['department']}")  # fmt: skip
    return 0


def health(app: App, as_json: bool) -> int:
    with app.db.session() as session:
        actor = app.moderation.actor(session)
    listing = site_health.health(app.db, actor, app.credentials)
    if as_json:
        out(to_json([asdict(h) | {"readable": h.readable} for h in listing]))
        return 0
    for h in listing:
        if h.token.warning:
            out(f"WARNING: {safe_text(h.token.warning)}")
    for h in listing:
        last = local_time(h.last_ok_at) if h.last_ok_at else "never"
        state = "readable" if h.readable else "NOT READABLE"
        out(f"{h.site_id:>4}  {h.platform:<10} {safe_text(h.site_name)} ({h.department}): "
            f"{state}; last good sync {last}")  # fmt: skip
        out(f"      sign-in: {safe_text(h.token.words)}")
        if h.last_error:
            out(f"      last error: {safe_text(h.last_error)}")
        for gap in h.gaps:
            until = local_time(gap.ended_at) if gap.ended_at else "now (still open)"
            out(f"      gap {local_time(gap.began_at)} to {until}: {gap.words}. "
                f"{safe_text(gap.detail)}")  # fmt: skip
    return 0


def codes(app: App, as_json: bool) -> int:
    policy = app.policy
    if as_json:
        out(to_json({"version": policy.version, "codes": [
            {"code": c.code, "name": c.name, "covers": c.covers,
             "actions": sorted(a.value for a in c.actions), "second_review": c.second_review,
             "note_required": c.note_required, "clause": c.clause}
            for c in policy.codes.values()]}))  # fmt: skip
        return 0
    out(f"{policy.title}, version {policy.version} (effective {policy.effective})")
    for code in policy.codes.values():
        actions = ", ".join(sorted(a.value for a in code.actions))
        out(f"  {code.code}  {code.name:<30} {actions:<18} {code.clause}")
    return 0


def credentials(app: App, what: str, site_key: str, read_token: Callable[[], str]) -> int:
    with app.db.session() as session:
        require_administrator(app.moderation.actor(session), "change platform credentials")
        site = admin.find_site(session, site_key)
        session.expunge(site)
    platform = Platform(site.platform).label
    if what == "set":
        app.credentials.set(site, read_token())
        tokens.reconnected(app.db, site.id)
        out(f"The {platform} token for {site.name!r} is stored in this computer's keyring.")
    elif app.credentials.delete(site):
        out(f"The token for {site.name!r} was removed from the keyring.")
    else:
        out(f"No token was stored for {site.name!r}.")
    return 0


def platforms(as_json: bool) -> int:
    """The capability map: what the City can do on each platform, in plain words."""
    rows: list[dict[str, Any]] = []
    for platform in Platform:
        caps = capabilities_of(platform)
        rows.append(
            {
                "platform": platform.label,
                "actions": ["flag", *sorted(a.value for a in caps.actions), "keep"],
                "hide_means": caps.hide_means,
                "remove_means": caps.remove_means,
                "removed_readable": caps.removed_readable,
                "rate_limits": caps.rate_limits,
                "instead": caps.instead,
                "daily_quota": caps.daily_quota,
                "action_cost": caps.action_cost,
                "can_ban": caps.can_ban,
                "can_lift_ban": caps.can_lift_ban,
                "ban_means": caps.ban_means,
            }
        )
    if as_json:
        out(to_json(rows))
        return 0
    for row in rows:
        out(f"{row['platform']}: {', '.join(row['actions'])}")
        out(f"  hide:   {row['hide_means']}")
        out(f"  remove: {row['remove_means']}")
        readable = "can" if row["removed_readable"] else "cannot"
        out(f"  a removed comment {readable} be read back; limits: {row['rate_limits']}")
        if row["daily_quota"]:
            out(f"  quota: {row['daily_quota']} units a day; an action costs {row['action_cost']}")
        if row["instead"]:
            out(f"  where an action is missing: {row['instead']}")
        out(f"  ban:    {row['ban_means']}")
    return 0
