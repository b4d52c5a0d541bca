"""Review, notes, notices and appeals as rules (no I/O): what text is accepted, how long an
action has waited, and the notice a commenter is sent, drafted from the policy's words."""

from __future__ import annotations

import enum
from datetime import timedelta

from hsm_console.errors import InvalidInput
from hsm_console.rules.domain import Action, Platform
from hsm_console.rules.policy import Policy

TEXT_LIMIT = 20_000  # characters of a note, a notice or an appeal's words


class Channel(enum.StrEnum):
    """How a notice was sent or an appeal arrived: the platforms do not tell an author."""

    PLATFORM_MESSAGE = "platform_message"  # a direct message on the platform, sent by hand
    EMAIL = "email"
    LETTER = "letter"
    PHONE = "phone"
    IN_PERSON = "in_person"
    WEB_FORM = "web_form"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


def checked_text(
    text: str, what: str, *, required: bool, limit: int = TEXT_LIMIT, exact: bool = False
) -> str:
    """The text as it will be recorded, or InvalidInput saying what is wrong with it.
    `exact`: kept as given, spaces and all (a requester's words are theirs), else stripped."""
    if not exact:
        text = text.strip()
    if required and not text.strip():
        raise InvalidInput(f"{what} is required: write it in words.")
    if "\x00" in text:
        raise InvalidInput(f"{what} contains a NUL character, which cannot be recorded.")
    if len(text) > limit:
        raise InvalidInput(f"{what} is {len(text):,} characters long; at most {limit:,}.")
    return text


def age_words(age: timedelta) -> str:
    """How long something has waited, as a person says it: "3 days 4 hours", "25 minutes"."""
    minutes = max(0, int(age.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} day{'s' * (days != 1)} {hours} hour{'s' * (hours != 1)}"
    if hours:
        return f"{hours} hour{'s' * (hours != 1)} {minutes} min"
    return f"{minutes} min"


_DONE = {
    Action.HIDE: "hidden from public view",
    Action.REMOVE: "removed",
    Action.FLAG: "marked for review",
}


def draft_notice(
    policy: Policy, action: Action, reason_code: str, platform: Platform, site_name: str
) -> str:
    """The notice to the commenter, in plain words, from the reason code and its clause.

    It says what was done, under which published rule and what the rule covers, that the
    rule is about what the comment is and never the opinion in it, and how to appeal.
    """
    code = policy.code(reason_code)
    done = _DONE.get(action, "acted on")
    lines = [
        f'Your comment on the City of Highland\'s {platform.label} page "{site_name}" was '
        f"{done} by the City.",
        "",
        f"Reason: {code.name} ({code.code}), under {code.clause} of the City's social media "
        f"policy (version {policy.version}). {code.covers}",
    ]
    if code.objective_test:
        lines += ["", f"The test the City applies: {code.objective_test}"]
    lines += [
        "",
        "The City never hides or removes a comment for the opinion it expresses or for "
        "criticising the City, its officials or its policies.",
        "",
        "If you believe this was a mistake, you may appeal: reply to this notice or write to "
        "the department, saying which comment and why. A supervisor who did not take this "
        "action will decide your appeal.",
    ]
    return "\n".join(lines)
