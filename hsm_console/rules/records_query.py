"""The search that answers a records request, as a plain value (docs/design.md, "Search and
export packages").

A request's `scope` column holds it as JSON, and every package's manifest says the query
that produced it, so it must read back exactly as written, and a scope that was typed or
edited by hand must be refused in words rather than half understood.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from hsm_console.errors import InvalidInput


class DateBasis(enum.StrEnum):
    """What the query's days are the days of."""

    POSTED = "posted"  # the comment's time on the platform
    ACTED = "acted"  # an action on the comment (its entry in the log)


class PackageAction(enum.StrEnum):
    """The `action` of the records-package entries of kind `request` (subject `request:<id>`)."""

    EXPORT = "export"  # a package written; `after` holds its manifest's SHA-256


_SETS = ("departments", "site_ids", "platforms", "reason_codes", "actions", "outcomes")


@dataclass(frozen=True)
class RecordsQuery:
    """Which comments a request covers. Empty sets mean "all" (within the officer's reach);
    the filters on actions (action, reason code, outcome, and the days when `dated` is
    `acted`) are met by one action entry of the comment."""

    on_from: date | None = None  # local (America/Chicago) days, both inclusive
    on_to: date | None = None
    dated: DateBasis = DateBasis.POSTED
    departments: frozenset[str] = frozenset()  # department codes
    site_ids: frozenset[int] = frozenset()
    platforms: frozenset[str] = frozenset()
    author: str = ""  # the platform's author id, or part of the author's name
    words: str = ""  # full text: the comment now, its retained records and earlier versions
    reason_codes: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()  # domain.Action
    outcomes: frozenset[str] = frozenset()  # domain.EntryState: pending, applied, failed...

    @property
    def filters_actions(self) -> bool:
        return bool(self.reason_codes or self.actions or self.outcomes) or (
            self.dated is DateBasis.ACTED and (self.on_from or self.on_to) is not None
        )

    def to_json(self) -> dict[str, Any]:
        """Only what is set, sets as sorted lists, days as ISO text: the same query always
        gives the same JSON."""
        out: dict[str, Any] = {}
        for name in _SETS:
            values = getattr(self, name)
            if values:
                out[name] = sorted(values)
        for name in ("author", "words"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("on_from", "on_to"):
            day = getattr(self, name)
            if day is not None:
                out[name] = day.isoformat()
        if self.dated is not DateBasis.POSTED:
            out["dated"] = self.dated.value
        return out

    @classmethod
    def from_json(cls, data: object) -> RecordsQuery:
        """The query a scope holds; InvalidInput names what cannot be read."""
        if not isinstance(data, dict):
            raise InvalidInput("A request's search must be a JSON object of filters.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise InvalidInput(
                f"The search has a filter this program does not know: {unknown[0]!r}. Known: "
                f"{', '.join(sorted(known))}."
            )
        values: dict[str, Any] = {}
        for name in _SETS:
            if name in data:
                values[name] = frozenset(_list_of(name, data[name], int if name == "site_ids"
                                                  else str))  # fmt: skip
        for name in ("author", "words"):
            if name in data:
                values[name] = _text(name, data[name])
        for name in ("on_from", "on_to"):
            if data.get(name) is not None:
                values[name] = _day(name, data[name])
        if "dated" in data:
            try:
                values["dated"] = DateBasis(data["dated"])
            except ValueError:
                raise InvalidInput(
                    f"'dated' is {data['dated']!r}; it must be 'posted' or 'acted'."
                ) from None
        query = cls(**values)
        if query.on_from and query.on_to and query.on_from > query.on_to:
            raise InvalidInput(
                f"The search's days run backwards: from {query.on_from} to {query.on_to}."
            )
        return query


def _list_of(name: str, value: object, kind: type) -> list[Any]:
    # bool is an int to Python, never a site id to a person.
    if not isinstance(value, list) or not all(
        isinstance(v, kind) and not isinstance(v, bool) for v in value
    ):
        raise InvalidInput(f"{name!r} must be a list of {kind.__name__} values.")
    return value


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name!r} must be text.")
    return value


def _day(name: str, value: object) -> date:
    try:
        return date.fromisoformat(_text(name, value))
    except ValueError:
        raise InvalidInput(f"{name!r} is {value!r}, not a day as YYYY-MM-DD.") from None
