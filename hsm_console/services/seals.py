"""Sealing the log's chain head, so the log cannot be quietly rewound (docs/design.md, "Seals").

Deleting the newest entries behind the triggers leaves a shorter chain that still verifies;
only a copy of the head kept outside the database shows what is gone. A seal is that copy:
a seal entry in the chain whose `after` holds the head it seals (the entry just before it),
and the same as a small JSON file and a printable page in the records officer's folder
(`seals_folder` in the settings), which `verify-log --against` compares the log with.

A seal is made once a day by whichever sync or window start finds none in the last 24 hours
and something logged since the last (two one-row reads; the seal itself is one entry), and on
demand by a records officer or an administrator. Record first: the seal entry is committed,
then its files are written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_console.db.chain import append_register_entry, chain_head, lock_chain
from hsm_console.db.engine import Database
from hsm_console.db.models import LogEntry, utcnow
from hsm_console.display import local_time, safe_text
from hsm_console.errors import InvalidInput, PermissionDenied, UserError
from hsm_console.rules.domain import EntryKind
from hsm_console.rules.seals import (
    MAX_SEAL_FILE,
    SEAL_EVERY,
    Seal,
    SealAction,
    grouped_hash,
    read_seal,
    seal_from,
)
from hsm_console.services.access import require_records_officer, resolve_actor
from hsm_console.services.log_export import atomic_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SealWritten:
    """A seal made: its entry is in the chain, its files in the folder."""

    seal: Seal
    json_path: Path
    text_path: Path


def latest_seal(session: Session) -> Seal | None:
    """The newest seal in the chain, with its own entry's id and hash (for export manifests)."""
    row = session.execute(
        select(LogEntry.id, LogEntry.entry_hash, LogEntry.actor, LogEntry.after)
        .where(LogEntry.kind == EntryKind.SEAL.value)
        .order_by(LogEntry.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    try:
        return seal_from(
            json.loads(row.after or "null"), sealed_by=row.actor, seal_entry_id=row.id,
            seal_entry_hash=row.entry_hash,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:  # written by us: only a forger's hand
        raise UserError(
            f"Log entry {row.id}, the newest seal, does not hold a seal: the log was altered. "
            "Run hsm-console verify-log and tell the City Clerk's office.",
            details=str(exc),
        ) from None


def read_seal_file(path: Path) -> Seal:
    """A seal file the records officer kept; its faults in words (`rules.seals.read_seal`)."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_SEAL_FILE + 1)  # a seal is small: never read a huge file
    except OSError as exc:
        raise InvalidInput(
            f"The seal file {path} cannot be read: {exc.strerror or exc}.", details=str(exc)
        ) from exc
    return read_seal(data, path.name)


class SealService:
    """Seals for one person, written into `folder`; `clock` gives the time (tests move it)."""

    def __init__(
        self,
        db: Database,
        username: str,
        folder: Path,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.username = username
        self.folder = folder
        self.clock = clock

    def seal(self) -> SealWritten:
        """Seal the head now: a records officer or an administrator."""
        with self.db.transaction() as session:
            actor = resolve_actor(session, self.username)
            if not actor.administers:
                require_records_officer(actor, "seal the log")
            seal = _append_seal(session, actor.username, SealAction.ON_DEMAND, self._now())
        return self.write(seal)

    def seal_if_due(self) -> SealWritten | None:
        """The daily seal, if no seal was made in the last 24 hours. Anyone whose sync or
        window start finds it due makes it; a fault is logged, never the caller's failure."""
        now = self._now()
        try:
            with self.db.session() as session:  # the cheap check, without the write lock
                if not _due(session, now):
                    return None
            with self.db.transaction() as session:
                actor = resolve_actor(session, self.username)
                lock_chain(session)
                if not _due(session, now):  # another program sealed in the meantime
                    return None
                seal = _append_seal(session, actor.username, SealAction.SCHEDULED, now)
            return self.write(seal)
        except PermissionDenied:
            return None  # not a person of this console: nothing of theirs goes in the log
        except UserError as exc:
            log.warning("the daily seal: %s %s", exc.message, exc.details)
            return None

    def write(self, seal: Seal) -> SealWritten:
        """The seal's JSON file and printable page, each complete or not at all."""
        stem = seal.file_stem
        json_path, text_path = self.folder / f"{stem}.json", self.folder / f"{stem}.txt"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_file(json_path) as stream:
                stream.write(seal.file_text())
            with atomic_file(text_path) as stream:
                stream.write(printable(seal, json_path.name))
        except (OSError, UserError) as exc:  # atomic_file says why it cannot start a file
            why = exc.message if isinstance(exc, UserError) else exc.strerror or str(exc)
            raise UserError(
                f"The seal is in the log (entry {seal.seal_entry_id}), but its files could not "
                f"be written in {self.folder} ({why.rstrip('.')}). Choose a folder that can be "
                "written (seals_folder in the settings file) and seal again.",
                details=str(exc),
            ) from exc
        return SealWritten(seal, json_path, text_path)

    def _now(self) -> datetime:
        return self.clock().replace(microsecond=0)  # a seal's time is kept to the second


def _due(session: Session, now: datetime) -> bool:
    """No seal in the last 24 hours, and something to seal: an empty log, or one whose head
    is already a seal, is not sealed again (an idle day adds nothing to prove)."""
    head_kind = session.scalar(select(LogEntry.kind).order_by(LogEntry.id.desc()).limit(1))
    if head_kind is None or head_kind == EntryKind.SEAL.value:
        return False
    newest = latest_seal(session)
    return newest is None or newest.sealed_at <= now - SEAL_EVERY


def _append_seal(session: Session, actor: str, action: SealAction, now: datetime) -> Seal:
    lock_chain(session)
    head_id, head_hash = chain_head(session)
    sealed = Seal(entry_id=head_id, entry_hash=head_hash, entries=head_id, sealed_at=now)
    entry = append_register_entry(
        session,
        actor,
        EntryKind.SEAL,
        action.value,
        f"entry:{head_id}",
        None,
        sealed.body(),
        at=now,
    )
    return Seal(
        head_id, head_hash, head_id, now, sealed_by=actor, seal_entry_id=entry.id,
        seal_entry_hash=entry.entry_hash,
    )  # fmt: skip


def printable(seal: Seal, file_name: str) -> str:
    """The seal as a page to print, sign and file: the hash in groups of four."""

    def indented(text: str) -> list[str]:
        return ["    " + line for line in text.splitlines()]

    own = []
    if seal.seal_entry_id is not None and seal.seal_entry_hash is not None:
        own = [
            "",
            f"The seal itself is log entry {seal.seal_entry_id:,}, whose SHA-256 is:",
            "",
            *indented(grouped_hash(seal.seal_entry_hash)),
        ]
    return "\n".join([
        "City of Highland - HSM Console",
        "Seal of the action log",
        "",
        f"Sealed:     {local_time(seal.sealed_at)} (America/Chicago)",
        f"Sealed by:  {safe_text(seal.sealed_by)}",
        f"Log:        {seal.entries:,} entries, up to entry {seal.entry_id:,}, whose SHA-256 is:",
        "",
        *indented(grouped_hash(seal.entry_hash)),
        *own,
        "",
        "What to do with it",
        "",
        "Keep this page, signed and dated, with the seal file",
        "",
        f"    {file_name}",
        "",
        "where the people who run the database cannot change them. To prove that the log",
        "still holds every entry up to this seal, unchanged, run:",
        "",
        f"    hsm-console verify-log --against {file_name}",
        "",
        "If that fails, the log was changed after it was sealed: keep this page and the file",
        "as evidence and tell the City Clerk's office. The hashes above are the file's: compare",
        "them when a file's own copy is in doubt.",
        "",
        "Signed: ______________________________   Date: ______________",
        "",
    ])  # fmt: skip
