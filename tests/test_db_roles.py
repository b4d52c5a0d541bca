"""A login per person, enforced by PostgreSQL (db/roles.py; docs/design.md, "Who the database
lets do what"): each person's own login, with raw SQL, reaches only their departments' rows,
changes no record, writes no entry in another's name and finds no token; the console run as
that login works end to end. Logins are cluster-wide: their names carry the test's own prefix.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from keyrings.alt.file import PlaintextKeyring
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, ProgrammingError

from hsm_console.app import App, current_username, open_app
from hsm_console.cli.main import main
from hsm_console.db import roles
from hsm_console.db.engine import Database
from hsm_console.db.models import (
    Agent,
    AgentSignIn,
    Ban,
    Base,
    CaptureGap,
    Comment,
    CommentVersion,
    DashboardDecision,
    DisposalCertificate,
    DisposedRecord,
    LegalHold,
    LogEntry,
    Person,
    RecordsRequest,
    Site,
    SiteConnection,
    utcnow,
)
from hsm_console.errors import PermissionDenied, UserError
from hsm_console.host.config import Settings
from hsm_console.host.credentials import CredentialStore, TokenSet
from hsm_console.rules.domain import Action, EntryState
from hsm_console.rules.policy import load_policy
from hsm_console.services.access import resolve_actor
from hsm_console.services.admin import AdminService
from hsm_console.services.doctor import APPEND_ONLY
from hsm_console.services.presence import PresenceService
from hsm_console.services.retention import RetentionService
from hsm_console.services.verify import verify_log
from hsm_sandbox.server import SandboxServer
from tests.conftest import FAST_NETWORK, World, build_world
from tests.test_retention import LATER, certify, officers

_names = itertools.count()
SCOPED = [
    n for n, t in roles.TABLES.items() if t.scope not in (roles.Scope.OWNER, roles.Scope.CITY)
]
# How the owner finds a row's department, per scope.
_DEPARTMENT_OF = {
    roles.Scope.DEPARTMENT: "t.department_id",
    roles.Scope.LOG: "t.department_id",
    roles.Scope.SITE: "(SELECT s.department_id FROM sites s WHERE s.id = t.site_id)",
    roles.Scope.COMMENT: "(SELECT s.department_id FROM comments c JOIN sites s "
    "ON s.id = c.site_id WHERE c.id = t.comment_id)",
}


def test_every_table_is_classified() -> None:
    """A table added to the models must say here how the database scopes it."""
    assert set(roles.TABLES) == {*Base.metadata.tables, "alembic_version"}
    for name in APPEND_ONLY:  # records: read and added to, never changed
        for group, privileges in roles.TABLES[name].grants.items():
            assert "UPDATE" not in privileges, (name, group)
            assert "DELETE" not in privileges, (name, group)
    for table in Base.metadata.tables.values():  # no table holds a credential
        for column in table.columns:
            assert not any(w in column.name for w in ("token", "secret", "password")), column


@pytest.mark.parametrize(
    ("account", "login"),
    [("CITYHALL\\JDoe", "jdoe"), ("jdoe", "jdoe"), ("CITY\\mary.o-neil", "mary.o-neil")],
)
def test_a_windows_account_has_a_login_postgresql_accepts(account: str, login: str) -> None:
    assert roles.default_login(account) == login
    assert roles.login_problem(login) is None
    for bad in ("hsm_agent", "pg_monitor", "postgres", "Jdoe", "j doe", "x" * 64, ""):
        assert roles.login_problem(bad) is not None


@pytest.fixture
def logins(postgres_db: Database) -> Iterator[Callable[[str], str]]:
    """Makes a unique login name for this test; drops every login made at the end."""
    made: list[str] = []

    def name(who: str) -> str:
        made.append(f"t{os.getpid()}_{next(_names)}_{who}")
        return made[-1]

    yield name
    postgres_db.dispose()
    owner = create_engine(postgres_db.url, isolation_level="AUTOCOMMIT")
    with owner.connect() as connection:
        for login in made:
            connection.execute(text(f'DROP ROLE IF EXISTS "{login}"'))
    owner.dispose()


def login_url(db: Database, login: str) -> str:
    return db.url.set(username=login, password=None).render_as_string(False)


def as_login(db: Database, login: str) -> Database:
    return Database(login_url(db, login))


_LOGINS = "SELECT p.username, l.login FROM person_logins l JOIN people p ON p.id = l.person_id"
_MEMBERS = (
    "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
    "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :l"
)


@pytest.fixture
def city(
    postgres_db: Database, sandbox: SandboxServer, logins: Callable[[str], str]
) -> Iterator[tuple[World, dict[str, Database]]]:
    """The tests' world, synced, with an action in each department, a row of Police's in every
    scoped table, and a login for alice and carol (moderators of Parks and of Police), pat
    (supervisor of Police) and sam (supervisor of all)."""
    world = build_world(postgres_db, sandbox)
    admin = AdminService(postgres_db, "ada")  # run by the owner, who may create roles
    # Logins are the cluster's: another worker's test may add "pat" at the same moment, and
    # two CREATE ROLEs of one name at once fail on the catalogue's unique index.
    admin.add_person("pat", "Pat Supervisor", logins("pat"))
    admin.grant("pat", "supervisor", "POLICE")
    for who in ("alice", "carol", "sam"):
        admin.set_login(who, logins(who))
    world.app("alice").sync.sync()
    world.app("carol").sync.sync()
    _fill_police(world)
    with postgres_db.session() as session:
        names = {person: login for person, login in session.execute(text(_LOGINS))}
    dbs = {who: as_login(postgres_db, names[who]) for who in ("alice", "carol", "pat", "sam")}
    yield world, dbs
    for db in dbs.values():
        db.dispose()


def _first(world: World, site: int) -> Comment:
    with world.db.session() as session:
        comment = session.scalars(select(Comment).where(Comment.site_id == site)).first()
        assert comment is not None
        return comment


def _fill_police(world: World) -> None:
    """Carol hides a Police comment; then one row of Police's in each table sync leaves empty."""
    comment = _first(world, world.police_site)
    hidden = world.app("carol").moderation.act(comment.id, Action.HIDE, "PRF", "")
    world.app("alice").moderation.act(_first(world, world.parks_site).id, Action.HIDE, "PRF", "")
    now, police, site = utcnow(), 2, world.police_site
    with world.db.transaction() as session:
        certificate = session.execute(insert(DisposalCertificate).values(
            number="LRC-T-1", department_id=police, notice_given_on=date(2026, 1, 1),
            approved_on=date(2026, 2, 1), allowed_from=date(2026, 2, 1), covers=[],
            recorded_by="x", recorded_at=now, entry_id=hidden.pending_entry_id,
        ).returning(DisposalCertificate.id)).scalar_one()  # fmt: skip
        rows: list[tuple[Any, dict[str, Any]]] = [
            (CommentVersion, {"comment_id": comment.id, "author_name": "a", "text": "old",
                              "raw": {}, "replaced_seen_at": now}),
            (CaptureGap, {"site_id": site, "department_id": police, "kind": "outage",
                          "began_at": now, "ended_at": now, "detail": "", "recorded_at": now}),
            (RecordsRequest, {"department_id": police, "received_at": now, "requester": "r",
                              "words": "w", "scope": {}, "due_on": date(2026, 3, 1),
                              "state": "open", "extension_reason": ""}),
            (LegalHold, {"department_id": police, "reason": "r", "placed_by": "x",
                         "placed_at": now, "lift_reason": ""}),
            (DisposedRecord, {"comment_id": comment.id, "sha256": "0" * 64,
                              "certificate_id": certificate, "entry_id": hidden.pending_entry_id,
                              "disposed_at": now}),
            (Ban, {"department_id": police, "site_id": site, "platform": "facebook",
                   "author_id": "a", "author_name": "a", "comment_id": comment.id,
                   "cited_comments": [], "codes": [], "basis": "b",
                   "ends_on": date(2026, 3, 1), "ends_at": now + timedelta(days=9),
                   "state": "proposed", "proposed_by": "carol", "proposed_at": now,
                   "decision_reason": "", "by_hand": False, "end_reason": "",
                   "last_detail": ""}),
            (SiteConnection, {"site_id": site, "reconnect_needed_at": None}),
            (Agent, {"name": "a", "public_key": "k", "instance": "i", "host": "h",
                     "started_at": now, "beat_at": now}),
            (AgentSignIn, {"agent": "a", "site_id": site, "state": "no_expiry", "until": None,
                           "problem": "", "checked_at": now}),
        ]  # fmt: skip
        for model, values in rows:
            session.execute(insert(model).values(values))
    PresenceService(world.db, "carol").open(comment.id)  # Carol has it open


def _rows_by_department(db: Database, table: str) -> dict[int | None, int]:
    of = _DEPARTMENT_OF[roles.TABLES[table].scope]
    with db.engine.connect() as connection:
        rows = connection.execute(text(f"SELECT {of}, count(*) FROM {table} t GROUP BY 1"))
        return {department: count for department, count in rows}


def _refused(db: Database, statement: str) -> str:
    with pytest.raises(DBAPIError) as caught, db.engine.begin() as connection:
        connection.execute(text(statement))
    return str(caught.value.orig)


def test_a_moderator_reads_only_their_department(city: tuple[World, dict[str, Database]]) -> None:
    world, dbs = city
    parks, police = 1, 2
    for table in SCOPED:
        everything = _rows_by_department(world.db, table)
        assert everything.get(police), f"the test's world has no Police row in {table}"
        seen = _rows_by_department(dbs["alice"], table)
        assert police not in seen, f"alice reads Police's rows of {table}"
        assert set(seen) <= {parks, None}, table
    assert (
        _rows_by_department(dbs["alice"], "comments")[parks]
        == (_rows_by_department(world.db, "comments")[parks])
    )
    with dbs["alice"].session() as session:  # City-wide tables: every row, as the services need
        assert session.scalar(select(Person.id).where(Person.username == "carol")) is not None
        assert [e.actor for e in session.scalars(select(LogEntry))] == ["alice", "alice"]
    assert "permission denied" in _refused(
        dbs["alice"], "UPDATE alembic_version SET version_num = '1'"
    )


def test_a_supervisor_reads_only_their_departments(
    city: tuple[World, dict[str, Database]],
) -> None:
    world, dbs = city
    for table in SCOPED:
        assert set(_rows_by_department(dbs["pat"], table)) <= {2, None}, table
        assert set(_rows_by_department(dbs["sam"], table)) == set(
            _rows_by_department(world.db, table)
        ), table  # the oversight group: every department
    with dbs["pat"].session() as session:
        entries = list(session.scalars(select(LogEntry)))
        assert {e.department_id for e in entries} == {2}
        assert [e.actor for e in entries if e.kind == "action"] == ["carol", "carol"]
        assert resolve_actor(session, current_username(dbs["pat"])).supervises == frozenset({2})
    whole = verify_log(world.db)
    for who in ("pat", "sam"):  # pat through the chain's links, sam reads every entry
        report = verify_log(dbs[who])
        assert report.ok, (who, report.problem)
        assert (report.entries_checked, report.head_hash) == (
            whole.entries_checked,
            whole.head_hash,
        )
    assert 0 < verify_log(dbs["pat"]).records_checked < whole.records_checked  # Police's only
    with pytest.raises(PermissionDenied, match="links"):  # a moderator reads no links
        verify_log(dbs["alice"])


def test_no_record_is_changed_and_no_entry_written_in_anothers_name(
    city: tuple[World, dict[str, Database]],
) -> None:
    _world, dbs = city
    alice = dbs["alice"]
    for table in APPEND_ONLY:
        for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}",
                          f"TRUNCATE {table}"):  # fmt: skip
            assert "permission denied" in _refused(alice, statement), statement
    with alice.engine.connect() as connection:
        head = connection.execute(text("SELECT id, entry_hash FROM hsm_chain_head()")).one()
    with _world.db.engine.connect() as connection:  # every department's, though she reads two
        assert (
            head
            == connection.execute(
                text("SELECT id, entry_hash FROM action_log ORDER BY id DESC LIMIT 1")
            ).one()
        )
    entry = (
        "INSERT INTO action_log (id, at, actor, state, action, department_id, note, "
        "second_review, detail, prev_hash, entry_hash, kind) VALUES ({id}, now(), '{actor}', "
        "'applied', 'note', {department}, '', false, '', '{prev}', 'x', 'note')"
    )
    for actor, department in (("bob", 1), ("carol", 2), ("alice", 2)):
        refused = _refused(
            alice, entry.format(id=head[0] + 1, actor=actor, department=department, prev=head[1])
        )
        assert "row-level security" in refused, (actor, department)
    with alice.engine.begin() as connection:  # her own name, her department: the rule allows
        connection.execute(
            text(entry.format(id=head[0] + 1, actor="alice", department=1, prev=head[1]))
        )
    with alice.engine.connect() as connection:  # links: for the log's readers only
        assert (
            connection.execute(text("SELECT count(*) FROM hsm_chain_links(0, 100)")).scalar() == 0
        )
    with dbs["pat"].engine.connect() as connection:
        links = connection.execute(text("SELECT id FROM hsm_chain_links(0, 100)")).scalars()
        assert list(links) == list(range(1, head[0] + 2))


def test_a_moderator_reaches_no_token(
    city: tuple[World, dict[str, Database]], file_keyring: PlaintextKeyring
) -> None:
    world, dbs = city
    secret = "EAAG-never-in-the-database-" + "7" * 20
    with world.db.session() as session:
        site = session.get(Site, world.parks_site)
        assert site is not None
        CredentialStore().set_tokens(site, TokenSet(access_token=secret, refresh_token=secret))
    admin = AdminService(world.db, "ada")
    admin.set_site_active(str(world.parks_site), False)  # an administrative entry, with state
    with dbs["alice"].engine.connect() as connection:
        for table in roles.TABLES:
            if table == "sealed_secrets":  # tokens sealed to the agent: not even readable
                with pytest.raises(ProgrammingError), connection.begin_nested():
                    connection.execute(text("SELECT * FROM sealed_secrets"))
                continue
            for row in connection.execute(text(f"SELECT t::text FROM {table} t")).scalars():
                assert "EAAG" not in row, table
        for catalog in ("SELECT rolpassword FROM pg_authid", "SELECT * FROM pg_user_mapping"):
            with pytest.raises(ProgrammingError), connection.begin_nested():
                connection.execute(text(catalog))


def test_the_console_as_a_moderators_login_hides_end_to_end(
    city: tuple[World, dict[str, Database]],
) -> None:
    world, dbs = city
    db = dbs["alice"]
    username = current_username(db)
    assert username == "alice"
    app = App(db=db, policy=load_policy(), username=username, connector_overrides=FAST_NETWORK)
    results = app.sync.sync()  # her sites only, written through her login
    assert [(r.site_id, r.error) for r in results] == [(world.parks_site, "")]
    with db.session() as session:
        comment = session.scalars(
            select(Comment).where(Comment.status == "new").order_by(Comment.id)
        ).first()
        assert comment is not None
        assert comment.site_id == world.parks_site
    result = app.moderation.act(comment.id, Action.HIDE, "PRF", "by her own login")
    assert result.state is EntryState.APPLIED
    assert world.sandbox.state.facebook.is_hidden(comment.external_id)
    with world.db.session() as session:
        entries = session.scalars(
            select(LogEntry).where(LogEntry.comment_id == comment.id).order_by(LogEntry.id)
        )
        assert [(e.actor, e.state) for e in entries] == [("alice", "pending"), ("alice", "applied")]
        pending_id = session.scalar(
            select(LogEntry.id).where(
                LogEntry.comment_id == comment.id, LogEntry.state == "pending"
            )
        )
    # The log's trigger wrote the dashboard's row though her login may only read that table;
    # she reads it, and no other department's.
    with db.session() as session:
        decided = dict(
            session.execute(select(DashboardDecision.id, DashboardDecision.department_id)).all()
        )
    assert decided[pending_id] == 1
    assert set(decided.values()) == {1}
    assert "permission denied" in _refused(
        db, f"DELETE FROM dashboard_decisions WHERE id = {pending_id}"
    )
    # So did the comments' triggers, counting her sync and her hide: her sites' counts only.
    counts = "SELECT site_id, status, comments FROM comment_counts ORDER BY 1, 2"
    counted = (
        "SELECT site_id, status, count(*) FROM comments "
        f"WHERE site_id = {world.parks_site} GROUP BY 1, 2 ORDER BY 1, 2"
    )
    with db.engine.connect() as hers, world.db.engine.connect() as owners:
        seen = [tuple(row) for row in hers.execute(text(counts))]
        assert seen == [tuple(row) for row in owners.execute(text(counted))]
    assert (world.parks_site, "hidden", 2) in seen  # the fixture's hide and hers
    assert "permission denied" in _refused(db, "UPDATE comment_counts SET comments = 0")
    assert verify_log(world.db).ok  # the chain, across both departments, is one
    police = _first(world, world.police_site)
    with pytest.raises(UserError):  # she cannot even find it: the database hides it
        app.moderation.act(police.id, Action.HIDE, "PRF", "")
    impostor = App(db=db, policy=load_policy(), username="bob", connector_overrides=FAST_NETWORK)
    with pytest.raises(DBAPIError, match="row-level security"):  # a client that lies
        impostor.moderation.act(comment.id, Action.UNHIDE, None, "")


_POLICIES = (
    "SELECT tablename, policyname, cmd, roles::text, qual, with_check FROM pg_policies "
    "WHERE schemaname = 'public' ORDER BY 1, 2"
)
_TABLES = (  # each table's grants and whether its rows are secured
    "SELECT relname, relacl::text, relrowsecurity FROM pg_class WHERE relkind = 'r' "
    "AND relnamespace = 'public'::regnamespace ORDER BY 1"
)
_FUNCTIONS = (
    "SELECT proname, proacl::text, prosrc FROM pg_proc WHERE proname LIKE 'hsm%' ORDER BY 1"
)


def _catalog(db: Database) -> list[Any]:
    with db.engine.connect() as connection:
        return [
            *connection.execute(text(_POLICIES)).all(),
            *connection.execute(text(_TABLES)).all(),
            *connection.execute(text(_FUNCTIONS)).all(),
        ]


def test_db_roles_twice_changes_nothing(
    postgres_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _catalog(postgres_db)
    assert any(row[1] == "hsm_person_rows" for row in before)  # db upgrade applied them
    url = postgres_db.url.render_as_string(False)
    for _ in range(2):
        assert main(["--database", url, "db", "roles"]) == 0
        assert _catalog(postgres_db) == before
    assert "up to date" in capsys.readouterr().out


def test_db_roles_on_sqlite_says_there_is_nothing_to_do(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database", f"sqlite:///{tmp_path / 'x.sqlite3'}", "db", "roles"]) == 0
    assert "Nothing to do" in capsys.readouterr().out


def _members(db: Database, login: str) -> set[str]:
    with db.engine.connect() as connection:
        return set(connection.execute(text(_MEMBERS), {"l": login}).scalars())


@pytest.mark.expected_log("permission denied")
def test_adding_a_person_creates_their_login_and_follows_their_roles(
    postgres_db: Database, sandbox: SandboxServer, logins: Callable[[str], str]
) -> None:
    build_world(postgres_db, sandbox)
    owner = AdminService(postgres_db, "ada")
    ada_login = logins("ada")
    owner.set_login("ada", ada_login)
    ada = as_login(postgres_db, ada_login)
    newcomer = logins("jdoe")
    account = f"CITYHALL\\{newcomer}"
    with postgres_db.session() as session:
        entries = session.scalar(select(LogEntry.id).order_by(LogEntry.id.desc()).limit(1))
    with pytest.raises(PermissionDenied, match="CREATEROLE"):  # lacks it: nothing is written
        AdminService(ada, "ada").add_person(account, "Jane Doe")
    with postgres_db.session() as session:
        assert session.scalar(select(Person.id).where(Person.username == account)) is None
        assert session.scalar(select(LogEntry.id).order_by(LogEntry.id.desc()).limit(1)) == entries
    with postgres_db.engine.begin() as connection:
        connection.execute(text(f'ALTER ROLE "{ada_login}" CREATEROLE'))
    service = AdminService(ada, current_username(ada))
    assert "(a new login)" in service.add_person(account, "Jane Doe").message
    assert _members(postgres_db, newcomer) == {"hsm_person"}
    service.grant(account, "moderator", "PARKS")
    service.grant(account, "records_officer", "PARKS")
    assert _members(postgres_db, newcomer) == {"hsm_person", "hsm_moderator", "hsm_records_officer"}
    service.revoke(account, "moderator", "PARKS")
    assert _members(postgres_db, newcomer) == {"hsm_person", "hsm_records_officer"}
    service.set_person_active(account, False)
    assert _members(postgres_db, newcomer) == set()
    service.set_person_active(account, True)
    jane = as_login(postgres_db, newcomer)
    assert current_username(jane) == account
    jane.dispose()
    with pytest.raises(Exception, match="already"):
        service.add_person("OTHER\\x", "X", login=newcomer)
    ada.dispose()


def test_a_password_kept_in_the_keyring_signs_in(
    postgres_db: Database, logins: Callable[[str], str], file_keyring: PlaintextKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    login = logins("kept")
    with postgres_db.engine.begin() as connection:
        connection.execute(text(f"CREATE ROLE \"{login}\" LOGIN PASSWORD 'pw-in-keyring'"))
    url = login_url(postgres_db, login)
    monkeypatch.setattr("sys.stdin", io.StringIO("pw-in-keyring\n"))
    assert main(["--database", url, "db", "password"]) == 0
    db = Database(url)
    assert db.url.password == "pw-in-keyring"
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT session_user")).scalar() == login
    assert "pw-in-keyring" not in str(db.url)
    assert "pw-in-keyring" not in repr(db.engine)
    db.dispose()
    assert make_url(url).password is None
    assert main(["--database", "sqlite:///x.sqlite3", "db", "password"]) == 1  # no login


def test_the_first_administrator_signs_in_as_themselves(
    postgres_db: Database, logins: Callable[[str], str]
) -> None:
    """deployment.md, section 3: IT's administrator, with only their groups, runs admin init."""
    login = logins("itadmin")
    with postgres_db.engine.begin() as connection:
        connection.execute(text(f'CREATE ROLE "{login}" LOGIN CREATEROLE'))
        connection.execute(text(f'GRANT hsm_person, hsm_administrator TO "{login}"'))
    app = open_app(Settings(database_url=login_url(postgres_db, login)), claim_first_run=True)
    try:
        assert app.first_run is not None
        assert (app.username, app.login) == (login, login)
        assert current_username(app.db) == login
        assert app.admin.add_department("ROADS", "Roads").entry_id is not None
    finally:
        app.close()


def test_a_records_officer_disposes_through_their_own_login(
    postgres_db: Database, sandbox: SandboxServer, logins: Callable[[str], str]
) -> None:
    """hsm_dispose (migration 0011) under the policies: its role sees the rows it blanks."""
    world = build_world(postgres_db, sandbox)
    world.app("alice").sync.sync()
    officers(world)
    certify(world)
    login = logins("rita")
    AdminService(postgres_db, "ada").set_login("rita", login)
    rita = as_login(postgres_db, login)
    result = RetentionService(rita, load_policy(), "rita", today=lambda: LATER).dispose(
        "LRC-2032-0001"
    )
    rita.dispose()
    assert result.comments > 0
    with postgres_db.session() as session:
        blank = session.scalar(select(func.count()).where(Comment.text == ""))
        assert blank == result.comments
    assert verify_log(postgres_db).ok


_PRESENT = text(
    "INSERT INTO presence (holder, username, comment_id, department_id, opened_at, "
    "heartbeat_at) VALUES (:h, :u, :c, :d, now(), now())"
)


def test_presence_is_written_only_in_ones_own_name(
    city: tuple[World, dict[str, Database]],
) -> None:
    """Presence (who has a comment open) is read by the department, written by its person."""
    world, dbs = city
    parks, police = _first(world, world.parks_site).id, _first(world, world.police_site).id
    with world.db.session() as session:
        department = dict(session.execute(select(Site.id, Site.department_id)).all())
    in_parks = {"c": parks, "d": department[world.parks_site]}
    in_police = {"c": police, "d": department[world.police_site]}
    bob = PresenceService(world.db, "bob")
    bob.open(parks)
    with dbs["alice"].engine.connect() as connection:
        connection.execute(_PRESENT, {"h": "mine", "u": "alice", **in_parks})
        seen = connection.execute(text("SELECT holder FROM presence")).scalars().all()
        assert sorted(seen) == sorted(["mine", bob.holder])  # not Carol's, of Police
        for forged in ({"h": "f1", "u": "bob", **in_parks}, {"h": "f2", "u": "alice", **in_police}):
            with pytest.raises(DBAPIError, match="row-level security"), connection.begin_nested():
                connection.execute(_PRESENT, forged)
        touched = connection.execute(text("UPDATE presence SET heartbeat_at = now()"))
        assert touched.rowcount == 1  # her own row only: Bob's is seen, never changed
        assert connection.execute(text("DELETE FROM presence")).rowcount == 1
        connection.rollback()
