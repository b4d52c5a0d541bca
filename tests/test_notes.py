"""Notes on a comment and the commenter's earlier comments: department scope, the chain,
hostile text kept as written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hsm_console.db.models import Comment, LogEntry
from hsm_console.errors import InvalidInput, PermissionDenied
from hsm_console.rules.domain import Action
from hsm_console.services.comment_detail import CommentReader
from hsm_console.services.verify import verify_log
from tests.conftest import World
from tests.test_review import _tamper

HOSTILE = '<img src=x onerror=alert(1)>\u202e=HYPERLINK("x")\n<b>bold</b>'


def parks_comment(world: World) -> Comment:
    with world.db.session() as session:
        comment = session.scalars(
            select(Comment).where(Comment.site_id == world.parks_site).order_by(Comment.id)
        ).first()
        assert comment is not None
        return comment


def test_a_note_is_a_chained_entry_the_department_reads(synced: World) -> None:
    comment = parks_comment(synced)
    entry_id = synced.app("alice").notes.add(comment.id, f"  {HOSTILE}  ")
    notes = synced.app("bob").notes.notes(comment.id)
    assert [(n.entry_id, n.actor, n.text) for n in notes] == [(entry_id, "alice", HOSTILE)]
    view = CommentReader(synced.db, "sam").comment(comment.id)
    assert [n.text for n in view.notes] == [HOSTILE]
    assert [(h.action, h.note) for h in view.history] == [("note", HOSTILE)]
    with synced.db.session() as session:
        entry = session.get(LogEntry, entry_id)
        assert entry is not None
        assert (entry.kind, entry.subject, entry.department_id) == (
            "note", f"comment:{comment.id}", 1,
        )  # fmt: skip
    assert verify_log(synced.db).ok


def test_notes_are_refused_outside_the_department_and_when_empty(synced: World) -> None:
    comment = parks_comment(synced)
    with pytest.raises(PermissionDenied):
        synced.app("carol").notes.add(comment.id, "not mine")
    with pytest.raises(PermissionDenied):
        synced.app("carol").notes.notes(comment.id)
    with pytest.raises(PermissionDenied, match="moderators and supervisors"):
        synced.app("ada").notes.add(comment.id, "an administrator is neither")
    for bad, words in (("   ", "required"), ("a\x00b", "NUL"), ("x" * 20_001, "at most")):
        with pytest.raises(InvalidInput, match=words):
            synced.app("alice").notes.add(comment.id, bad)
    with synced.db.session() as session:
        assert session.scalar(select(func.count()).where(LogEntry.kind == "note")) == 0


def test_verify_names_a_tampered_note(synced: World) -> None:
    comment = parks_comment(synced)
    note = synced.app("alice").notes.add(comment.id, "called the commenter back")
    synced.app("alice").notes.add(comment.id, "second")
    _tamper(synced, f"UPDATE action_log SET note = 'nothing happened' WHERE id = {note}")
    report = verify_log(synced.db)
    assert report.first_bad_entry == note
    assert f"entry {note} was altered" in report.problem


def _recurring_author(world: World) -> tuple[Comment, list[Comment]]:
    """A Parks comment whose author also commented on Police, and the author's others."""
    with world.db.session() as session:
        police_authors = select(Comment.author_id).where(Comment.site_id == world.police_site)
        comment = session.scalars(
            select(Comment)
            .where(Comment.site_id == world.parks_site, Comment.author_id.in_(police_authors))
            .order_by(Comment.id)
        ).first()
        assert comment is not None
        others = session.scalars(
            select(Comment).where(Comment.author_id == comment.author_id, Comment.id != comment.id)
        ).all()
        return comment, list(others)


def test_the_commenters_history_shows_codes_and_actions_in_reach(synced: World) -> None:
    comment, others = _recurring_author(synced)
    parks = [c for c in others if c.site_id == synced.parks_site]
    police = [c for c in others if c.site_id == synced.police_site]
    assert parks
    assert police
    hidden = synced.app("alice").moderation.act(parks[0].id, Action.HIDE, "OFT")
    removed = synced.app("carol").moderation.act(police[0].id, Action.REMOVE, "PRF")

    mine = CommentReader(synced.db, "alice").comment(comment.id).author_history
    assert {e.comment_id for e in mine} == {c.id for c in parks}  # never Police's
    earlier = next(e for e in mine if e.comment_id == parks[0].id)
    assert [(a.action, a.reason_code, a.state, a.entry_id) for a in earlier.actions] == [
        ("hide", "OFT", "applied", hidden.outcome_entry_id)
    ]
    assert earlier.status == "hidden"
    assert earlier.site_name == "Highland Parks & Recreation"

    everyone = CommentReader(synced.db, "sam").comment(comment.id).author_history
    assert {e.comment_id for e in everyone} == {c.id for c in others}
    on_police = next(e for e in everyone if e.comment_id == police[0].id)
    assert [(a.action, a.reason_code) for a in on_police.actions] == [("remove", "PRF")]
    assert removed.ok
    assert [e.created_at for e in everyone] == sorted(
        (e.created_at for e in everyone), reverse=True
    )
