"""Connection health: when each site was last read, what went wrong, and every gap.

A gap is an interval in which a site could not be read. The gap still open is bookkeeping in
`sync_state`; when the site is read again it becomes a `capture_gaps` record (append-only),
and that sync reads back from before the gap began (`read_back_from`).

"Program not running": when a sync starts more than NOT_RUNNING_FACTOR times the site's
expected interval after the last sync that read it, the time between is a gap. The expected
interval is the site setting `expected_sync_minutes` (EXPECTED_MINUTES if unset): auto-sync
runs every 5 to 60 minutes, so an hour's interval flags only real absences by default.

Token state and expiry (issue 8, item 5) belong in `SiteHealth` beside `last_error`, and a
lapsed token is one more `GapKind`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_console.db.engine import Database
from hsm_console.db.models import CaptureGap, Site, SyncState, utcnow
from hsm_console.errors import PlatformError, UserError
from hsm_console.services.access import Actor
from hsm_console.services.limits import QuotaSpent

EXPECTED_MINUTES = 60
NOT_RUNNING_FACTOR = 2


class GapKind(enum.StrEnum):
    PLATFORM = "platform"  # the platform failed, refused or could not be reached
    QUOTA = "quota"  # the platform's daily quota was spent
    WAIT = "wait"  # the platform announced a wait
    NOT_RUNNING = "not_running"  # no sync ran for longer than the site's expected interval

    @property
    def words(self) -> str:
        return {
            GapKind.PLATFORM: "platform down or refusing",
            GapKind.QUOTA: "quota spent",
            GapKind.WAIT: "a wait the platform announced",
            GapKind.NOT_RUNNING: "program not running",
        }[self]


def kind_of(error: UserError) -> GapKind:
    if isinstance(error, PlatformError) and error.retry_after is not None:
        return GapKind.WAIT
    if isinstance(error, QuotaSpent):
        return GapKind.QUOTA
    return GapKind.PLATFORM


def expected_interval(site: Site) -> timedelta:
    minutes = site.settings.get("expected_sync_minutes", EXPECTED_MINUTES)
    if not isinstance(minutes, int) or minutes < 1:
        minutes = EXPECTED_MINUTES
    return timedelta(minutes=minutes)


def state_of(session: Session, site_id: int) -> SyncState:
    """The site's sync bookkeeping, made on first use."""
    state = session.get(SyncState, site_id)
    if state is None:
        state = SyncState(site_id=site_id, cursor={})
        session.add(state)
        session.flush()
    return state


def _record(
    session: Session, site: Site, kind: GapKind, began: datetime, ended: datetime, detail: str
) -> None:
    session.add(
        CaptureGap(
            site_id=site.id, department_id=site.department_id, kind=kind.value,
            began_at=began, ended_at=ended, detail=detail, recorded_at=utcnow(),
        )
    )  # fmt: skip


def starting(session: Session, site: Site) -> datetime | None:
    """A sync of the site begins: records a "not running" gap if there was one; returns the
    time to read back from when the site was not read for a while (None: nothing missed)."""
    state = state_of(session, site.id)
    now = utcnow()
    if state.last_ok_at is None:
        return None
    if state.unreadable_since is not None:
        return state.last_ok_at
    interval = expected_interval(site)
    if now - state.last_ok_at > NOT_RUNNING_FACTOR * interval:
        detail = (
            f"No sync ran for {_duration(now - state.last_ok_at)} (expected every "
            f"{_duration(interval)})."
        )
        _record(session, site, GapKind.NOT_RUNNING, state.last_ok_at, now, detail)
        return state.last_ok_at
    return None


def failed(session: Session, site: Site, kind: GapKind, detail: str) -> None:
    """The site could not be read: opens a gap, or a new one if the reason changed."""
    state = state_of(session, site.id)
    now = utcnow()
    if state.unreadable_since is not None:
        if state.unreadable_kind == kind.value:
            state.unreadable_detail = detail
            return
        old = GapKind(state.unreadable_kind or GapKind.PLATFORM)
        _record(session, site, old, state.unreadable_since, now, state.unreadable_detail)
        state.unreadable_since = now
    else:
        # From the end of the last read, unless a "not running" gap already covers that.
        last = state.last_ok_at
        recent = last is not None and now - last <= NOT_RUNNING_FACTOR * expected_interval(site)
        state.unreadable_since = last if recent else now
    state.unreadable_kind = kind.value
    state.unreadable_detail = detail


def succeeded(session: Session, site: Site) -> None:
    """The site was read: the open gap, if any, becomes a record."""
    state = state_of(session, site.id)
    now = utcnow()
    if state.unreadable_since is not None:
        kind = GapKind(state.unreadable_kind or GapKind.PLATFORM)
        _record(session, site, kind, state.unreadable_since, now, state.unreadable_detail)
        state.unreadable_since = None
        state.unreadable_kind = None
        state.unreadable_detail = ""
    state.last_ok_at = now


@dataclass(frozen=True)
class Gap:
    kind: str
    words: str
    began_at: datetime
    ended_at: datetime | None  # None: still open
    detail: str


@dataclass(frozen=True)
class SiteHealth:
    site_id: int
    site_name: str
    platform: str
    department: str
    last_ok_at: datetime | None
    last_error: str
    gaps: list[Gap] = field(default_factory=list)  # oldest first; an open gap last

    @property
    def readable(self) -> bool:
        return not self.gaps or self.gaps[-1].ended_at is not None


def health(db: Database, actor: Actor) -> list[SiteHealth]:
    """Every site the person may see (moderates, supervises or administers), with its gaps."""
    with db.session() as session:
        sites = [
            s
            for s in session.scalars(select(Site).order_by(Site.id))
            if actor.administers or actor.may_moderate(s.department_id)
            or actor.may_read_log(s.department_id)
        ]  # fmt: skip
        answer = []
        for site in sites:
            state = session.get(SyncState, site.id)
            gaps = [
                Gap(g.kind, GapKind(g.kind).words, g.began_at, g.ended_at, g.detail)
                for g in session.scalars(
                    select(CaptureGap).where(CaptureGap.site_id == site.id).order_by(CaptureGap.id)
                )
            ]
            if state is not None and state.unreadable_since is not None:
                kind = GapKind(state.unreadable_kind or GapKind.PLATFORM)
                gaps.append(
                    Gap(kind.value, kind.words, state.unreadable_since, None,
                        state.unreadable_detail)
                )  # fmt: skip
            answer.append(
                SiteHealth(
                    site.id, site.name, site.platform, site.department.name,
                    state.last_ok_at if state else None, state.last_error if state else "", gaps,
                )
            )  # fmt: skip
        return answer


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    hours = minutes // 60
    return f"{hours} hours" if hours < 48 else f"{hours // 24} days"
