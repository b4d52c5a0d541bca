"""The spans of days named in words, counted as the dashboard counts weeks (from Monday)."""

from __future__ import annotations

from datetime import date

import pytest

from hsm_console.rules.periods import Period, days_of

TUESDAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        (Period.TODAY, date(2026, 12, 1), date(2026, 12, 1)),
        (Period.LAST_7_DAYS, date(2026, 11, 25), date(2026, 12, 1)),
        (Period.THIS_WEEK, date(2026, 11, 30), date(2026, 12, 1)),
        (Period.LAST_WEEK, date(2026, 11, 23), date(2026, 11, 29)),
        (Period.LAST_30_DAYS, date(2026, 11, 2), date(2026, 12, 1)),
    ],
)
def test_each_period_names_its_first_and_last_day(period: Period, first: date, last: date) -> None:
    assert days_of(period, TUESDAY) == (first, last)


def test_on_a_monday_this_week_is_one_day_and_last_week_ends_yesterday() -> None:
    monday = date(2026, 11, 30)
    assert days_of(Period.THIS_WEEK, monday) == (monday, monday)
    assert days_of(Period.LAST_WEEK, monday) == (date(2026, 11, 23), date(2026, 11, 29))
    assert date(2026, 11, 29).weekday() == 6  # a Sunday: the week is whole
