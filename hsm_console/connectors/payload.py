"""Small, tolerant readers for the fields of platform payloads, shared by the connectors.

Platforms send ids as numbers or strings, leave fields out, or send them mistyped; these
helpers read what is usable and give a neutral value otherwise, so one bad field never sinks
a page. A connector whose platform needs a different rule keeps its own small function.

An item the console cannot keep at all (no id, no text or author where the platform always
sends one, or text that is not valid UTF-8) is skipped, never stored as a placeholder: `skip`
logs it for IT and hands a plain description to whoever collects skips (`skips_collected`,
which sync wraps around every read), so the site's record shows that something was lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class SkippedItem:
    """An item a connector could not keep, in plain words (never the item itself)."""

    what: str  # "a YouTube comment on dQw4w9WgXcQ (Ugx...)"
    why: str  # "without an author"

    def __str__(self) -> str:
        return f"{self.what} came {self.why}"


_collected: ContextVar[list[SkippedItem] | None] = ContextVar("skipped_items", default=None)


@contextmanager
def skips_collected() -> Iterator[list[SkippedItem]]:
    """Collect the items skipped by connector calls made inside the block (this thread)."""
    skipped: list[SkippedItem] = []
    token = _collected.set(skipped)
    try:
        yield skipped
    finally:
        _collected.reset(token)


def skip(item: object, what: str, why: str, *, log: logging.Logger) -> None:
    """Leave out `item`: a warning for IT with an excerpt of it, a plain note for the site."""
    log.warning("Skipped %s %s: %.200r", what, why, item)
    skipped = _collected.get()
    if skipped is not None:
        skipped.append(SkippedItem(what, why))


def valid_unicode(value: object) -> bool:
    """Whether every string in a JSON value can be stored as UTF-8.

    Invalid bytes in a body (decoded with surrogateescape by the HTTP client) and JSON's own
    unpaired `\\ud800` escapes both arrive as lone surrogates, which neither database accepts.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(valid_unicode(k) and valid_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return all(valid_unicode(v) for v in value)
    return True


def as_id(value: object) -> str | None:
    """A non-empty string id, or an integer id as a string; None for anything else."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def identified(
    item: object,
    what: str,
    *,
    log: logging.Logger,
    field: str = "id",
    read_id: Callable[[object], str | None] = as_id,
) -> tuple[dict[str, Any], str] | None:
    """`item` as a JSON object with its id, or None (skipped, see `skip`) when it has none
    or holds text that is not valid UTF-8: the console can neither keep nor act on an item
    it cannot name or store, and the rest of the page still counts. `what` names it: "a
    TikTok comment on 7340...".
    """
    if not isinstance(item, dict) or (item_id := read_id(item.get(field))) is None:
        skip(item, what, "without an id", log=log)
        return None
    if not valid_unicode(item):
        named = f"{what} ({item_id:.80})" if valid_unicode(item_id) else what
        skip(item, named, "with text that is not valid UTF-8", log=log)
        return None
    return item, item_id


def as_text(value: object) -> str:
    """The value as text; "" for a missing (None) value."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def as_int(value: object) -> int | None:
    """An integer, or a string of (optionally negative) digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def is_true(value: object) -> bool:
    """True only for `True` itself or the string "true" in any case."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


# --- times ----------------------------------------------------------------------------


def iso_utc(value: object) -> datetime | None:
    """An ISO 8601 string as an aware UTC time (naive means UTC), or None when unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def graph_time(value: object) -> datetime | None:
    """Graph's ISO 8601 ("2026-03-02T14:05:11+0000") or unix time as aware UTC, else None."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return None


def utc_time(
    value: object,
    platform_label: str,
    external_id: object,
    *,
    log: logging.Logger,
    field: str = "time",
    parse: Callable[[object], datetime | None] = iso_utc,
) -> datetime:
    """`parse(value)`, or now (with a warning on the connector's `log`) when unreadable."""
    parsed = parse(value)
    if parsed is not None:
        return parsed
    # A comment with a bad time must still reach the queue; `raw` keeps what was sent.
    log.warning(
        "%s item %.80s has no readable %s (%.80r); using now",
        platform_label,
        external_id,
        field,
        value,
    )
    return datetime.now(UTC)
