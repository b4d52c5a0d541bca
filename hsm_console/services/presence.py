"""Who has which comment open (docs/design.md, "Live queues and presence").

A window that shows a comment in its detail pane holds a row of `presence` (migration 0016)
under a random id of its own: written when the comment is opened, refreshed by a heartbeat,
deleted when the window leaves it. A row whose heartbeat is older than `EXPIRY` (a window
that crashed, a cable pulled) is ignored by every reader and swept by its owner's next start.
Times are the database server's (`now()`), so workstations' clocks do not matter. Working
state only: presence is never part of the record.

Only on PostgreSQL: a SQLite file is one workstation, where nobody else can have it open,
so every method here does nothing there.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from hsm_console.db.engine import Database
from hsm_console.db.id_lists import in_ids
from hsm_console.db.models import Comment, Person, Presence, Site
from hsm_console.services.access import resolve_actor

EXPIRY = timedelta(seconds=60)  # a row older than this without a heartbeat is gone
HEARTBEAT = timedelta(seconds=20)  # how often an open window refreshes its row

# On a City-wide PostgreSQL, `db roles` lets each person read their departments' presence
# and write only rows in their own name (db/roles.py, `presence`).


@dataclass(frozen=True)
class Holder:
    """Someone else who has a comment open."""

    username: str
    name: str  # their display name, as an administrator entered it (plain text)
    since: datetime

    @property
    def words(self) -> str:
        return self.name or self.username


def open_by_words(holders: Sequence[Holder]) -> str:
    """ "Open by Jane Doe", "Open by Jane Doe and Sam Lee": for the queue and the detail pane."""
    names = [holder.words for holder in holders]
    if not names:
        return ""
    if len(names) == 1:
        return f"Open by {names[0]}"
    return f"Open by {', '.join(names[:-1])} and {names[-1]}"


def holders(
    session: Session, comment_ids: Iterable[int], besides: str, expiry: timedelta = EXPIRY
) -> dict[int, list[Holder]]:
    """Who else (not `besides`) has each of these comments open now, earliest first. Only on
    PostgreSQL; the caller narrows the ids to comments the person may see."""
    wanted = sorted(set(comment_ids))
    if not wanted or session.get_bind().dialect.name != "postgresql":
        return {}
    rows = session.execute(
        select(Presence.comment_id, Presence.username, Person.display_name, Presence.opened_at)
        .outerjoin(Person, Person.username == Presence.username)
        .where(
            in_ids(Presence.comment_id),
            Presence.username != besides,
            Presence.heartbeat_at > func.now() - expiry,
        )
        .order_by(Presence.comment_id, Presence.opened_at, Presence.username),
        {"ids": wanted},
    )
    found: dict[int, list[Holder]] = {}
    for comment_id, username, name, since in rows:
        people = found.setdefault(comment_id, [])
        if all(holder.username != username for holder in people):  # two of their windows
            people.append(Holder(username, name or "", since))
    return found


class PresenceService:
    """One open window's presence: `holder` is its own random id."""

    def __init__(
        self, db: Database, username: str, holder: str | None = None, expiry: timedelta = EXPIRY
    ) -> None:
        self.db = db
        self.username = username
        self.holder = holder or secrets.token_hex(16)
        self.expiry = expiry
        self.enabled = db.dialect == "postgresql"

    def open(self, comment_id: int) -> None:
        """This window now shows `comment_id` (the same one again: a heartbeat)."""
        if not self.enabled:
            return
        department = (
            select(Site.department_id)
            .join(Comment, Comment.site_id == Site.id)
            .where(Comment.id == comment_id)
            .scalar_subquery()
        )
        from sqlalchemy.dialects.postgresql import insert as pg_insert  # not on SQLite: 0.05 s

        row = pg_insert(Presence).values(
            holder=self.holder, username=self.username, comment_id=comment_id,
            department_id=department, opened_at=func.now(), heartbeat_at=func.now(),
        )  # fmt: skip
        upsert = row.on_conflict_do_update(
            index_elements=[Presence.holder],
            set_={
                "comment_id": row.excluded.comment_id,
                "department_id": row.excluded.department_id,
                # Still the same comment: it has been open since it was first opened.
                "opened_at": case(
                    (Presence.comment_id == row.excluded.comment_id, Presence.opened_at),
                    else_=func.now(),
                ),
                "heartbeat_at": func.now(),
            },
        )
        with self.db.session() as session, session.begin():
            session.execute(upsert)

    def beat(self) -> None:
        """The heartbeat: this window is still there, showing what it showed."""
        if not self.enabled:
            return
        with self.db.session() as session, session.begin():
            beat = update(Presence).where(Presence.holder == self.holder)
            session.execute(beat.values(heartbeat_at=func.now()))

    def leave(self) -> None:
        """This window shows no comment any more (another selection, or it closed)."""
        if not self.enabled:
            return
        with self.db.session() as session, session.begin():
            session.execute(delete(Presence).where(Presence.holder == self.holder))

    def sweep(self) -> None:
        """Remove this person's rows that lost their heartbeat (a window that crashed)."""
        if not self.enabled:
            return
        with self.db.session() as session, session.begin():
            session.execute(
                delete(Presence).where(
                    Presence.username == self.username,
                    Presence.heartbeat_at <= func.now() - self.expiry,
                )
            )

    def others(self, comment_ids: Iterable[int]) -> dict[int, list[Holder]]:
        """Who else has these comments open, for those the person works on (the warning
        before acting, the detail pane)."""
        wanted = set(comment_ids)
        if not self.enabled or not wanted:
            return {}
        with self.db.session() as session:
            actor = resolve_actor(session, self.username)
            visible = session.execute(
                select(Comment.id, Site.department_id)
                .join(Site, Site.id == Comment.site_id)
                .where(Comment.id.in_(sorted(wanted)))
            )
            reachable = [c for c, department in visible if actor.works_for(department)]
            return holders(session, reachable, self.username, self.expiry)


__all__ = [
    "EXPIRY",
    "HEARTBEAT",
    "Holder",
    "PresenceService",
    "holders",
    "open_by_words",
]
