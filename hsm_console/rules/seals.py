"""Seals of the log's chain head (docs/design.md, "Seals"): what a seal holds, its file, and
how a log is judged against one. No I/O: the service reads and writes, this decides.

A seal entry's `after` holds the head it seals: the entry just before it, under the chain
lock. The file the records officer keeps adds the seal entry's own id and hash, so a log
rewound to just before the seal, or a file edited after it was written, is named as such.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hsm_console.errors import InvalidInput

SEAL_FORMAT = "hsm-console-seal-v1"
# A seal is made when none was made in this long (by sync or the window's start).
SEAL_EVERY = timedelta(hours=24)
# A seal file is a few hundred bytes; anything far larger is not one.
MAX_SEAL_FILE = 16_384
_HASH = re.compile(r"[0-9a-f]{64}")


class SealAction(enum.StrEnum):
    """The `action` of a seal entry: why it was made."""

    SCHEDULED = "scheduled"  # the daily seal, by whichever sync or window start found it due
    ON_DEMAND = "on_demand"  # a records officer or administrator asked for it


@dataclass(frozen=True)
class Seal:
    """The head sealed (`entry_id` with `entry_hash`, `entries` in all, at `sealed_at`), and
    the seal's own entry where known (a seal read from the chain or a file that names it)."""

    entry_id: int
    entry_hash: str
    entries: int
    sealed_at: datetime
    sealed_by: str = ""
    seal_entry_id: int | None = None
    seal_entry_hash: str | None = None

    def body(self) -> dict[str, Any]:
        """What the seal entry's `after` holds."""
        return {
            "entry_id": self.entry_id,
            "entry_hash": self.entry_hash,
            "entries": self.entries,
            "sealed_at": seal_time_text(self.sealed_at),
        }

    def file_text(self) -> str:
        return (
            json.dumps(
                {
                    "format": SEAL_FORMAT,
                    **self.body(),
                    "sealed_by": self.sealed_by,
                    "seal_entry_id": self.seal_entry_id,
                    "seal_entry_hash": self.seal_entry_hash,
                },
                indent=2,
                ensure_ascii=True,
            )
            + "\n"
        )

    @property
    def file_stem(self) -> str:
        """e.g. `seal-00001234-20261201T224000Z`: sorts by entry, then by time."""
        return f"seal-{self.entry_id:08d}-{self.sealed_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def seal_time_text(moment: datetime) -> str:
    """A seal's time as written: UTC, to the second (so it reads back exactly)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def grouped_hash(value: str) -> str:
    """A hash in groups of four, two lines of eight groups: easy to read aloud and compare."""
    groups = [value[i : i + 4] for i in range(0, len(value), 4)]
    return "\n".join(" ".join(groups[i : i + 8]) for i in range(0, len(groups), 8))


def read_seal(data: bytes, name: str) -> Seal:
    """A seal from its file's bytes; InvalidInput, in words, for anything else."""
    not_a_seal = f"{name} is not a seal file written by HSM Console"
    if len(data) > MAX_SEAL_FILE:
        raise InvalidInput(f"{not_a_seal}: it is far too large ({len(data):,} bytes).")
    try:
        fields = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput(f"{not_a_seal}: it is not JSON text.") from None
    if not isinstance(fields, dict) or fields.get("format") != SEAL_FORMAT:
        raise InvalidInput(f"{not_a_seal} (no {SEAL_FORMAT!r} format).")
    try:
        return seal_from(fields)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{not_a_seal}: {exc}.") from None


def seal_from(fields: Mapping[str, Any], **known: Any) -> Seal:
    """A seal from a file's fields or a seal entry's `after` (with `known`: who, which entry).

    Raises KeyError, TypeError or ValueError naming the field that is wrong.
    """
    values = {**fields, **known}
    entry_id = _count(values, "entry_id")
    own_id = values.get("seal_entry_id")
    own_hash = values.get("seal_entry_hash")
    if own_id is not None and (_count(values, "seal_entry_id") <= entry_id or own_hash is None):
        raise ValueError("its seal entry must follow the entry it seals, with its hash")
    sealed_at = datetime.fromisoformat(_text(values, "sealed_at"))
    if sealed_at.tzinfo is None:
        raise ValueError("sealed_at must say its time zone")
    return Seal(
        entry_id=entry_id,
        entry_hash=_hash(values, "entry_hash"),
        entries=_count(values, "entries"),
        sealed_at=sealed_at.astimezone(UTC),
        sealed_by=_text(values, "sealed_by") if values.get("sealed_by") is not None else "",
        seal_entry_id=own_id,
        seal_entry_hash=None if own_hash is None else _hash(values, "seal_entry_hash"),
    )


def _count(values: Mapping[str, Any], name: str) -> int:
    value = values[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a whole number")
    return value


def _text(values: Mapping[str, Any], name: str) -> str:
    value = values[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text")
    return value


def _hash(values: Mapping[str, Any], name: str) -> str:
    value = _text(values, name)
    if not _HASH.fullmatch(value):
        raise ValueError(f"{name} must be a SHA-256 in 64 lowercase hexadecimal digits")
    return value


def seal_entry_problem(entry_id: int, prev_hash: str, after: str | None) -> str:
    """A seal entry inside the chain seals the entry just before it: empty when it does."""
    try:
        seal = seal_from(json.loads(after or "null"))
    except (KeyError, TypeError, ValueError):
        return f"seal entry {entry_id} does not hold a seal"
    sealed = entry_id - 1
    if (seal.entry_id, seal.entries, seal.entry_hash) != (sealed, sealed, prev_hash):
        return (
            f"seal entry {entry_id} does not match the entries it seals: it says entry "
            f"{seal.entry_id} of {seal.entries}, but it follows entry {sealed}"
        )
    return ""


# What the walk of the chain found of the entries a seal names: (entry hash, actor, `after`).
Found = Mapping[int, tuple[str, str | None, str | None]]  # None: a link alone


def watched(seal: Seal) -> tuple[int, ...]:
    """The entries the walk of the chain must report on for `seal_problem`."""
    own = () if seal.seal_entry_id is None else (seal.seal_entry_id,)
    return (seal.entry_id, *own)


def seal_problem(seal: Seal, head_id: int, found: Found, when: str) -> str:
    """Whether a log whose chain verified up to `head_id` still holds everything up to the
    seal; empty when it does. `when`: the seal's time as the person reads it."""
    told = f"the seal made {when}"
    own_id, own_hash = seal.seal_entry_id, seal.seal_entry_hash
    own = found.get(own_id) if own_id is not None else None
    if own is not None and own[0] == own_hash:
        try:
            in_log = json.loads(own[2] or "null")
        except ValueError:
            in_log = None
        if in_log != seal.body() or own[1] != seal.sealed_by:
            return (
                f"the seal file was edited: it no longer matches its own seal entry {own_id} "
                "in the log"
            )
    if seal.entries != seal.entry_id:
        return (
            f"the seal file was edited: it says {seal.entries} entries up to entry "
            f"{seal.entry_id}, and the log has no gaps"
        )
    last = max(seal.entry_id, own_id or 0)
    if head_id < last:
        return (
            f"the log ends at entry {head_id}, but {told} sealed entry {seal.entry_id}"
            + (f" and is entry {own_id} itself" if own_id is not None else "")
            + f": entries {head_id + 1} to {last} were removed after the seal (the log was "
            "rewound)"
        )
    sealed = found.get(seal.entry_id)
    if seal.entry_id and (sealed is None or sealed[0] != seal.entry_hash):
        return (
            f"entry {seal.entry_id} is not the one {told} sealed (its hash differs): the log "
            "was rewritten after the seal, or the seal file was edited"
        )
    if own is not None and own[0] != own_hash:
        return (
            f"entry {own_id} is not the seal entry {told} names (its hash differs): the log "
            "was rewritten after the seal, or the seal file was edited"
        )
    return ""
