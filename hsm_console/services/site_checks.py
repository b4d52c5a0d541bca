"""The policy's own checks on the City's sites (Policy, Section 2; design.md, "Site checks").

At each sync, after the site's comments are stored, `SiteChecker.run` reads the site's
profile through its connector and tests it and the City posts the sync read
(`rules.site_checks`); the latest outcome per site and check is kept in `site_checks`,
updated in place (state, not a record). A profile that cannot be read leaves the last
outcome as it was and never touches the comment sync. `listing` shows the outcomes to the
administrators and the supervisors of each site's department.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm_console.connectors.base import Connector, RemotePost
from hsm_console.db.engine import Database
from hsm_console.db.models import Department, Site, SiteCheck, utcnow
from hsm_console.errors import PermissionDenied, UserError
from hsm_console.rules.domain import Platform
from hsm_console.rules.site_checks import (
    DEFAULT_POLICY_URL,
    Check,
    CheckState,
    Outcome,
    PostLinks,
    check_posts,
    check_profile,
)
from hsm_console.services.access import Actor, resolve_actor

log = logging.getLogger(__name__)
T = TypeVar("T")

SEEN_LIMIT = 4000  # characters of profile text kept to show beside a failure


class Reader(Protocol):
    """How sync makes a platform call: metered where the platform meters calls."""

    def __call__(self, call: Callable[[], T]) -> T: ...


@dataclass(frozen=True)
class SiteCheckRow:
    """One check of one site as it stood when last run."""

    site_id: int
    site_name: str
    platform: str  # its label
    department: str
    check: Check
    state: CheckState
    detail: str
    failing: tuple[str, ...]
    seen: str  # the profile text as read: untrusted, shown as plain text only
    checked_at: datetime


class SiteChecker:
    """Runs the checks on one site during its sync (no Qt, no I/O of its own but the
    connector's profile read, made through `read` so metered platforms count it)."""

    def __init__(self, policy_url: str = DEFAULT_POLICY_URL) -> None:
        self.policy_url = policy_url

    def run(
        self,
        transaction: Callable[[], AbstractContextManager[Session]],
        site: Site,
        connector: Connector,
        posts: Sequence[RemotePost],
        read: Reader,
    ) -> str:
        """Check and keep the outcomes; "" or, when the posts or profile could not be read, why."""
        label = Platform(site.platform).label
        outcomes: list[Outcome] = []
        problems: list[str] = []
        seen = ""
        # What cannot be read keeps its last outcome; its "checked" time says how old it is.
        try:
            # Links beside a post's text cost no call on metered platforms (Discourse's
            # post #1 read is the only one that calls, and Discourse meters nothing).
            checked = [
                PostLinks(p.permalink or p.external_id, p.text, connector.post_links(p))
                for p in posts
            ]
            outcomes.append(check_posts(checked))
        except UserError as exc:
            problems.append(f"the posts of {site.name!r} could not be read: {exc.message}")
        try:
            profile = read(connector.profile)
        except UserError as exc:
            problems.append(f"the profile of {site.name!r} could not be read: {exc.message}")
        else:
            found = None if profile is None else (profile.text, profile.links)
            outcomes += check_profile(label, found, self.policy_url)
            seen = profile.text[:SEEN_LIMIT] if profile is not None else ""
        for problem in problems:
            log.warning("site checks of site %s: %s", site.id, problem)
        with transaction() as session:
            keep(session, site.id, outcomes, seen)
        return "; ".join(problems)


def keep(session: Session, site_id: int, outcomes: Iterable[Outcome], seen: str) -> None:
    """The latest outcome per site and check, updated in place."""
    now = utcnow()
    for outcome in outcomes:
        row = session.get(SiteCheck, (site_id, outcome.check.value))
        if row is None:
            row = SiteCheck(site_id=site_id, check=outcome.check.value)
            session.add(row)
        row.state = outcome.state.value
        row.detail = outcome.detail
        row.failing = [_storable(link) for link in outcome.failing]
        row.seen = _storable(seen) if outcome.check is not Check.POSTS_LINK else ""
        row.checked_at = now


def _storable(text: str) -> str:
    # PostgreSQL text holds no NUL: shown as U+FFFD on both databases, like comment text.
    return text.replace("\x00", "\ufffd")


def departments_overseen(actor: Actor) -> frozenset[int] | None:
    """The departments whose site checks the person may see (None: all); refused, naming the
    roles that may, for anyone who is neither an administrator nor a supervisor."""
    if actor.administers or actor.supervises is None:
        return None
    if not actor.supervises:
        raise PermissionDenied(
            f"Only a supervisor or an administrator may see the site checks, and "
            f"{actor.describe()} is neither. A department's supervisor sees its sites' checks; "
            "an administrator can give you the role: hsm-console admin role grant "
            f"{actor.username} supervisor --department CODE"
        )
    return actor.supervises


def listing(db: Database, username: str, *, include_passed: bool = False) -> list[SiteCheckRow]:
    """The checks of the sites of the person's departments: those that fail or cannot be
    checked (all of them with `include_passed`), by department, site and check."""
    with db.session() as session:
        departments = departments_overseen(resolve_actor(session, username))
        query = (
            select(SiteCheck, Site, Department)
            .join(Site, Site.id == SiteCheck.site_id)
            .join(Department, Department.id == Site.department_id)
            .where(Site.active)
            .order_by(Department.name, Site.name, Site.id, SiteCheck.check)
        )
        if departments is not None:
            query = query.where(Site.department_id.in_(departments))
        if not include_passed:
            query = query.where(SiteCheck.state != CheckState.PASSED.value)
        return [_row(row, site, department) for row, site, department in session.execute(query)]


def _row(row: SiteCheck, site: Site, department: Department) -> SiteCheckRow:
    return SiteCheckRow(
        site.id, site.name, Platform(site.platform).label, department.name,
        Check(row.check), CheckState(row.state), row.detail, tuple(row.failing),
        row.seen, row.checked_at,
    )  # fmt: skip
