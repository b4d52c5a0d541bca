"""What platforms ask of us across runs: waits they announced and daily quotas they meter.

A platform that answers "wait N seconds" is not asked again before then, by sync or by a
moderator's action; a platform that meters calls in units per day (YouTube: 10,000 units, 50
per moderation call) is counted, so the console stops before the quota runs out instead of
failing half-way through a moderator's work.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_console.db.models import ApiUsage, Site, SyncState, utcnow
from hsm_console.display import local_time
from hsm_console.errors import NotPossible
from hsm_console.rules.capabilities import Capabilities
from hsm_console.rules.domain import Platform

# YouTube's quota day ends at midnight Pacific time; other metered platforms count in UTC.
_QUOTA_ZONE = {Platform.YOUTUBE.value: ZoneInfo("America/Los_Angeles")}


def quota_day(platform: str, now: datetime | None = None) -> str:
    moment = now or utcnow()
    zone = _QUOTA_ZONE.get(platform)
    return (moment.astimezone(zone) if zone else moment).date().isoformat()


def units_spent(session: Session, platform: str, now: datetime | None = None) -> int:
    usage = session.scalar(
        select(ApiUsage).where(
            ApiUsage.platform == platform, ApiUsage.day == quota_day(platform, now)
        )
    )
    return usage.units if usage else 0


def spend(session: Session, platform: str, caps: Capabilities, units: int) -> None:
    """Count units against today's quota (no-op for platforms without one)."""
    if caps.daily_quota is None or units <= 0:
        return
    day = quota_day(platform)
    usage = session.scalar(
        select(ApiUsage).where(ApiUsage.platform == platform, ApiUsage.day == day)
    )
    if usage is None:
        session.add(ApiUsage(platform=platform, day=day, units=units))
    else:
        usage.units += units
    session.flush()


class QuotaSpent(NotPossible):
    """The platform's daily quota would be exceeded (a kind of gap in `services.health`)."""


def require_quota(session: Session, site: Site, caps: Capabilities, units: int) -> None:
    if caps.daily_quota is None:
        return
    spent = units_spent(session, site.platform)
    if spent + units > caps.daily_quota:
        name = Platform(site.platform).label
        raise QuotaSpent(
            f"Today's {name} quota is used up ({spent} of {caps.daily_quota} units); it resets "
            "at midnight Pacific time. Nothing was sent."
        )


def note_wait(session: Session, site_id: int, seconds: float) -> datetime:
    """Remember that the platform asked us to wait; returns until when."""
    until = utcnow() + timedelta(seconds=seconds)
    state = session.get(SyncState, site_id)
    if state is None:
        state = SyncState(site_id=site_id, cursor={})
        session.add(state)
    if state.wait_until is None or state.wait_until < until:
        state.wait_until = until
    session.flush()
    return until


def waiting_until(session: Session, site_id: int) -> datetime | None:
    return wait_in(session.get(SyncState, site_id))


def wait_in(state: SyncState | None) -> datetime | None:
    """The end of the wait a platform asked for in the site's state, if not passed yet."""
    if state is None or state.wait_until is None or state.wait_until <= utcnow():
        return None
    return state.wait_until


def require_no_wait(site: Site, until: datetime | None) -> None:
    """Refuse a call before the end of the platform's wait (`waiting_until`)."""
    if until is not None:
        name = Platform(site.platform).label
        raise NotPossible(
            f"{name} asked the City to wait until {local_time(until)} before calling it again "
            f"for {site.name!r}. Nothing was sent; try again then."
        )
