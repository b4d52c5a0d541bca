"""Retention, legal holds and disposal by certificate, as rules (docs/design.md, "Retention,
holds and disposal"): no storage, no clock of their own (the caller passes today).

The law: no public record is disposed of without the Local Records Commission's written
approval (Local Records Act, 50 ILCS 205/7); the Local Records Disposal Certificate is sent
to the Commission thirty days before the disposal date, and nothing is disposed of until the
approved copy is returned (44 Ill. Adm. Code 4000.40(c), the Downstate Commission's rule;
4500.40(c) for Cook County). A legal hold always wins over retention.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hsm_console.display import CITY_TZ  # the City's day decides when a period ends
from hsm_console.errors import ConfigurationError, InvalidInput

NOTICE_DAYS = 30  # 44 Ill. Adm. Code 4000.40(c)


class RecordClass(enum.StrEnum):
    """A class of record with a period of its own (the policy file's [[retention]])."""

    COMMENTS = "comments"  # comments never acted on: the working copy and its versions
    ACTION_RECORDS = "action_records"  # a comment acted on: its retained records too
    REQUESTS = "requests"  # records requests and their packages
    ACTION_LOG = "action_log"  # the proof itself: permanent

    @property
    def label(self) -> str:
        return _CLASS_LABELS[self]


_CLASS_LABELS = {
    RecordClass.COMMENTS: "Comments never acted on",
    RecordClass.ACTION_RECORDS: "Retained records of actions",
    RecordClass.REQUESTS: "Records requests and packages",
    RecordClass.ACTION_LOG: "The action log",
}
# The classes the disposal worksheet lists (comments and what was retained of them).
DISPOSABLE = (RecordClass.COMMENTS, RecordClass.ACTION_RECORDS)


class HoldStep(enum.StrEnum):
    """The `action` of a hold entry (kind `hold`, subject `hold:<id>`)."""

    PLACE = "place"
    LIFT = "lift"


class DisposalStep(enum.StrEnum):
    """The `action` of a disposal entry (kind `disposal`, subject `certificate:<id>`)."""

    CERTIFY = "certify"  # an approved certificate recorded
    DISPOSE = "dispose"  # records disposed of under it; `after` keeps each id and SHA-256


@dataclass(frozen=True)
class Retention:
    record_class: RecordClass
    series: str  # the record series' title on the certificate
    schedule_item: str  # the Commission's schedule and item
    years: int | None  # None: permanent

    def last_day(self, start: datetime) -> date | None:
        """The last day a record whose period started at `start` is kept (None: forever)."""
        if self.years is None:
            return None
        return add_years(local_day(start), self.years)

    def cutoff(self, today: date) -> datetime | None:
        """Records whose period started before this moment are past retention `today`."""
        if self.years is None:
            return None
        return datetime.combine(add_years(today, -self.years), time(), CITY_TZ).astimezone(UTC)

    def past(self, start: datetime, today: date) -> bool:
        last = self.last_day(start)
        return last is not None and last < today

    @property
    def period(self) -> str:
        return "permanent" if self.years is None else f"{self.years} years"


def local_day(moment: datetime) -> date:
    return moment.astimezone(CITY_TZ).date()


def add_years(day: date, years: int) -> date:
    """The same day `years` later (or earlier); 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def parse_retention(
    entries: object, fail: Callable[[str, int | None, str | None], ConfigurationError]
) -> dict[RecordClass, Retention]:
    """The policy file's [[retention]] blocks: every class exactly once."""
    if not isinstance(entries, list) or not entries:
        raise fail("no [[retention]] entries", None, None)
    classes: dict[RecordClass, Retention] = {}
    for index, entry in enumerate(entries):

        def fail_here(msg: str, key: str | None, i: int = index) -> ConfigurationError:
            return fail(msg, i, key)

        retention = _parse_one(entry, fail_here)
        if retention.record_class in classes:
            raise fail(f"class {retention.record_class.value} given twice", index, "class")
        classes[retention.record_class] = retention
    missing = [c.value for c in RecordClass if c not in classes]
    if missing:
        raise fail(f"no [[retention]] for {', '.join(missing)}", None, None)
    return classes


def _parse_one(
    entry: dict[str, Any], fail: Callable[[str, str | None], ConfigurationError]
) -> Retention:
    if not isinstance(entry, dict):
        raise fail("must be a table of fields", None)
    unknown = set(entry) - {"class", "series", "schedule_item", "years", "permanent"}
    if unknown:
        raise fail("unknown field", sorted(unknown)[0])
    try:
        record_class = RecordClass(str(entry.get("class")))
    except ValueError:
        known = ", ".join(c.value for c in RecordClass)
        raise fail(f"must be one of {known}", "class") from None
    texts = {}
    for key in ("series", "schedule_item"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise fail("must be non-empty text", key)
        texts[key] = value.strip()
    permanent = entry.get("permanent", False)
    years = entry.get("years")
    if permanent is not True and (type(years) is not int or not 0 < years <= 100):
        raise fail("must be a whole number of years from 1 to 100, or permanent = true", "years")
    if permanent is True and years is not None:
        raise fail("a permanent class has no years", "years")
    if record_class is RecordClass.ACTION_LOG and permanent is not True:
        raise fail("the action log is the proof of every record: it is kept permanently", "class")
    return Retention(record_class, texts["series"], texts["schedule_item"],
                     None if permanent is True else years)  # fmt: skip


# --- legal holds ------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldScope:
    """What a hold covers: every criterion given must match (none given: the department)."""

    department_id: int | None  # None: every department
    site_id: int | None = None
    author_id: str | None = None  # the platform's author id
    from_on: date | None = None  # comments posted on or after this City day
    thru_on: date | None = None  # ... and on or before this one
    request_id: int | None = None  # the records request it preserves

    def covers(self, facts: RecordFacts) -> bool:
        day = local_day(facts.created_at)
        return (
            (self.department_id is None or self.department_id == facts.department_id)
            and (self.site_id is None or self.site_id == facts.site_id)
            and (self.author_id is None or self.author_id == facts.author_id)
            and (self.from_on is None or self.from_on <= day)
            and (self.thru_on is None or day <= self.thru_on)
        )


@dataclass(frozen=True)
class RecordFacts:
    """What a hold is decided on: a comment's place, author and time on the platform."""

    department_id: int
    site_id: int
    author_id: str
    created_at: datetime


def on_hold(holds: Iterable[tuple[int, HoldScope]], facts: RecordFacts) -> list[int]:
    """The ids of the holds (in force) that cover a record; any one keeps it."""
    return [hold_id for hold_id, scope in holds if scope.covers(facts)]


def check_scope(scope: HoldScope) -> None:
    """A hold names what it keeps: a site, an author, dates or a request."""
    if (scope.site_id, scope.author_id, scope.from_on, scope.thru_on, scope.request_id) == (
        None, None, None, None, None,
    ):  # fmt: skip
        raise InvalidInput(
            "A hold must name what it keeps: a site, an author, a date range or a records request."
        )
    if scope.from_on and scope.thru_on and scope.from_on > scope.thru_on:
        raise InvalidInput(
            f"The hold's dates run backwards: {scope.from_on} after {scope.thru_on}."
        )
    if scope.author_id is not None and not scope.author_id.strip():
        raise InvalidInput("The author's id is empty.")


# --- disposal certificates ----------------------------------------------------------------


def disposal_allowed_from(notice_given_on: date, approved_on: date) -> date:
    """The first day records under a certificate may be disposed of: thirty days after it
    was sent to the Commission, and not before its approval."""
    return max(notice_given_on + timedelta(days=NOTICE_DAYS), approved_on)


def check_certificate(number: str, notice_given_on: date, approved_on: date, today: date) -> str:
    """The certificate's number as recorded, or InvalidInput saying what is wrong."""
    number = number.strip()
    if not number or len(number) > 64 or not number.isprintable():
        raise InvalidInput("The certificate's number must be 1 to 64 printable characters.")
    if approved_on > today:
        raise InvalidInput(f"The approval date {approved_on} is in the future.")
    if notice_given_on > approved_on:
        raise InvalidInput(
            f"The certificate was approved ({approved_on}) before it was sent to the "
            f"Commission ({notice_given_on}): check the dates."
        )
    return number


@dataclass(frozen=True)
class Coverage:
    """One line of a certificate: a record series and the dates it covers."""

    record_class: RecordClass
    from_on: date
    thru_on: date

    def covers(self, record_class: RecordClass, start: datetime) -> bool:
        return (
            record_class is self.record_class and self.from_on <= local_day(start) <= self.thru_on
        )

    def as_json(self) -> dict[str, str]:
        return {"class": self.record_class.value, "from": self.from_on.isoformat(),
                "thru": self.thru_on.isoformat()}  # fmt: skip

    @classmethod
    def from_json(cls, value: dict[str, str]) -> Coverage:
        return cls(RecordClass(value["class"]), date.fromisoformat(value["from"]),
                   date.fromisoformat(value["thru"]))  # fmt: skip


def check_coverage(lines: list[Coverage]) -> None:
    if not lines:
        raise InvalidInput("A certificate covers at least one record series and its dates.")
    for line in lines:
        if line.record_class not in DISPOSABLE:
            raise InvalidInput(
                f"{line.record_class.value} is not a class of record disposed of through the "
                f"console: {', '.join(c.value for c in DISPOSABLE)} are."
            )
        if line.from_on > line.thru_on:
            raise InvalidInput(f"The dates run backwards: {line.from_on} after {line.thru_on}.")
