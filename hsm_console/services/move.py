"""Moving a workstation's SQLite file into the shared PostgreSQL, proven by the log's chain
(docs/design.md, "Moving to the shared database").

One PostgreSQL transaction does it all: the schema brought to head (DDL is transactional
there), the target found empty under the chain's lock, every row of every table copied with
its own id (the log's entries are hashed over their ids and fields, so a faithful copy hashes
the same), the sequences set past the highest id, then the copy walked as `verify-log` walks
it and its head and counts compared with the file's. Only then is it committed; a refusal, a
failure, a cancel or a killed process leaves the target as it was. The append-only triggers
stay in force throughout: the copy only inserts, which they allow. The file is read under its
write lock (BEGIN IMMEDIATE), so nothing is recorded in it while it is copied.

Several files are never merged into one database: each has its own chain from entry 1, and
the entry ids are part of what is hashed, so a second chain cannot be appended without
rewriting every hash of it (docs/deployment.md, section 10).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from alembic.util import CommandError
from sqlalchemy import JSON, Connection, Table, bindparam, func, make_url, select, text
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session

from hsm_console.db.chain import chain_head, lock_chain
from hsm_console.db.engine import Database
from hsm_console.db.models import Base
from hsm_console.errors import InvalidInput, UserError
from hsm_console.services.verify import verify_session

BATCH = 2000  # rows per INSERT round trip and between progress calls
Progress = Callable[[int, int], None]  # (done, total): rows copied, then entries verified


@dataclass(frozen=True)
class MoveReport:
    rows: dict[str, int] = field(default_factory=dict)  # per table, as copied
    head_id: int = 0
    head_hash: str = ""
    entries: int = 0
    cancelled: bool = False

    @property
    def total(self) -> int:
        return sum(self.rows.values())


class _Cancelled(Exception):
    pass


def move_to_shared(
    source_url: str,
    target_url: str,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> MoveReport:
    """Copy the SQLite file `source_url` into the empty PostgreSQL `target_url` and prove it."""
    try:
        backend = make_url(target_url).get_backend_name()
    except ArgumentError:
        backend = ""
    if backend != "postgresql":
        raise InvalidInput(
            "The target must be the shared PostgreSQL database (postgresql://...). To copy "
            "a SQLite file to another file, use db backup and db restore."
        )
    source = _source(source_url)
    target = Database(target_url)
    try:
        source.ensure_schema()  # what opening the console would do: a file is migrated on use
        with source.transaction() as reading:  # its write lock: nothing recorded meanwhile
            counts = {t.name: _count(reading.connection(), t) for t in _tables()}
            head = chain_head(reading)
            try:
                return _copy(reading.connection(), target, counts, head, progress, cancelled)
            except _Cancelled:
                return MoveReport(cancelled=True)
    finally:
        source.dispose()
        target.dispose()


def _source(url: str) -> Database:
    source = Database(url)
    path = source.url.database
    if not source.is_sqlite or not path or path == ":memory:":
        source.dispose()
        raise InvalidInput(
            "Only a workstation's SQLite file can be moved; name it as sqlite:///PATH."
        )
    if not Path(path).expanduser().is_file():
        source.dispose()
        raise InvalidInput(f"{path} does not exist: there is nothing to move.")
    return source


def _tables() -> list[Table]:
    """Every table of the schema, each after the tables it refers to."""
    return list(Base.metadata.sorted_tables)


def _count(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _copy(
    reading: Connection,
    target: Database,
    counts: dict[str, int],
    head: tuple[int, str],
    progress: Progress | None,
    cancelled: Callable[[], bool],
) -> MoveReport:
    entries = counts["action_log"]
    total = sum(counts.values()) + entries
    done = 0

    def step(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(done, total)
        if cancelled():
            raise _Cancelled

    with _target_transaction(target) as writing:
        _upgrade(target, writing)
        session = Session(bind=writing)
        lock_chain(session)  # a second move, or a console's first start, waits for this one
        _refuse_data(writing)
        for table in _tables():
            # A derived table (the dashboard's decisions) is rebuilt by its trigger as the
            # log is copied, and compared by its count with the rest.
            if table.info.get("derived"):
                step(counts[table.name])
            else:
                _copy_table(reading, writing, table, step)
        _reset_sequences(writing)

        def verifying(checked: int, _entries: int) -> None:
            if progress is not None:
                progress(done + checked, total)

        report = verify_session(session, verifying, cancelled)
        if report.cancelled:
            raise _Cancelled
        if not report.ok:
            raise UserError(
                f"The copy's log does not verify ({report.problem}); nothing was moved. Run "
                "hsm-console verify-log on the workstation's file: if it names the same problem, "
                "tell the City Clerk's office before moving it; if not, tell IT."
            )
        copied = {t.name: _count(writing, t) for t in _tables()}
        if (report.head_id, report.head_hash) != head or copied != counts:
            raise UserError(
                "The copy does not match the file (its log's head or a table's count differs); "
                "nothing was moved. IT has the details.",
                details=f"file head {head}, copy head {(report.head_id, report.head_hash)}; "
                f"file counts {counts}, copy counts {copied}",
            )
        session.close()
    return MoveReport(copied, report.head_id, report.head_hash, report.entries_checked)


@contextmanager
def _target_transaction(target: Database) -> Iterator[Connection]:
    """The one transaction on the target; its errors in words, with no password in them."""
    try:
        connection = target.engine.connect()
    except DBAPIError as exc:
        raise UserError(
            "The shared database cannot be reached; nothing was moved. Check its address, the "
            "owner's password (PGPASSWORD or the password file, never in the address) and, "
            "with sslmode=verify-full, the City's root certificate.",
            details=str(exc.orig)[-2000:],
        ) from None
    try:
        with connection, connection.begin():
            yield connection
    except (DBAPIError, psycopg.Error) as exc:  # COPY speaks to the driver directly
        raise UserError(
            "The move failed in the shared database; nothing was moved.",
            details=str(exc.orig if isinstance(exc, DBAPIError) else exc)[-2000:],
        ) from None


def _refuse_data(connection: Connection) -> None:
    tables = connection.execute(
        text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version'"
        )
    ).scalars()
    holding = [
        name for name in sorted(tables)
        if connection.execute(text(f'SELECT EXISTS (SELECT 1 FROM "{name}")')).scalar_one()
    ]  # fmt: skip
    if holding:
        raise InvalidInput(
            f"The shared database already holds data (in {', '.join(holding[:5])}"
            f"{', ...' if len(holding) > 5 else ''}): a file is moved only into an empty one, "
            "since two logs cannot be merged into one chain. Nothing was changed."
        )


def _copy_table(
    reading: Connection, writing: Connection, table: Table, step: Callable[[int], None]
) -> None:
    """Rows in id order, by COPY (one stream, not a round trip a row). A column referring to
    its own table (a reply's parent) is filled in after the table's rows, since a parent may
    come after its reply; the log's own references always point back, and it is never
    updated."""
    columns = list(table.columns)
    later = {
        i for i, c in enumerate(columns)
        if any(fk.column.table is table for fk in c.foreign_keys) and table.name != "action_log"
    }  # fmt: skip
    as_json = {i for i, c in enumerate(columns) if isinstance(c.type, JSON)}
    links: list[dict[str, Any]] = []
    names = ", ".join(f'"{c.name}"' for c in columns)
    driver = writing.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    rows = reading.execute(
        select(*columns).order_by(*table.primary_key.columns).execution_options(yield_per=BATCH)
    )
    try:
        with driver.cursor() as cursor:
            for batch in rows.partitions():
                with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                    for row in batch:
                        values = list(row)
                        for i in later:
                            if values[i] is not None:
                                links.append({"b_id": row.id, "b_ref": values[i], "b_col": i})
                            values[i] = None
                        for i in as_json:  # as SQLAlchemy writes JSON: json.dumps, key order
                            values[i] = None if values[i] is None else json.dumps(values[i])
                        copy.write_row(values)
                step(len(batch))
    finally:
        rows.close()
    for i in later:
        linking = (
            table.update()
            .where(table.c.id == bindparam("b_id"))
            .values({columns[i].name: bindparam("b_ref")})
        )
        mine = [{"b_id": k["b_id"], "b_ref": k["b_ref"]} for k in links if k["b_col"] == i]
        for first in range(0, len(mine), BATCH):
            writing.execute(linking, mine[first : first + BATCH])


def _reset_sequences(connection: Connection) -> None:
    """Each id sequence continues after the highest id copied (the log has none: its ids are
    positions in the chain)."""
    for table in _tables():
        keys = list(table.primary_key.columns)
        if len(keys) != 1:
            continue
        sequence = connection.execute(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": keys[0].name}
        ).scalar_one()
        if sequence is None:
            continue
        highest = connection.execute(select(func.max(keys[0]))).scalar_one()
        connection.execute(
            text("SELECT setval(:s, :v, :called)"),
            {"s": sequence, "v": highest or 1, "called": highest is not None},
        )


def _upgrade(target: Database, connection: Connection) -> None:
    if target.current_revision() == target.head_revision():
        return
    try:
        target.upgrade_on(connection)
    except CommandError as exc:  # a revision this program does not know: a newer program's
        raise InvalidInput(
            "The shared database's schema is not one this console knows (a newer version set "
            "it up); move with that version. Nothing was changed.",
            details=str(exc),
        ) from None
