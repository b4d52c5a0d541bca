"""Live updates on PostgreSQL: what other workstations and the agent changed, as it happens.

The triggers of migration 0016 `pg_notify` the channel `hsm_live` with kinds and ids (never
text) when comments are added or changed, log entries written and presence changed.
`LiveListener` keeps its own connection in a thread, LISTENs, gathers what arrives within
`BATCH` of the first notification into one `Changes`, and hands it to a callback (the window
turns it into a Qt signal). A lost connection is reported in plain words (`on_state`) and
tried again with back-off; when it is back, `on_state` says so, and the caller re-reads what
it shows, since notifications sent meanwhile are lost. No Qt here.

Anyone who can connect may NOTIFY any channel, so a payload is read defensively: ids are
positive integers, anything else is dropped.

Not through a connection pooler in transaction mode (pgbouncer's): LISTEN needs a session of
its own (docs/deployment.md, "Live queues and presence").
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from hsm_console.db.engine import Database

if TYPE_CHECKING:  # PostgreSQL only: a window on SQLite never loads the driver
    import psycopg

log = logging.getLogger(__name__)

CHANNEL = "hsm_live"  # spelled the same in migration 0016
BATCH = 0.15  # seconds gathered after a first notification: one repaint for a burst
IDLE = 0.5  # seconds between looks at the stop flag while nothing arrives
PROBE = 15.0  # seconds of silence after which the connection is tried (a dropped network)
BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 15.0)  # seconds before each new attempt to reconnect
MAX_PAYLOAD_IDS = 1000  # more than migration 0016 ever sends

LOST = "the connection to the database was lost"


@dataclass(frozen=True)
class Changes:
    """What changed, as a batch of notifications said it."""

    comments: frozenset[int] = frozenset()  # added by sync or changed (actions, edits)
    entries: frozenset[int] = frozenset()  # log entries written
    presence: frozenset[int] = frozenset()  # comments someone opened or left
    sites: frozenset[int] = frozenset()  # sites with more changed comments than named
    log_grew: bool = False  # more entries than a payload names
    every_site: bool = False  # more sites changed than a payload names

    def __bool__(self) -> bool:
        return bool(
            self.comments or self.entries or self.presence or self.sites or self.log_grew
            or self.every_site
        )  # fmt: skip

    def merged(self, other: Changes) -> Changes:
        return Changes(
            self.comments | other.comments, self.entries | other.entries,
            self.presence | other.presence, self.sites | other.sites,
            self.log_grew or other.log_grew, self.every_site or other.every_site,
        )  # fmt: skip

    def names_any(self, sites: Iterable[int]) -> bool:
        """Whether comments of these sites changed beyond those named."""
        return self.every_site or not self.sites.isdisjoint(sites)

    @property
    def touched(self) -> frozenset[int]:
        """Comments whose row in a queue may show something new."""
        return self.comments | self.presence


def _ids(value: Any) -> frozenset[int]:
    if not isinstance(value, list) or len(value) > MAX_PAYLOAD_IDS:
        return frozenset()
    return frozenset(v for v in value if type(v) is int and v > 0)


def parse(payload: str) -> Changes:
    """One notification's payload; anything not in migration 0016's forms is nothing."""
    try:
        found = json.loads(payload)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        log.debug("ignored a notification that is not ours (%d characters)", len(payload))
        return Changes()
    kind, ids = found.get("t"), _ids(found.get("ids"))
    if kind == "comments":
        return Changes(comments=ids)
    if kind == "entries":
        return Changes(comments=_ids(found.get("comments")), entries=ids)
    if kind == "presence":
        return Changes(presence=ids)
    if kind == "sites":
        return Changes(sites=ids) if "ids" in found else Changes(every_site=True)
    if kind == "log":
        return Changes(log_grew=True)
    log.debug("ignored a notification of unknown kind")
    return Changes()


def listener_connection(db: Database) -> psycopg.Connection[Any]:
    """A connection of its own, made as the database's others are (the same address,
    sign-in and options), taken out of the pool, in autocommit as LISTEN needs."""
    import psycopg

    pooled = db.engine.raw_connection()
    connection = pooled.driver_connection
    pooled.detach()  # the pool forgets it: closing it is ours
    assert isinstance(connection, psycopg.Connection)
    try:
        connection.rollback()
        connection.autocommit = True
        connection.execute("SET application_name = 'hsm-console live updates'")
    except BaseException:
        connection.close()
        raise
    return connection


@dataclass
class _Link:
    connection: psycopg.Connection[Any] | None = None
    backend_pid: int | None = None
    live: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class LiveListener:
    """LISTENs in a thread of its own until `stop`; callbacks run on that thread."""

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        on_changes: Callable[[Changes], None],
        on_state: Callable[[bool, str], None],
        *,
        backoff: Sequence[float] = BACKOFF,
        batch: float = BATCH,
        probe: float = PROBE,
    ) -> None:
        self._connect = connect
        self._on_changes = on_changes
        self._on_state = on_state
        self._backoff = tuple(backoff)
        self._batch = batch
        self._probe = probe
        self._stop = threading.Event()
        self._link = _Link()
        self._thread = threading.Thread(target=self._run, name="hsm-live", daemon=True)

    @property
    def live(self) -> bool:
        """Listening now (False before the first connection and while reconnecting)."""
        return self._link.live

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection, for IT (and the tests)."""
        return self._link.backend_pid

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(wait)

    # --- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        import psycopg

        attempt = 0
        while not self._stop.is_set():
            try:
                self._listen()
            except (psycopg.Error, DBAPIError) as exc:
                if self._stop.is_set():
                    break
                attempt = 0 if self._link.live else attempt  # it was listening: start over
                self._lost(exc, attempt)
            except Exception:  # a bug in a callback: say so, and keep the window working
                log.exception("live updates stopped by an internal error")
                attempt = 0 if self._link.live else attempt
                self._lost(None, attempt)
            else:
                break
            finally:
                self._close()
            self._stop.wait(self._backoff[min(attempt, len(self._backoff) - 1)])
            attempt += 1

    def _listen(self) -> None:
        connection = self._connect()
        with self._link.lock:
            self._link.connection = connection
            self._link.backend_pid = connection.info.backend_pid
        connection.execute(f"LISTEN {CHANNEL}")
        self._link.live = True
        log.info("live updates: listening (server process %s)", connection.info.backend_pid)
        self._on_state(True, "")
        quiet = 0.0
        while not self._stop.is_set():
            changes = self._gather(connection)
            if changes:
                quiet = 0.0
                self._on_changes(changes)
                continue
            quiet += IDLE
            if quiet >= self._probe:  # nothing for a while: is the server still there?
                quiet = 0.0
                connection.execute("SELECT 1")

    def _gather(self, connection: psycopg.Connection[Any]) -> Changes:
        """Wait up to IDLE for a first notification, then gather for up to `batch` more."""
        changes = Changes()
        for notice in connection.notifies(timeout=IDLE, stop_after=1):
            changes = changes.merged(parse(notice.payload))
        if not changes:
            return changes
        for notice in connection.notifies(timeout=self._batch):
            changes = changes.merged(parse(notice.payload))
        return changes

    def _lost(self, exc: Exception | None, attempt: int) -> None:
        was_live = self._link.live
        self._link.live = False
        if was_live or attempt == 0:
            log.warning(
                "live updates paused: %s (%s)", LOST, type(exc).__name__ if exc else "error"
            )
            self._on_state(False, LOST)
        else:
            log.info("live updates: reconnecting failed again (attempt %d)", attempt + 1)

    def _close(self) -> None:
        with self._link.lock:
            connection, self._link.connection = self._link.connection, None
            self._link.backend_pid = None
        self._link.live = False
        if connection is not None:
            import psycopg

            try:
                connection.close()
            except psycopg.Error:
                log.debug("closing the lost listening connection failed")


__all__ = ["CHANNEL", "LOST", "Changes", "LiveListener", "listener_connection", "parse"]
