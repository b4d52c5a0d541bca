"""Backing the database up and restoring it into a new one, proven by the log's own chain.

SQLite: the sqlite3 online backup API, consistent while the console runs. PostgreSQL:
`pg_dump -Fc` inside an exported snapshot, so the chain head written beside the dump is the
head the dump holds; `pg_restore` back. Beside FILE goes FILE.json (the sidecar): the chain
head (id, hash), the count of entries, the file's size and SHA-256, the time and the
program's version. A restore checks the file against the sidecar, refuses any database that
already holds a table, then walks the restored chain (`verify_log`) and compares its head with
the sidecar's: a backup that restores is a backup that proves itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import URL, make_url, text

from hsm_console import __version__
from hsm_console.db.chain import GENESIS_HASH, chain_head
from hsm_console.db.engine import Database
from hsm_console.errors import ConfigurationError, InvalidInput, UserError
from hsm_console.services.doctor import catalog_names
from hsm_console.services.verify import VerifyReport, verify_log

SIDECAR_SUFFIX = ".json"
_PAGES_PER_STEP = 4096  # SQLite pages copied between progress calls (16 MB at 4 kB pages)
Progress = Callable[[int, int], None]  # (done, total) in the backup's own units


@dataclass(frozen=True)
class BackupInfo:
    """The sidecar: what the backup file holds, and how to know it is whole."""

    kind: str  # "sqlite" or "postgresql"
    head_id: int
    head_hash: str
    entries: int
    size: int
    sha256: str
    made_at: str
    version: str


@dataclass(frozen=True)
class Restored:
    info: BackupInfo
    report: VerifyReport


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def backup(
    db: Database, path: Path, pg_tools: Path | None = None, progress: Progress | None = None
) -> BackupInfo:
    """Write the backup to `path` (never over an existing file) and its sidecar."""
    for target in (path, sidecar(path)):
        if target.exists():
            raise InvalidInput(f"{target} exists already; name a new file. Nothing was written.")
    partial = path.with_name(path.name + ".partial")
    try:
        if db.is_sqlite:
            _sqlite_copy(_sqlite_file(db.url), partial, progress)
            head_id, head_hash, entries = _head_of(Database(f"sqlite:///{partial}"))
        else:
            head_id, head_hash, entries = _pg_dump(db, partial, pg_tools)
        size, digest = _digest(partial)
        info = BackupInfo(
            db.dialect, head_id, head_hash, entries, size, digest,
            datetime.now(UTC).isoformat(timespec="seconds"), __version__,
        )  # fmt: skip
        sidecar(path).write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return info


def restore(
    path: Path, to_url: str, pg_tools: Path | None = None, progress: Progress | None = None
) -> Restored:
    """Restore the backup into the empty database `to_url` and prove it against the sidecar."""
    info = read_sidecar(path)
    size, digest = _digest(path)
    if (size, digest) != (info.size, info.sha256):
        raise InvalidInput(
            f"{path} is not the file its sidecar describes ({size} bytes, "
            f"{info.size} expected): it was cut short or altered. Nothing was restored; use "
            "another backup.",
            details=f"sha256 {digest}, sidecar {info.sha256}",
        )
    target = Database(to_url)
    try:
        if target.dialect != info.kind:
            raise InvalidInput(
                f"{path} is a {info.kind} backup; restore it into a {info.kind} database."
            )
        if _tables(target):
            raise InvalidInput(
                "The database to restore into already holds tables; restore only into a new, "
                "empty database. Nothing was changed."
            )
        if target.is_sqlite:
            target.dispose()
            _sqlite_copy(path, _sqlite_file(target.url), progress)
        else:
            with _disposer_lent(target):
                _pg_restore(path, target.url, pg_tools)
        report = verify_log(target)
    finally:
        target.dispose()
    if not report.ok:
        raise UserError(
            f"The restored log does not verify: {report.problem} Do not use the restored "
            "database; tell the City Clerk's office."
        )
    if (report.head_id, report.head_hash, report.entries_checked) != (
        info.head_id, info.head_hash, info.entries,
    ):  # fmt: skip
        raise UserError(
            f"The restored log ends at entry {report.head_id} ({report.entries_checked} "
            f"entries), the backup's sidecar at {info.head_id} ({info.entries}): the backup "
            "is not the one its sidecar describes. Do not use the restored database."
        )
    return Restored(info, report)


def read_sidecar(path: Path) -> BackupInfo:
    side = sidecar(path)
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file.")
    try:
        values = json.loads(side.read_text(encoding="utf-8"))
        info = BackupInfo(**values)
        if not isinstance(info.head_id, int) or not isinstance(info.size, int):
            raise TypeError("head_id and size must be numbers")
    except FileNotFoundError:
        raise InvalidInput(
            f"{side} is missing: without it the backup cannot be proven. Nothing was restored."
        ) from None
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"{side} is not a backup's sidecar; nothing was restored.", details=str(exc)
        ) from None
    return info


def _head_of(db: Database) -> tuple[int, str, int]:
    try:
        with db.session() as session:
            head_id, head_hash = chain_head(session)
            entries = session.execute(text("SELECT count(*) FROM action_log")).scalar_one()
            return head_id, head_hash, int(entries)
    finally:
        db.dispose()


def _digest(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            sha.update(chunk)
    return path.stat().st_size, sha.hexdigest()


def _tables(db: Database) -> frozenset[str]:
    return catalog_names(
        db, "SELECT name FROM sqlite_master WHERE type = 'table'",
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    )  # fmt: skip


# --- SQLite -----------------------------------------------------------------------------


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise InvalidInput("Only a SQLite database in a file can be backed up or restored into.")
    return Path(url.database).expanduser()


def _sqlite_copy(source: Path, target: Path, progress: Progress | None) -> None:
    """The online backup API: a consistent copy even while another program writes."""
    if not source.is_file():
        raise InvalidInput(f"{source} does not exist: there is nothing to back up.")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)  # any path
    dst = sqlite3.connect(target)
    try:
        src.backup(
            dst, pages=_PAGES_PER_STEP,
            progress=None if progress is None else lambda _s, left, total: progress(
                total - left, total),
        )  # fmt: skip
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(
            f"{source} is not a readable SQLite database; nothing was written.", details=str(exc)
        ) from None
    finally:
        dst.close()
        src.close()


# --- PostgreSQL -------------------------------------------------------------------------


def _tool(name: str, folder: Path | None) -> str:
    found = shutil.which(name, path=str(folder) if folder else None)
    if found is None:
        where = f"in {folder} (pg_tools_folder in the settings file)" if folder else "on PATH"
        raise ConfigurationError(
            f"{name} was not found {where}. Install the PostgreSQL client tools of the "
            "server's version, or name their folder as pg_tools_folder in the settings file."
        )
    return found


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The address for the PostgreSQL tools, and the environment carrying its password (never
    on the command line, where other accounts could read it)."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise UserError(
            f"{what} failed; nothing usable was written. IT has the details.",
            details=done.stderr.strip()[-2000:],
        )


def _pg_dump(db: Database, partial: Path, tools: Path | None) -> tuple[int, str, int]:
    """The dump is taken in a snapshot this transaction exports, so the head read here is
    the head the dump holds, however busy the console is."""
    pg_dump = _tool("pg_dump", tools)
    address, env = _libpq(make_url(db.url))
    with db.engine.connect() as connection, connection.begin():
        connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        head = connection.execute(
            text("SELECT id, entry_hash FROM action_log ORDER BY id DESC LIMIT 1")
        ).first()
        entries = connection.execute(text("SELECT count(*) FROM action_log")).scalar_one()
        _run(
            [pg_dump, "-Fc", f"--snapshot={snapshot}", f"--file={partial}", f"--dbname={address}"],
            env, "pg_dump",
        )  # fmt: skip
    if head is None:
        return 0, GENESIS_HASH, int(entries)
    return int(head[0]), str(head[1]), int(entries)


@contextmanager
def _disposer_lent(target: Database) -> Iterator[None]:
    """The dump gives `hsm_dispose` to `hsm_disposer` (db/disposal.py), which a login that is
    no superuser (the owner of docs/deployment.md) may do only as a member of that role, and
    with CREATE on the schema granted to it: lent for the restore, taken back after."""
    with target.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        lent = connection.execute(
            text(
                "SELECT NOT pg_has_role('hsm_disposer', 'MEMBER'), "
                "NOT has_schema_privilege('hsm_disposer', 'public', 'CREATE') "
                "FROM pg_roles WHERE rolname = 'hsm_disposer'"
            )
        ).first()
        if lent is None:
            raise ConfigurationError(
                "The roles hsm_disposer and hsm_records_officer must exist on this server "
                "before a restore: as the postgres superuser, CREATE ROLE hsm_disposer NOLOGIN; "
                "CREATE ROLE hsm_records_officer NOLOGIN; GRANT hsm_records_officer TO the "
                "owner. Nothing was restored."
            )
        member, create = bool(lent[0]), bool(lent[1])
        if member:
            connection.execute(text("GRANT hsm_disposer TO CURRENT_USER"))
        if create:
            connection.execute(text("GRANT CREATE ON SCHEMA public TO hsm_disposer"))
        try:
            yield
        finally:
            if create:
                connection.execute(text("REVOKE CREATE ON SCHEMA public FROM hsm_disposer"))
            if member:
                connection.execute(text("REVOKE hsm_disposer FROM CURRENT_USER"))


def _pg_restore(path: Path, url: URL, tools: Path | None) -> None:
    pg_restore = _tool("pg_restore", tools)
    address, env = _libpq(url)
    _run([pg_restore, "--exit-on-error", f"--dbname={address}", str(path)], env, "pg_restore")
