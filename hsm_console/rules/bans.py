"""The blocked-accounts register's rules (no I/O): the steps of a ban, where a ban stands, and
what a proposal must hold (docs/design.md, "Blocked accounts").

A City blocking a resident from its own pages is a First Amendment act, so a ban needs a
written basis citing the policy's reason codes and the comments, an end date, and the
approval of a supervisor other than the proposer; the register is a public record (Illinois
PAC opinion 2020 PAC 63566).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hsm_console.errors import InvalidInput
from hsm_console.rules.domain import Action
from hsm_console.rules.policy import Policy
from hsm_console.rules.review import checked_text

CITY_ZONE = ZoneInfo("America/Chicago")
# No indefinite bans, and none longer than 90 days: blocking a person from a public forum
# must be no broader than the harm it answers, so each ban runs at most one quarter and a
# longer one is a new proposal, decided again by a supervisor on the record as it then is.
MAX_BAN_DAYS = 90


class BanStep(enum.StrEnum):
    """The `action` of a ban's log entry (`EntryKind.BAN`, subject `ban:<id>`)."""

    PROPOSE = "propose"
    APPROVE = "approve"
    REFUSE = "refuse"
    CARRY_OUT = "carry_out"  # pending, then its outcome: the platform called, or done by hand
    LIFT = "lift"  # ended early by a supervisor, with a reason
    EXPIRE = "expire"  # ended on its end date


class BanState(enum.StrEnum):
    """Where a ban stands in the register."""

    PROPOSED = "proposed"  # waiting for a supervisor
    REFUSED = "refused"
    APPROVED = "approved"  # to be carried out (again, after a platform failure; or by hand)
    ACTIVE = "active"  # carried out on the platform
    LIFTED = "lifted"  # ended early
    EXPIRED = "expired"  # ended on its end date

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]


_STATE_LABELS = {
    BanState.PROPOSED: "proposed, awaiting a supervisor",
    BanState.REFUSED: "refused",
    BanState.APPROVED: "approved, not yet carried out",
    BanState.ACTIVE: "active",
    BanState.LIFTED: "lifted early",
    BanState.EXPIRED: "ended on its date",
}


@dataclass(frozen=True)
class Proposal:
    """A proposal as it will be recorded."""

    basis: str
    codes: tuple[str, ...]
    comment_ids: tuple[int, ...]
    ends_on: date
    ends_at: datetime  # the start of `ends_on` in the City's time, in UTC


def end_moment(ends_on: date) -> datetime:
    """When a ban ending on `ends_on` ends: that day's first moment in America/Chicago."""
    return datetime.combine(ends_on, time(0), tzinfo=CITY_ZONE).astimezone(UTC)


def checked_proposal(
    policy: Policy,
    basis: str,
    codes: Iterable[str],
    comment_ids: Iterable[int],
    ends_on: date | None,
    today: date,
) -> Proposal:
    """The proposal, or InvalidInput naming what is missing or wrong; nothing is recorded."""
    words = checked_text(basis, "The basis of a ban", required=True)
    cited = tuple(dict.fromkeys(code.strip().upper() for code in codes if code.strip()))
    if not cited:
        raise InvalidInput(
            "A ban must cite the policy's reason code(s) its basis rests on, e.g. THR."
        )
    for code in cited:
        if code not in policy.codes:
            raise InvalidInput(f"{code!r} is not a reason code of the City's policy.")
        if not policy.codes[code].actions & {Action.HIDE, Action.REMOVE}:
            raise InvalidInput(
                f"{code} ({policy.codes[code].name}) is not a violation of the policy; a ban "
                "can rest only on codes that allow hiding or removing a comment."
            )
    comments = tuple(dict.fromkeys(comment_ids))
    if not comments:
        raise InvalidInput("A ban must cite the author's comment(s) its basis rests on.")
    if ends_on is None:
        raise InvalidInput(
            f"A ban needs an end date: no ban is indefinite (at most {MAX_BAN_DAYS} days)."
        )
    if ends_on <= today:
        raise InvalidInput(f"The end date {ends_on.isoformat()} is not after today.")
    if ends_on > today + timedelta(days=MAX_BAN_DAYS):
        raise InvalidInput(
            f"The end date {ends_on.isoformat()} is more than {MAX_BAN_DAYS} days away; a "
            "longer ban is proposed again when this one ends."
        )
    return Proposal(words, cited, comments, ends_on, end_moment(ends_on))


def city_today(now: datetime) -> date:
    return now.astimezone(CITY_ZONE).date()
