"""Who the acting person is and what they may reach (docs/design.md, "What it is for")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from hsm_console.db.models import Person, RoleGrant
from hsm_console.errors import PermissionDenied
from hsm_console.rules.domain import Role


@dataclass(frozen=True)
class Actor:
    """A registered person and the departments each of their roles covers.

    `None` in a role's set of departments means "all departments" (the oversight group).
    """

    username: str
    display_name: str
    moderates: frozenset[int]
    supervises: frozenset[int] | None
    administers: bool
    keeps_records: frozenset[int] | None = frozenset()  # records officer; None: every department

    def may_moderate(self, department_id: int) -> bool:
        return department_id in self.moderates

    def may_read_log(self, department_id: int) -> bool:
        if self.administers or self.supervises is None:
            return True
        return department_id in self.supervises or department_id in self.moderates

    def works_for(self, department_id: int) -> bool:
        """Moderates or supervises the department (the oversight group: every one)."""
        supervises = self.supervises is None or department_id in self.supervises
        return supervises or self.may_moderate(department_id)

    def may_keep_records(self, department_id: int) -> bool:
        """A records officer of the department, or of every department (the City Clerk)."""
        return self.keeps_records is None or department_id in self.keeps_records

    @property
    def is_records_officer(self) -> bool:
        return self.keeps_records is None or bool(self.keeps_records)

    def describe(self) -> str:
        return f"{self.display_name} ({self.username})"


def require_administrator(actor: Actor, doing: str) -> None:
    """Refuse, naming the role that is missing, before anything is written."""
    if not actor.administers:
        raise PermissionDenied(
            f"Only an administrator may {doing}, and {actor.describe()} is not one; nothing "
            "was changed. An administrator can give you the role: hsm-console admin role "
            f"grant {actor.username} administrator"
        )


def person_name(session: Session, username: str | None) -> str:
    """A person as others see them named: display name and username."""
    return person_names(session, [username])[username]


def person_names(session: Session, usernames: Iterable[str | None]) -> dict[str | None, str]:
    """`person_name` of each of `usernames`, in one statement."""
    wanted = set(usernames)
    named = {u for u in wanted if u}
    display: dict[str, str] = {}
    if named:
        rows = session.execute(
            select(Person.username, Person.display_name).where(Person.username.in_(named))
        )
        display = {username: name for username, name in rows if name}
    return {
        u: (f"{display[u]} ({u})" if u in display else u) if u else "Another moderator"
        for u in wanted
    }


# One statement: every action starts here (services/moderation.py, step 1). Built once:
# building it is most of its cost to this process.
_ACTOR = (
    select(Person, RoleGrant)
    .outerjoin(RoleGrant, RoleGrant.person_id == Person.id)
    .where(Person.username == bindparam("username"))
)


def resolve_actor(session: Session, username: str) -> Actor:
    rows = session.execute(_ACTOR, {"username": username}).all()
    person = rows[0][0] if rows else None
    if person is None or not person.active:
        raise PermissionDenied(
            f"{username} is not an active user of HSM Console. Ask an administrator to add you "
            "and give you a role for your department."
        )
    grants = [grant for _, grant in rows if grant is not None]
    moderates = frozenset(
        g.department_id
        for g in grants
        if g.role == Role.MODERATOR.value and g.department_id is not None
    )
    administers = any(g.role == Role.ADMINISTRATOR.value for g in grants)
    return Actor(
        person.username,
        person.display_name,
        moderates,
        _departments(grants, Role.SUPERVISOR),
        administers,
        _departments(grants, Role.RECORDS_OFFICER),
    )


def require_records_officer(actor: Actor, doing: str, department_id: int | None = None) -> None:
    """Refuse anyone who keeps no records (of that department), before anything is written."""
    if department_id is None and actor.is_records_officer:
        return
    if department_id is not None and actor.may_keep_records(department_id):
        return
    where = "" if department_id is None else " of that department"
    raise PermissionDenied(
        f"Only a records officer{where} may {doing}, and {actor.describe()} is not one; "
        "nothing was changed. An administrator can give you the role: hsm-console admin role "
        f"grant {actor.username} records_officer --department CODE"
    )


def _departments(grants: Sequence[RoleGrant], role: Role) -> frozenset[int] | None:
    """The departments a role is held for; None when it is held for all of them."""
    held = [g.department_id for g in grants if g.role == role.value]
    if any(d is None for d in held):
        return None
    return frozenset(d for d in held if d is not None)
