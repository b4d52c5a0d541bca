"""A small world of records for the records officer's search and packages: actions, a review,
a note, an earlier version, hostile text, records officers and requests (issue 10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select

from hsm_console.db.models import Comment, CommentVersion, LogEntry, RecordsRequest, Site
from hsm_console.rules.domain import Action, ReviewVerdict, Role
from hsm_console.services import admin
from tests.conftest import World

PARKS_POST = "1000000000001_122100000000000"
FOUNTAIN = "The zanzibarquux fountain is broken"
EARLIER = "The qwertyold fountain was broken"  # an earlier version of FOUNTAIN
# Hostile text as a comment can hold it on both databases (PostgreSQL refuses NUL in text).
HOSTILE = (
    '=HYPERLINK("http://x.test","click") <script>alert(1)</script> <b>bold</b> '
    "\u202eevil\u202c \x1b[31mred\x1b[0m 中文 \U0001f600 שלום"
)
MEGABYTE = 1_000_000


@dataclass
class Records:
    world: World
    hidden: int  # a Parks comment hidden under PRF, reviewed, with a note and a version
    hostile: int  # a Parks comment flagged under SPM: hostile text, a megabyte long
    police: int  # a Police comment flagged under SPM
    parks_request: int  # a Parks request whose scope is the Parks department
    city_request: int  # a City-wide request (the City Clerk's)
    withdrawn: int  # a withdrawn Parks request


def _comment_with(world: World, words: str) -> int:
    with world.db.session() as session:
        return session.scalars(select(Comment.id).where(Comment.text == words)).one()


def build_records(world: World, hostile_text: str = HOSTILE) -> Records:
    fb = world.sandbox.state.facebook
    fb.add_comment(PARKS_POST, FOUNTAIN, author_name="Quinn Public")
    fb.add_comment(PARKS_POST, "placeholder for hostile text", author_name="=Evil <b>Author</b>")
    world.app("alice").sync.sync()
    world.app("carol").sync.sync()
    hidden = _comment_with(world, FOUNTAIN)
    hostile = _comment_with(world, "placeholder for hostile text")
    alice = world.app("alice")
    hide = alice.moderation.act(hidden, Action.HIDE, "PRF")
    alice.notes.add(hidden, "=2+2 <i>note</i> about the fountain")
    world.app("sam").review.review(hide.pending_entry_id, ReviewVerdict.CONCUR, "fine")
    with world.db.transaction() as session:
        comment = session.get(Comment, hostile)
        assert comment is not None
        comment.text = (hostile_text + " ") * (MEGABYTE // (len(hostile_text) + 1))
        session.add(
            CommentVersion(
                comment_id=hidden, author_name="Quinn Public", text=EARLIER, raw={"v": 1},
                edited_at=None, replaced_seen_at=datetime(2026, 7, 1, 12, tzinfo=UTC),
            )
        )  # fmt: skip
    alice.moderation.act(hostile, Action.FLAG, "SPM", note="-1 =cmd|' /C calc'!A0")
    with world.db.session() as session:
        police = session.scalars(
            select(Comment.id).where(Comment.site_id == world.police_site).order_by(Comment.id)
        ).first()
    assert police is not None
    world.app("carol").moderation.act(police, Action.FLAG, "SPM")
    with world.db.transaction() as session:
        parks = session.get(Site, world.parks_site)
        assert parks is not None
        rita = admin.ensure_person(session, "rita", "Rita Records")
        admin.grant(session, rita, Role.RECORDS_OFFICER, parks.department)
        clerk = admin.ensure_person(session, "clerk", "City Clerk")
        admin.grant(session, clerk, Role.RECORDS_OFFICER, None)

        def request(department: int | None, state: str, scope: dict[str, object]) -> int:
            row = RecordsRequest(
                department_id=department, received_at=datetime(2026, 11, 30, 15, tzinfo=UTC),
                requester="Jo Requester <jo@example.test>", words="=Every removed comment",
                scope=scope, due_on=date(2026, 12, 7), extended_to=None, extension_reason="",
                state=state, handler="rita", comment_id=None, handed_over_at=None,
            )  # fmt: skip
            session.add(row)
            session.flush()
            return row.id

        requests = (
            request(parks.department_id, "open", {"departments": ["PARKS"]}),
            request(None, "open", {}),
            request(parks.department_id, "withdrawn", {}),
        )
    return Records(world, hidden, hostile, police, *requests)


def entries_of(world: World, comment_ids: list[int]) -> int:
    with world.db.session() as session:
        return len(
            session.scalars(select(LogEntry.id).where(LogEntry.comment_id.in_(comment_ids))).all()
        )
