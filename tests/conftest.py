"""Shared fixtures: real databases (a SQLite file, a PostgreSQL server), the real sandbox."""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

# Qt aborts the process without a display unless told to draw offscreen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from sqlalchemy import create_engine, text

from hsm_console.app import App
from hsm_console.db import models
from hsm_console.db.engine import Database
from hsm_console.rules.domain import Platform, Role
from hsm_console.rules.policy import load_policy
from hsm_console.services import admin, bans, moderation
from hsm_sandbox import SANDBOX_TOKEN, seed
from hsm_sandbox.server import SandboxServer

RECENT_SEED = seed.build(end=datetime.now(UTC))
POSTGRES_URL = os.environ.get("HSM_TEST_POSTGRES_URL", "")
REQUIRE_SERVICES = os.environ.get("HSM_REQUIRE_SERVICES") == "1"
# Quick failures for fault tests: a short timeout and almost no back-off.
FAST_NETWORK = {"timeout": 2.0, "retries": 2, "backoff": 0.01}


def pytest_configure(config: pytest.Config) -> None:
    """Keep every test away from the real user's data, settings, logs and keyring."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")  # one home per test process
    root = Path(config.rootpath) / ".pytest_cache" / "home" / worker
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        os.environ[name] = str(root / name.lower())
    os.environ.pop("HSM_DATABASE_URL", None)
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"


# Minutes on one worker: started first, so that the other worker's tests run beside it
# rather than leaving one worker idle at the end.
LONGEST_TEST = "tests/test_self_test.py::test_the_built_bundle_passes_its_self_test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One WordPress serves the suite, and its tests change its settings: one worker runs
    them all, in order (`--dist loadgroup`)."""
    for item in items:
        if item.get_closest_marker("wordpress"):
            item.add_marker(pytest.mark.xdist_group("wordpress"))
    items.sort(key=lambda item: item.nodeid != LONGEST_TEST)  # stable: the rest keep order


def needs_postgres() -> None:
    if not POSTGRES_URL:
        if REQUIRE_SERVICES:
            pytest.fail("HSM_TEST_POSTGRES_URL is not set: scripts/test starts PostgreSQL")
        pytest.skip("no PostgreSQL server (run scripts/test)")


_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated template database; each test gets a fresh copy of it (fast)."""
    needs_postgres()
    admin_engine = create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    name = f"hsm_template_{os.getpid()}"
    with admin_engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    template_url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    db = Database(template_url)
    # Migration 0011 creates cluster-wide roles: two workers creating them at once collide.
    with admin_engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(7315011)"))
        try:
            db.upgrade()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(7315011)"))
    db.dispose()
    yield name
    with admin_engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin_engine.dispose()


def _postgres_copy(template: str | None) -> Iterator[str]:
    """A fresh database: a copy of the template, or (None) an empty one."""
    admin_engine = create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    name = f"hsm_test_{os.getpid()}_{next(_counter)}"
    with admin_engine.connect() as connection:
        copy = f" TEMPLATE {template}" if template else ""
        connection.execute(text(f"CREATE DATABASE {name}{copy}"))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin_engine.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin_engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy of it, as PostgreSQL's tests get a copy
    of their template (migrating takes a third of a second, copying a millisecond)."""
    path = tmp_path_factory.mktemp("template") / "hsm.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "hsm.sqlite3"
        # The backup API copies a consistent file whatever the template's journal holds.
        template = request.getfixturevalue("sqlite_template")
        with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(path)) as copy:
            source.backup(copy)
        yield f"sqlite:///{path}"
    else:
        yield from _postgres_copy(request.getfixturevalue("postgres_template"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, not yet migrated: for tests of what a migration does to old rows."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    needs_postgres()
    yield from _postgres_copy(None)


@pytest.fixture
def postgres_db(postgres_template: str) -> Iterator[Database]:
    """For what only PostgreSQL has (TRUNCATE, schema checks at start)."""
    for url in _postgres_copy(postgres_template):
        database = Database(url)
        yield database
        database.dispose()


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """The sandbox with its seeded comments dated up to now, as the demo shows them."""
    server = SandboxServer(port=0, seed=RECENT_SEED)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def file_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    """A real keyring in a file of the test's own, for tests of real (not demo) sites."""
    previous = keyring.get_keyring()
    ring = PlaintextKeyring()
    ring.file_path = str(tmp_path / "keyring.cfg")  # type: ignore[misc]
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


@dataclass
class World:
    """Two departments on the sandbox and the people of the tests.

    alice and bob moderate Parks; carol moderates Police; sam supervises all departments;
    ada administers.
    """

    db: Database
    sandbox: SandboxServer
    parks_site: int
    police_site: int

    def app(self, username: str = "alice", **overrides: float) -> App:
        return App(
            db=self.db,
            policy=load_policy(),
            username=username,
            connector_overrides={**FAST_NETWORK, **overrides},
        )


PARKS_PAGE = "1000000000001"
POLICE_PAGE = "1000000000002"


def build_world(db: Database, sandbox: SandboxServer) -> World:
    with db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        police = admin.ensure_department(session, "POLICE", "Police Department")
        sites = [
            admin.ensure_site(
                session, department, Platform.FACEBOOK, name, page, sandbox.url,
                {"api_version": "v25.0"}, demo_token=SANDBOX_TOKEN,
            )
            for department, name, page in (
                (parks, "Highland Parks & Recreation", PARKS_PAGE),
                (police, "Highland Police Department", POLICE_PAGE),
            )
        ]  # fmt: skip
        people = {
            "alice": ("Alice Moderator", [(Role.MODERATOR, parks)]),
            "bob": ("Bob Moderator", [(Role.MODERATOR, parks)]),
            "carol": ("Carol Moderator", [(Role.MODERATOR, police)]),
            "sam": ("Sam Supervisor", [(Role.SUPERVISOR, None)]),
            "ada": ("Ada Administrator", [(Role.ADMINISTRATOR, None)]),
        }
        for username, (name, grants) in people.items():
            person = admin.ensure_person(session, username, name)
            for role, department in grants:
                admin.grant(session, person, role, department)
        return World(db, sandbox, sites[0].id, sites[1].id)


@pytest.fixture
def world(db: Database, sandbox: SandboxServer) -> World:
    return build_world(db, sandbox)


@pytest.fixture
def synced(world: World) -> World:
    """The world with every department's comments pulled into the database."""
    world.app("alice").sync.sync()
    world.app("carol").sync.sync()
    return world


@pytest.fixture
def time_passes(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Move the reconciliations' clock on (services/moderation.py and bans.py): whether a
    pending entry is old enough to be taken as interrupted is the one question a test must
    ask of a later time. Entries keep the time they were written at."""

    def passes(by: timedelta) -> None:
        def later() -> datetime:
            return models.utcnow() + by

        for module in (moderation, bans):
            monkeypatch.setattr(module, "utcnow", later)

    return passes


class _LogFailHandler(logging.Handler):
    """Collects warning and error lines, which a passing test must not produce unasked."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def logfail(request: pytest.FixtureRequest) -> Iterator[_LogFailHandler]:
    """Fail a test on any warning or error log line it did not declare.

    A test that provokes one on purpose says so with `@pytest.mark.expected_log("words")`:
    the lines whose message contains those words are then allowed (and the rest still fail).
    """
    handler = _LogFailHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
    allowed = [
        words for marker in request.node.iter_markers("expected_log") for words in marker.args
    ]
    unexpected = [
        record
        for record in handler.records
        if not any(words in record.getMessage() for words in allowed)
    ]
    if unexpected:
        lines = "\n".join(f"  {r.levelname} {r.name}: {r.getMessage()[:300]}" for r in unexpected)
        pytest.fail(f"unexpected warning or error log lines:\n{lines}", pytrace=False)
