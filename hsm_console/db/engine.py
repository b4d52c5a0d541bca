"""Opening the database: the SQLite default or a City-wide PostgreSQL, migrated by Alembic."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DatabaseError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from hsm_console.db import roles
from hsm_console.db.models import use_predicates_of
from hsm_console.errors import ConfigurationError, UserError
from hsm_console.host.credentials import database_password

MIGRATIONS = Path(__file__).with_name("migrations")
# A migration script's `revision = "..."` or `down_revision = ...` line.
_REVISION_LINE = re.compile(r"^(down_)?revision\b[^=\n]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")

if TYPE_CHECKING:
    from alembic.config import Config
SQLITE_BUSY_TIMEOUT_S = 10.0
# A pooled PostgreSQL connection idle this long is pinged before it is used again.
PING_AFTER_IDLE_S = 10.0
DEFAULT_PORT = 5432  # PostgreSQL's, as libpq assumes it
_IMMEDIATE = "hsm_immediate"


class DatabaseBusy(UserError):
    """Another program holds the database longer than we are willing to wait."""


class Database:
    """One database: sessions for reading, write sessions that serialise writers."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        if self.url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"Unsupported database {self.url.get_backend_name()!r}: use SQLite or PostgreSQL."
            )
        use_predicates_of(self.dialect)
        if self.is_sqlite:
            self.engine = _sqlite_engine(url)
        else:
            self.url = _with_kept_password(self.url)
            self.engine = create_engine(self.url.set(drivername="postgresql+psycopg"))
            _ping_when_idle(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writers = sessionmaker(
            self.engine.execution_options(**{_IMMEDIATE: True}), expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    def session(self) -> Session:
        return self._sessions()

    def write_session(self) -> Session:
        """A session whose transaction takes the write lock up front (SQLite BEGIN IMMEDIATE).

        Writers that read-then-write (the hash chain) must not both read the same head.
        PostgreSQL takes an advisory lock instead, in `audit.chain`.
        """
        return self._writers()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A committed write transaction; a locked database becomes a plain-words error."""
        with self.write_session() as session:
            try:
                with session.begin():
                    yield session
            except OperationalError as exc:
                if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                    raise DatabaseBusy(
                        "The database is busy: another program has held it for more than "
                        f"{SQLITE_BUSY_TIMEOUT_S:.0f} seconds. Nothing was changed; try again.",
                        details=str(exc.orig),
                    ) from exc
                raise

    # --- schema -----------------------------------------------------------------------

    # Alembic (and every migration script it loads) is imported only to migrate or when the
    # schema is not plainly current: a tenth of the window's start otherwise.

    def _alembic_config(self) -> Config:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        return config

    def upgrade(self) -> str:
        """Migrate to the newest schema, then (PostgreSQL) the roles, grants and policies of
        `db/roles.py`, in one transaction; returns the revision now in force."""
        with self.engine.begin() as connection:
            self.upgrade_on(connection)
        return self.head_revision()

    def upgrade_on(self, connection: Connection) -> None:
        """Migrate inside the caller's transaction (on PostgreSQL, DDL rolls back with it),
        then (PostgreSQL) apply the roles, grants and policies of `db/roles.py`."""
        from alembic import command  # only when migrating: start-up need not import Alembic

        config = self._alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        if not self.is_sqlite:
            roles.apply(connection)

    def apply_roles(self) -> None:
        """`db roles`: create or update the group roles, grants and policies (PostgreSQL)."""
        if self.is_sqlite:
            raise ConfigurationError(
                "A SQLite file has no database logins or roles: the console acts as the "
                "operating-system account. Nothing was changed."
            )
        with self.engine.begin() as connection:
            roles.apply(connection)

    def head_revision(self) -> str:
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(self._alembic_config()).get_current_head()
        assert head is not None
        return head

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def ensure_schema(self) -> None:
        """SQLite is migrated on first use; a shared PostgreSQL only by `db upgrade`."""
        if self._plainly_current() or self.current_revision() == self.head_revision():
            return
        if self.is_sqlite:
            self.upgrade()
            return
        raise ConfigurationError(
            "The PostgreSQL database is not at the schema this console needs. An administrator "
            "must run: hsm-console db upgrade"
        )

    def _plainly_current(self) -> bool:
        """Whether the database stores exactly the head revision, both read without Alembic:
        the head from the scripts' text, the stored one from its table. False whenever in
        doubt (no table, no single head), and Alembic decides."""
        head = head_from_scripts()
        try:
            with self.engine.connect() as connection:
                stored = connection.execute(text("SELECT version_num FROM alembic_version"))
                return head is not None and list(stored.scalars()) == [head]
        except DatabaseError:  # no such table: a new database
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def _with_kept_password(url: URL) -> URL:
    """A PostgreSQL address with a login and no password takes the one this computer's
    keyring keeps for that login on that server (`db password`), if any; without one,
    libpq signs in as it can (GSSAPI or SSPI, a .pgpass file, PGPASSWORD)."""
    if url.password is not None or not url.username:
        return url
    kept = database_password(url.username, url.host or "localhost", url.port or DEFAULT_PORT)
    return url if kept is None else url.set(password=kept)


def _ping_when_idle(engine: Engine) -> None:
    """A pooled connection is pinged before use only after `PING_AFTER_IDLE_S` unused, and a
    dead one replaced (the pool connects again when a checkout raises DisconnectionError).
    `pool_pre_ping` pinged before every transaction: a round trip of every action and every
    page read, for connections used a moment before. One that died since (the server
    restarted) fails its statement; the pool then drops it and the next try connects anew."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi: Any, entry: ConnectionPoolEntry) -> None:
        entry.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi: Any, entry: ConnectionPoolEntry, _: PoolProxiedConnection) -> None:
        since = entry.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return  # new, or used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi)
        except engine.dialect.loaded_dbapi.Error as exc:
            if not engine.dialect.is_disconnect(exc, dbapi, None):
                raise
            alive = False
        if not alive:
            raise DisconnectionError("the pooled connection was closed while idle")


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: a record must survive a power cut before the platform is called.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def head_from_scripts() -> str | None:
    """The newest revision, from the migration scripts' `revision` and `down_revision` lines
    (as text, nothing imported): the one that no other revises; None unless exactly one."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8")):
            (revised if down else revisions).update(_QUOTED.findall(value))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None
