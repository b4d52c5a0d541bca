"""The blocked-accounts register: proposals, decisions, bans carried out record-first over
real HTTP to the sandbox, their end, and the register's export (docs/design.md, "Blocked
accounts")."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hsm_console.connectors.base import Connector
from hsm_console.db.models import Ban, Comment, LogEntry, RetainedRecord, Site, utcnow
from hsm_console.errors import InvalidInput, NotPossible, PermissionDenied
from hsm_console.rules.bans import MAX_BAN_DAYS, BanState, BanStep, city_today
from hsm_console.rules.domain import EntryKind, Platform, Role
from hsm_console.services import admin
from hsm_console.services.bans import BanService
from hsm_console.services.moderation import INTERRUPTED
from hsm_console.services.verify import verify_log
from hsm_sandbox.demo import sandbox_token
from tests.conftest import RECENT_SEED, World


@dataclass
class Register:
    """The world with Parks' YouTube, Discourse and WordPress sites, and the register's people:
    pat supervises Parks, quinn supervises Police, rita keeps Parks' records."""

    world: World
    sites: dict[Platform, int]

    def bans(self, username: str) -> BanService:
        return self.world.app(username).bans

    def comment(self, platform: Platform, index: int = 0) -> Comment:
        """A synced comment of another person on the platform's Parks site."""
        with self.world.db.session() as session:
            found = session.scalars(
                select(Comment)
                .where(Comment.site_id == self.sites[platform], Comment.author_id != "")
                .order_by(Comment.id)
            ).all()
            return found[index]


def _ends(days: int = 30) -> date:
    return city_today(utcnow()) + timedelta(days=days)


@pytest.fixture
def register(world: World) -> Register:
    with world.db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        police = admin.ensure_department(session, "POLICE", "Police Department")
        for username, name, role, department in (
            ("pat", "Pat Supervisor", Role.SUPERVISOR, parks),
            ("quinn", "Quinn Supervisor", Role.SUPERVISOR, police),
            ("rita", "Rita Records", Role.RECORDS_OFFICER, parks),
        ):
            admin.grant(session, admin.ensure_person(session, username, name), role, department)
        sites = {Platform.FACEBOOK: world.parks_site}
        for platform, external_id, prefix, settings in (
            (Platform.YOUTUBE, "UCHighlandParks000000001", "/youtube", {}),
            (Platform.DISCOURSE, "city-services", "/discourse", {"api_username": "system"}),
        ):
            site = admin.ensure_site(
                session, parks, platform, f"Parks {platform.label}", external_id,
                world.sandbox.url + prefix, settings, sandbox_token(platform),
            )  # fmt: skip
            sites[platform] = site.id
    return Register(world, sites)


def _synced(register: Register, *platforms: Platform) -> Register:
    register.world.app("alice").sync.sync([register.sites[p] for p in platforms])
    return register


def _entries(register: Register, ban_id: int) -> list[tuple[str, str]]:
    with register.world.db.session() as session:
        return [
            (e.action, e.state)
            for e in session.scalars(
                select(LogEntry).where(LogEntry.subject == f"ban:{ban_id}").order_by(LogEntry.id)
            )
        ]


def _due_now(register: Register, ban_id: int) -> None:
    """Time passes: the ban's end moves to the past (the row is working state)."""
    with register.world.db.transaction() as session:
        ban = session.get(Ban, ban_id)
        assert ban is not None
        ban.ends_at = utcnow() - timedelta(minutes=1)


def test_facebook_ban_proposed_approved_blocked_then_lifted(register: Register) -> None:
    _synced(register, Platform.FACEBOOK)
    comment = register.comment(Platform.FACEBOOK)
    proposed = register.bans("alice").propose(
        comment.id, "Threatened staff by name in two comments.", ["thr"], _ends()
    )
    assert proposed.state is BanState.PROPOSED
    assert proposed.codes == ("THR",)
    with register.world.db.session() as session:
        proposal = session.scalars(
            select(LogEntry).where(LogEntry.subject == f"ban:{proposed.id}")
        ).one()
        kept = session.get(RetainedRecord, proposal.record_id)
        assert kept is not None
        assert (kept.comment_id, kept.text) == (comment.id, comment.text)

    result = register.bans("pat").approve(proposed.id, "The threats are explicit.")

    assert result.ban.state is BanState.ACTIVE
    assert "carried out on Facebook" in result.message
    page = register.world.sandbox.state.facebook
    assert comment.author_id in page.blocked("1000000000001")
    assert _entries(register, proposed.id) == [
        ("propose", "applied"), ("approve", "applied"), ("carry_out", "pending"),
        ("carry_out", "applied"),
    ]  # fmt: skip

    lifted = register.bans("pat").lift(proposed.id, "The author apologised in writing.")

    assert lifted.ban.state is BanState.LIFTED
    assert lifted.ban.end_reason == "The author apologised in writing."
    assert comment.author_id not in page.blocked("1000000000001")
    assert _entries(register, proposed.id)[-2:] == [("lift", "pending"), ("lift", "applied")]
    assert verify_log(register.world.db).ok


def test_a_ban_entry_holds_the_row_before_and_after(register: Register) -> None:
    _synced(register, Platform.FACEBOOK)
    ban = register.bans("alice").propose(
        register.comment(Platform.FACEBOOK).id, "Spam links, again.", ["SPM"], _ends(7)
    )
    register.bans("pat").refuse(ban.id, "One spam post is not enough for a ban.")
    with register.world.db.session() as session:
        refusal = session.scalars(
            select(LogEntry).where(LogEntry.subject == f"ban:{ban.id}").order_by(LogEntry.id)
        ).all()[-1]
    assert refusal.kind == EntryKind.BAN.value
    assert refusal.action == BanStep.REFUSE.value
    assert refusal.actor == "pat"
    assert '"state":"proposed"' in (refusal.before or "")
    assert '"state":"refused"' in (refusal.after or "")


def test_youtube_bans_with_a_rejection_and_is_lifted_by_hand(register: Register) -> None:
    _synced(register, Platform.YOUTUBE)
    comment = register.comment(Platform.YOUTUBE)
    youtube: Any = register.world.sandbox.state["youtube"]
    ban = register.bans("alice").propose(comment.id, "Obscene images.", ["PRF"], _ends(14))

    done = register.bans("pat").approve(ban.id, "Agreed.")

    assert done.ban.state is BanState.ACTIVE
    assert youtube.moderation_status(comment.external_id) == "rejected"
    assert comment.author_id in youtube.banned_authors()
    with register.world.db.session() as session:
        kept = session.get(Comment, comment.id)
        assert kept is not None
        assert kept.platform_state == "removed"
    _due_now(register, ban.id)
    due = register.bans("pat").lift_due()
    assert [row.id for row in due.by_hand] == [ban.id]
    assert due.lifted == []

    ended = register.bans("pat").lift(ban.id, "Removed from hidden users in YouTube Studio.")

    assert ended.ban.state is BanState.EXPIRED
    assert "by hand on YouTube" in ended.message
    assert _entries(register, ban.id)[-1] == ("expire", "applied")


def test_discourse_suspends_until_the_end_and_the_date_lifts_it(register: Register) -> None:
    _synced(register, Platform.DISCOURSE)
    comment = register.comment(Platform.DISCOURSE)
    forum: Any = register.world.sandbox.state["discourse"]
    ban = register.bans("bob").propose(comment.id, "Posted a home address.", ["PII"], _ends(10))
    register.bans("sam").approve(ban.id, "Doxxing is serious.")
    suspension = forum.suspension(int(comment.author_id))
    assert suspension is not None
    assert suspension[0] == ban.ends_at
    assert "PII" in suspension[1]

    _due_now(register, ban.id)
    register.world.app("alice").sync.sync([register.sites[Platform.DISCOURSE]])

    assert register.bans("pat").get(ban.id).state is BanState.EXPIRED
    assert forum.suspension(int(comment.author_id)) is None
    assert _entries(register, ban.id)[-2:] == [("expire", "pending"), ("expire", "applied")]


def test_a_platform_without_a_ban_api_is_carried_out_by_hand(register: Register) -> None:
    with register.world.db.transaction() as session:
        site = session.get(Site, register.world.parks_site)
        assert site is not None
        instagram = admin.ensure_site(
            session, site.department, Platform.INSTAGRAM, "Parks IG", "17841400000000001",
            register.world.sandbox.url + "/instagram", {"api_version": "v25.0"},
            sandbox_token("instagram"),
        )  # fmt: skip
        register.sites[Platform.INSTAGRAM] = instagram.id
    _synced(register, Platform.INSTAGRAM)
    ban = register.bans("alice").propose(
        register.comment(Platform.INSTAGRAM).id, "Threats.", ["THR"], _ends()
    )
    approved = register.bans("pat").approve(ban.id, "Yes.")
    assert approved.ban.state is BanState.APPROVED
    assert "carry it out by hand" in approved.message
    with pytest.raises(InvalidInput, match="by hand is required"):
        register.bans("pat").carry_out(ban.id)

    done = register.bans("pat").carry_out(ban.id, "Blocked in the Instagram app.")

    assert done.ban.state is BanState.ACTIVE
    assert done.ban.by_hand
    assert _entries(register, ban.id)[-1] == ("carry_out", "applied")


@pytest.mark.parametrize(
    ("basis", "codes", "ends", "words"),
    [
        ("", ["THR"], 30, "basis of a ban is required"),
        ("Threats.", [], 30, "cite the policy's reason code"),
        ("Threats.", ["NVL"], 30, "not a violation"),
        ("Threats.", ["XYZ"], 30, "not a reason code"),
        ("Threats.", ["THR"], None, "needs an end date"),
        ("Threats.", ["THR"], 0, "not after today"),
        ("Threats.", ["THR"], MAX_BAN_DAYS + 1, f"more than {MAX_BAN_DAYS} days"),
        ("Threats.\x00", ["THR"], 30, "NUL"),
        ("x" * 1_000_000, ["THR"], 30, "1,000,000 characters long"),
    ],
)
def test_a_proposal_missing_what_a_ban_needs_is_refused(
    synced: World, basis: str, codes: list[str], ends: int | None, words: str
) -> None:
    comment_id = _first_parks_comment(synced)
    with pytest.raises(InvalidInput, match=words):
        synced.app("alice").bans.propose(
            comment_id, basis, codes, None if ends is None else _ends(ends)
        )
    with synced.db.session() as session:
        assert session.scalars(select(Ban)).all() == []


def test_who_may_propose_and_decide(register: Register) -> None:
    _synced(register, Platform.FACEBOOK)
    comment = register.comment(Platform.FACEBOOK)
    with pytest.raises(PermissionDenied, match="neither moderates nor supervises"):
        register.bans("carol").propose(comment.id, "Threats.", ["THR"], _ends())
    ban = register.bans("pat").propose(comment.id, "Threats.", ["THR"], _ends())

    with pytest.raises(PermissionDenied, match="another supervisor decides"):
        register.bans("pat").approve(ban.id, "My own.")
    with pytest.raises(PermissionDenied, match="does not supervise"):
        register.bans("bob").approve(ban.id, "A moderator.")
    with pytest.raises(PermissionDenied, match="does not supervise"):
        register.bans("quinn").approve(ban.id, "Another department.")
    with pytest.raises(InvalidInput, match="reason is required"):
        register.bans("sam").approve(ban.id, "  ")

    assert register.bans("pat").get(ban.id).state is BanState.PROPOSED
    assert _entries(register, ban.id) == [("propose", "applied")]
    assert register.world.sandbox.state.facebook.blocked("1000000000001") == set()


def test_the_register_is_read_by_supervisors_and_records_officers_only(
    register: Register,
) -> None:
    _synced(register, Platform.FACEBOOK)
    ban = register.bans("alice").propose(
        register.comment(Platform.FACEBOOK).id, "Threats.", ["THR"], _ends()
    )
    assert [row.id for row in register.bans("rita").listing()] == [ban.id]
    assert [row.id for row in register.bans("sam").listing()] == [ban.id]
    assert register.bans("quinn").listing() == []
    with pytest.raises(PermissionDenied, match="supervisors and records officers"):
        register.bans("alice").listing()
    with pytest.raises(PermissionDenied, match="neither supervises"):
        register.bans("quinn").get(ban.id)


def test_the_pending_entry_is_committed_before_the_platform_is_called(
    register: Register,
) -> None:
    _synced(register, Platform.FACEBOOK)
    ban = register.bans("alice").propose(
        register.comment(Platform.FACEBOOK).id, "Threats.", ["THR"], _ends()
    )
    seen: list[list[tuple[str, str]]] = []
    app = register.world.app("sam")
    real = app.connectors

    def watching(site: Site) -> Connector:
        inner = real(site)
        original = inner.ban_author

        def ban_author(*args: Any) -> None:
            seen.append(_entries(register, ban.id))  # another connection: committed only
            original(*args)

        inner.ban_author = ban_author  # type: ignore[method-assign,assignment]
        return inner

    service = BanService(register.world.db, app.policy, watching, "sam")
    result = service.approve(ban.id, "Agreed.")

    assert seen == [[("propose", "applied"), ("approve", "applied"), ("carry_out", "pending")]]
    assert result.ban.state is BanState.ACTIVE


def test_a_platform_failure_leaves_a_failed_outcome_and_the_ban_approved(
    register: Register,
) -> None:
    _synced(register, Platform.FACEBOOK)
    comment = register.comment(Platform.FACEBOOK)
    ban = register.bans("alice").propose(comment.id, "Threats.", ["THR"], _ends())
    register.world.sandbox.faults.add("permission", method="POST", path="/blocked")

    failed = register.bans("pat").approve(ban.id, "Agreed.")

    assert failed.ban.state is BanState.APPROVED
    assert not failed.ok
    assert "Facebook did not do it" in failed.message
    assert "lacks a permission" in failed.ban.last_detail
    assert _entries(register, ban.id)[-2:] == [("carry_out", "pending"), ("carry_out", "failed")]
    assert register.world.sandbox.state.facebook.blocked("1000000000001") == set()

    again = register.bans("pat").carry_out(ban.id)

    assert again.ban.state is BanState.ACTIVE
    assert comment.author_id in register.world.sandbox.state.facebook.blocked("1000000000001")
    with pytest.raises(NotPossible, match="Only a ban that is approved"):
        register.bans("pat").carry_out(ban.id)
    assert verify_log(register.world.db).ok


HOSTILE_NAMES = (
    '=HYPERLINK("http://evil.example","click")',
    "\u202eevil\u202c name",
    "nul\x00name",
    "<script>alert(1)</script>",
)


def test_the_export_keeps_hostile_author_names_as_text(register: Register, tmp_path: Path) -> None:
    page = register.world.sandbox.state.facebook
    post = next(p for p in RECENT_SEED.posts if p.page_id == "1000000000001")
    for name in HOSTILE_NAMES:
        page.add_comment(post.id, "Hostile.", author_name=name)
    _synced(register, Platform.FACEBOOK)
    with register.world.db.session() as session:
        hostile = session.scalars(
            select(Comment).where(Comment.text == "Hostile.").order_by(Comment.id)
        ).all()
    for comment in hostile:
        ban = register.bans("alice").propose(comment.id, "-1+1 threats", ["THR"], _ends())
        register.bans("pat").approve(ban.id, "@yes")

    target = tmp_path / "bans.csv"
    assert register.bans("rita").export_csv(target) == len(HOSTILE_NAMES)

    with target.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    names = sorted(row["author_name"] for row in rows)
    assert '\'=HYPERLINK("http://evil.example","click")' in names
    assert "\u202eevil\u202c name" in names
    assert "nul\ufffdname" in names  # PostgreSQL text holds no NUL: sync keeps U+FFFD
    assert {row["basis"] for row in rows} == {"'-1+1 threats"}
    assert {row["decision_reason"] for row in rows} == {"'@yes"}
    assert {row["state"] for row in rows} == {"active"}
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())


def test_a_cancelled_export_leaves_no_file(register: Register, tmp_path: Path) -> None:
    _synced(register, Platform.FACEBOOK)
    register.bans("alice").propose(
        register.comment(Platform.FACEBOOK).id, "Threats.", ["THR"], _ends()
    )
    folder = tmp_path / "export"
    folder.mkdir()
    assert register.bans("sam").export_csv(folder / "bans.csv", lambda done, total: False) is None
    assert list(folder.iterdir()) == []


def _first_parks_comment(world: World) -> int:
    with world.db.session() as session:
        found = session.scalar(
            select(Comment.id).where(Comment.site_id == world.parks_site).order_by(Comment.id)
        )
        assert found is not None
        return found


def test_a_step_a_crash_left_pending_is_completed_unconfirmed(
    register: Register, time_passes: Callable[[timedelta], None]
) -> None:
    _synced(register, Platform.FACEBOOK)
    ban = register.bans("alice").propose(
        register.comment(Platform.FACEBOOK).id, "Threats.", ["THR"], _ends()
    )
    decided = register.bans("sam")._decide(ban.id, BanStep.APPROVE, "Agreed.")
    assert decided.ban.state is BanState.APPROVED
    register.bans("sam")._record(ban.id, BanStep.CARRY_OUT, "")  # then the program died

    assert register.bans("sam").reconcile() == []  # younger than any interrupted call
    time_passes(INTERRUPTED)
    # A ban's step is its ban's to complete, not the moderation's reconciling (which took it
    # for a comment's action it could not complete, and stopped).
    assert register.world.app("alice").moderation.reconcile() == []
    (done,) = register.bans("sam").reconcile()

    assert done.ban.state is BanState.APPROVED
    assert not done.ban.pending
    assert "Interrupted before Facebook answered" in done.message
    assert _entries(register, ban.id)[-2:] == [
        ("carry_out", "pending"), ("carry_out", "unconfirmed"),
    ]  # fmt: skip
    again = register.bans("sam").carry_out(ban.id)
    assert again.ban.state is BanState.ACTIVE
    assert verify_log(register.world.db).ok


def test_facebook_unblocks_on_the_end_date(register: Register) -> None:
    _synced(register, Platform.FACEBOOK)
    comment = register.comment(Platform.FACEBOOK)
    ban = register.bans("alice").propose(comment.id, "Threats.", ["THR"], _ends(1))
    register.bans("pat").approve(ban.id, "Agreed.")
    page = register.world.sandbox.state.facebook
    assert page.blocked("1000000000001") == {comment.author_id}
    assert register.bans("bob").lift_due().lifted == []  # not yet

    _due_now(register, ban.id)
    due = register.bans("bob").lift_due()  # a moderator's run ends it: the date decides

    assert [(r.ban.id, r.ban.state, r.ok) for r in due.lifted] == [(ban.id, BanState.EXPIRED, True)]
    assert page.blocked("1000000000001") == set()
    assert _entries(register, ban.id)[-2:] == [("expire", "pending"), ("expire", "applied")]
