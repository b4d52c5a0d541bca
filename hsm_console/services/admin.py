"""Setting up departments, people, roles and sites."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_console.db.models import Department, Person, RoleGrant, Site
from hsm_console.errors import ConfigurationError, NotFound
from hsm_console.host.credentials import DEMO_TOKEN
from hsm_console.rules.domain import Platform, Role


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
    department_id = department.id if department else None
    exists = session.scalar(
        select(RoleGrant).where(
            RoleGrant.person_id == person.id,
            RoleGrant.role == role.value,
            RoleGrant.department_id.is_(None)
            if department_id is None
            else RoleGrant.department_id == department_id,
        )
    )
    if exists is None:
        session.add(RoleGrant(person_id=person.id, role=role.value, department_id=department_id))
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


def find_site(session: Session, key: str) -> Site:
    """A site by its number or its exact name."""
    site = session.get(Site, int(key)) if key.isdigit() else None
    site = site or session.scalar(select(Site).where(Site.name == key))
    if site is None:
        raise NotFound(f"There is no site {key!r}. `hsm-console sites` lists them.")
    return site
