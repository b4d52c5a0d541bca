"""Records requests as rules: business days under the Illinois FOIA, the steps a request may
take, the policy's [records] table (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from hsm_console.display import CITY_TZ
from hsm_console.errors import ConfigurationError, InvalidInput
from hsm_console.rules.policy import load_policy, parse_policy
from hsm_console.rules.records_requests import (
    BusinessCalendar,
    RequestState,
    RequestStep,
    Urgency,
    checked_scope,
    refusal,
    time_left,
    urgency,
)
from hsm_console.rules.review import checked_text
from tests.test_policy import GOOD

STATE_ONLY = BusinessCalendar()  # weekends and Illinois holidays, no City closure


def chicago(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CITY_TZ)


def test_day_one_is_the_business_day_after_receipt_weekends_skipped() -> None:
    # Received on a Wednesday, at any hour: Thu is day 1, Fri 2, Mon 3, Tue 4, Wed 5.
    assert STATE_ONLY.due_on(chicago(2026, 4, 8, 0, 1)) == date(2026, 4, 15)
    assert STATE_ONLY.due_on(chicago(2026, 4, 8, 23, 59)) == date(2026, 4, 15)
    # Received on a Saturday: Monday is day 1, so the Friday after is day 5.
    assert STATE_ONLY.due_on(chicago(2026, 4, 11, 10)) == date(2026, 4, 17)


def test_receipt_is_the_day_in_chicago_not_in_utc() -> None:
    # Monday 12 January 2026, 23:30 in Highland is already Tuesday in UTC; and the Monday
    # after is Martin Luther King Jr. Day, so day 5 is Tuesday 20 January.
    late_monday = datetime(2026, 1, 13, 5, 30, tzinfo=UTC)
    assert late_monday.astimezone(CITY_TZ).date() == date(2026, 1, 12)
    assert STATE_ONLY.due_on(late_monday) == date(2026, 1, 20)


def test_illinois_holidays_are_no_business_days() -> None:
    # Lincoln's Birthday (Thu 12 Feb) and Washington's Birthday (Mon 16 Feb) are skipped.
    assert STATE_ONLY.due_on(chicago(2026, 2, 9, 10)) == date(2026, 2, 18)
    # Election Day (Tue 3 Nov 2026) is an Illinois holiday.
    assert not STATE_ONLY.is_business_day(date(2026, 11, 3))
    assert STATE_ONLY.due_on(chicago(2026, 10, 30, 10)) == date(2026, 11, 9)
    # Casimir Pulaski Day.
    assert not STATE_ONLY.is_business_day(date(2026, 3, 2))


def test_city_closures_from_the_policy_file_are_no_business_days() -> None:
    city = BusinessCalendar(load_policy().records.closed_days)
    # Thanksgiving is the State's; the Friday after is the City's own closure.
    received = chicago(2026, 11, 23, 9)
    assert STATE_ONLY.due_on(received) == date(2026, 12, 1)
    assert city.due_on(received) == date(2026, 12, 2)
    assert not city.is_business_day(date(2026, 12, 24))
    assert STATE_ONLY.is_business_day(date(2026, 12, 24))


def test_the_extension_counts_five_business_days_from_the_original_due_date() -> None:
    due = STATE_ONLY.due_on(chicago(2026, 2, 9, 10))
    assert due == date(2026, 2, 18)
    assert STATE_ONLY.extended(due) == date(2026, 2, 25)
    # Over Memorial Day: due Friday 22 May, extended to Monday 1 June.
    assert STATE_ONLY.extended(date(2026, 5, 22)) == date(2026, 6, 1)


def test_days_left_and_urgency() -> None:
    due = date(2026, 2, 18)  # a Wednesday
    assert STATE_ONLY.days_left(date(2026, 2, 18), due) == 0
    assert STATE_ONLY.days_left(date(2026, 2, 17), due) == 1
    assert STATE_ONLY.days_left(date(2026, 2, 13), due) == 2  # Mon 16 Feb is a holiday
    assert STATE_ONLY.days_left(date(2026, 2, 11), due) == 3  # Thu 12 Feb is a holiday too
    assert STATE_ONLY.days_left(date(2026, 2, 19), due) == -1
    assert STATE_ONLY.days_left(date(2026, 2, 23), due) == -3
    # The Saturday after a Friday due date: late, though no business day has passed.
    assert STATE_ONLY.days_left(date(2026, 2, 21), date(2026, 2, 20)) == -1
    assert [time_left(n) for n in (-2, -1, 0, 1, 5)] == [
        "overdue by 2 business days", "overdue by 1 business day", "due today",
        "1 business day left", "5 business days left",
    ]  # fmt: skip
    assert urgency(RequestState.OPEN, -1) is Urgency.OVERDUE
    assert urgency(RequestState.DRAFT, 2) is Urgency.DUE_SOON
    assert urgency(RequestState.EXTENDED, 3) is Urgency.NONE
    assert urgency(RequestState.ANSWERED, -9) is Urgency.NONE
    assert urgency(RequestState.WITHDRAWN, 0) is Urgency.NONE


def test_which_step_may_follow_which() -> None:
    assert refusal(RequestState.DRAFT, RequestStep.ACCEPT) is None
    assert refusal(RequestState.OPEN, RequestStep.EXTEND) is None
    assert refusal(RequestState.ANSWERED, RequestStep.EXPORT) is None
    assert refusal(RequestState.EXTENDED, RequestStep.EXTEND) == (
        "This request cannot be extended: it was already extended once, and 3(e) allows one "
        "extension."
    )
    assert "it was withdrawn" in (refusal(RequestState.WITHDRAWN, RequestStep.ANSWER) or "")
    assert "accept it first" in (refusal(RequestState.DRAFT, RequestStep.ANSWER) or "")
    assert refusal(RequestState.OPEN, RequestStep.ACCEPT) is not None
    for step in RequestStep:
        assert refusal(RequestState.WITHDRAWN, step) is not None


def test_text_is_kept_exactly_or_refused_in_words() -> None:
    hostile = ' <b>Ann</b>\u202eevil =HYPERLINK("x") '
    assert checked_text(hostile, "The requester", required=False, limit=100, exact=True) == hostile
    assert checked_text("", "The requester", required=False, limit=100, exact=True) == ""
    with pytest.raises(InvalidInput, match="NUL"):
        checked_text("a\x00b", "The requester", required=False, limit=100, exact=True)
    with pytest.raises(InvalidInput, match="1,000,000 characters long; at most 100"):
        checked_text("x" * 1_000_000, "The request's words", required=True, limit=100, exact=True)
    with pytest.raises(InvalidInput, match="is required"):
        checked_text("  \n", "The request's words", required=True, limit=100, exact=True)
    assert checked_scope({"department": "PARKS", "days": [1, 2]}) == {
        "department": "PARKS",
        "days": [1, 2],
    }
    for bad in ([1], "PARKS", {"x": float("nan")}, {"x": "\x00"}, {1: "x"}):
        with pytest.raises(InvalidInput):
            checked_scope(bad)


def test_policy_records_table_is_checked_with_line_and_field() -> None:
    shipped = load_policy().records
    assert shipped.request_code == "FOI"
    assert date(2026, 11, 27) in shipped.closed_days
    assert parse_policy(GOOD).records.request_code is None  # no table: no handover
    good = parse_policy(GOOD + '\n[records]\nrequest_code = "PRF"\nclosed_days = [2026-12-24]\n')
    assert good.records.closed_days == frozenset({date(2026, 12, 24)})
    line = (GOOD + "\n[records]\n").count("\n") + 1  # the table's first line
    for table, words in (
        ('request_code = "XYZ"', f"line {line}, field 'request_code': 'XYZ' is not one of"),
        ('closed_days = ["Christmas Eve"]', "field 'closed_days': 'Christmas Eve' is not a date"),
        ("closed_days = [2026-12-24T10:00:00]", "is not a date"),
        ("closed_days = 2026-12-24", "must be a list of dates"),
        ("closed = []", "field 'closed': unknown field"),
    ):
        with pytest.raises(ConfigurationError, match=words.replace("(", r"\(")):
            parse_policy(GOOD + "\n[records]\n" + table + "\n")
