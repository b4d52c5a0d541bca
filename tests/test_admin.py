"""Administration: the first administrator, departments, people, roles and sites, each change
an entry of the one hash-chained log; and what is refused, by name, before anything is written.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from hsm_console.db.chain import (
    FORM2_FIELDS,
    FORM3_FIELDS,
    append_admin_entry,
    entry_hash,
    record_hash,
)
from hsm_console.db.engine import Database
from hsm_console.db.models import (
    Base,
    Comment,
    Department,
    LogEntry,
    Person,
    Post,
    RetainedRecord,
    RoleGrant,
    Site,
    SyncState,
    utcnow,
)
from hsm_console.errors import (
    ConcurrentAction,
    InvalidInput,
    NotFound,
    NotPossible,
    PermissionDenied,
)
from hsm_console.host.identity import os_username
from hsm_console.rules import administration as check
from hsm_console.rules.domain import Action, AdminChange, Platform, PlatformState
from hsm_console.services import admin
from hsm_console.services.access import resolve_actor
from hsm_console.services.admin import AdminService, first_run
from hsm_console.services.verify import verify_log
from hsm_sandbox import SandboxServer
from tests.cli_process import hsm
from tests.conftest import World, build_world
from tests.test_verify import behind_the_triggers

ROOT = Path(__file__).resolve().parents[1]


def entries(db: Database) -> list[LogEntry]:
    with db.session() as session:
        return list(session.scalars(select(LogEntry).order_by(LogEntry.id)))


def admin_of(world: World) -> AdminService:
    return AdminService(world.db, "ada")


# --- the first administrator ------------------------------------------------------------


def test_the_first_person_becomes_administrator_once(db: Database) -> None:
    claimed = first_run(db, "CITYHALL\\root")
    assert claimed is not None
    assert claimed.entry_id == 1
    assert first_run(db, "mallory") is None  # someone exists now: nothing more happens
    with pytest.raises(PermissionDenied) as refused:
        admin.init(db, "mallory")
    assert "already set up" in refused.value.message
    assert "CITYHALL\\root became its first administrator" in refused.value.message
    assert "(log entry 1)" in refused.value.message
    with db.session() as session:
        actor = resolve_actor(session, "CITYHALL\\root")
        assert actor.administers
        assert session.scalar(select(func.count()).select_from(Person)) == 1
    [entry] = entries(db)
    assert (entry.kind, entry.action, entry.actor, entry.subject) == (
        "admin", "init", "CITYHALL\\root", "person:CITYHALL\\root"
    )  # fmt: skip
    assert entry.before is None
    assert json.loads(entry.after or "")["roles"] == [{"department": None, "role": "administrator"}]
    assert verify_log(db).ok


def test_two_first_starts_at_once_make_one_administrator(db: Database) -> None:
    """The database decides: one wins, the others find a person and stop."""
    names = [f"starter{n}" for n in range(4)]
    start = threading.Barrier(len(names))
    results: dict[str, object] = {}

    def begin(name: str) -> None:
        start.wait()
        try:
            results[name] = first_run(db, name)
        except BaseException as exc:  # pragma: no cover - reported below
            results[name] = exc

    threads = [threading.Thread(target=begin, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, result in results.items() if result is not None]
    assert len(winners) == 1, results
    with db.session() as session:
        assert list(session.scalars(select(Person.username))) == winners
        assert session.scalar(select(func.count()).select_from(RoleGrant)) == 1
    assert len(entries(db)) == 1
    assert verify_log(db).ok


def test_the_database_refuses_a_second_init_entry(db: Database) -> None:
    """The last line of defence, whatever the locks: a unique index on the init entry."""
    assert first_run(db, "root") is not None
    with pytest.raises(sa.exc.IntegrityError), db.transaction() as session:
        append_admin_entry(session, "mallory", AdminChange.INIT, "person:x", None, {})


def test_a_demo_database_has_no_first_run(world: World) -> None:
    assert first_run(world.db, "newcomer") is None
    with pytest.raises(PermissionDenied, match="set up before"):
        admin.init(world.db, "newcomer")


# --- refusals -------------------------------------------------------------------------

EVERY_COMMAND: dict[str, Callable[[AdminService, World], object]] = {
    "list the departments": lambda s, w: s.departments(),
    "list the people": lambda s, w: s.people(),
    "list the sites": lambda s, w: s.sites(),
    "add a department": lambda s, w: s.add_department("ROADS", "Roads"),
    "rename a department": lambda s, w: s.rename_department("PARKS", "Parks"),
    "add a person": lambda s, w: s.add_person("CITYHALL\\eve", "Eve"),
    "rename a person": lambda s, w: s.rename_person("bob", "Robert"),
    "deactivate a person": lambda s, w: s.set_person_active("bob", False),
    "reactivate a person": lambda s, w: s.set_person_active("bob", True),
    "grant a role": lambda s, w: s.grant("alice", "administrator", None),
    "take back a role": lambda s, w: s.revoke("ada", "administrator", None),
    "add a site": lambda s, w: s.add_site("x", "12345", "Roads on X", "PARKS"),
    "change a site": lambda s, w: s.change_site(str(w.parks_site), name="Mine"),
    "deactivate a site": lambda s, w: s.set_site_active(str(w.police_site), False),
    "reactivate a site": lambda s, w: s.set_site_active(str(w.police_site), True),
}


@pytest.mark.parametrize("doing", sorted(EVERY_COMMAND))
def test_who_is_not_an_administrator_is_refused_every_command(world: World, doing: str) -> None:
    before = _tables(world.db)
    for username in ("alice", "sam"):  # a moderator; the oversight group's supervisor
        with pytest.raises(PermissionDenied) as refused:
            EVERY_COMMAND[doing](AdminService(world.db, username), world)
        assert f"Only an administrator may {doing}" in refused.value.message
        assert f"({username}) is not one" in refused.value.message
    with pytest.raises(PermissionDenied, match="stranger is not an active user"):
        EVERY_COMMAND[doing](AdminService(world.db, "stranger"), world)
    assert _tables(world.db) == before  # nothing was written


def _tables(db: Database) -> dict[str, list[Any]]:
    with db.session() as session:
        return {
            model.__tablename__: [tuple(row) for row in session.execute(select(model.__table__))]
            for model in (Department, Person, RoleGrant, Site, LogEntry)
        }


@pytest.mark.parametrize(
    ("platform", "bad_id"),
    [
        ("facebook", "highlandparks"), ("instagram", "@highlandparks"), ("youtube", "@parks"),
        ("youtube", "UCshort"), ("x", "@HighlandParksIL"), ("tiktok", "has space"),
        ("linkedin", "urn:li:person:12"), ("wordpress", "Parks News"),
        ("discourse", "../admin"), ("facebook", "1" * 21), ("x", ""),
    ],
)  # fmt: skip
def test_a_malformed_site_id_is_refused_with_what_to_enter(
    world: World, platform: str, bad_id: str
) -> None:
    before = _tables(world.db)
    with pytest.raises(InvalidInput) as refused:
        admin_of(world).add_site(platform, bad_id, "New site", "PARKS", "https://api.test")
    assert f"{bad_id!r} is not a {Platform(platform).label} site id" in refused.value.message
    assert "Enter " in refused.value.message
    assert _tables(world.db) == before


def test_an_unknown_platform_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput, match="There is no platform 'myspace'; the platforms are"):
        admin_of(world).add_site("myspace", "1", "Old", "PARKS")


@pytest.mark.parametrize(
    ("platform", "good_id", "stored"),
    [
        ("Facebook", "1000000000001", "1000000000001"),
        ("instagram", "17841400000000001", "17841400000000001"),
        ("youtube", "UC_x5XG1OV2P6uZZ5FSM9Ttw", "UC_x5XG1OV2P6uZZ5FSM9Ttw"),
        ("x", "1102323333", "1102323333"),
        ("tiktok", "-000GZBB1vE4-dpTvTaByPqI_uWUeLUN6tYn", "-000GZBB1vE4-dpTvTaByPqI_uWUeLUN6tYn"),
        ("linkedin", "1000001", "urn:li:organization:1000001"),
        ("wordpress", "parks-news", "parks-news"),
        ("discourse", "/city-services/5/", "city-services/5"),
    ],
)
def test_each_platform_takes_its_own_id_and_api_address(
    world: World, platform: str, good_id: str, stored: str
) -> None:
    on = check.platform(platform)
    own = "https://blog.highlandil.gov/" if on in (Platform.WORDPRESS, Platform.DISCOURSE) else None
    change = admin_of(world).add_site(platform, good_id, f"City {platform}", "parks", own)
    assert change.entry_id is not None
    assert f"hsm-console admin connect {change.message.split()[2].rstrip(',')}" in change.next_step
    with world.db.session() as session:
        site = session.scalars(select(Site).order_by(Site.id.desc())).first()
        assert site is not None
        assert (site.platform, site.external_id) == (on.value, stored)
        assert site.base_url == (own.rstrip("/") if own else check.SITE_RULES[on].api_address)
        assert not site.is_sandbox


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("http://graph.example.com", "plain http"),
        ("https://user:secret@graph.example.com", "must not carry a user name or password"),
        ("https://graph.example.com/?token=1", "no '?' or '#' part"),
        ("ftp://graph.example.com", "is not a web address"),
        ("graph.example.com", "is not a web address"),
        ("https://[::1", "is not a web address"),
    ],
)
def test_an_api_address_is_https_and_carries_no_secret(address: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words.replace("?", r"\?")):
        check.api_address(Platform.FACEBOOK, address)


def test_an_api_address_defaults_to_the_platforms_own_and_may_be_the_sandbox() -> None:
    assert check.api_address(Platform.X, None) == "https://api.x.com"
    assert check.api_address(Platform.X, "http://127.0.0.1:8765/x/") == "http://127.0.0.1:8765/x"
    assert check.api_address(Platform.X, "http://localhost:9") == "http://localhost:9"
    with pytest.raises(InvalidInput, match="give its address"):
        check.api_address(Platform.WORDPRESS, None)


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("api_version=25", "is not a valid api_version: expected the Graph API version"),
        ("active_days=0", "is not a valid active_days"),
        ("active_days=many", "is not a valid active_days"),
        ("demo_token=public", "Facebook sites have no setting 'demo_token'"),
        ("hide_flag=spam", "Facebook sites have no setting 'hide_flag'"),
    ],
)
def test_a_bad_setting_is_refused_by_name(world: World, setting: str, words: str) -> None:
    key, _, value = setting.partition("=")
    before = _tables(world.db)
    with pytest.raises(InvalidInput, match=words):
        admin_of(world).change_site(str(world.parks_site), settings={key: value})
    assert _tables(world.db) == before


def test_person_and_department_input_is_checked(world: World) -> None:
    service = admin_of(world)
    for account in ("jane doe", "jdoe@cityhall.local", "CITY/jdoe", "-rf", ""):
        with pytest.raises(InvalidInput, match="is not an account name"):
            service.add_person(account, "Jane")
    with pytest.raises(InvalidInput, match="one line of plain text"):
        service.add_person("jdoe", "Jane\x1b[2J")
    with pytest.raises(InvalidInput, match="already a person of HSM Console"):
        service.add_person("ALICE", "Another Alice")  # accounts match without regard to case
    with pytest.raises(InvalidInput, match="is not a department code"):
        service.add_department("PARKS & REC", "Parks")
    with pytest.raises(InvalidInput, match="There is already a department PARKS"):
        service.add_department("parks", "Parks again")
    with pytest.raises(NotFound, match="There is no department ROADS"):
        service.grant("bob", "moderator", "ROADS")
    with pytest.raises(NotFound, match="There is no person 'nobody'"):
        service.grant("nobody", "moderator", "PARKS")
    with pytest.raises(InvalidInput, match="There is no role 'owner'"):
        service.grant("bob", "owner", "PARKS")
    with pytest.raises(InvalidInput, match="A moderator works for one department"):
        service.grant("bob", "moderator", None, everywhere=True)
    with pytest.raises(InvalidInput, match="administers the whole City"):
        service.grant("bob", "administrator", "PARKS")
    with pytest.raises(InvalidInput, match="Site 1 is already named"):
        service.add_site("x", "12", "Highland Parks & Recreation", "PARKS")
    with pytest.raises(InvalidInput, match="cannot be only digits"):
        service.add_site("x", "12", "2024", "PARKS")


# --- changes and their log entries --------------------------------------------------------


def test_setting_up_a_department_is_logged_and_takes_effect(world: World) -> None:
    service = admin_of(world)
    first = len(entries(world.db))
    service.add_department("roads", "Roads and Bridges")
    service.add_person("CITYHALL\\jdoe", "Jane Doe")
    service.grant("CITYHALL\\jdoe", "moderator", "ROADS")
    service.grant("CITYHALL\\jdoe", "supervisor", None, everywhere=True)
    again = service.grant("CITYHALL\\jdoe", "moderator", "ROADS")
    assert again.entry_id is None  # already held: nothing written
    service.add_site("x", "1102323333", "Roads on X", "ROADS", world.sandbox.url + "/x",
                     {"active_days": "14"})  # fmt: skip
    service.rename_department("ROADS", "Roads & Bridges")
    with world.db.session() as session:
        actor = resolve_actor(session, "CITYHALL\\jdoe")
        roads = session.scalars(select(Department).where(Department.code == "ROADS")).one()
        assert actor.moderates == frozenset({roads.id})
        assert actor.supervises is None  # the oversight group
        site = session.scalars(select(Site).where(Site.name == "Roads on X")).one()
        assert site.settings == {"active_days": 14}
    log = entries(world.db)[first:]
    assert [(e.kind, e.action, e.subject, e.actor) for e in log] == [
        ("admin", "add", "department:ROADS", "ada"),
        ("admin", "add", "person:CITYHALL\\jdoe", "ada"),
        ("admin", "grant", "person:CITYHALL\\jdoe", "ada"),
        ("admin", "grant", "person:CITYHALL\\jdoe", "ada"),
        ("admin", "add", f"site:{site.id}", "ada"),
        ("admin", "change", "department:ROADS", "ada"),
    ]
    assert json.loads(log[2].after or "") == {"role": "moderator", "department": "ROADS"}
    assert log[2].department_id == roads.id
    assert json.loads(log[3].after or "") == {"role": "supervisor", "department": None}
    assert json.loads(log[4].after or "")["settings"] == {"active_days": 14}
    assert (json.loads(log[5].before or "")["name"], json.loads(log[5].after or "")["name"]) == (
        "Roads and Bridges", "Roads & Bridges"
    )  # fmt: skip
    assert all(e.comment_id is None and e.record_id is None for e in log)
    assert verify_log(world.db).ok


def test_a_records_officer_keeps_one_department_or_all(world: World) -> None:
    service = admin_of(world)
    service.add_person("clerk", "Carla Clerk")
    service.add_person("parks-foia", "Pat Foia")
    with pytest.raises(InvalidInput, match="whose records the records officer keeps"):
        service.grant("clerk", "records officer", None)
    service.grant("clerk", "Records-Officer", None, everywhere=True)
    service.grant("parks-foia", "records_officer", "PARKS")
    with world.db.session() as session:
        clerk = resolve_actor(session, "clerk")
        parks_foia = resolve_actor(session, "parks-foia")
        parks = session.scalars(select(Department).where(Department.code == "PARKS")).one()
        ada = resolve_actor(session, "ada")
        listed = {p.account: p.roles for p in service.people()}
    assert not ada.is_records_officer
    assert clerk.keeps_records is None
    assert clerk.is_records_officer
    assert parks_foia.keeps_records == frozenset({parks.id})
    assert parks_foia.may_keep_records(parks.id)
    assert not parks_foia.may_keep_records(parks.id + 1)
    assert not parks_foia.works_for(parks.id)  # keeping records is not moderating or supervising
    assert listed["clerk"] == ["records officer of all departments"]


def test_two_administrators_adding_the_same_department_at_once(world: World) -> None:
    admin_of(world).grant("sam", "administrator", None)
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def add(username: str) -> None:
        start.wait()
        try:
            outcomes.append(AdminService(world.db, username).add_department("ROADS", "Roads"))
        except (InvalidInput, ConcurrentAction) as refused:  # said in plain words either way
            outcomes.append(refused)

    threads = [threading.Thread(target=add, args=(name,)) for name in ("ada", "sam")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([o for o in outcomes if isinstance(o, admin.Change)]) == 1
    with world.db.session() as session:
        assert session.scalar(select(func.count()).where(Department.code == "ROADS")) == 1
    assert [e.subject for e in entries(world.db)].count("department:ROADS") == 1
    assert verify_log(world.db).ok


def test_people_and_sites_are_deactivated_never_deleted(synced: World) -> None:
    service = admin_of(synced)
    service.set_person_active("bob", False)
    with synced.db.session() as session, pytest.raises(PermissionDenied):
        resolve_actor(session, "bob")
    service.set_person_active("bob", True)
    change = service.set_site_active(str(synced.parks_site), False)
    assert "its comments, records and log entries are kept" in change.message
    with synced.db.session() as session:
        site = session.get(Site, synced.parks_site)
        assert site is not None
        assert not site.active
        assert session.scalar(select(func.count()).where(Comment.site_id == site.id))
    assert synced.app("alice").sync.sites() == []  # no longer synced
    with pytest.raises(NotPossible, match="is deactivated, so it is not synced"):
        synced.app("alice").sync.sync([synced.parks_site])
    service.set_site_active("Highland Parks & Recreation", True)
    assert [s.id for s in synced.app("alice").sync.sites()] == [synced.parks_site]
    assert [e.action for e in entries(synced.db)[-4:]] == [
        "deactivate", "reactivate", "deactivate", "reactivate"
    ]  # fmt: skip


def test_the_last_administrator_stays(world: World) -> None:
    service = admin_of(world)
    with pytest.raises(PermissionDenied, match="ada is the only active administrator"):
        service.set_person_active("ada", False)
    with pytest.raises(PermissionDenied, match="ada is the only active administrator"):
        service.revoke("ada", "administrator", None)
    service.grant("sam", "administrator", None)
    assert service.revoke("ada", "administrator", None).entry_id is not None
    with world.db.session() as session:
        assert not resolve_actor(session, "ada").administers


def test_a_site_change_keeps_platform_and_id_and_logs_both_states(world: World) -> None:
    service = admin_of(world)
    change = service.change_site(
        "Highland Police Department", department="PARKS", api_address="https://proxy.city.test",
        settings={"api_version": "v26.0"}, unset=["page_size"],
    )  # fmt: skip
    assert change.entry_id is not None
    assert change.next_step == ""  # a sandbox site's token is on its row
    [entry] = entries(world.db)[-1:]
    before, after = json.loads(entry.before or ""), json.loads(entry.after or "")
    assert (before["department"], after["department"]) == ("POLICE", "PARKS")
    assert after["api_address"] == "https://proxy.city.test"
    assert after["settings"] == {"api_version": "v26.0"}
    assert "demo_token" not in (entry.before or "") + (entry.after or "")
    assert service.change_site("Highland Police Department").entry_id is None
    back = service.change_site(str(world.police_site), api_address="default")
    assert json.loads(entries(world.db)[-1].after or "")["api_address"] == (
        "https://graph.facebook.com"
    )
    assert back.entry_id is not None
    with pytest.raises(InvalidInput, match="have no setting 'colour'"):
        service.change_site(str(world.police_site), unset=["colour"])


# --- one chain for every kind of entry -------------------------------------------------------


def test_actions_and_administrative_changes_share_one_verified_chain(synced: World) -> None:
    comment_ids = _parks_comments(synced, 2)
    synced.app("alice").moderation.act(comment_ids[0], Action.FLAG, "SPM", "flooding")
    admin_of(synced).add_department("ROADS", "Roads")
    synced.app("alice").moderation.act(comment_ids[1], Action.FLAG, "SPM", "flooding")
    log = entries(synced.db)
    assert [e.kind for e in log] == ["action", "action", "admin", "action", "action"]
    report = verify_log(synced.db)
    assert report.ok
    assert (report.entries_checked, report.head_hash) == (5, log[-1].entry_hash)

    behind_the_triggers(synced.db, "UPDATE action_log SET after = '{}' WHERE id = 3")
    report = verify_log(synced.db)
    assert (report.first_bad_entry, report.entries_checked) == (3, 2)
    assert "entry 3 was altered" in report.problem


def test_an_action_entry_cannot_take_fields_outside_its_form(synced: World) -> None:
    synced.app("alice").moderation.act(_parks_comments(synced, 1)[0], Action.KEEP)
    behind_the_triggers(synced.db, "UPDATE action_log SET subject = 'site:1' WHERE id = 1")
    report = verify_log(synced.db)
    assert report.first_bad_entry == 1
    assert "entry 1 was altered" in report.problem


def test_the_log_stays_append_only_for_administrative_entries(world: World) -> None:
    admin_of(world).add_department("ROADS", "Roads")
    for statement in ("UPDATE action_log SET actor = 'x'", "DELETE FROM action_log"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), world.db.engine.begin() as c:
            c.execute(text(statement))


def _parks_comments(world: World, n: int) -> list[int]:
    with world.db.session() as session:
        return list(
            session.scalars(
                select(Comment.id).where(Comment.site_id == world.parks_site).order_by(Comment.id)
            )
        )[:n]


# --- migration 0004 keeps what was written before it ----------------------------------------


def test_entries_written_before_0004_verify_unchanged_after_it(
    unmigrated_url: str, sandbox: SandboxServer
) -> None:
    db = Database(unmigrated_url)
    config = db._alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    world = build_world(db, sandbox)
    v1_columns = [
        c for c in LogEntry.__table__.columns if c.name not in FORM2_FIELDS + FORM3_FIELDS
    ]
    old_log = sa.table("action_log", *[sa.column(c.name, c.type) for c in v1_columns])
    with db.transaction() as session:
        record = _a_record(session, world.parks_site)
        comment = record.comment_id
        previous = "0" * 64
        for n in (1, 2):
            values: dict[str, Any] = {
                "id": n, "at": record.captured_at, "actor": "alice", "state": "applied",
                "action": "keep", "comment_id": comment, "site_id": world.parks_site,
                "department_id": 1, "record_id": record.id,
                "record_sha256": record.sha256, "reason_code": None, "note": "old",
                "policy_version": "2026.1", "second_review": False,
                "outcome_of": 1 if n == 2 else None, "detail": "", "prev_hash": previous,
            }  # fmt: skip
            values["entry_hash"] = previous = entry_hash(values)
            session.execute(sa.insert(old_log).values(values))
    db.upgrade()
    report = verify_log(db)
    assert report.ok, report.problem
    assert (report.entries_checked, report.head_hash) == (2, previous)
    AdminService(db, "ada").add_department("ROADS", "Roads")  # the chain goes on from there
    assert verify_log(db).entries_checked == 3
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.engine.begin() as c:
        c.execute(text("UPDATE action_log SET note = 'new' WHERE id = 1"))
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as c:  # still a foreign key
        c.execute(
            sa.insert(LogEntry).values(
                id=4, at=record.captured_at, actor="x", state="applied", action="keep",
                note="", second_review=False, outcome_of=99, detail="", prev_hash="p",
                entry_hash="e", kind="action",
            )
        )  # fmt: skip
    db.dispose()


def without_search_words(model: type[Base]) -> sa.TableClause:
    """`model`'s table as schemas before 0018 have it: the ORM's inserts add `search_words`."""
    columns = [c for c in model.__table__.columns if c.name != "search_words"]
    return sa.table(model.__tablename__, *(sa.column(c.name, c.type) for c in columns))


def _a_record(session: Session, site_id: int) -> SimpleNamespace:
    """A post, a comment and its retained record, written as a sync and an action of any
    schema version would write them (Core: the models are the newest schema's)."""
    post = Post(site_id=site_id, external_id="p1", text="City post", raw={},
                permalink="https://example.test/p1", created_at=utcnow())  # fmt: skip
    session.add(post)
    session.flush()
    comment: dict[str, Any] = {
        "id": 1, "site_id": site_id, "post_id": post.id, "external_id": "c1",
        "author_id": "a1", "author_name": "Ann", "text": "Hello", "created_at": utcnow(),
        "permalink": "https://example.test/c1", "raw": {}, "attachments": [],
        "platform_state": PlatformState.VISIBLE.value, "fetched_at": utcnow(), "status": "new",
        "version": 0,
    }  # fmt: skip
    session.execute(sa.insert(without_search_words(Comment)).values(comment))
    values: dict[str, Any] = {
        "comment_id": 1, "captured_at": utcnow(), "captured_by": "alice", "site_id": site_id,
        "platform": "facebook", "comment_external_id": "c1", "parent_external_id": None,
        "post_external_id": "p1", "post_text": post.text, "post_permalink": post.permalink,
        **{k: comment[k] for k in ("author_id", "author_name", "text", "created_at",
                                   "permalink", "attachments", "raw")},
    }  # fmt: skip
    record = {"id": 1, **values, "sha256": record_hash(values)}
    session.execute(sa.insert(without_search_words(RetainedRecord)).values(record))
    return SimpleNamespace(**record)


# --- sync --site of another department -------------------------------------------------------


def test_sync_refuses_by_name_a_site_of_another_department(world: World) -> None:
    with pytest.raises(PermissionDenied) as refused:
        world.app("alice").sync.sync([world.police_site])
    assert refused.value.message == (
        "'Highland Police Department' belongs to Police Department, which Alice Moderator "
        "(alice) does not moderate; nothing was synced."
    )
    with world.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Comment)) == 0
        assert session.scalar(select(func.count()).select_from(SyncState)) == 0


# --- the command line ---------------------------------------------------------------------


def cli(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    return hsm("--database", database, *args)


def test_a_new_city_set_up_from_the_command_line(tmp_path: Path, sandbox: SandboxServer) -> None:
    database = f"sqlite:///{tmp_path / 'city.sqlite3'}"
    me = os_username()
    done = cli(database, "admin", "init")
    assert done.returncode == 0, done.stderr
    assert f"{me} is now the first administrator of HSM Console (log entry 1)" in done.stdout
    again = cli(database, "admin", "init")
    assert again.returncode == 1
    assert f"already set up on this database: {me} became its first administrator" in (again.stderr)
    steps = [
        ("department", "add", "PARKS", "Parks & Recreation"),
        ("person", "add", "CITYHALL\\jdoe", "Jane Doe"),
        ("role", "grant", "CITYHALL\\jdoe", "moderator", "--department", "PARKS"),
        ("role", "grant", me, "moderator", "--department", "PARKS"),
        ("site", "add", "facebook", "1000000000001", "--name", "Parks on Facebook",
         "--department", "PARKS", "--api-url", sandbox.url, "--setting", "api_version=v25.0"),
    ]  # fmt: skip
    for n, step in enumerate(steps, start=2):
        done = cli(database, "admin", *step)
        assert done.returncode == 0, done.stderr
        assert f"Log entry {n}." in done.stdout
    assert "Next, connect it to Facebook: hsm-console admin connect 1" in done.stdout
    sites = json.loads(cli(database, "admin", "site", "list", "--json").stdout)
    assert sites[0]["api_address"] == sandbox.url
    assert sites[0]["settings"] == {"api_version": "v25.0"}
    people = json.loads(cli(database, "admin", "person", "list", "--json").stdout)
    assert {p["account"]: p["roles"] for p in people} == {
        "CITYHALL\\jdoe": ["moderator of PARKS"],
        me: ["an administrator", "moderator of PARKS"],
    }
    log = cli(database, "log").stdout
    assert "grant person:CITYHALL\\jdoe: (none) -> " in log
    verified = cli(database, "verify-log")
    assert "Checked 6 log entries" in verified.stdout
    assert verified.returncode == 0
    refused = cli(database, "admin", "site", "add", "myspace", "1", "--name", "n",
                  "--department", "PARKS")  # fmt: skip
    assert refused.returncode == 1
    assert "There is no platform 'myspace'" in refused.stderr


def test_any_first_command_makes_the_first_administrator(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'city.sqlite3'}"
    listed = cli(database, "admin", "department", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []  # the notice goes to stderr, not into the JSON
    assert f"so {os_username()} is now its first administrator (log entry 1)" in listed.stderr
    assert "first administrator" not in cli(database, "admin", "person", "list").stderr


@pytest.mark.parametrize(
    "command",
    [
        ("department", "list"), ("department", "add", "ROADS", "Roads"),
        ("department", "rename", "PARKS", "Parks"), ("person", "list"),
        ("person", "add", "eve", "Eve"), ("person", "rename", "demo.police", "P"),
        ("person", "deactivate", "demo.police"), ("person", "reactivate", "demo.police"),
        ("role", "grant", "demo.police", "administrator"),
        ("role", "revoke", "demo.police", "moderator", "--department", "POLICE"),
        ("site", "list"), ("site", "add", "x", "1", "--name", "X", "--department", "PARKS"),
        ("site", "change", "1", "--name", "Mine"), ("site", "deactivate", "1"),
        ("site", "reactivate", "1"),
    ],
)  # fmt: skip
def test_the_demo_moderator_is_refused_each_admin_command(
    demo_database: str, command: tuple[str, ...]
) -> None:
    refused = cli(demo_database, "admin", *command)
    assert refused.returncode == 1
    assert "Only an administrator may" in refused.stderr
    assert f"({os_username()}) is not one; nothing was changed" in refused.stderr


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """`demo` on an empty database: the person moderates Parks and is no administrator."""
    database = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}"
    done = cli(database, "demo", "--sandbox-url", "http://127.0.0.1:9")
    assert done.returncode == 0, done.stderr
    assert "first administrator" not in done.stderr  # demo stays a separate choice
    return database


def test_sync_of_another_departments_site_fails_on_the_command_line(demo_database: str) -> None:
    done = cli(demo_database, "sync", "--site", "Highland Police Department")
    assert done.returncode == 1
    assert "'Highland Police Department' belongs to Police Department" in done.stderr
    assert "nothing was synced" in done.stderr
    assert done.stdout == ""


def test_a_second_init_on_a_demo_database(demo_database: str) -> None:
    done = cli(demo_database, "admin", "init")
    assert done.returncode == 1
    assert "its people were set up before" in done.stderr
