"""The consistency dashboard: whether the City's rules were applied evenly, in numbers.

Qt-free, so the Dashboard tab, `hsm-console dashboard` and their exports share one reading.
It reads the log through `LogView`: the same filters and the same role rules (a supervisor
their departments, the oversight group all, moderators refused by the service).

What counts (docs/design.md, "The consistency dashboard"):
- an **action** is a moderator's decision that the platform carried out: a pending action
  entry with an `applied` outcome, counted in the week (Monday to Sunday, America/Chicago)
  and under the person of the pending entry (a reconciliation may write the outcome);
- **under a judgement code**: the entry's `second_review` mark, which the policy in force set
  when the action was recorded (HAR, DSC, OFT in the City's first policy);
- a **reversal**: an applied unhide, which only ever follows a hide;
- the **backlog**: comments still awaiting a decision (the queue, status new), by their
  arrival; the **time to decision**: from the comment's time on the platform to its first
  action, median and 90th percentile by nearest rank.

Every figure is a SQL aggregation, the same queries on SQLite and PostgreSQL: the decisions
are the derived `dashboard_decisions` (one row per applied decision with its Chicago week,
its wait and whether it was its comment's first, kept by a trigger on the log, migration
0026), filtered by the log view's own conditions moved onto its columns. One statement
groups them three ways, each by a covering index in its order; the percentiles are each a
step into an index of first decisions by wait; the backlog is read per site from
`comment_counts` (kept by triggers on the comments, migration 0029), or, under a date or a
search, counted per site along the queue's index. Reviews and appeals are read from the
log, by the ids that refer to decisions (the appeals' few times put in their weeks here).
"""

from __future__ import annotations

import csv
import enum
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.visitors import ExternallyTraversible, replacement_traverse

from hsm_console.db.models import Comment, CommentCount, DashboardDecision, LogEntry, Site
from hsm_console.display import CITY_TZ
from hsm_console.rules.domain import (
    Action,
    AppealStep,
    CommentStatus,
    EntryKind,
    EntryState,
    ReviewVerdict,
)
from hsm_console.services.log_export import atomic_file, safe_cell
from hsm_console.services.log_view import LogFilter, LogView
from hsm_console.services.queue_view import comments_matching, received_bounds, search_terms

NO_CODE = "(no code)"
Cell = str | int | float | None


class ChartKind(enum.StrEnum):
    """How a table is drawn: its numeric columns stacked per row (weeks) or side by side."""

    STACKED = "stacked"
    GROUPED = "grouped"


@dataclass(frozen=True)
class Table:
    """One chart's numbers, as the plain table beside it, its CSV and its JSON show them.

    The first column labels the rows (a week's Monday, a department, a person); `plotted`
    names the columns the chart draws, all in `unit`.
    """

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    chart: ChartKind
    plotted: tuple[str, ...]
    unit: str

    def column(self, name: str) -> list[Cell]:
        at = self.columns.index(name)
        return [row[at] for row in self.rows]


@dataclass(frozen=True)
class Dashboard:
    log_filter: LogFilter
    tables: tuple[Table, ...]

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)


class DashboardView:
    """The dashboard of one person; safe to call from several threads (a session per call).

    Raises PermissionDenied at once, as `LogView` does, for a person who may not read the log.
    """

    def __init__(self, view: LogView) -> None:
        self.view = view

    def compute(self, log_filter: LogFilter) -> Dashboard:
        """Every table under the filter; the outcome and kind filters do not apply (see top)."""
        log_filter = replace(log_filter, states=frozenset(), kinds=frozenset())
        with self.view.db.session() as session:
            conditions = self.view.conditions(session, log_filter)
            decided = [*_on_decisions(conditions), *_in_weeks(log_filter)]
            mondays = _weeks_of(session, log_filter)
            counts = _grouped(session, decided)
            questioned = questioned_by_actor(session, conditions)
            appeals = appeals_by_week(session, conditions, mondays)
            timing = self._time_to_decision(session, decided)
            backlog = self._backlog(session, log_filter)
        reasons, places, people = ([c for c in counts if c.by is by] for by in _By)
        # Every weekly table spans the same weeks, a quiet week showing as zero.
        shown = _span({c.week for c in reasons} | {mondays[n] for n in appeals})
        departments = self.view.departments
        return Dashboard(
            log_filter,
            (
                _weekly("by_reason", "Actions per week by reason code", shown, reasons,
                        lambda c: c.code or NO_CODE),
                _weekly("by_department", "Actions per week by department", shown, places,
                        lambda c: departments.get(c.department_id or 0, "?")),
                _weekly("by_site", "Actions per week by site", shown, places, self._site_name),
                _weekly("by_moderator", "Actions per week by moderator", shown, people,
                        lambda c: c.actor or ""),
                _judgement(shown, reasons),
                _questioned(people, questioned),
                self._backlog_table(backlog, timing),
                _reversals(shown, reasons, {mondays[n]: k for n, k in appeals.items()}),
            ),
        )  # fmt: skip

    def _site_name(self, count: _Count) -> str:
        site = self.view.sites.get(count.site_id or 0)
        return site.name if site else f"site {count.site_id}"

    def _time_to_decision(
        self, session: Session, decided: list[ColumnElement[bool]]
    ) -> dict[int, tuple[int, float, float]]:
        """Per department: comments decided, median and 90th percentile seconds to decision,
        over the first decisions under `decided` (conditions on `dashboard_decisions`)."""
        e = _DECISIONS.c
        first = [e.first_of_comment == true(), e.waited.is_not(None), *decided]
        counted = session.connection().execute(
            select(e.department_id, func.count()).where(*first).group_by(e.department_id)
        )
        # Nearest rank: the ceil(n * p)-th duration, in integer arithmetic; each is one step
        # into the index of the department's first decisions in order of the wait (window
        # functions, or every duration sorted here, cost many times that).
        ranks = {d: (n, (n + 1) // 2, (n * 9 + 9) // 10) for d, n in counted if n}
        picks = [
            select(literal(d), literal(rank), e.waited).where(*first, e.department_id == d)
            .order_by(e.waited).limit(1).offset(rank - 1).subquery()
            for d, (_, *at_ranks) in ranks.items() for rank in at_ranks
        ]  # fmt: skip
        if not picks:
            return {}
        found = {
            (d, rank): float(seconds)
            for d, rank, seconds in session.connection().execute(
                union_all(*(select(*pick.c) for pick in picks))
            )
        }
        return {
            d: (n, found[(d, median)], found[(d, p90)]) for d, (n, median, p90) in ranks.items()
        }

    def _backlog(self, session: Session, log_filter: LogFilter) -> dict[int, tuple[int, Any]]:
        """Per department: comments awaiting a decision now and the oldest one's arrival."""
        f = log_filter
        department_ids = f.department_ids or frozenset(self.view.departments)
        # The departments' sites alone: the planner does not carry the department's condition
        # on `sites` into the count per site (a department's backlog counted every site's).
        codes = {self.view.departments.get(d) for d in department_ids}
        site_ids = [
            site.id
            for site in self.view.sites.values()
            if (not f.site_ids or site.id in f.site_ids)
            and (not f.platforms or site.platform in f.platforms)
            and site.department in codes
        ]
        waiting = Comment.status == CommentStatus.NEW.value
        low, high = received_bounds(f.on_from, f.on_to)
        terms = search_terms(f.search)
        per_site: Select[int, int, datetime]
        if low is None and high is None and not terms:
            # All of each site's waiting comments: their number kept by the database
            # (`comment_counts`), the oldest one step into `ix_comments_site_queue`.
            oldest = (
                select(func.min(Comment.created_at))
                .where(Comment.site_id == CommentCount.site_id, waiting)
                .scalar_subquery()
            )
            per_site = select(
                CommentCount.site_id,
                CommentCount.comments.label("waiting"),
                oldest.label("oldest"),
            ).where(
                CommentCount.status == CommentStatus.NEW.value,
                CommentCount.site_id.in_(site_ids),
            )
        else:
            # Counted per site first, each site's waiting comments one range of
            # `ix_comments_site_queue` read in order (no join, no hashing per comment), then
            # the sites per department.
            per_site = select(
                Comment.site_id,
                func.count().label("waiting"),
                func.min(Comment.created_at).label("oldest"),
            ).where(waiting, Comment.site_id.in_(site_ids))
            if low is not None:
                per_site = per_site.where(Comment.created_at >= low)
            if high is not None:
                per_site = per_site.where(Comment.created_at < high)
            if terms:
                dialect = session.get_bind().dialect.name
                per_site = per_site.where(Comment.id.in_(comments_matching(dialect, terms)))
            per_site = per_site.group_by(Comment.site_id)
        counted = per_site.subquery()
        query = (
            select(Site.department_id, func.sum(counted.c.waiting), func.min(counted.c.oldest))
            .join(counted, counted.c.site_id == Site.id)
            .where(Site.department_id.in_(sorted(department_ids)))
            .group_by(Site.department_id)
        )
        return {row[0]: (int(row[1]), row[2]) for row in session.execute(query)}

    def _backlog_table(
        self, backlog: dict[int, tuple[int, Any]], timing: dict[int, tuple[int, float, float]]
    ) -> Table:
        now = datetime.now(UTC)
        rows = []
        for department_id, code in self.view.departments.items():
            waiting, oldest = backlog.get(department_id, (0, None))
            decided, median, p90 = timing.get(department_id, (0, None, None))
            if not (waiting or decided):
                continue
            oldest_days = (
                round((now - _aware(oldest)).total_seconds() / 86400, 1) if oldest else None
            )
            rows.append((code, waiting, oldest_days, decided, _hours(median), _hours(p90)))
        return Table(
            "backlog", "Backlog and time to a first decision, by department",
            ("Department", "Awaiting a decision", "Oldest waiting (days)", "Decided",
             "Median hours to decision", "90th percentile hours to decision"),
            tuple(rows), ChartKind.GROUPED,
            ("Median hours to decision", "90th percentile hours to decision"), "hours",
        )  # fmt: skip


def export_table(table: Table, path: Path) -> Path:
    """A table's numbers as CSV, its columns as headers: no cell can start a formula (site
    and person names are the City's, but a name is text all the same), written atomically."""
    with atomic_file(path) as stream:
        writer = csv.writer(stream)
        writer.writerow([safe_cell(name) for name in table.columns])
        writer.writerows([safe_cell(cell) for cell in row] for row in table.rows)
    return Path(path)


# The log's other entries a decision is read with, aliased once (an alias builds its
# columns anew on first use).
_REVIEW = aliased(LogEntry, name="review")
_APPEAL = aliased(LogEntry, name="appeal")
_OUTCOME = aliased(LogEntry, name="outcome")


# --- reviews and appeals (issue 9, items 2 and 4; design.md "Review, notes, notices and appeals")


def questioned_by_actor(session: Session, conditions: list[ColumnElement[bool]]) -> dict[str, int]:
    """How many of each person's decisions (under `conditions` on `LogEntry`) a reviewer
    questioned: a `review` entry whose verdict is `question` refers to the decision it
    reviews (one verdict an action). The questioned ids come first, so only those
    decisions are read, by primary key."""
    review = _REVIEW
    questioned = select(review.refers_to).where(
        review.kind == EntryKind.REVIEW.value, review.action == ReviewVerdict.QUESTION.value
    )
    query = select(LogEntry.actor, func.count()).where(LogEntry.id.in_(questioned))
    rows = session.execute(_decided(query, conditions).group_by(LogEntry.actor))
    return {actor: count for actor, count in rows}


def appeals_by_week(
    session: Session, conditions: list[ColumnElement[bool]], mondays: Sequence[date]
) -> dict[int, int]:
    """Appeals recorded against decisions (under `conditions` on `LogEntry`), per week of
    their recording: week n is Monday `mondays[n]` to Sunday in Chicago, the weeks one after
    the other. Each appeal's time comes here and finds its week by zoneinfo's rules (appeals
    are few; a table of the weeks' UTC ranges to join them to cost more to build and send)."""
    if not mondays:
        return {}
    appeal = _APPEAL
    query = (
        select(appeal.at)
        .select_from(appeal)
        .join(LogEntry, LogEntry.id == appeal.refers_to)
        .where(
            appeal.kind == EntryKind.APPEAL.value,
            appeal.action == AppealStep.APPEAL.value,
            appeal.at >= _midnight(mondays[0]),
            appeal.at < _midnight(mondays[-1] + timedelta(weeks=1)),
        )
    )
    week_of = {monday: n for n, monday in enumerate(mondays)}
    found: dict[int, int] = defaultdict(int)
    for at in session.scalars(_decided(query, conditions)):
        day = _aware(at).astimezone(CITY_TZ).date()
        found[week_of[day - timedelta(days=day.weekday())]] += 1
    return dict(found)


# --- the pieces --------------------------------------------------------------------------


class _By(enum.Enum):
    """The groupings of the decisions that one query returns, each a few rows a week."""

    REASON = 0  # (week, reason code): the by-reason table, and the weeks' totals
    PLACE = 1  # (week, department, site): the by-department and by-site tables
    PERSON = 2  # (week, person): the by-moderator table, and each person's totals


@dataclass(frozen=True, slots=True)
class _Count:
    """Applied actions in one week of one group (the keys not grouped by are None), with the
    hides and removals among them, those under judgement codes, and the reversals."""

    by: _By
    week: date
    code: str | None
    department_id: int | None
    site_id: int | None
    actor: str | None
    actions: int
    hides: int
    judged: int
    reversals: int


def _weeks_of(session: Session, log_filter: LogFilter) -> list[date]:
    """The Mondays of every week the log spans (a week more each side, for clocks a little
    off), within the filter's days: weeks Monday to Sunday in Chicago."""
    # The first and last entries' times in one statement; min and max of the primary key
    # are each one step as subqueries of their own (together, SQLite scans the table).
    ends = [select(func.min(LogEntry.id)).scalar_subquery(),
            select(func.max(LogEntry.id)).scalar_subquery()]  # fmt: skip
    times = session.scalars(select(LogEntry.at).where(LogEntry.id.in_(ends))).all()
    low, high = received_bounds(log_filter.on_from, log_filter.on_to)
    if times:
        low = max(low or min(times), min(times) - timedelta(weeks=1))
        high = min(high or max(times), max(times) + timedelta(weeks=1))
    mondays: list[date] = []
    if low is not None and high is not None and low < high:
        start = low.astimezone(CITY_TZ).date()
        monday = start - timedelta(days=start.weekday())
        while _midnight(monday) < high:
            mondays.append(monday)
            monday += timedelta(weeks=1)
    return mondays


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), CITY_TZ).astimezone(UTC)


def _grouped(session: Session, decided: list[ColumnElement[bool]]) -> list[_Count]:
    """The decisions (under `decided`, conditions on `dashboard_decisions`) counted per week
    by reason code, by department and site, and by person: three GROUP BYs in one statement,
    each walking its own covering index in its order (no sort), so the answer is a few rows a
    week, never one a decision. The week is the table's, found by the database when the
    decision was applied (migration 0026): the same query on SQLite and PostgreSQL."""
    e = _DECISIONS.c
    hides = e.action.in_([Action.HIDE.value, Action.REMOVE.value])

    def total(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    every = (e.reason_code, e.department_id, e.site_id, e.actor)
    groupings = {
        _By.REASON: (e.reason_code,),
        _By.PLACE: (e.department_id, e.site_id),
        _By.PERSON: (e.actor,),
    }
    parts = [
        select(
            literal(by.value, Integer), e.week,
            *(k if any(k is g for g in grouped) else cast(null(), k.type) for k in every),
            func.count(), total(hides), total(and_(hides, e.second_review)),
            total(e.action == Action.UNHIDE.value),
        ).where(*decided).group_by(e.week, *grouped)
        for by, grouped in groupings.items()
    ]  # fmt: skip
    # Core rows, not ORM ones: nothing here is an entity; fetched at once (thousands of rows,
    # one by one was a third of the dashboard's time here).
    rows = session.connection().execute(union_all(*parts)).fetchall()
    by = {b.value: b for b in _By}
    return [
        _Count(by[g], week, code, department, site, actor, int(n), int(h), int(j), int(r))
        for g, week, code, department, site, actor, n, h, j, r in rows
    ]


_DECISIONS = DashboardDecision.__table__
# A decision's entry is a pending action entry: what the log's filters ask of these columns.
_AS_DECIDED: dict[str, ColumnElement[Any]] = {
    "kind": literal(EntryKind.ACTION.value, String),
    "state": literal(EntryState.PENDING.value, String),
    "outcome_of": null(),
}


def _on_decisions(conditions: list[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    """The log view's conditions on `LogEntry` (the person's reach and the filters) moved
    onto `dashboard_decisions`, which has the decision's columns under the same names: one
    set of filters and role rules for the log and the dashboard. Entries that `conditions`
    merely correlate with (aliases: a review of the decision, a search) stay as they are."""
    log = LogEntry.__table__

    def moved(element: ExternallyTraversible, **_: Any) -> ExternallyTraversible | None:
        if not (isinstance(element, Column) and element.table is log):
            return None
        if element.key in _DECISIONS.c:
            return _DECISIONS.c[element.key]
        if element.key in _AS_DECIDED:
            return _AS_DECIDED[element.key]
        raise ValueError(f"a dashboard filter on the log's {element.key} is not supported")

    options: dict[str, Any] = {}
    return [replacement_traverse(c, options, moved) for c in conditions]


def _in_weeks(log_filter: LogFilter) -> list[ColumnElement[bool]]:
    """The filter's days as weeks too: redundant with its times, but the weeks lead the
    decisions' indexes, so a dashboard of a few weeks reads only those."""
    e = _DECISIONS.c
    found = []
    if log_filter.on_from is not None:
        found.append(e.week >= log_filter.on_from - timedelta(days=log_filter.on_from.weekday()))
    if log_filter.on_to is not None:
        found.append(e.week <= log_filter.on_to - timedelta(days=log_filter.on_to.weekday()))
    return found


def _decided(
    query: Select[*tuple[Any, ...]], conditions: list[ColumnElement[bool]]
) -> Select[*tuple[Any, ...]]:
    """`query` over the decisions: pending action entries whose outcome was `applied`.
    The outcome is a probe of its index from each decision (EXISTS, not a join), so the
    decisions are read from their covering index and never from the table's rows."""
    outcome = _OUTCOME
    applied = (
        select(outcome.id)  # the index holds it (SQLite's EXISTS (SELECT *) reads the row)
        .where(
            outcome.state == EntryState.APPLIED.value,
            outcome.comment_id == LogEntry.comment_id,  # always so; lets the index answer
            outcome.outcome_of == LogEntry.id,
        )
        .exists()
    )
    return query.where(
        LogEntry.kind == EntryKind.ACTION.value,
        LogEntry.state == EntryState.PENDING.value,
        applied,
        *conditions,
    )


def _span(found: Iterable[date]) -> list[date]:
    """Every week from the first to the last found, so a quiet week shows as zero."""
    weeks = sorted(found)
    if not weeks:
        return []
    count = (weeks[-1] - weeks[0]).days // 7 + 1
    return [weeks[0] + timedelta(weeks=n) for n in range(count)]


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 1)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _weekly(
    name: str, title: str, weeks: list[date], counts: Sequence[_Count],
    label: Callable[[_Count], str],
) -> Table:  # fmt: skip
    by_week: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in counts:
        by_week[c.week][label(c)] += c.actions
    labels = sorted({k for week in by_week.values() for k in week})
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (week.isoformat(), *(by_week[week].get(k, 0) for k in labels),
         sum(by_week[week].values()))
        for week in weeks
    )  # fmt: skip
    return Table(name, title, ("Week of", *labels, "Total"), rows, ChartKind.STACKED,
                 tuple(labels), "actions")  # fmt: skip


def _judgement(weeks: list[date], counts: Sequence[_Count]) -> Table:
    totals: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for c in counts:
        totals[c.week][0] += c.hides
        totals[c.week][1] += c.judged
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (week.isoformat(), *totals[week], _share(totals[week][1], totals[week][0]))
        for week in weeks
    )
    return Table(
        "judgement", "Hides and removals under judgement codes, per week",
        ("Week of", "Hides and removals", "Under judgement codes", "Share under judgement (%)"),
        rows, ChartKind.GROUPED, ("Share under judgement (%)",), "%",
    )  # fmt: skip


def _questioned(counts: Sequence[_Count], questioned: dict[str, int]) -> Table:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in counts:
        found = totals[c.actor or ""]
        found[0] += c.actions
        found[1] += c.hides
        found[2] += c.judged
    rows = []
    for actor in sorted(totals):
        actions, hides, judged = totals[actor]
        asked = questioned.get(actor, 0)
        rows.append((actor, actions, hides, judged, asked, _share(asked, actions)))
    return Table(
        "questioned", "Each moderator's actions and the share reviewers questioned",
        ("Moderator", "Actions", "Hides and removals", "Under judgement codes",
         "Questioned by reviewers", "Share questioned (%)"),
        tuple(rows), ChartKind.GROUPED, ("Share questioned (%)",), "%",
    )  # fmt: skip


def _reversals(weeks: list[date], counts: Sequence[_Count], appeals: dict[date, int]) -> Table:
    found: dict[date, int] = defaultdict(int)
    for c in counts:
        found[c.week] += c.reversals
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (week.isoformat(), found[week], appeals.get(week, 0)) for week in weeks
    )
    return Table(
        "reversals", "Reversals and appeals, per week",
        ("Week of", "Reversals (unhidden after a hide)", "Appeals"), rows, ChartKind.GROUPED,
        ("Reversals (unhidden after a hide)", "Appeals"), "count",
    )  # fmt: skip


__all__ = [
    "ChartKind",
    "Dashboard",
    "DashboardView",
    "Table",
    "appeals_by_week",
    "export_table",
    "questioned_by_actor",
]
