"""`db move`: a workstation's SQLite file into an empty shared PostgreSQL (issue 11, item 6).
Real SQLite to real PostgreSQL: every id and hash kept, the copy's log verifying, disposed
records and seals surviving, triggers in force; a target holding data refused, and a move
cancelled or interrupted leaving the target as it was."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, make_url, select, text
from sqlalchemy.exc import DBAPIError

from hsm_console.cli.main import main
from hsm_console.db.chain import chain_head
from hsm_console.db.engine import Database
from hsm_console.db.models import Base, Comment, LogEntry, RetainedRecord
from hsm_console.errors import InvalidInput, UserError
from hsm_console.rules.domain import Action, EntryKind
from hsm_console.rules.retention import HoldScope
from hsm_console.services import admin
from hsm_console.services.backup import backup, restore
from hsm_console.services.move import move_to_shared
from hsm_console.services.retention import city_today
from hsm_console.services.seals import SealService, read_seal_file
from hsm_console.services.verify import verify_log
from hsm_sandbox.server import SandboxServer
from tests.conftest import POSTGRES_URL, World, build_world
from tests.records_fixtures import build_records
from tests.test_retention import certify, officers, service

pytestmark = pytest.mark.postgres
_owners = itertools.count()


@pytest.fixture
def target(postgres_template: str) -> Iterator[str]:
    """A new database owned by a login that is no superuser but may create roles, as
    docs/deployment.md section 2 makes it, with no tables at all: the move brings it to head.
    (The template made the cluster's shared roles first: moves on other workers' databases
    would otherwise race to create them.)"""
    del postgres_template
    owner = f"hsm_move_{os.getpid()}_{next(_owners)}"  # roles are cluster-wide: one per test
    with _server() as server:
        server.execute(text(f"CREATE ROLE {owner} LOGIN CREATEROLE"))
    try:
        yield _database(owner, owner)
    finally:
        with _server() as server:
            for name in (owner, f"{owner}_restored"):
                server.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            server.execute(text(f"DROP ROLE IF EXISTS {owner}"))


@contextlib.contextmanager
def _server() -> Iterator[Connection]:
    engine = create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _database(name: str, owner: str) -> str:
    """A new, empty database of `owner`; its address as that login."""
    with _server() as server:
        server.execute(text(f"CREATE DATABASE {name} OWNER {owner}"))
    url = make_url(POSTGRES_URL).set(username=owner, database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def workstation(tmp_path: Path, sandbox: SandboxServer) -> World:
    db = Database(f"sqlite:///{tmp_path / 'workstation.sqlite3'}")
    db.upgrade()
    world = build_world(db, sandbox)
    world.app("alice").sync.sync()
    world.app("carol").sync.sync()
    return world


def _counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as connection:
        return {t.name: _count(connection, t.name) for t in Base.metadata.sorted_tables}


def _count(connection: Connection, table: str) -> int:
    return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _tables(url: str) -> int:
    db = Database(url)
    try:
        with db.engine.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT count(*) FROM information_schema.tables "
                        "WHERE table_schema = 'public'"
                    )
                ).scalar_one()
            )
    finally:
        db.dispose()


def _populated(world: World, tmp_path: Path) -> int:
    """Actions, a review, a note, an earlier version, requests, a hold, a ban, a lawful
    disposal and a seal; returns the disposed comment."""
    made = build_records(world, hostile_text="=HYPERLINK() \u202eevil\u202c 中文 \U0001f600")
    officers(world)
    with world.db.session() as session:
        parks = list(
            session.scalars(
                select(Comment.id).where(Comment.site_id == world.parks_site).order_by(Comment.id)
            )
        )
    disposed, banned = [c for c in parks if c not in (made.hidden, made.hostile)][:2]
    alice = world.app("alice")
    alice.moderation.act(disposed, Action.FLAG, "SPM")
    alice.moderation.act(disposed, Action.KEEP)
    ban = alice.bans.propose(banned, "Threatened staff by name.", ["THR"],
                             city_today() + timedelta(days=30))  # fmt: skip
    assert world.app("sam").bans.approve(ban.id, "The threat is explicit.").ban.state.value
    service(world, "clara").place_hold(HoldScope(None, site_id=world.police_site), "Claim 26")
    certify(world)
    assert (
        service(world).dispose("LRC-2032-0001", [disposed]).records == 2
    )  # the flag's and the keep's
    SealService(world.db, "ada", tmp_path / "seals").seal()
    return disposed


def _seal_file(tmp_path: Path) -> Path:
    [file] = (tmp_path / "seals").glob("seal-*.json")
    return file


def test_a_moved_file_keeps_every_id_and_hash_and_its_log_verifies(
    workstation: World, tmp_path: Path, target: str
) -> None:
    disposed = _populated(workstation, tmp_path)
    source = workstation.db
    before = _counts(source)
    with source.session() as session:
        head = chain_head(session)
        hashes = session.execute(
            select(LogEntry.id, LogEntry.entry_hash).order_by(LogEntry.id)
        ).all()
        records = session.execute(
            select(RetainedRecord.id, RetainedRecord.sha256).order_by(RetainedRecord.id)
        ).all()
        parents = session.execute(select(Comment.id, Comment.parent_id)).all()
    assert all(before[t] > 0 for t in ("bans", "legal_holds", "disposed_records",
                                       "records_requests", "comment_versions"))  # fmt: skip
    assert any(parent for _id, parent in parents)
    url = source.url.render_as_string(hide_password=False)
    steps: list[tuple[int, int]] = []

    report = move_to_shared(url, target, lambda done, total: steps.append((done, total)))

    assert not report.cancelled
    assert report.rows == before
    assert (report.head_id, report.head_hash) == head
    assert steps[-1][0] == steps[-1][1] == sum(before.values()) + before["action_log"]
    moved = Database(target)
    try:
        assert moved.current_revision() == moved.head_revision()
        assert _counts(moved) == before
        proof = verify_log(moved, against=read_seal_file(_seal_file(tmp_path)))
        assert proof.ok, proof.problem  # the seal kept on the workstation proves the copy
        assert (proof.head_id, proof.head_hash) == head
        with moved.session() as session:
            assert (
                session.execute(
                    select(LogEntry.id, LogEntry.entry_hash).order_by(LogEntry.id)
                ).all()
                == hashes
            )
            assert session.execute(
                select(RetainedRecord.id, RetainedRecord.sha256).order_by(RetainedRecord.id)
            ).all() == (records)
            assert sorted(session.execute(select(Comment.id, Comment.parent_id)).all()) == (
                sorted(parents)
            )
            blank = session.scalars(
                select(RetainedRecord).where(RetainedRecord.comment_id == disposed)
            ).all()
            assert blank
            assert all((r.text, r.raw, r.sha256 != "") == ("", {}, True) for r in blank)
            assert session.scalar(select(LogEntry.id).where(LogEntry.kind == EntryKind.SEAL.value))
        with pytest.raises(DBAPIError, match="append-only"), moved.transaction() as session:
            session.execute(text("UPDATE action_log SET note = 'x' WHERE id = 1"))
        # The sequences go on after the copied ids: the console works on the target at once.
        world = World(moved, workstation.sandbox, workstation.parks_site, workstation.police_site)
        with moved.session() as session:
            fresh = session.scalars(
                select(Comment.id).where(
                    Comment.site_id == world.parks_site, Comment.status == "new"
                )
            ).first()
        assert fresh is not None
        assert world.app("alice").moderation.act(fresh, Action.FLAG, "SPM").ok
        assert verify_log(moved).ok

        again = _counts(moved)
        with pytest.raises(InvalidInput, match="already holds data"):
            move_to_shared(url, target)
        assert _counts(moved) == again
    finally:
        moved.dispose()


def test_a_cancelled_or_interrupted_move_leaves_the_target_as_it_was(
    workstation: World, target: str
) -> None:
    url = workstation.db.url.render_as_string(hide_password=False)
    assert workstation.app("alice").moderation.act(_first(workstation), Action.FLAG, "SPM").ok
    total = sum(_counts(workstation.db).values())
    calls = iter(range(1_000_000))
    stopped = move_to_shared(url, target, cancelled=lambda: next(calls) == 2)
    assert stopped.cancelled
    assert _tables(target) == 0  # even the schema it made is gone

    def interrupt(done: int, _total: int) -> None:
        if done >= total:  # every row copied, the log not yet verified: Ctrl+C
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        move_to_shared(url, target, interrupt)
    assert _tables(target) == 0
    # A row PostgreSQL refuses (SQLite keeps a NUL in text; PostgreSQL cannot): said, undone.
    with workstation.db.transaction() as session:
        session.execute(text("UPDATE comments SET text = 'a' || char(0) || 'b' WHERE id = 2"))
    with pytest.raises(UserError, match="nothing was moved") as failed:
        move_to_shared(url, target)
    assert "0x00" in failed.value.details
    assert _tables(target) == 0
    with workstation.db.transaction() as session:
        session.execute(text("UPDATE comments SET text = 'ab' WHERE id = 2"))
    # A file altered behind its triggers: the copy does not verify, and is not committed.
    with workstation.db.transaction() as session:
        session.execute(text("DROP TRIGGER action_log_no_update"))
        session.execute(text("UPDATE action_log SET note = note || ' (altered)' WHERE id = 1"))
    with pytest.raises(UserError, match=r"does not verify \(entry 1 was altered"):
        move_to_shared(url, target)
    assert _tables(target) == 0
    with workstation.db.transaction() as session:
        session.execute(text("UPDATE action_log SET note = replace(note, ' (altered)', '')"))
    assert move_to_shared(url, target).head_id > 0  # and the move can simply be run again


def _first(world: World) -> int:
    with world.db.session() as session:
        first = session.scalars(select(Comment.id).order_by(Comment.id)).first()
    assert first is not None
    return first


def test_what_cannot_be_moved_is_refused_by_name(tmp_path: Path, target: str) -> None:
    missing = f"sqlite:///{tmp_path / 'none.sqlite3'}"
    with pytest.raises(InvalidInput, match="does not exist"):
        move_to_shared(missing, target)
    assert not (tmp_path / "none.sqlite3").exists()
    with pytest.raises(InvalidInput, match="Only a workstation's SQLite file"):
        move_to_shared(target, target)
    with pytest.raises(InvalidInput, match="must be the shared PostgreSQL"):
        move_to_shared(missing, "db.highland.local/hsm")
    with pytest.raises(InvalidInput, match="must be the shared PostgreSQL"):
        move_to_shared(missing.replace("none", "x"), f"sqlite:///{tmp_path / 'other.sqlite3'}")


def test_every_table_a_migration_makes_is_one_the_move_copies(tmp_path: Path) -> None:
    """The move copies the models' tables: a migration adding a table outside them would leave
    its rows behind."""
    db = Database(f"sqlite:///{tmp_path / 'hsm.sqlite3'}")
    try:
        db.upgrade()
        with db.engine.connect() as connection:
            names = set(
                connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'table'")
                ).scalars()
            )
    finally:
        db.dispose()
    made = {n for n in names if n != "alembic_version" and "_fts" not in n}
    assert made == set(Base.metadata.tables)


def test_the_command_moves_the_file_and_says_what_it_proved(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    db = Database(source)
    db.upgrade()
    admin.init(db, "CITYHALL\\jdoe")
    db.dispose()
    secret = make_url(target).set(password="not-shown").render_as_string(hide_password=False)

    assert main(["--database", source, "db", "move", "--to", secret]) == 0
    said = capsys.readouterr()
    assert "The copy's log verifies (1 entry) and ends at entry 1" in said.out
    assert target.rsplit("/", 1)[1] in said.out
    assert main(["--database", source, "db", "move", "--to", secret]) == 1
    said = capsys.readouterr()
    assert "already holds data (in action_log" in said.err
    assert "not-shown" not in said.out + said.err


def test_the_shared_database_is_backed_up_and_restored_by_its_owner(
    tmp_path: Path, target: str
) -> None:
    """As docs/deployment.md section 9 does it: the owner, no superuser, restores a dump whose
    disposal function belongs to `hsm_disposer`, and is lent nothing for longer."""
    source = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    db = Database(source)
    db.upgrade()
    admin.init(db, "CITYHALL\\jdoe")
    db.dispose()
    moved = move_to_shared(source, target)
    file = tmp_path / "hsm.dump"
    shared = Database(target)
    try:
        backup(shared, file)
    finally:
        shared.dispose()
    owner = str(make_url(target).username)
    again = _database(f"{owner}_restored", owner)
    restored = restore(file, again)
    assert (restored.report.head_id, restored.report.head_hash) == (moved.head_id, moved.head_hash)
    copy = Database(again)
    try:
        with copy.engine.connect() as connection:
            lent = connection.execute(
                text(
                    "SELECT pg_has_role('hsm_disposer', 'MEMBER'), "
                    "has_schema_privilege('hsm_disposer', 'public', 'CREATE'), "
                    "(SELECT proowner::regrole::text FROM pg_proc WHERE proname = 'hsm_dispose')"
                )
            ).one()
    finally:
        copy.dispose()
    assert tuple(lent) == (False, False, "hsm_disposer")
