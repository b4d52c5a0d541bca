"""Setting up departments, people, roles and sites; and the demo set-up on the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_console.db.engine import Database
from hsm_console.db.models import Department, Person, RoleGrant, Site
from hsm_console.domain import Platform, Role
from hsm_console.errors import ConfigurationError, NotFound


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
    is_sandbox: bool = False,
) -> Site:
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
            settings=settings or {},
            is_sandbox=is_sandbox,
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


@dataclass(frozen=True)
class DemoSetup:
    department: str
    sites: list[str]
    moderator: str


@dataclass(frozen=True)
class DemoSite:
    department: str  # department code
    platform: Platform
    name: str
    external_id: str
    prefix: str  # where the sandbox serves this platform
    settings: dict[str, Any]


DEMO_DEPARTMENTS = {"PARKS": "Parks & Recreation", "POLICE": "Police Department"}
# One site of every kind for Parks, and the Police Facebook page (another department).
DEMO_SITES = (
    DemoSite("PARKS", Platform.FACEBOOK, "Highland Parks & Recreation", "1000000000001", "",
             {"api_version": "v25.0"}),
    DemoSite("PARKS", Platform.INSTAGRAM, "@highlandparks", "17841400000000001", "/instagram",
             {"api_version": "v25.0"}),
    DemoSite("PARKS", Platform.YOUTUBE, "Highland Parks on YouTube", "UCHighlandParks0000000001",
             "/youtube", {}),
    DemoSite("PARKS", Platform.X, "@HighlandParksIL", "1102323333", "/x", {}),
    DemoSite("PARKS", Platform.TIKTOK, "Highland Parks on TikTok", "highland-parks-open-id",
             "/tiktok", {}),
    DemoSite("PARKS", Platform.LINKEDIN, "City of Highland on LinkedIn",
             "urn:li:organization:1000001", "/linkedin", {}),
    DemoSite("PARKS", Platform.WORDPRESS, "Parks news blog", "parks-news", "/wordpress", {}),
    DemoSite("PARKS", Platform.DISCOURSE, "Highland community forum", "city-services",
             "/discourse", {"api_username": "system"}),
    DemoSite("POLICE", Platform.FACEBOOK, "Highland Police Department", "1000000000002", "",
             {"api_version": "v25.0"}),
)  # fmt: skip


def setup_demo(db: Database, sandbox_url: str, username: str, display_name: str) -> DemoSetup:
    """Demo departments and sandbox sites; the person moderates and supervises Parks only.

    The Police department gets its own demo moderator, so department isolation is visible.
    Running it again changes nothing.
    """
    base = sandbox_url.rstrip("/")
    with db.transaction() as session:
        departments = {
            code: ensure_department(session, code, name) for code, name in DEMO_DEPARTMENTS.items()
        }
        parks_sites = []
        for demo in DEMO_SITES:
            site = ensure_site(
                session, departments[demo.department], demo.platform, demo.name,
                demo.external_id, base + demo.prefix, demo.settings, is_sandbox=True,
            )  # fmt: skip
            if demo.department == "PARKS":
                parks_sites.append(site.name)
        person = ensure_person(session, username, display_name)
        grant(session, person, Role.MODERATOR, departments["PARKS"])
        grant(session, person, Role.SUPERVISOR, departments["PARKS"])
        officer = ensure_person(session, "demo.police", "Demo Police Moderator")
        grant(session, officer, Role.MODERATOR, departments["POLICE"])
        return DemoSetup(departments["PARKS"].name, parks_sites, person.username)
