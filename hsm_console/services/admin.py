"""Setting up the City: the first administrator, departments, people, roles and sites.

Every change is checked first (the acting person is an administrator, what was entered is
valid, the thing exists or does not yet), then made in one transaction together with its
entry in the one hash-chained log: who, when, what (`subject`), and the thing as it stood
before and after. People and sites are deactivated, never deleted: log entries and records
name them. The `ensure_*` helpers below set up the demo and the tests without a log entry.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, InternalError, ProgrammingError
from sqlalchemy.orm import Session

from hsm_console.db import roles
from hsm_console.db.chain import append_admin_entry, lock_chain
from hsm_console.db.engine import Database
from hsm_console.db.models import Department, LogEntry, Person, PersonLogin, RoleGrant, Site
from hsm_console.display import local_time
from hsm_console.errors import (
    ConcurrentAction,
    ConfigurationError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from hsm_console.host.credentials import DEMO_TOKEN
from hsm_console.rules import administration as check
from hsm_console.rules.domain import AdminChange, EntryKind, Platform, Role
from hsm_console.services.access import Actor, require_administrator, resolve_actor

log = logging.getLogger(__name__)

# --- the first administrator -------------------------------------------------------------


@dataclass(frozen=True)
class FirstRun:
    """Who became the first administrator, and the log entry that says so."""

    username: str
    entry_id: int


def first_run(db: Database, username: str, login: str | None = None) -> FirstRun | None:
    """On a database without a single person, make `username` its first administrator.

    None when anyone is registered already (the usual case: one cheap read). Two first starts
    at once are decided by the database: writers of the chain are serialised (SQLite's write
    lock, the chain's advisory lock on PostgreSQL), the loser then finds a person and stops,
    and a unique index refuses a second `init` entry whatever the isolation level.
    `login`: on PostgreSQL, the database login the person signs in with (it is theirs).
    """
    with db.session() as session:
        if session.scalar(select(Person.id).limit(1)) is not None:
            return None
    try:
        with db.transaction() as session:
            lock_chain(session)
            if session.scalar(select(Person.id).limit(1)) is not None:
                return None
            person = Person(username=username, display_name=username, active=True)
            session.add(person)
            session.flush()
            if login is not None:
                session.add(PersonLogin(person_id=person.id, login=login))
            session.add(RoleGrant(person_id=person.id, role=Role.ADMINISTRATOR.value))
            entry = append_admin_entry(
                session, username, AdminChange.INIT, _person_subject(username), None,
                {**_person_state(person), "roles": [_role_state(Role.ADMINISTRATOR, None)]},
            )  # fmt: skip
            return FirstRun(username, entry.id)
    except IntegrityError:
        log.info("another first start made the first administrator at the same moment")
        return None


def init(db: Database, username: str, login: str | None = None) -> FirstRun:
    """`admin init`: the first administrator, or why there cannot be another first one."""
    claimed = first_run(db, username, login)
    if claimed is not None:
        return claimed
    with db.session() as session:
        first = session.scalar(
            select(LogEntry).where(
                LogEntry.kind == EntryKind.ADMIN.value, LogEntry.action == AdminChange.INIT.value
            )
        )
        admins = _active_administrators(session)
    since = (
        f"{first.actor} became its first administrator on {local_time(first.at)} "
        f"(log entry {first.id})"
        if first is not None
        else "its people were set up before (by `hsm-console demo` or an earlier version)"
    )
    ask = f"Ask an administrator ({', '.join(admins)})" if admins else "Ask the City's IT"
    raise PermissionDenied(
        f"HSM Console is already set up on this database: {since}. Only an administrator "
        f"grants roles now. {ask} to add you."
    )


# --- what the administrator sees ------------------------------------------------------


@dataclass(frozen=True)
class DepartmentView:
    id: int
    code: str
    name: str
    sites: int
    people: int  # people holding a role in it


@dataclass(frozen=True)
class PersonView:
    id: int
    account: str
    display_name: str
    active: bool
    roles: list[str]  # e.g. "moderator of PARKS", "supervisor of all departments"


@dataclass(frozen=True)
class SiteView:
    id: int
    name: str
    platform: str
    external_id: str
    department: str  # code
    api_address: str
    settings: dict[str, Any]
    active: bool
    sandbox: bool


@dataclass(frozen=True)
class Change:
    """What an administrative command did, for the person who ran it."""

    message: str
    entry_id: int | None  # None: nothing needed changing, nothing was written
    next_step: str = ""  # what usually comes next, as a command


class AdminService:
    """Administration as the acting person (an administrator) does it."""

    def __init__(self, db: Database, username: str) -> None:
        self.db = db
        self.username = username

    # --- reading ----------------------------------------------------------------------

    @contextmanager
    def _reading(self, doing: str) -> Iterator[Session]:
        with self.db.session() as session:
            require_administrator(resolve_actor(session, self.username), doing)
            yield session

    def departments(self) -> list[DepartmentView]:
        with self._reading("list the departments") as session:
            sites = dict(
                session.execute(
                    select(Site.department_id, func.count()).group_by(Site.department_id)
                ).all()
            )
            people = dict(
                session.execute(
                    select(RoleGrant.department_id, func.count(func.distinct(RoleGrant.person_id)))
                    .where(RoleGrant.department_id.is_not(None))
                    .group_by(RoleGrant.department_id)
                ).all()
            )
            return [
                DepartmentView(d.id, d.code, d.name, sites.get(d.id, 0), people.get(d.id, 0))
                for d in session.scalars(select(Department).order_by(Department.code))
            ]

    def people(self) -> list[PersonView]:
        with self._reading("list the people") as session:
            codes = _department_codes(session)
            return [
                PersonView(
                    p.id,
                    p.username,
                    p.display_name,
                    p.active,
                    sorted(_role_words(Role(g.role), codes.get(g.department_id)) for g in p.grants),
                )
                for p in session.scalars(select(Person).order_by(Person.username))
            ]

    def sites(self) -> list[SiteView]:
        with self._reading("list the sites") as session:
            return [
                SiteView(
                    s.id,
                    s.name,
                    s.platform,
                    s.external_id,
                    s.department.code,
                    s.base_url,
                    _public_settings(s),
                    s.active,
                    s.is_sandbox,
                )
                for s in session.scalars(select(Site).order_by(Site.id))
            ]

    # --- changing ---------------------------------------------------------------------

    @contextmanager
    def _changing(self, doing: str) -> Iterator[tuple[Session, Actor]]:
        """One transaction: the administrator checked first, the change and its entry after.

        Two administrators making the same change at the same moment: the database's unique
        constraints let one through, and the other is told so.
        """
        try:
            with self.db.transaction() as session:
                actor = resolve_actor(session, self.username)
                require_administrator(actor, doing)
                yield session, actor
        except IntegrityError as exc:
            raise ConcurrentAction(
                f"Someone else changed the same thing at the same moment, so nothing was "
                f"written while trying to {doing}. Look at it again and retry if still needed.",
                details=str(exc.orig),
            ) from None

    def add_department(self, code: str, name: str) -> Change:
        code, name = check.department_code(code), check.name(name, "department's name")
        with self._changing("add a department") as (session, actor):
            existing = _department_or_none(session, code)
            if existing is not None:
                raise InvalidInput(f"There is already a department {code} ({existing.name}).")
            department = Department(code=code, name=name)
            session.add(department)
            session.flush()
            entry = append_admin_entry(
                session, actor.username, AdminChange.ADD, _department_subject(code), None,
                _department_state(department), department_id=department.id,
            )  # fmt: skip
            return Change(f"Added the department {code} ({name}).", entry.id)

    def rename_department(self, code: str, name: str) -> Change:
        code, name = check.department_code(code), check.name(name, "department's name")
        with self._changing("rename a department") as (session, actor):
            department = _department(session, code)
            if department.name == name:
                return Change(f"The department {code} is already named {name}.", None)
            before = _department_state(department)
            department.name = name
            entry = append_admin_entry(
                session, actor.username, AdminChange.CHANGE, _department_subject(code), before,
                _department_state(department), department_id=department.id,
            )  # fmt: skip
            return Change(f"The department {code} is now named {name}.", entry.id)

    def add_person(self, account: str, display_name: str, login: str | None = None) -> Change:
        """On PostgreSQL also their database login (`login`, by default the account's name
        part, lower case), created if new and made a member of their groups (db/roles.py)."""
        account = check.account(account)
        display_name = check.name(display_name, "person's name")
        login = self._login_for(account, login)
        with self._changing("add a person") as (session, actor):
            same = session.scalar(
                select(Person).where(func.lower(Person.username) == account.lower())
            )
            if same is not None:
                state = "" if same.active else " (deactivated: reactivate them instead)"
                raise InvalidInput(
                    f"{same.username} is already a person of HSM Console, named "
                    f"{same.display_name}{state}."
                )
            person = Person(username=account, display_name=display_name, active=True)
            session.add(person)
            session.flush()
            made = _map_login(session, person, login) if login is not None else ""
            entry = append_admin_entry(
                session, actor.username, AdminChange.ADD, _person_subject(account), None,
                _person_state(person, login),
            )  # fmt: skip
            return Change(
                f"Added {display_name} ({account}){made}.",
                entry.id,
                # Quoted as a shell needs it: an unquoted DOMAIN\name loses its backslash.
                f"give them a role: hsm-console admin role grant {shlex.quote(account)} moderator "
                "--department CODE",
            )

    def set_login(self, account: str, login: str | None = None) -> Change:
        """PostgreSQL: give a person (added before, or by another login) their database login,
        created if new; their old one, if any, loses its membership of HSM's groups."""
        if self.db.is_sqlite:
            raise InvalidInput(_NO_LOGINS)
        with self._changing("set a person's database login") as (session, actor):
            person = _person(session, account)
            wanted = self._login_for(person.username, login)
            assert wanted is not None
            mapped = session.get(PersonLogin, person.id)
            if mapped is not None and mapped.login == wanted:
                return Change(f"{_named(person)} already signs in as {wanted}.", None)
            before = _person_state(person, mapped.login if mapped else None)
            if mapped is not None:
                _sync_login(session, mapped.login, frozenset())
                session.delete(mapped)
                session.flush()
            made = _map_login(session, person, wanted)
            entry = append_admin_entry(
                session, actor.username, AdminChange.CHANGE, _person_subject(person.username),
                before, _person_state(person, wanted),
            )  # fmt: skip
            return Change(f"{_named(person)}{made}.", entry.id)

    def _login_for(self, account: str, login: str | None) -> str | None:
        """The login to map on PostgreSQL (checked), None on SQLite."""
        if self.db.is_sqlite:
            if login is not None:
                raise InvalidInput(_NO_LOGINS)
            return None
        chosen = login.strip() if login is not None else roles.default_login(account)
        problem = roles.login_problem(chosen)
        if problem is not None:
            raise InvalidInput(
                f"{problem} Give the person's database login (Database login in the window, "
                "--login on the command line)."
                if login is None else problem
            )  # fmt: skip
        return chosen

    def rename_person(self, account: str, display_name: str) -> Change:
        display_name = check.name(display_name, "person's name")
        with self._changing("rename a person") as (session, actor):
            person = _person(session, account)
            if person.display_name == display_name:
                return Change(f"{person.username} is already named {display_name}.", None)
            before = _person_state(person)
            person.display_name = display_name
            entry = append_admin_entry(
                session, actor.username, AdminChange.CHANGE, _person_subject(person.username),
                before, _person_state(person),
            )  # fmt: skip
            return Change(f"{person.username} is now named {display_name}.", entry.id)

    def set_person_active(self, account: str, active: bool) -> Change:
        doing = "reactivate a person" if active else "deactivate a person"
        with self._changing(doing) as (session, actor):
            person = _person(session, account)
            word = "active" if active else "deactivated"
            if person.active == active:
                return Change(f"{_named(person)} is already {word}.", None)
            if not active:
                _keep_an_administrator(session, person.username, "deactivate")
            before = _person_state(person)
            person.active = active
            _sync_groups(session, person)
            change = AdminChange.REACTIVATE if active else AdminChange.DEACTIVATE
            entry = append_admin_entry(
                session, actor.username, change, _person_subject(person.username), before,
                _person_state(person),
            )  # fmt: skip
            tail = "" if active else "; their roles and their entries in the log are kept"
            return Change(f"{_named(person)} is now {word}{tail}.", entry.id)

    def grant(
        self, account: str, role: str, department: str | None, everywhere: bool = False
    ) -> Change:
        return self._role_change(account, role, department, everywhere, give=True)

    def revoke(
        self, account: str, role: str, department: str | None, everywhere: bool = False
    ) -> Change:
        return self._role_change(account, role, department, everywhere, give=False)

    def _role_change(
        self, account: str, role: str, department: str | None, everywhere: bool, *, give: bool
    ) -> Change:
        chosen = check.role(role)
        code = check.department_code(department) if department else None
        check.role_scope(chosen, code, everywhere)
        with self._changing("grant a role" if give else "take back a role") as (session, actor):
            person = _person(session, account)
            target = _department(session, code) if code else None
            words = _role_words(chosen, code)
            held = _grant_of(session, person, chosen, target)
            if give and held is not None:
                return Change(f"{_named(person)} is already {words}.", None)
            if held is None and not give:
                raise NotFound(f"{_named(person)} is not {words}; nothing was changed.")
            if held is None:
                session.add(
                    RoleGrant(person_id=person.id, role=chosen.value,
                              department_id=target.id if target else None)
                )  # fmt: skip
            else:
                if chosen is Role.ADMINISTRATOR:
                    _keep_an_administrator(session, person.username, "take the role from")
                session.delete(held)
            session.flush()
            _sync_groups(session, person)
            state = _role_state(chosen, code)
            entry = append_admin_entry(
                session, actor.username, AdminChange.GRANT if give else AdminChange.REVOKE,
                _person_subject(person.username), None if give else state,
                state if give else None, department_id=target.id if target else None,
            )  # fmt: skip
            done = "is now" if give else "is no longer"
            return Change(f"{_named(person)} {done} {words}.", entry.id)

    def add_site(
        self,
        platform: str,
        external_id: str,
        name: str,
        department: str,
        api_address: str | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> Change:
        on = check.platform(platform)
        external_id = check.site_id(on, external_id)
        name = _site_name(name)
        code = check.department_code(department)
        address = check.api_address(on, api_address)
        values = check.site_settings(on, settings or {})
        with self._changing("add a site") as (session, actor):
            owner = _department(session, code)
            same = session.scalar(
                select(Site).where(
                    Site.platform == on.value,
                    Site.base_url == address,
                    Site.external_id == external_id,
                )
            )
            if same is not None:
                state = "" if same.active else " (deactivated: reactivate it instead)"
                raise InvalidInput(
                    f"That {on.label} account at {address} is already site {same.id}, "
                    f"{same.name!r}{state}."
                )
            _name_is_free(session, name)
            site = Site(
                department_id=owner.id, platform=on.value, name=name, external_id=external_id,
                base_url=address, settings=values, is_sandbox=False, active=True,
            )  # fmt: skip
            session.add(site)
            session.flush()
            entry = append_admin_entry(
                session, actor.username, AdminChange.ADD, _site_subject(site), None,
                _site_state(site, owner.code), department_id=owner.id, site_id=site.id,
            )  # fmt: skip
            return Change(
                f"Added site {site.id}, {name!r} ({on.label}, {code}) at {address}.",
                entry.id,
                f"connect it to {on.label}: hsm-console admin connect {site.id}",
            )

    def change_site(
        self,
        key: str,
        *,
        name: str | None = None,
        department: str | None = None,
        api_address: str | None = None,
        settings: Mapping[str, str] | None = None,
        unset: Sequence[str] = (),
    ) -> Change:
        """Name, department, API address ("default": the platform's own) and settings.

        The platform and the account's id never change: another account is another site.
        """
        new_name = _site_name(name) if name is not None else None
        code = check.department_code(department) if department is not None else None
        with self._changing("change a site") as (session, actor):
            site = find_site(session, key)
            on = Platform(site.platform)
            values = check.site_settings(on, settings or {})
            for key in unset:
                check.setting(on, key)
            address = (
                check.api_address(on, None if api_address == "default" else api_address)
                if api_address is not None
                else site.base_url
            )
            before = _site_state(site, site.department.code)
            if new_name is not None and new_name != site.name:
                _name_is_free(session, new_name)
                site.name = new_name
            if code is not None:
                site.department_id = _department(session, code).id
            site.base_url = address
            kept = {k: v for k, v in site.settings.items() if k not in unset}
            site.settings = {**kept, **values}
            session.flush()
            session.refresh(site, ["department"])
            after = _site_state(site, site.department.code)
            if after == before:
                return Change(f"Site {site.id}, {site.name!r}, already stands so.", None)
            entry = append_admin_entry(
                session, actor.username, AdminChange.CHANGE, _site_subject(site), before, after,
                department_id=site.department_id, site_id=site.id,
            )  # fmt: skip
            moved = after["api_address"] != before["api_address"] and not site.is_sandbox
            return Change(
                f"Changed site {site.id}, {site.name!r}.",
                entry.id,
                "credentials are kept per address: connect it again at the new one: "
                f"hsm-console admin connect {site.id}"
                if moved
                else "",
            )

    def set_site_active(self, key: str, active: bool) -> Change:
        doing = "reactivate a site" if active else "deactivate a site"
        with self._changing(doing) as (session, actor):
            site = find_site(session, key)
            word = "active" if active else "deactivated"
            if site.active == active:
                return Change(f"Site {site.id}, {site.name!r}, is already {word}.", None)
            before = _site_state(site, site.department.code)
            site.active = active
            change = AdminChange.REACTIVATE if active else AdminChange.DEACTIVATE
            entry = append_admin_entry(
                session, actor.username, change, _site_subject(site), before,
                _site_state(site, site.department.code),
                department_id=site.department_id, site_id=site.id,
            )  # fmt: skip
            tail = (
                "" if active else ": it is no longer synced or acted on; its comments, records "
                "and log entries are kept"
            )  # fmt: skip
            return Change(f"Site {site.id}, {site.name!r}, is now {word}{tail}.", entry.id)


# --- checks that need the database --------------------------------------------------------


def _department_or_none(session: Session, code: str) -> Department | None:
    return session.scalar(select(Department).where(Department.code == code))


def _department(session: Session, code: str) -> Department:
    department = _department_or_none(session, check.department_code(code))
    if department is None:
        raise NotFound(
            f"There is no department {code}. `hsm-console admin department list` lists them."
        )
    return department


def _person(session: Session, account: str) -> Person:
    person = session.scalar(select(Person).where(Person.username == account.strip()))
    if person is None:
        raise NotFound(
            # Not !r: its doubled backslash (DOMAIN\\name) would be copied as typed.
            f"There is no person '{account.strip()}'. `hsm-console admin person list` lists "
            "them (`admin person add` adds one); write the account exactly as listed."
        )
    return person


def _grant_of(
    session: Session, person: Person, role: Role, department: Department | None
) -> RoleGrant | None:
    return session.scalar(
        select(RoleGrant).where(
            RoleGrant.person_id == person.id,
            RoleGrant.role == role.value,
            RoleGrant.department_id.is_(None)
            if department is None
            else RoleGrant.department_id == department.id,
        )
    )


_NO_LOGINS = (
    "This database is a SQLite file: people act as their operating-system account and have "
    "no database login. Logins are for a City-wide PostgreSQL database."
)


def _map_login(session: Session, person: Person, login: str) -> str:
    """Create `login` if it does not exist (LOGIN, no password: signing in is GSSAPI/SSPI or a
    password IT sets), or map an existing one; then its group membership. In the caller's
    transaction, so a refusal (no CREATEROLE) leaves nothing behind. Returns words to add."""
    taken = session.scalar(
        select(Person.username).join(PersonLogin).where(PersonLogin.login == login)
    )
    if taken is not None:
        raise InvalidInput(f"The database login {login} is already {taken}'s.")
    existing = session.execute(
        text("SELECT rolsuper OR rolbypassrls, pg_has_role(rolname, "
             "(SELECT tableowner FROM pg_tables WHERE tablename = 'action_log' "
             "AND schemaname = 'public'), 'MEMBER') FROM pg_roles WHERE rolname = :login"),
        {"login": login},
    ).first()  # fmt: skip
    if existing is not None and (existing[0] or existing[1]):
        raise InvalidInput(
            f"The database login {login} may bypass the database's rules (a superuser, or the "
            "owner of the console's tables): a person needs a login of their own."
        )
    if existing is None:
        _login_ddl(session, [f"CREATE ROLE {roles.quoted(login)} LOGIN"])
    session.add(PersonLogin(person_id=person.id, login=login))
    session.flush()
    _sync_groups(session, person)
    return f", signing in to the database as {login}" + ("" if existing else " (a new login)")


def _sync_groups(session: Session, person: Person) -> None:
    """Make the person's login (PostgreSQL) a member of exactly the groups of their roles."""
    if session.get_bind().dialect.name != "postgresql":
        return
    mapped = session.get(PersonLogin, person.id)
    if mapped is None:
        return
    held = session.scalars(select(RoleGrant.role).where(RoleGrant.person_id == person.id))
    _sync_login(session, mapped.login, roles.groups_for(map(Role, held), person.active))


def _sync_login(session: Session, login: str, wanted: frozenset[roles.Group]) -> None:
    held = session.scalars(
        text("SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
             "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :login"),
        {"login": login},
    )  # fmt: skip
    _login_ddl(session, roles.membership_statements(login, list(held), wanted))


def _login_ddl(session: Session, statements: Sequence[str]) -> None:
    try:
        for statement in statements:
            _role_statement(session, statement)
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient_privilege
            raise
        raise PermissionDenied(
            "Your database login may not create logins or change their roles, so nothing was "
            "changed. IT can allow it (ALTER ROLE your_login CREATEROLE; see "
            'docs/deployment.md, "Adding a person").',
            details=str(exc.orig),
        ) from None


def _active_administrators(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Person.username)
            .join(RoleGrant, RoleGrant.person_id == Person.id)
            .where(Person.active, RoleGrant.role == Role.ADMINISTRATOR.value)
            .order_by(Person.username)
        )
    )


def _keep_an_administrator(session: Session, username: str, doing: str) -> None:
    if _active_administrators(session) == [username]:
        raise PermissionDenied(
            f"{username} is the only active administrator: no one could administer HSM "
            f"Console if you {doing} them. Make someone else an administrator first."
        )


def _site_name(value: str) -> str:
    name = check.name(value, "site's name")
    if name.isdigit():
        raise InvalidInput("A site's name cannot be only digits: sites are found by number too.")
    return name


def _name_is_free(session: Session, name: str) -> None:
    taken = session.scalar(select(Site.id).where(Site.name == name))
    if taken is not None:
        raise InvalidInput(f"Site {taken} is already named {name!r}: choose another name.")


def find_site(session: Session, key: str) -> Site:
    """A site by its number or its exact name."""
    site = session.get(Site, int(key)) if key.isdigit() else None
    site = site or session.scalar(select(Site).where(Site.name == key))
    if site is None:
        raise NotFound(f"There is no site {key!r}. `hsm-console sites` lists them.")
    return site


# --- how things are named and written into the log ---------------------------------------


def _department_subject(code: str) -> str:
    return f"department:{code}"


def _person_subject(account: str) -> str:
    return f"person:{account}"


def _site_subject(site: Site) -> str:
    return f"site:{site.id}"


def _department_state(department: Department) -> dict[str, Any]:
    return {"code": department.code, "name": department.name}


def _person_state(person: Person, login: str | None = None) -> dict[str, Any]:
    """`login`: their database login, where the change concerns it."""
    mapped = {} if login is None else {"login": login}
    return {"account": person.username, "display_name": person.display_name,
            "active": person.active, **mapped}  # fmt: skip


def _role_state(role: Role, department: str | None) -> dict[str, Any]:
    return {"role": role.value, "department": department}


def _site_state(site: Site, department: str) -> dict[str, Any]:
    return {
        "platform": site.platform, "external_id": site.external_id, "name": site.name,
        "department": department, "api_address": site.base_url,
        "settings": _public_settings(site), "active": site.active,
    }  # fmt: skip


def _public_settings(site: Site) -> dict[str, Any]:
    return {k: v for k, v in site.settings.items() if k != DEMO_TOKEN}


def _department_codes(session: Session) -> dict[int | None, str]:
    return {id_: code for id_, code in session.execute(select(Department.id, Department.code))}


def _role_words(role: Role, department: str | None) -> str:
    if role is Role.ADMINISTRATOR:
        return "an administrator"
    return f"{role.label} of {department or 'all departments'}"


def _named(person: Person) -> str:
    return f"{person.display_name} ({person.username})"


# --- the demo's and the tests' set-up (no log entries) -----------------------------------


def ensure_department(session: Session, code: str, name: str) -> Department:
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        department = Department(code=code, name=name)
        session.add(department)
        session.flush()
    return department


def ensure_person(session: Session, username: str, display_name: str | None = None) -> Person:
    person = session.scalar(select(Person).where(Person.username == username))
    if person is None:
        person = Person(username=username, display_name=display_name or username, active=True)
        session.add(person)
        session.flush()
    return person


def grant(session: Session, person: Person, role: Role, department: Department | None) -> None:
    """Give a role for one department, or for all (None: supervisors and administrators only)."""
    if department is None and role is Role.MODERATOR:
        raise ConfigurationError("A moderator is named for a department, never for all of them.")
    if _grant_of(session, person, role, department) is None:
        session.add(
            RoleGrant(
                person_id=person.id, role=role.value,
                department_id=department.id if department else None,
            )
        )  # fmt: skip
        session.flush()


def ensure_site(
    session: Session,
    department: Department,
    platform: Platform,
    name: str,
    external_id: str,
    base_url: str,
    settings: dict[str, Any] | None = None,
    demo_token: str | None = None,
) -> Site:
    """The site, made if new. `demo_token` marks a site served by the sandbox: its public
    token is kept on the site row, since no keyring holds it."""
    site = session.scalar(
        select(Site).where(
            Site.platform == platform.value,
            Site.base_url == base_url,
            Site.external_id == external_id,
        )
    )
    if site is None:
        site = Site(
            department_id=department.id,
            platform=platform.value,
            name=name,
            external_id=external_id,
            base_url=base_url,
            settings={**(settings or {}), **({DEMO_TOKEN: demo_token} if demo_token else {})},
            is_sandbox=demo_token is not None,
        )
        session.add(site)
        session.flush()
    return site


def _role_statement(session: Session, statement: str, tries: int = 3) -> None:
    """One GRANT, REVOKE or CREATE ROLE. Logins and their memberships are the whole server's:
    another database on it granting or revoking the same membership at the same moment makes
    PostgreSQL refuse with "tuple concurrently updated/deleted". Each is idempotent, so it is
    tried again in a savepoint of its own (a membership already as wanted is no error)."""
    for attempt in range(tries):
        try:
            with session.begin_nested():
                session.execute(text(statement))
            return
        except InternalError as exc:
            if "concurrently" not in str(exc.orig) or attempt == tries - 1:
                raise
