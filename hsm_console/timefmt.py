"""Times are stored in UTC and shown in the City's time zone (America/Chicago)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("America/Chicago")


def local_time(moment: datetime) -> str:
    """e.g. '2026-03-02 08:05:11 CST' — the zone name says whether daylight time applies."""
    return moment.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M:%S %Z")


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time from a platform, as an aware UTC datetime (naive means UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
