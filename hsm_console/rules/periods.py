"""The spans of days a person asks the log for in words ("last week"), as first and last day.

Weeks start on Monday, as the dashboard counts them; "today" is the City's day (the caller
passes it), so a span means the same in Highland whatever the computer's clock zone.
"""

from __future__ import annotations

import enum
from datetime import date, timedelta


class Period(enum.Enum):
    TODAY = "Today"
    LAST_7_DAYS = "Last 7 days"
    THIS_WEEK = "This week"
    LAST_WEEK = "Last week (Mon–Sun)"
    LAST_30_DAYS = "Last 30 days"


def days_of(period: Period, today: date) -> tuple[date, date]:
    """The first and the last day of `period`, both included."""
    monday = today - timedelta(days=today.weekday())
    if period is Period.TODAY:
        return today, today
    if period is Period.LAST_7_DAYS:
        return today - timedelta(days=6), today
    if period is Period.THIS_WEEK:
        return monday, today
    if period is Period.LAST_WEEK:
        return monday - timedelta(days=7), monday - timedelta(days=1)
    return today - timedelta(days=29), today
