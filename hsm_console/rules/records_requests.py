"""Records requests under the Illinois FOIA as rules (no I/O): a request's states, which step
may follow which, and its due date in business days (docs/design.md, "Records requests").

5 ILCS 140/3(d): a public body answers "within 5 business days after its receipt of the
request"; 3(e) lets it extend that once, by not more than 5 business days from the original
due date, for one of seven reasons, and 3(f) says it must tell the requester so within the
original 5 days. 3(c) forbids demanding a form or a purpose, so a request needs only its words.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hsm_console.display import CITY_TZ
from hsm_console.errors import InvalidInput

ANSWER_DAYS = 5  # 3(d)
EXTENSION_DAYS = 5  # 3(e)
DUE_SOON_DAYS = 2  # business days left at which a request is "due soon"
REQUESTER_LIMIT = 1_000  # characters of a requester as given
WORDS_LIMIT = 100_000  # characters of a request's words
SCOPE_LIMIT = 20_000  # characters of the scope as JSON


class RequestState(enum.StrEnum):
    DRAFT = "draft"  # handed over from the queue (a comment coded FOI), not yet accepted
    OPEN = "open"
    EXTENDED = "extended"  # open, under its one extension
    ANSWERED = "answered"
    WITHDRAWN = "withdrawn"  # by the requester, or a draft that was no request

    @property
    def is_open(self) -> bool:
        """Still to be answered: its due date runs (a draft's too, from the handover)."""
        return self in (RequestState.DRAFT, RequestState.OPEN, RequestState.EXTENDED)


class RequestStep(enum.StrEnum):
    """The `action` of a request's log entries (kind `request`, subject `request:<id>`)."""

    RECEIVE = "receive"  # registered by a records officer
    DRAFT = "draft"  # handed over by a moderator's FOI action
    ACCEPT = "accept"  # a draft becomes open, received when it was handed over
    ASSIGN = "assign"
    EXTEND = "extend"
    ANSWER = "answer"
    WITHDRAW = "withdraw"
    EXPORT = "export"  # a package exported for it (changes no state)


class ExtensionReason(enum.StrEnum):
    """The reasons 5 ILCS 140/3(e) allows for extending the time, (i) to (vii)."""

    OTHER_LOCATIONS = "other_locations"
    MANY_RECORDS = "many_records"
    CATEGORICAL = "categorical"
    NOT_LOCATED = "not_located"
    EXEMPTION_REVIEW = "exemption_review"
    UNDUE_BURDEN = "undue_burden"
    CONSULTATION = "consultation"

    @property
    def label(self) -> str:
        return _EXTENSION_LABELS[self]


_EXTENSION_LABELS = {
    ExtensionReason.OTHER_LOCATIONS: "3(e)(i): the records are stored at other locations",
    ExtensionReason.MANY_RECORDS: "3(e)(ii): a substantial number of records to collect",
    ExtensionReason.CATEGORICAL: "3(e)(iii): categorical terms need an extensive search",
    ExtensionReason.NOT_LOCATED: "3(e)(iv): not located in a routine search",
    ExtensionReason.EXEMPTION_REVIEW: "3(e)(v): examination for exemptions under Section 7",
    ExtensionReason.UNDUE_BURDEN: "3(e)(vi): would unduly burden the City's operations",
    ExtensionReason.CONSULTATION: "3(e)(vii): consultation with another public body",
}

# The steps each state allows; export is the package's, and changes no state.
_ALLOWED: dict[RequestState, frozenset[RequestStep]] = {
    RequestState.DRAFT: frozenset({RequestStep.ACCEPT, RequestStep.ASSIGN, RequestStep.WITHDRAW}),
    RequestState.OPEN: frozenset(
        {RequestStep.ASSIGN, RequestStep.EXTEND, RequestStep.ANSWER, RequestStep.WITHDRAW}
        | {RequestStep.EXPORT}
    ),
    RequestState.EXTENDED: frozenset(
        {RequestStep.ASSIGN, RequestStep.ANSWER, RequestStep.WITHDRAW, RequestStep.EXPORT}
    ),
    RequestState.ANSWERED: frozenset({RequestStep.EXPORT}),
    RequestState.WITHDRAWN: frozenset(),
}
STATE_AFTER = {
    RequestStep.ACCEPT: RequestState.OPEN,
    RequestStep.EXTEND: RequestState.EXTENDED,
    RequestStep.ANSWER: RequestState.ANSWERED,
    RequestStep.WITHDRAW: RequestState.WITHDRAWN,
}
_DOING = {
    RequestStep.ACCEPT: "accepted",
    RequestStep.ASSIGN: "assigned",
    RequestStep.EXTEND: "extended",
    RequestStep.ANSWER: "answered",
    RequestStep.WITHDRAW: "withdrawn",
    RequestStep.EXPORT: "exported",
}
_WHY = {
    RequestState.DRAFT: "it is still a draft from the queue: accept it first",
    RequestState.OPEN: "it is open",
    RequestState.EXTENDED: "it was already extended once, and 3(e) allows one extension",
    RequestState.ANSWERED: "it was answered",
    RequestState.WITHDRAWN: "it was withdrawn",
}


def refusal(state: RequestState, step: RequestStep) -> str | None:
    """Why `step` cannot follow now, in words; None when it can."""
    if step in _ALLOWED[state]:
        return None
    return f"This request cannot be {_DOING.get(step, step.value)}: {_WHY[state]}."


def extension_refusal(original_due: date, today: date) -> str | None:
    """3(f): the requester is told of an extension within the first 5 business days, so a
    request is no longer extended once its original due date has passed."""
    if today <= original_due:
        return None
    return (
        f"It was due on {original_due:%A %d %B %Y}: an extension must be sent to the "
        "requester within the first 5 business days (5 ILCS 140/3(f)), so it can no longer "
        "be extended."
    )


def _illinois_holidays() -> Any:
    import holidays  # 0.05 s: the window's start has no deadline to count

    return holidays.country_holidays("US", subdiv="IL")


@dataclass(frozen=True)
class BusinessCalendar:
    """The City's business days: Monday to Friday but Illinois state holidays (the `holidays`
    library's `US`/`IL`) and the City's own closure days (the policy's `[records]` table)."""

    closures: frozenset[date] = frozenset()
    _holidays: Any = field(default_factory=_illinois_holidays, compare=False)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays and day not in self.closures

    def add(self, start: date, days: int) -> date:
        """The `days`-th business day after `start` (start itself is not counted)."""
        day = start
        for _ in range(days):
            day += timedelta(days=1)
            while not self.is_business_day(day):
                day += timedelta(days=1)
        return day

    def due_on(self, received_at: datetime) -> date:
        """The last day to answer a request received at `received_at`.

        Day one is the first business day after the day of receipt: the Statute on Statutes
        (5 ILCS 70/1.11) computes a time "by excluding the first day and including the last",
        and skips a last day that is a weekend or holiday. So a request received on a Monday
        (at any hour) is due on the Monday after; one received on a Saturday, the Friday after.
        """
        return self.add(received_at.astimezone(CITY_TZ).date(), ANSWER_DAYS)

    def extended(self, due_on: date) -> date:
        """3(e): not more than 5 business days from the original due date."""
        return self.add(due_on, EXTENSION_DAYS)

    def days_left(self, today: date, due: date) -> int:
        """Business days from `today` to `due`: 0 on the due day, negative once overdue (the
        business days past it, at least one)."""
        if today <= due:
            return self._between(today, due)
        return -max(1, self._between(due, today))  # the day after the due day is late

    def _between(self, start: date, end: date) -> int:
        """Business days after `start` up to and including `end`."""
        days = (start + timedelta(days=n) for n in range(1, (end - start).days + 1))
        return sum(self.is_business_day(day) for day in days)


class Urgency(enum.StrEnum):
    NONE = "none"
    DUE_SOON = "due_soon"  # due within DUE_SOON_DAYS business days
    OVERDUE = "overdue"


def time_left(days_left: int) -> str:
    """Business days left, as a person says it: "2 business days left", "due today",
    "overdue by 1 business day"."""
    if days_left == 0:
        return "due today"
    days = f"{abs(days_left)} business day{'s' * (abs(days_left) != 1)}"
    return f"overdue by {days}" if days_left < 0 else f"{days} left"


def urgency(state: RequestState, days_left: int) -> Urgency:
    if not state.is_open:
        return Urgency.NONE
    if days_left < 0:
        return Urgency.OVERDUE
    return Urgency.DUE_SOON if days_left <= DUE_SOON_DAYS else Urgency.NONE


def checked_scope(scope: Any) -> dict[str, Any]:
    """The search that answers a request, as a JSON object of named criteria."""
    if not isinstance(scope, dict) or not all(isinstance(key, str) for key in scope):
        raise InvalidInput('The scope must be a JSON object, e.g. {"department": "PARKS"}.')
    try:
        text = json.dumps(scope, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput("The scope holds something that is not plain JSON.") from None
    if "\\u0000" in text:
        raise InvalidInput("The scope contains a NUL character, which cannot be recorded.")
    if len(text) > SCOPE_LIMIT:
        raise InvalidInput(f"The scope is {len(text):,} characters long; at most {SCOPE_LIMIT:,}.")
    return scope


def closure_days(values: Iterable[Any]) -> frozenset[date]:
    """The policy's `closed_days`: TOML dates (plain dates, no time)."""
    days = []
    for value in values:
        if not isinstance(value, date) or isinstance(value, datetime):
            raise InvalidInput(f"{value!r} is not a date such as 2026-12-24.")
        days.append(value)
    return frozenset(days)
