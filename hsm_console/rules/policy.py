"""The City's comment policy as data: reason codes, what each permits, and the version.

The policy lives in a versioned TOML file under `resources/policy/`, never in code, because
the oversight group amends it each year. A malformed file is refused at start with an error
that names the line and the field, so the person editing it can fix it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from hsm_console.errors import ConfigurationError, InvalidInput, PolicyViolation
from hsm_console.host.resources import resource_path
from hsm_console.rules.domain import Action
from hsm_console.rules.records_requests import closure_days
from hsm_console.rules.retention import RecordClass, Retention, parse_retention

DEFAULT_POLICY_FILE = ("policy", "highland-comment-policy.toml")

_CODE_RE = re.compile(r"^[A-Z]{3}$")
_ACTION_NAMES = {a.value for a in Action if a is not Action.UNHIDE}


@dataclass(frozen=True)
class ReasonCode:
    code: str
    name: str
    covers: str
    actions: frozenset[Action]
    second_review: bool
    note_required: bool
    clause: str
    # The written test a moderator and a reviewer apply; required for second-review codes.
    objective_test: str = ""

    def label(self) -> str:
        return f"{self.code} - {self.name}"


@dataclass(frozen=True)
class RecordsRules:
    """The policy's `[records]` table: the reason code that hands a comment over to the
    records officers as a draft request, and the days the City is closed beyond the State's
    holidays (they are no business days for a request's due date)."""

    request_code: str | None = None
    closed_days: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Policy:
    version: str
    title: str
    effective: str
    codes: dict[str, ReasonCode]
    # Whether the City tells commenters of hides and removals, and takes appeals.
    notices: bool = False
    # How long each class of record is kept, and the schedule item it comes from.
    retention: dict[RecordClass, Retention] = field(default_factory=dict)
    records: RecordsRules = field(default_factory=RecordsRules)

    def code(self, code: str) -> ReasonCode:
        try:
            return self.codes[code.strip().upper()]
        except KeyError:
            known = ", ".join(self.codes)
            raise PolicyViolation(
                f"{code!r} is not a reason code of policy {self.version}. Known codes: {known}."
            ) from None

    def codes_for(self, action: Action) -> list[ReasonCode]:
        return [c for c in self.codes.values() if action in c.actions]

    def check(self, action: Action, code: str | None, note: str) -> ReasonCode | None:
        """The reason code to record for this action, or PolicyViolation saying why not.

        Flag, hide and remove need a code that permits them; keep defaults to NVL; unhide
        restores visibility and needs no code (a note may say why).
        """
        if not code:
            if action.needs_reason:
                raise PolicyViolation(
                    f"A reason code from the City's comment policy is required to {action.value} "
                    "a comment."
                )
            if action is Action.KEEP and "NVL" in self.codes:
                return self.codes["NVL"]
            return None
        reason = self.code(code)
        if action is Action.UNHIDE:
            return reason
        if action not in reason.actions:
            allowed = ", ".join(sorted(a.value for a in reason.actions))
            raise PolicyViolation(
                f"Reason code {reason.code} ({reason.name}) does not permit {action.value}; "
                f"it permits: {allowed}."
            )
        if reason.note_required and not note.strip():
            raise PolicyViolation(
                f"Reason code {reason.code} ({reason.name}) requires a note saying why."
            )
        return reason


def load_policy(path: Path | None = None) -> Policy:
    path = path or resource_path(*DEFAULT_POLICY_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the policy file {path}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"The policy file {path} is not UTF-8 text.") from None
    return parse_policy(text, source=str(path))


def parse_policy(text: str, *, source: str = "policy") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: not valid TOML: {exc}.") from None
    lines = text.splitlines()

    def fail(
        message: str, *, block: int | None, key: str | None, header: str = "[[code]]"
    ) -> ConfigurationError:
        line = _locate(lines, block, key, header)
        where = f"line {line}" if line else "somewhere"
        field = f", field {key!r}" if key else ""
        return ConfigurationError(f"{source}, {where}{field}: {message}")

    header = data.get("policy")
    if not isinstance(header, dict):
        raise fail("the [policy] table is missing", block=None, key=None)
    meta: dict[str, str] = {}
    for key in ("version", "title", "effective"):
        value = header.get(key)
        if not isinstance(value, str) or not value.strip():
            raise fail("must be non-empty text", block=None, key=key)
        meta[key] = value.strip()
    notices = header.get("notices", False)
    if not isinstance(notices, bool):
        raise fail("must be true or false", block=None, key="notices")

    raw_codes = data.get("code")
    if not isinstance(raw_codes, list) or not raw_codes:
        raise fail("no [[code]] entries", block=None, key=None)
    codes: dict[str, ReasonCode] = {}
    for index, entry in enumerate(raw_codes):
        reason = _parse_code(entry, lambda msg, key, i=index: fail(msg, block=i, key=key))
        if reason.code in codes:
            raise fail(f"duplicate code {reason.code}", block=index, key="code")
        codes[reason.code] = reason
    retention = parse_retention(
        data.get("retention"),
        lambda msg, i, key: fail(msg, block=i, key=key, header="[[retention]]"),
    )
    records = _parse_records(data.get("records", {}), codes, lambda msg, key: fail(
        msg, block=0, key=key, header="[records]"))  # fmt: skip
    return Policy(
        meta["version"], meta["title"], meta["effective"], codes, notices, retention, records
    )


def _parse_records(table: Any, codes: dict[str, ReasonCode], fail: Any) -> RecordsRules:
    if not isinstance(table, dict):
        raise fail("[records] must be a table", None)
    unknown = set(table) - {"request_code", "closed_days"}
    if unknown:
        raise fail("unknown field", sorted(unknown)[0])
    code = table.get("request_code")
    if code is not None and code not in codes:
        raise fail(f"{code!r} is not one of the [[code]] entries", "request_code")
    days = table.get("closed_days", [])
    if not isinstance(days, list):
        raise fail("must be a list of dates such as 2026-12-24", "closed_days")
    try:
        closed = closure_days(days)
    except InvalidInput as exc:
        raise fail(exc.message, "closed_days") from None
    return RecordsRules(code, closed)


def _parse_code(entry: dict[str, Any], fail: Any) -> ReasonCode:
    def text(key: str) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise fail("must be non-empty text", key)
        return value.strip()

    def flag(key: str) -> bool:
        value = entry.get(key)
        if not isinstance(value, bool):
            raise fail("must be true or false", key)
        return value

    code = text("code")
    if not _CODE_RE.match(code):
        raise fail(f"{code!r} is not three capital letters", "code")
    actions = entry.get("actions")
    if not isinstance(actions, list) or not actions:
        raise fail("must list at least one of flag, hide, remove, keep", "actions")
    for action in actions:
        if action not in _ACTION_NAMES:
            raise fail(f"{action!r} is not one of flag, hide, remove, keep", "actions")
    unknown = set(entry) - {
        "code",
        "name",
        "covers",
        "actions",
        "second_review",
        "note_required",
        "clause",
        "objective_test",
    }
    if unknown:
        raise fail("unknown field", sorted(unknown)[0])
    second_review = flag("second_review")
    test = entry.get("objective_test", "")
    if not isinstance(test, str) or (second_review and not test.strip()):
        raise fail("a code needing second review must state its objective test", "objective_test")
    return ReasonCode(
        code=code,
        name=text("name"),
        covers=text("covers"),
        actions=frozenset(Action(a) for a in actions),
        second_review=second_review,
        note_required=flag("note_required"),
        clause=text("clause"),
        objective_test=test.strip(),
    )


def _locate(
    lines: list[str], block: int | None, key: str | None, table: str = "[[code]]"
) -> int | None:
    """The 1-based line of `key` in the block-th `table` (or in [policy] when block is None)."""
    header = "[policy]" if block is None else table
    seen = -1
    start = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped == header:
            seen += 1
            if seen == (block or 0):
                start = number
                continue
        if start is not None:
            if stripped.startswith("["):
                break
            if key and re.match(rf"{re.escape(key)}\s*=", stripped):
                return number
    return start
