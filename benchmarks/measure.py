"""Every screen's figures, measured through the services the window uses.

Each figure is timed as wall time and as this process's CPU time (the fairer figure on a
machine shared with others; on PostgreSQL the server's share is not in it). A query figure is
the median of three runs after a first (cold) one. `Plans` collects, on PostgreSQL, every
statement a figure ran and reads its plan with EXPLAIN (ANALYZE, BUFFERS).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event, func, select

from benchmarks.generate import COMMON_WORD, RARE_WORD, Filled
from benchmarks.ingest import FeedConnector, feed_comments, plain_insert
from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, RecordsRequest, Site
from hsm_console.rules.domain import Action, CommentStatus, Platform, Role
from hsm_console.rules.policy import load_policy
from hsm_console.rules.records_query import RecordsQuery
from hsm_console.services import admin
from hsm_console.services.admin import AdminService
from hsm_console.services.connector_factory import ConnectorFactory
from hsm_console.services.dashboard import DashboardView
from hsm_console.services.log_view import LogFilter, LogView
from hsm_console.services.moderation import ModerationService
from hsm_console.services.queue_view import ANY_SUGGESTION, QueueFilter, QueueView
from hsm_console.services.records_package import PackageExporter
from hsm_console.services.records_search import RecordsSearch
from hsm_console.services.review import ReviewService
from hsm_console.services.sync import SyncService
from hsm_console.services.verify import verify_log

QUERY_MS = 100.0  # opening or re-filtering the queue or the log
SEARCH_MS = 200.0
DASHBOARD_MS = 500.0
RECORD_P95_MS = 15.0
VERIFY_PER_S = 200_000.0
EXPORT_S_PER_100K = 20.0
INGEST_SHARE = 0.40
DECIDED = (Action.HIDE, Action.KEEP, Action.FLAG, Action.REMOVE)  # the generator's decisions


@dataclass
class Figure:
    area: str
    name: str
    database: str
    measured: float | None  # None: could not be measured (`note` says why)
    unit: str  # "ms", "s", "/s", "MB", "%"
    target: float | None = None  # None: shown for context, not a target
    higher_is_better: bool = False
    cpu: float | None = None  # this process's CPU time, in the figure's unit when it is time
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "FAILED"
        if self.target is None:
            return ""
        good = (
            self.measured >= self.target if self.higher_is_better else self.measured < self.target
        )
        return "ok" if good else "SLOW"


@dataclass
class Timing:
    wall_ms: float  # median of the repeats
    cpu_ms: float
    first_ms: float


def timed(work: Callable[[], object], repeat: int = 3) -> Timing:
    """A cold run, then `repeat` more (one when the cold run took over a second)."""
    walls, cpus = [], []
    for n in range(repeat + 1):
        cpu = time.process_time()
        started = time.perf_counter()
        work()
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        if n == 1 and walls[0] > 1000:
            break
    return Timing(statistics.median(walls[1:]), statistics.median(cpus[1:]), walls[0])


@dataclass
class Plans:
    """On PostgreSQL: the statements each figure ran, and their plans as read by EXPLAIN."""

    db: Database
    found: list[tuple[str, str, str]] = field(default_factory=list)  # (figure, SQL, plan)
    _seen: set[str] = field(default_factory=set)
    _statements: list[tuple[str, Any]] = field(default_factory=list)

    @contextmanager
    def collecting(self, figure: str) -> Iterator[None]:
        if self.db.is_sqlite:
            yield
            return

        def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                self._statements.append((statement, parameters))

        event.listen(self.db.engine, "before_cursor_execute", seen)
        try:
            yield
        finally:
            event.remove(self.db.engine, "before_cursor_execute", seen)
        statements, self._statements = self._statements, []
        for statement, parameters in statements:
            if statement in self._seen:
                continue
            self._seen.add(statement)
            self.found.append((figure, statement, self._explain(statement, parameters)))

    def _explain(self, statement: str, parameters: Any) -> str:
        connection = self.db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            connection.rollback()
            connection.close()

    def warnings(self) -> list[str]:
        """Plans that read a whole big table or sort one."""
        found = []
        for figure, _, plan in self.found:
            for line in plan.splitlines():
                text = line.strip().removeprefix("->  ")
                big = any(f" on {t} " in f"{text} " for t in BIG_TABLES)
                if (text.startswith("Seq Scan") and big) or (
                    text.startswith("Sort ") and _rows_of(text) > 100_000
                ):
                    found.append(f"{figure}: {text}")
        return found

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as out:
            for figure, statement, plan in self.found:
                out.write(f"=== {figure}\n{statement}\n--- plan\n{plan}\n\n")


BIG_TABLES = ("comments", "action_log", "retained_records", "comment_versions", "posts")


def _rows_of(plan_line: str) -> int:
    """The row count a plan node reports having produced (its actual rows)."""
    marker = "actual time="
    if marker not in plan_line:
        return 0
    tail = plan_line.split(marker, 1)[1]
    return int(tail.split("rows=", 1)[1].split()[0]) if "rows=" in tail else 0


class Runner:
    """`quick`: one repeat a figure, fewer actions recorded and comments synced (the test)."""

    def __init__(
        self,
        db: Database,
        filled: Filled,
        where: str,
        plans: Plans,
        quick: bool = False,
        progress: bool = False,
    ) -> None:
        self.quick = quick
        self.progress = progress
        self.db = db
        self.filled = filled
        self.where = where
        self.plans = plans
        self.figures: list[Figure] = []

    def figure(
        self,
        area: str,
        name: str,
        target: float | None,
        work: Callable[[], object],
        limit_ms: float | None = None,
    ) -> None:
        """A timed figure in ms (median of three after a cold run)."""
        try:
            with self.plans.collecting(f"{self.where}: {area}, {name}"):
                timing = timed(work, 1 if self.quick else 3)
        except Exception as exc:  # a figure that fails is reported, and the run goes on
            self.add(
                Figure(
                    area,
                    name,
                    self.where,
                    None,
                    "ms",
                    target,
                    note=f"{type(exc).__name__}: {exc}"[:200],
                )
            )
            return
        self.add(
            Figure(
                area,
                name,
                self.where,
                timing.wall_ms,
                "ms",
                target,
                cpu=timing.cpu_ms,
                note=f"cold {timing.first_ms:.0f} ms",
            )
        )

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        if self.progress:  # one line a figure as it is measured: a long run shows where it is
            shown = "FAILED" if figure.measured is None else f"{figure.measured:,.1f} {figure.unit}"
            print(f"  {self.where}, {figure.area}: {figure.name}: {shown}", flush=True)

    def guarded(self, area: str, name: str, unit: str, work: Callable[[], None]) -> None:
        """Runs `work`, which adds its own figures; a failure becomes a FAILED figure."""
        try:
            work()
        except Exception as exc:
            self.add(
                Figure(
                    area, name, self.where, None, unit, note=f"{type(exc).__name__}: {exc}"[:200]
                )
            )

    # --- the screens ---------------------------------------------------------------------

    def run_all(self, out: Path) -> list[Figure]:
        self.queue()
        self.log_view()
        self.dashboard()
        self.review_and_admin()
        self.guarded("records", "FOIA search and export", "s", lambda: self.records(out))
        self.guarded("log", "verification", "/s", self.verification)
        self.guarded("actions", "recording an action", "ms", self.recording)
        self.guarded("sync", "ingest", "/s", self.ingest)
        return self.figures

    def queue(self) -> None:
        view = QueueView(self.db, self.filled.username)
        site = view.sites()[0].id
        month_end = self.filled.end.date()

        def show(queue_filter: QueueFilter) -> Callable[[], object]:
            def run() -> object:  # as the window does: a page of ids, then the rows on screen
                return view.rows(view.page(queue_filter, None, 500).ids[:60])

            return run

        cursor = view.page(QueueFilter(), None, 500).next
        for _ in range(39):  # 20,000 comments down
            after = view.page(QueueFilter(), cursor, 500).next if cursor else None
            if after is None:
                break
            cursor = after
        cases: list[tuple[str, float, Callable[[], object]]] = [
            ("open (new, every site)", QUERY_MS, show(QueueFilter())),
            ("re-filter: one site", QUERY_MS, show(QueueFilter(site_ids=frozenset({site})))),
            (
                "re-filter: one platform",
                QUERY_MS,
                show(QueueFilter(platforms=frozenset({Platform.INSTAGRAM.value}))),
            ),
            (
                "re-filter: flagged",
                QUERY_MS,
                show(QueueFilter(statuses=frozenset({CommentStatus.FLAGGED}))),
            ),
            ("re-filter: any status", QUERY_MS, show(QueueFilter(statuses=frozenset()))),
            (
                "re-filter: the last 30 days",
                QUERY_MS,
                show(
                    QueueFilter(received_from=month_end - timedelta(days=30), received_to=month_end)
                ),
            ),
            ("re-filter: suggestion PII", QUERY_MS, show(QueueFilter(suggestion="PII"))),
            ("re-filter: any suggestion", QUERY_MS, show(QueueFilter(suggestion=ANY_SUGGESTION))),
            (
                "a page 20,000 comments down",
                QUERY_MS,
                lambda: view.rows(view.page(QueueFilter(), cursor, 500).ids[:60]),
            ),
            (
                f"search a common word ({COMMON_WORD})",
                SEARCH_MS,
                show(QueueFilter(search=COMMON_WORD)),
            ),
            (f"search a rare word ({RARE_WORD})", SEARCH_MS, show(QueueFilter(search=RARE_WORD))),
            ("search a prefix (playgr)", SEARCH_MS, show(QueueFilter(search="playgr"))),
            (
                "search two words, any status",
                SEARCH_MS,
                show(QueueFilter(statuses=frozenset(), search=f"{COMMON_WORD} resident")),
            ),
        ]
        for name, target, work in cases:
            self.figure("queue", name, target, work)
        self.figure(
            "queue", "counts per filter (background)", None, lambda: view.counts(QueueFilter())
        )

    def log_view(self) -> None:
        view = LogView(self.db, self.filled.username)
        first = view.page(LogFilter()).ids
        middle = first[0] // 2 if first else None
        department = self.filled.department_ids["PARKS"]
        cases: list[tuple[str, float | None, Callable[[], object]]] = [
            ("open (every entry)", QUERY_MS, lambda: view.rows(view.page(LogFilter()).ids[:60])),
            (
                "a page half-way down",
                QUERY_MS,
                lambda: view.rows(view.page(LogFilter(), middle).ids[:60]),
            ),
            (
                "re-filter: one department",
                QUERY_MS,
                lambda: view.rows(
                    view.page(LogFilter(department_ids=frozenset({department}))).ids[:60]
                ),
            ),
            (
                "re-filter: one reason code",
                QUERY_MS,
                lambda: view.rows(view.page(LogFilter(reason_codes=frozenset({"HAR"}))).ids[:60]),
            ),
            (
                "re-filter: one moderator",
                QUERY_MS,
                lambda: view.rows(view.page(LogFilter(actors=frozenset({"mod07"}))).ids[:60]),
            ),
            (
                "re-filter: reviews",
                QUERY_MS,
                lambda: view.rows(view.page(LogFilter(kinds=frozenset({"review"}))).ids[:60]),
            ),
            (
                "re-filter: failed outcomes",
                QUERY_MS,
                lambda: view.rows(view.page(LogFilter(states=frozenset({"failed"}))).ids[:60]),
            ),
            (
                "re-filter: the last 30 days",
                QUERY_MS,
                lambda: view.rows(
                    view.page(LogFilter(on_from=self.filled.end.date() - timedelta(days=30))).ids[
                        :60
                    ]
                ),
            ),
            (
                f"search a common word ({COMMON_WORD})",
                SEARCH_MS,
                lambda: view.rows(view.page(LogFilter(search=COMMON_WORD)).ids[:60]),
            ),
            ("count (background)", None, lambda: view.count(LogFilter())),
        ]
        for name, target, work in cases:
            self.figure("log", name, target, work)

    def dashboard(self) -> None:
        view = LogView(self.db, self.filled.username)
        dashboard = DashboardView(view)
        end = self.filled.end.date()
        cases = {
            "no filter": LogFilter(),
            "one department": LogFilter(
                department_ids=frozenset({self.filled.department_ids["POLICE"]})
            ),
            "the last four weeks": LogFilter(on_from=end - timedelta(weeks=4)),
            "one reason code": LogFilter(reason_codes=frozenset({"OFT"})),
            "one moderator": LogFilter(actors=frozenset({"mod03"})),
        }
        for name, log_filter in cases.items():
            self.figure("dashboard", name, DASHBOARD_MS, lambda f=log_filter: dashboard.compute(f))  # type: ignore[misc]

    def review_and_admin(self) -> None:
        user = self.filled.username
        moderation = ModerationService(self.db, load_policy(), _no_platform, user)
        review = ReviewService(self.db, load_policy(), moderation, user)
        self.figure("review", "actions needing review", QUERY_MS, review.needs_review)
        service = AdminService(self.db, user)
        self.figure("admin", "departments", QUERY_MS, service.departments)
        self.figure("admin", "people", QUERY_MS, service.people)
        self.figure("admin", "sites", QUERY_MS, service.sites)

    def records(self, out: Path) -> None:
        search = RecordsSearch(self.db, self.filled.username)
        self.figure(
            "records",
            "FOIA search: one department",
            None,
            lambda: search.search(RecordsQuery(departments=frozenset({"PARKS"}))),
        )
        self.figure(
            "records",
            f"FOIA search: words ({COMMON_WORD})",
            SEARCH_MS,
            lambda: search.search(RecordsQuery(words=COMMON_WORD)),
        )
        self.figure(
            "records",
            "FOIA search: hidden, every department",
            None,
            lambda: search.search(RecordsQuery(actions=frozenset({"hide"}))),
        )
        self.figure(  # the dialog's second job, after the window is shown
            "records",
            "FOIA search: counts, hidden, every department (background)",
            None,
            lambda: search.count(RecordsQuery(actions=frozenset({"hide"}))),
        )
        request = self._request()
        acted_on = RecordsQuery(actions=frozenset(a.value for a in DECIDED))
        cpu = time.process_time()
        started = time.perf_counter()
        result = PackageExporter(self.db, self.filled.username).export(
            request, out / f"package-{self.db.dialect}-{time.time_ns()}", query=acted_on
        )
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        records = result.counts.records
        target = EXPORT_S_PER_100K * max(records, 1) / 100_000
        self.add(
            Figure(
                "records",
                f"FOIA export of {records:,} records ({result.counts.entries:,} entries)",
                self.where,
                wall,
                "s",
                target,
                cpu=cpu,
                note=f"target scaled from 20 s a 100,000 records; {_size_mb(result.path):.0f} MB",
            )
        )

    def _request(self) -> int:
        with self.db.transaction() as session:
            request = RecordsRequest(
                department_id=None,
                received_at=datetime.now(UTC),
                requester="Benchmark",
                words="Every comment acted on",
                scope=RecordsQuery(actions=frozenset(a.value for a in DECIDED)).to_json(),
                due_on=date.today() + timedelta(days=10),
                extended_to=None,
                extension_reason="",
                state="open",
                handler=self.filled.username,
                comment_id=None,
                handed_over_at=None,
            )
            session.add(request)
            session.flush()
            return request.id

    def verification(self) -> None:
        cpu = time.process_time()
        started = time.perf_counter()
        report = verify_log(self.db)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        if not report.ok:
            raise RuntimeError(f"the chain does not verify: {report.problem}")
        entries = report.entries_checked
        self.add(
            Figure(
                "log",
                f"verification ({entries:,} entries, {report.records_checked:,} records)",
                self.where,
                entries / wall,
                "/s",
                VERIFY_PER_S,
                higher_is_better=True,
                cpu=entries / cpu if cpu else None,
                note="cpu: entries per CPU second",
            )
        )

    def recording(self) -> None:
        """Steps 1-2 only (check, retained record, pending entry, commit): the platform is
        never called, so this is the console's own cost."""
        samples = 30 if self.quick else 300
        moderation = ModerationService(self.db, load_policy(), _no_platform, self.filled.username)
        with self.db.session() as session:
            ids = list(
                session.scalars(
                    select(Comment.id)
                    .join(Site, Site.id == Comment.site_id)
                    .where(
                        Site.platform == Platform.FACEBOOK.value,
                        Comment.status == "new",
                        Comment.pending_entry_id.is_(None),
                    )
                    .order_by(Comment.id.desc())
                    .limit(samples)
                )
            )
        walls, cpus = [], []
        for comment_id in ids:
            cpu = time.process_time()
            started = time.perf_counter()
            moderation._record(comment_id, Action.HIDE, "SPM", "benchmark", None)
            walls.append((time.perf_counter() - started) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        walls.sort()
        cpus.sort()
        p95 = max(1, int(len(walls) * 0.95)) - 1
        self.add(
            Figure(
                "actions",
                "recording an action, p50",
                self.where,
                statistics.median(walls),
                "ms",
                cpu=statistics.median(cpus),
            )
        )
        self.add(
            Figure(
                "actions",
                f"recording an action, p95 ({len(walls)} actions)",
                self.where,
                walls[p95],
                "ms",
                RECORD_P95_MS,
                cpu=cpus[p95],
            )
        )

    def ingest(self, count: int | None = None) -> None:
        """Sync of a new site against plain bulk inserts of the same comments into the same
        table (same unique key and full-text index), both in pages of 100, a transaction each."""
        count = count or (
            500 if self.quick else max(2_000, min(50_000, self.filled.comments // 20))
        )
        run = str(time.time_ns())  # a run's own sites and ids: a kept database is measured again
        sync_site, plain_site = self._ingest_sites(run)
        feed = FeedConnector(feed_comments(count, f"sync-{run}"))
        connectors = cast(ConnectorFactory, lambda site: feed)
        moderation = ModerationService(self.db, load_policy(), connectors, self.filled.username)
        sync = SyncService(self.db, connectors, moderation)
        cpu = time.process_time()
        started = time.perf_counter()
        [result] = sync.sync([sync_site])
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
        if result.new_comments != count:
            raise RuntimeError(f"sync stored {result.new_comments} of {count}: {result.error}")
        plain_wall, plain_cpu = plain_insert(
            self.db, plain_site, feed_comments(count, f"plain-{run}")
        )
        rate, plain = count / wall, count / plain_wall
        self.add(
            Figure(
                "sync",
                f"sync ingest ({count:,} comments)",
                self.where,
                rate,
                "/s",
                cpu=count / cpu,
                note="cpu: comments per CPU second",
            )
        )
        self.add(
            Figure(
                "sync",
                "plain bulk inserts, same table and indexes",
                self.where,
                plain,
                "/s",
                cpu=count / plain_cpu,
            )
        )
        self.add(
            Figure(
                "sync",
                "sync ingest / plain bulk inserts",
                self.where,
                100 * rate / plain,
                "%",
                100 * INGEST_SHARE,
                higher_is_better=True,
            )
        )

    def _ingest_sites(self, run: str) -> tuple[int, int]:
        with self.db.transaction() as session:
            department = admin.ensure_department(session, "PARKS", "Parks & Recreation")
            sites = [
                admin.ensure_site(
                    session,
                    department,
                    Platform.FACEBOOK,
                    f"Ingest {name} {run}",
                    f"ingest-{name}-{run}",
                    "https://bench.invalid",
                ).id
                for name in ("sync", "plain")
            ]
            user = admin.ensure_person(session, self.filled.username)
            admin.grant(session, user, Role.MODERATOR, department)
            return sites[0], sites[1]


def _no_platform(site: Any) -> Any:
    raise RuntimeError("the benchmark never calls a platform")


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def count_comments(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Comment)) or 0)
