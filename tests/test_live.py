"""Live updates and presence on PostgreSQL (issue 11, item 3): the triggers' notifications,
the listener in its thread (and in a second window process), presence and its expiry."""

from __future__ import annotations

import json
import os
import queue
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from hsm_console.db.engine import Database
from hsm_console.rules.domain import Action
from hsm_console.services import live
from hsm_console.services.live import Changes, LiveListener, listener_connection, parse
from hsm_console.services.presence import (
    PresenceService,
    open_by_words,
)
from hsm_console.services.queue_view import QueueFilter, QueueView
from hsm_sandbox.server import SandboxServer
from tests.conftest import PARKS_PAGE, World, build_world

ROOT = Path(__file__).resolve().parents[1]
WINDOW = Path(__file__).with_name("live_window.py")
WAIT_S = 30.0  # generous: a slow machine must not fail these; nothing here measures speed
POST = f"{PARKS_PAGE}_122100000000000"


@pytest.fixture
def pg_world(postgres_db: Database, sandbox: SandboxServer) -> World:
    world = build_world(postgres_db, sandbox)
    world.app("alice").sync.sync()
    return world


class Heard:
    """What a listener handed over, and its states, as they arrive from its thread."""

    def __init__(self) -> None:
        self.changes: queue.Queue[Changes] = queue.Queue()
        self.states: queue.Queue[tuple[bool, str]] = queue.Queue()

    def until(self, wanted: Any, *, states: bool = False) -> Any:
        """The first item `wanted` accepts (failing after WAIT_S)."""
        source: queue.Queue[Any] = self.states if states else self.changes
        deadline = time.monotonic() + WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                item = source.get(timeout=left)
            except queue.Empty:
                break
            if wanted(item):
                return item
        pytest.fail("nothing wanted arrived")


@pytest.fixture
def heard(postgres_db: Database) -> Iterator[tuple[Heard, LiveListener]]:
    found = Heard()
    listener = LiveListener(
        lambda: listener_connection(postgres_db),
        found.changes.put,
        lambda live, why: found.states.put((live, why)),
        backoff=(0.05, 0.1),
    )
    listener.start()
    found.until(lambda state: state[0], states=True)
    yield found, listener
    listener.stop()


def raw_listener(db: Database) -> psycopg.Connection[Any]:
    connection = listener_connection(db)
    connection.execute(f"LISTEN {live.CHANNEL}")
    return connection


def payloads(connection: psycopg.Connection[Any]) -> list[str]:
    return [notice.payload for notice in connection.notifies(timeout=1.0)]


def parks_new(world: World, username: str = "bob") -> list[int]:
    return [row.id for row in QueueView(world.db, username).newest(QueueFilter(), 50)]


def test_an_action_elsewhere_is_announced_by_ids_only(
    pg_world: World, heard: tuple[Heard, LiveListener]
) -> None:
    found, _ = heard
    spy = raw_listener(pg_world.db)
    comment = parks_new(pg_world)[0]
    with pg_world.db.session() as session:
        words = session.execute(text("SELECT text FROM comments WHERE id = :c"), {"c": comment})
        comment_text = words.scalar_one()

    result = pg_world.app("alice").moderation.act(comment, Action.HIDE, "PRF")
    assert result.ok

    entries = {result.pending_entry_id, result.outcome_entry_id}
    seen = Changes()
    while not (entries <= seen.entries and comment in seen.comments):
        seen = seen.merged(found.until(lambda changes: bool(changes)))
    sent = payloads(spy)
    spy.close()
    assert sent, "the triggers notified the channel"
    for payload in sent:
        assert len(payload.encode()) < 8000
        assert comment_text not in payload
        assert set(json.loads(payload)) <= {"t", "ids", "comments"}


def test_a_sync_names_new_comments_and_a_bulk_change_names_its_site(
    pg_world: World, heard: tuple[Heard, LiveListener]
) -> None:
    found, _ = heard
    external = pg_world.sandbox.state.facebook.add_comment(POST, "A new question about the pool")
    pg_world.app("alice").sync.sync()
    with pg_world.db.session() as session:
        new_id = session.execute(
            text("SELECT id FROM comments WHERE external_id = :e"), {"e": external}
        ).scalar_one()
    found.until(lambda changes: new_id in changes.comments)

    # Over 400 rows in one statement: one "site changed", never thousands of ids.
    with pg_world.db.engine.begin() as connection:
        connection.execute(text("UPDATE comments SET version = version + 1"))
        connection.execute(
            text(
                "INSERT INTO comments (site_id, post_id, external_id, author_id, author_name, "
                "text, created_at, permalink, attachments, raw, fetched_at, platform_state, "
                "status, version, suggestion_why) SELECT site_id, post_id, 'bulk-' || g, "
                "author_id, author_name, text, created_at, permalink, attachments, raw, "
                "fetched_at, platform_state, status, 0, '' FROM (SELECT * FROM comments "
                "WHERE site_id = :s LIMIT 1) c, generate_series(1, 450) g"
            ),
            {"s": pg_world.parks_site},
        )
    bulk = found.until(lambda changes: bool(changes.sites))
    assert bulk.sites == {pg_world.parks_site}


def test_payloads_not_ours_are_ignored(postgres_db: Database) -> None:
    assert parse('{"t": "comments", "ids": [3, 4]}') == Changes(comments=frozenset({3, 4}))
    assert parse('{"t": "entries", "ids": [9], "comments": [3]}') == Changes(
        comments=frozenset({3}), entries=frozenset({9})
    )
    assert parse('{"t": "log"}').log_grew
    assert parse('{"t": "sites", "ids": [2]}') == Changes(sites=frozenset({2}))
    assert parse('{"t": "sites"}').names_any([7])
    assert not parse('{"t": "sites", "ids": [2]}').names_any([7])
    for hostile in ("", "not json", "[1, 2]", '{"t": "comments", "ids": ["1; DROP"]}',
                    '{"t": "comments", "ids": [-1, 1.5, true]}', '{"t": "other", "ids": [1]}',
                    json.dumps({"t": "comments", "ids": list(range(1, 2000))})):  # fmt: skip
        assert not parse(hostile), hostile


@pytest.mark.expected_log("live updates paused")
def test_the_listener_pauses_when_its_connection_is_cut_and_resumes(
    pg_world: World, heard: tuple[Heard, LiveListener]
) -> None:
    found, listener = heard
    pid = listener.backend_pid
    assert pid is not None
    with pg_world.db.engine.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()

    assert found.until(lambda state: True, states=True) == (False, live.LOST)
    found.until(lambda state: state[0], states=True)  # reconnected, on another backend
    assert listener.live
    assert listener.backend_pid not in (None, pid)
    comment = parks_new(pg_world)[0]
    pg_world.app("alice").moderation.act(comment, Action.FLAG, "PRF")
    found.until(lambda changes: comment in changes.comments)


def test_presence_is_shown_to_others_until_left_or_expired(pg_world: World) -> None:
    db = pg_world.db
    first, second = parks_new(pg_world)[:2]
    alice = PresenceService(db, "alice")
    bob = PresenceService(db, "bob")
    alice.open(first)
    alice.open(first)  # the same comment again keeps its time
    assert bob.others([first, second]).keys() == {first}
    (holder,) = bob.others([first])[first]
    assert (holder.username, holder.name) == ("alice", "Alice Moderator")
    assert open_by_words([holder]) == "Open by Alice Moderator"
    assert alice.others([first]) == {}  # not to herself
    assert [row.open_by for row in QueueView(db, "bob").rows([first, second])] == [
        "Open by Alice Moderator", "",
    ]  # fmt: skip
    assert PresenceService(db, "carol").others([first]) == {}  # Police: not her department

    alice.open(second)  # she moved on
    assert bob.others([first, second]).keys() == {second}
    alice.leave()
    assert bob.others([first, second]) == {}

    alice.open(first)
    with db.engine.begin() as connection:  # her window crashed two minutes ago
        connection.execute(text("UPDATE presence SET heartbeat_at = now() - interval '2 minutes'"))
    assert bob.others([first]) == {}
    PresenceService(db, "alice").sweep()  # her next start
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM presence")).scalar_one() == 0


def test_presence_changes_notify_but_heartbeats_do_not(
    pg_world: World, heard: tuple[Heard, LiveListener]
) -> None:
    found, _ = heard
    comment = parks_new(pg_world)[0]
    spy = raw_listener(pg_world.db)
    alice = PresenceService(pg_world.db, "alice")
    alice.open(comment)
    found.until(lambda changes: comment in changes.presence)
    alice.beat()
    alice.open(comment)
    assert [json.loads(payload) for payload in payloads(spy)] == [
        {"t": "presence", "ids": [comment]}
    ]
    spy.close()


def test_presence_is_never_written_on_sqlite(tmp_path: Path, sandbox: SandboxServer) -> None:
    db = Database(f"sqlite:///{tmp_path / 'one.sqlite3'}")
    db.upgrade()
    world = build_world(db, sandbox)
    world.app("alice").sync.sync()
    comment = parks_new(world)[0]
    PresenceService(db, "alice").open(comment)
    assert PresenceService(db, "bob").others([comment]) == {}
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM presence")).scalar_one() == 0
    db.dispose()


def test_notifications_reach_a_second_window_process(pg_world: World, tmp_path: Path) -> None:
    """Bob's real window, in a process of its own on the same database: the comment Alice
    hides here leaves his queue, and nothing else in it is read again."""
    target = parks_new(pg_world)[1]  # not the row his window has selected
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    url = pg_world.db.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [sys.executable, str(WINDOW), url, "bob", str(target), str(tmp_path / "bob.ini")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert read_line(child) == "ready"
        assert pg_world.app("alice").moderation.act(target, Action.HIDE, "PRF").ok
        assert read_line(child) == "left resets=0"
        assert child.wait(timeout=WAIT_S) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        assert child.stdout is not None
        assert child.stderr is not None
        child.stdout.close()
        child.stderr.close()


def read_line(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ)
        if not selector.select(WAIT_S * 4):  # the window starts slowly on a busy machine
            pytest.fail("the second window said nothing")
    line = child.stdout.readline().strip()
    if not line:
        assert child.stderr is not None
        pytest.fail(f"the second window ended: {child.wait()}\n{child.stderr.read()[-3000:]}")
    return line
