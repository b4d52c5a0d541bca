"""Review, second review, notices and appeals: the services' rules and refusals, on SQLite and
PostgreSQL, with reversals through the sandbox (docs/design.md, "Review, notes, notices and
appeals")."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from hsm_console.db.chain import append_entry
from hsm_console.db.models import Comment, LogEntry, Site
from hsm_console.errors import (
    ConcurrentAction,
    InvalidInput,
    NotFound,
    NotPossible,
    PermissionDenied,
    PolicyViolation,
)
from hsm_console.rules.domain import Action, AppealStep, EntryKind, ReviewState, ReviewVerdict, Role
from hsm_console.rules.review import Channel
from hsm_console.services import admin
from hsm_console.services.log_view import LogFilter, LogView
from hsm_console.services.review import ReviewItem
from hsm_console.services.verify import verify_log
from tests.conftest import World
from tests.test_moderation import _acting_while, fb, parks_comments, reload


@pytest.fixture
def reviewers(synced: World) -> World:
    """dana supervises Parks, pete Police; mia moderates and supervises Parks."""
    with synced.db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        police = admin.ensure_department(session, "POLICE", "Police Department")
        for username, name, grants in (
            ("dana", "Dana Director", [(Role.SUPERVISOR, parks)]),
            ("pete", "Pete Director", [(Role.SUPERVISOR, police)]),
            ("mia", "Mia Both", [(Role.SUPERVISOR, parks), (Role.MODERATOR, parks)]),
        ):
            person = admin.ensure_person(session, username, name)
            for role, department in grants:
                admin.grant(session, person, role, department)
    return synced


def hide(world: World, code: str = "OFT", who: str = "alice", index: int = 0) -> tuple[int, int]:
    """(comment id, the action's first entry id) of a hide under `code`."""
    comment = parks_comments(world)[index]
    result = world.app(who).moderation.act(comment.id, Action.HIDE, code, "not about the post")
    assert result.ok, result.message
    return comment.id, result.pending_entry_id


def test_judgement_codes_wait_for_review_with_their_test(reviewers: World) -> None:
    _, oft = hide(reviewers, "OFT")
    _, prf = hide(reviewers, "PRF", index=1)
    flagged = reviewers.app("alice").moderation.act(
        parks_comments(reviewers)[2].id, Action.FLAG, "OFT"
    )  # a flag changes nothing the public sees: no second review
    waiting = reviewers.app("dana").review.needs_review()
    assert [item.entry_id for item in waiting] == [oft]
    item = waiting[0]
    assert item.state is ReviewState.NEEDS_REVIEW
    assert item.objective_test.startswith("The comment is unrelated to the post when")
    assert (item.moderator, item.reason_code, item.outcome) == ("alice", "OFT", "applied")
    assert item.age == "0 min"
    assert reviewers.app("dana").review.item(prf).state is ReviewState.NOT_NEEDED
    assert reviewers.app("dana").review.item(flagged.pending_entry_id).state is (
        ReviewState.NOT_NEEDED
    )
    # The oversight group sees it too; Police's supervisor does not.
    assert [i.entry_id for i in reviewers.app("sam").review.needs_review()] == [oft]
    assert reviewers.app("pete").review.needs_review() == []


def test_the_needs_review_list_comes_in_pages_and_is_counted(reviewers: World) -> None:
    waiting = [hide(reviewers, "OFT", index=i)[1] for i in range(3)]
    review = reviewers.app("dana").review
    first = [i.entry_id for i in review.needs_review(2)]
    assert first == waiting[:2]
    assert [i.entry_id for i in review.needs_review(2, after=first[-1])] == waiting[2:]
    assert review.needs_review(2, after=waiting[-1]) == []
    assert review.needs_review_count() == 3
    assert reviewers.app("pete").review.needs_review_count() == 0  # Police's supervisor
    review.review(waiting[0], ReviewVerdict.CONCUR, "")
    assert review.needs_review_count() == 2


def test_concur_clears_the_needs_review_list(reviewers: World) -> None:
    _, oft = hide(reviewers)
    review_id = reviewers.app("dana").review.review(oft, ReviewVerdict.CONCUR, "")
    assert reviewers.app("dana").review.needs_review() == []
    item = reviewers.app("dana").review.item(oft)
    assert item.state is ReviewState.CONCURRED
    assert item.review is not None
    assert (item.review.entry_id, item.review.actor) == (
        review_id,
        "dana",
    )
    with reviewers.db.session() as session:
        entry = session.get(LogEntry, review_id)
        assert entry is not None
        assert (entry.kind, entry.action, entry.refers_to, entry.reason_code) == (
            "review", "concur", oft, "OFT",
        )  # fmt: skip
    assert verify_log(reviewers.db).ok


def test_a_second_review_of_one_action_is_refused_naming_the_first(reviewers: World) -> None:
    _, oft = hide(reviewers)
    reviewers.app("dana").review.review(oft, ReviewVerdict.CONCUR, "fine")
    with pytest.raises(ConcurrentAction, match=r"Dana Director \(dana\) already reviewed it"):
        reviewers.app("sam").review.review(oft, ReviewVerdict.QUESTION, "no")


def test_the_database_allows_one_verdict_per_action(reviewers: World) -> None:
    _, oft = hide(reviewers)
    reviewers.app("dana").review.review(oft, ReviewVerdict.CONCUR, "")
    with pytest.raises(IntegrityError), reviewers.db.transaction() as session:
        append_entry(
            session, actor="sam", state="applied", action="question", comment_id=None,
            site_id=None, department_id=None, record_id=None, record_sha256=None,
            policy_version=None, kind=EntryKind.REVIEW.value, refers_to=oft,
        )  # fmt: skip


def test_question_and_reverse_a_hide_through_the_sandbox(reviewers: World) -> None:
    comment_id, oft = hide(reviewers)
    external = reload(reviewers, comment_id).external_id
    assert fb(reviewers).is_hidden(external)
    service = reviewers.app("dana").review
    with pytest.raises(InvalidInput, match="note saying why"):
        service.review(oft, ReviewVerdict.QUESTION, "  ")
    with pytest.raises(NotPossible, match="not been questioned"):
        service.reverse(oft, "too early")
    review_id = service.review(oft, ReviewVerdict.QUESTION, "It answers the post's question.")
    with pytest.raises(InvalidInput, match="reason for reversing is required"):
        service.reverse(oft, "")
    result = service.reverse(oft, "On topic: it asks about the pool's hours.")
    assert result.ok, result.message
    assert not fb(reviewers).is_hidden(external)
    assert reload(reviewers, comment_id).platform_state == "visible"
    with reviewers.db.session() as session:
        unhide = session.get(LogEntry, result.pending_entry_id)
        assert unhide is not None
        assert (unhide.action, unhide.actor, unhide.refers_to, unhide.note) == (
            "unhide", "dana", review_id, "On topic: it asks about the pool's hours.",
        )  # fmt: skip
    item = service.item(oft)
    assert (item.state, item.reversed_by) == (ReviewState.QUESTIONED, result.pending_entry_id)
    assert verify_log(reviewers.db).ok


def test_a_removal_is_not_restored_where_the_platform_cannot(reviewers: World) -> None:
    comment = parks_comments(reviewers)[2]
    removed = reviewers.app("alice").moderation.act(comment.id, Action.REMOVE, "HAR", "named")
    service = reviewers.app("dana").review
    service.review(removed.pending_entry_id, ReviewVerdict.QUESTION, "criticism of the City")
    with pytest.raises(NotPossible, match="Facebook cannot restore a removed comment"):
        service.reverse(removed.pending_entry_id, "criticism is allowed")


def test_moderation_refuses_a_reversal_without_a_questioning_verdict(reviewers: World) -> None:
    comment_id, oft = hide(reviewers)
    concur = reviewers.app("dana").review.review(oft, ReviewVerdict.CONCUR, "")
    for basis in (concur, oft, 999_999):
        with pytest.raises(PermissionDenied, match="only those are reversed"):
            reviewers.app("dana").moderation.reverse(comment_id, basis, "because")
    assert fb(reviewers).is_hidden(reload(reviewers, comment_id).external_id)


def test_review_refusals(reviewers: World) -> None:
    _, oft = hide(reviewers)
    with pytest.raises(PermissionDenied, match="Only a supervisor may give verdicts"):
        reviewers.app("bob").review.review(oft, ReviewVerdict.CONCUR, "")
    with pytest.raises(PermissionDenied, match="does not supervise the department"):
        reviewers.app("pete").review.review(oft, ReviewVerdict.CONCUR, "")
    with pytest.raises(PermissionDenied, match="Only a supervisor may see"):
        reviewers.app("alice").review.needs_review()
    _, own = hide(reviewers, who="mia", index=1)
    with pytest.raises(PermissionDenied, match="never reviews their own action"):
        reviewers.app("mia").review.review(own, ReviewVerdict.CONCUR, "")
    with pytest.raises(NotFound, match="not an action on a comment"):
        reviewers.app("dana").review.review(999_999, ReviewVerdict.CONCUR, "")
    # mia may review alice's action; dana reviews mia's
    reviewers.app("mia").review.review(oft, ReviewVerdict.CONCUR, "")
    reviewers.app("dana").review.review(own, ReviewVerdict.CONCUR, "")
    with reviewers.db.session() as session:
        reviews = session.scalars(select(LogEntry.actor).where(LogEntry.kind == "review"))
        assert sorted(reviews) == ["dana", "mia"]


def test_an_outcome_entry_id_reviews_its_action(reviewers: World) -> None:
    comment = parks_comments(reviewers)[0]
    result = reviewers.app("alice").moderation.act(comment.id, Action.HIDE, "OFT")
    reviewers.app("dana").review.review(result.outcome_entry_id, ReviewVerdict.CONCUR, "")
    assert reviewers.app("dana").review.item(result.pending_entry_id).review is not None


def test_an_item_shows_the_comment_as_its_record_kept_it_and_the_outcome(
    reviewers: World,
) -> None:
    """An item's comment, site, department and outcome are read with the action in one
    statement (`ReviewService._items`): the retained record's words, not the comment's later
    ones, and "pending" while the platform call is in flight."""
    comment = parks_comments(reviewers)[0]
    mid_call: list[ReviewItem] = []

    def look() -> None:  # the pending entry is committed, its outcome not yet
        with reviewers.db.session() as session:
            pending = session.scalar(select(LogEntry.id).where(LogEntry.comment_id == comment.id))
        assert pending is not None
        mid_call.append(reviewers.app("dana").review.item(pending))

    result = _acting_while(reviewers, look).act(comment.id, Action.HIDE, "OFT", "off topic")
    assert result.ok, result.message
    with reviewers.db.transaction() as session:  # edited on the platform since
        session.execute(
            text("UPDATE comments SET text = 'edited', author_name = 'renamed' WHERE id = :id"),
            {"id": comment.id},
        )
        site = session.get(Site, reviewers.parks_site)
        assert site is not None
        site_name = site.name
    [item] = reviewers.app("dana").review.needs_review()
    assert item == reviewers.app("dana").review.item(result.pending_entry_id)
    assert [i.outcome for i in mid_call] == ["pending"]
    assert mid_call[0].state is ReviewState.NOT_NEEDED
    assert (item.entry_id, item.outcome, item.moderator_note) == (
        result.pending_entry_id, "applied", "off topic",
    )  # fmt: skip
    assert (item.author_name, item.text) == (comment.author_name, comment.text)
    assert (item.site_name, item.platform, item.department) == (site_name, "facebook", "PARKS")
    assert (item.comment_id, item.code_name) == (comment.id, "Off-topic")


def test_review_state_filter_in_the_log_view(reviewers: World) -> None:
    _, waiting = hide(reviewers)
    _, concurred = hide(reviewers, index=1)
    _, questioned = hide(reviewers, index=2)
    _, plain = hide(reviewers, "PRF", index=3)
    service = reviewers.app("dana").review
    service.review(concurred, ReviewVerdict.CONCUR, "")
    service.review(questioned, ReviewVerdict.QUESTION, "on topic")
    view = LogView(reviewers.db, "dana")
    expected = {
        ReviewState.NEEDS_REVIEW: [waiting],
        ReviewState.CONCURRED: [concurred],
        ReviewState.QUESTIONED: [questioned],
        ReviewState.NOT_NEEDED: [plain],
    }
    for state, ids in expected.items():
        page = view.page(LogFilter(review_states=frozenset({state.value})), newest_first=False)
        assert page.ids == ids, state
    both = LogFilter(review_states=frozenset({"concurred", "questioned"}))
    assert view.count(both) == 2


def test_reviews_appear_in_the_comments_history(reviewers: World) -> None:
    comment_id, oft = hide(reviewers)
    reviewers.app("dana").review.review(oft, ReviewVerdict.QUESTION, "<b>on topic</b>")
    history = LogView(reviewers.db, "dana").entry(oft).history
    assert [(h.kind, h.action) for h in history] == [
        ("action", "hide"), ("action", "hide"), ("review", "question"),
    ]  # fmt: skip
    assert history[-1].note == "<b>on topic</b>"  # stored as written, shown as plain text
    shown = reviewers.app("alice")
    from hsm_console.services.comment_detail import CommentReader

    view = CommentReader(reviewers.db, "alice").comment(comment_id)
    assert [h.action for h in view.history][-1] == "question"
    assert shown.username == "alice"


@pytest.mark.parametrize("column", ["action", "note", "refers_to"])
def test_verify_names_a_tampered_review(reviewers: World, column: str) -> None:
    _, oft = hide(reviewers)
    review_id = reviewers.app("dana").review.review(oft, ReviewVerdict.CONCUR, "fine")
    hide(reviewers, index=1)  # the chain goes on after it
    value = {"action": "'question'", "note": "'changed'", "refers_to": "4"}[column]
    _tamper(reviewers, f"UPDATE action_log SET {column} = {value} WHERE id = {review_id}")
    report = verify_log(reviewers.db)
    assert not report.ok
    assert report.first_bad_entry == review_id
    assert f"entry {review_id} was altered" in report.problem


def test_setting_refers_to_on_an_old_action_breaks_its_hash(reviewers: World) -> None:
    _, oft = hide(reviewers)
    _tamper(reviewers, f"UPDATE action_log SET refers_to = 1 WHERE id = {oft}")
    assert verify_log(reviewers.db).first_bad_entry == oft


def _tamper(world: World, statement: str) -> None:
    """As someone with the database's owner rights would: the triggers off, then the change."""
    with world.db.engine.begin() as connection:
        if world.db.is_sqlite:
            connection.execute(text("DROP TRIGGER action_log_no_update"))
        else:
            connection.execute(
                text("ALTER TABLE action_log DISABLE TRIGGER action_log_append_only")
            )
        connection.execute(text(statement))


# --- notices and appeals -------------------------------------------------------------------


def test_notice_is_drafted_from_the_code_and_clause_and_recorded(reviewers: World) -> None:
    _, oft = hide(reviewers)
    service = reviewers.app("alice").review
    draft = service.draft_notice(oft)
    assert "was hidden from public view by the City" in draft
    assert "Off-topic (OFT), under Section 5.1(k)" in draft
    assert "The test the City applies: The comment is unrelated" in draft
    assert "never hides or removes a comment for the opinion" in draft
    sent_at = datetime.now(UTC) - timedelta(hours=2)
    notice_id = service.record_notice(oft, Channel.EMAIL, draft, sent_at)
    notices = reviewers.app("dana").review.item(oft).notices
    assert [(n.entry_id, n.channel, n.sent_by, n.sent_at) for n in notices] == [
        (notice_id, "email", "alice", sent_at)
    ]
    with pytest.raises(InvalidInput, match="cannot be in the future"):
        service.record_notice(oft, Channel.EMAIL, draft, datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(InvalidInput, match="NUL"):
        service.record_notice(oft, Channel.EMAIL, "a\x00b")
    with pytest.raises(PermissionDenied, match="does not work for the department"):
        reviewers.app("carol").review.draft_notice(oft)


def test_notices_and_appeals_follow_the_policy_option(reviewers: World) -> None:
    _, oft = hide(reviewers)
    app = reviewers.app("alice")
    app.policy = replace(app.policy, notices=False)
    with pytest.raises(NotPossible, match="does not send notices"):
        app.review.draft_notice(oft)
    with pytest.raises(NotPossible, match="does not send notices"):
        app.review.record_appeal(oft, "please", Channel.EMAIL)


def test_appeal_goes_to_a_supervisor_other_than_the_acting_moderator(reviewers: World) -> None:
    _, own = hide(reviewers, who="mia")
    appeal = reviewers.app("alice").review.record_appeal(own, "I was on topic", Channel.WEB_FORM)
    assert appeal.assigned_to == "dana"  # Parks' supervisors, never mia who acted
    with pytest.raises(InvalidInput, match="mia cannot decide this appeal"):
        reviewers.app("alice").review.record_appeal(own, "again", Channel.EMAIL, assign_to="mia")
    with pytest.raises(PermissionDenied, match="another supervisor decides the appeal"):
        reviewers.app("mia").review.decide_appeal(appeal.entry_id, AppealStep.UPHOLD, "stands")
    with pytest.raises(PermissionDenied, match="does not supervise"):
        reviewers.app("pete").review.decide_appeal(appeal.entry_id, AppealStep.UPHOLD, "x")
    assert [a.entry_id for a in reviewers.app("dana").review.appeals(open_only=True)] == [
        appeal.entry_id
    ]


def test_appeal_with_no_other_supervisor_is_refused(reviewers: World) -> None:
    with reviewers.db.transaction() as session:
        police = admin.ensure_department(session, "POLICE", "Police Department")
        pete = admin.ensure_person(session, "pete", "Pete Director")
        admin.grant(session, pete, Role.MODERATOR, police)
    with reviewers.db.session() as session:
        comment = session.scalars(
            select(Comment).where(Comment.site_id == reviewers.police_site).order_by(Comment.id)
        ).first()
        assert comment is not None
    hidden = reviewers.app("pete").moderation.act(comment.id, Action.HIDE, "PRF")
    with reviewers.db.engine.begin() as connection:  # the oversight group leaves
        connection.execute(text("UPDATE people SET active = false WHERE username = 'sam'"))
    with pytest.raises(NotPossible, match="No active supervisor other than pete"):
        reviewers.app("carol").review.record_appeal(hidden.pending_entry_id, "x", Channel.EMAIL)


def test_overturned_appeal_unhides_record_first(reviewers: World) -> None:
    comment_id, oft = hide(reviewers)
    appeal = reviewers.app("alice").review.record_appeal(
        oft, "It was about the pool", Channel.EMAIL
    )
    decision, reversal = reviewers.app("dana").review.decide_appeal(
        appeal.entry_id, AppealStep.OVERTURN, "The comment asks about the pool's hours."
    )
    assert reversal is not None
    assert reversal.ok, reversal.message
    assert not fb(reviewers).is_hidden(reload(reviewers, comment_id).external_id)
    with reviewers.db.session() as session:
        unhide = session.get(LogEntry, reversal.pending_entry_id)
        assert unhide is not None
        assert (unhide.refers_to, unhide.actor) == (decision, "dana")
    decided = reviewers.app("dana").review.appeals()[0]
    assert decided.decision is not None
    assert decided.decision.verdict == "overturn"
    assert reviewers.app("dana").review.item(oft).reversed_by == reversal.pending_entry_id
    with pytest.raises(ConcurrentAction, match="already decided"):
        reviewers.app("sam").review.decide_appeal(appeal.entry_id, AppealStep.UPHOLD, "no")
    assert verify_log(reviewers.db).ok


def test_upheld_appeal_changes_nothing_on_the_platform(reviewers: World) -> None:
    comment_id, oft = hide(reviewers)
    appeal = reviewers.app("bob").review.record_appeal(oft, "unfair", Channel.PHONE)
    decision, reversal = reviewers.app("sam").review.decide_appeal(
        appeal.entry_id, AppealStep.UPHOLD, "Unrelated to the post."
    )
    assert reversal is None
    assert fb(reviewers).is_hidden(reload(reviewers, comment_id).external_id)
    with pytest.raises(PolicyViolation, match="reason"), reviewers.db.session():
        reviewers.app("sam").moderation.reverse(comment_id, decision, " ")
