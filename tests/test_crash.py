"""A crash between the record and the platform call loses nothing: reconciliation completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hsm_console.connectors.base import Connector
from hsm_console.db.models import Comment, LogEntry, Site
from hsm_console.errors import ConcurrentAction, ConfigurationError
from hsm_console.rules.domain import Action
from hsm_console.services.moderation import INTERRUPTED
from hsm_console.services.verify import verify_log
from tests.conftest import World

HELPER = Path(__file__).with_name("crash_midway.py")
ROOT = Path(__file__).resolve().parents[1]


def crash(world: World, comment_id: int, when: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.run(
        [sys.executable, str(HELPER), str(world.db.url.render_as_string(hide_password=False)),
         str(comment_id), when],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr


def first_parks_comment(world: World) -> Comment:
    with world.db.session() as session:
        return session.scalars(
            select(Comment).where(Comment.site_id == world.parks_site).order_by(Comment.id)
        ).first()  # type: ignore[return-value]


def log_of(world: World, comment_id: int) -> list[LogEntry]:
    with world.db.session() as session:
        query = select(LogEntry).where(LogEntry.comment_id == comment_id).order_by(LogEntry.id)
        return list(session.scalars(query))


@pytest.mark.parametrize(
    ("when", "state", "platform_hidden", "status"),
    [
        ("before-platform", "failed", False, "new"),
        ("after-platform", "applied", True, "hidden"),
    ],
)
def test_killed_between_record_and_outcome(
    synced: World,
    time_passes: Callable[[timedelta], None],
    when: str,
    state: str,
    platform_hidden: bool,
    status: str,
) -> None:
    comment = first_parks_comment(synced)
    crash(synced, comment.id, when)

    # What the crash left: the record and the pending entry, committed; no outcome yet.
    entries = log_of(synced, comment.id)
    assert [e.state for e in entries] == ["pending"]
    with synced.db.session() as session:
        stuck = session.get(Comment, comment.id)
        assert stuck is not None
        assert stuck.pending_entry_id == entries[0].id
    assert synced.sandbox.state.facebook.is_hidden(comment.external_id) is platform_hidden

    # Nobody can act on it while its outcome is unknown; nothing is sent.
    with pytest.raises(ConcurrentAction, match=r"Alice Moderator \(alice\) is acting"):
        synced.app("bob").moderation.act(comment.id, Action.REMOVE, "PRF")

    # A sync right after leaves it: for all it can tell, the call may still be running.
    assert sum(r.reconciled for r in synced.app("alice").sync.sync()) == 0
    assert [e.state for e in log_of(synced, comment.id)] == ["pending"]

    # Once no attempt can still be running, the next sync reconciles from the platform.
    time_passes(INTERRUPTED)
    results = synced.app("alice").sync.sync()
    assert sum(r.reconciled for r in results) == 1
    entries = log_of(synced, comment.id)
    assert [e.state for e in entries] == ["pending", state]
    assert entries[1].outcome_of == entries[0].id
    assert "reconciliation" in entries[1].detail
    with synced.db.session() as session:
        after = session.get(Comment, comment.id)
        assert after is not None
        assert (after.status, after.pending_entry_id) == (status, None)
    assert verify_log(synced.db).ok


@pytest.mark.expected_log("reconcile: cannot read")
def test_reconcile_leaves_pending_when_the_platform_cannot_be_asked(
    synced: World, time_passes: Callable[[timedelta], None]
) -> None:
    comment = first_parks_comment(synced)
    crash(synced, comment.id, "before-platform")
    time_passes(INTERRUPTED)
    from hsm_sandbox import FaultKind

    synced.sandbox.faults.add(FaultKind.SERVER_ERROR, method="GET", times=None)
    assert synced.app("alice").moderation.reconcile() == []
    assert [e.state for e in log_of(synced, comment.id)] == ["pending"]
    synced.sandbox.faults.clear()
    assert [r.state.value for r in synced.app("alice").moderation.reconcile()] == ["failed"]


def test_reconcile_touches_only_the_actors_departments(
    synced: World, time_passes: Callable[[timedelta], None]
) -> None:
    comment = first_parks_comment(synced)
    crash(synced, comment.id, "after-platform")
    time_passes(INTERRUPTED)
    assert synced.app("carol").moderation.reconcile() == []  # Police moderator
    assert [e.state for e in log_of(synced, comment.id)] == ["pending"]


@pytest.mark.expected_log("reconcile: cannot open connector")
def test_a_site_that_cannot_be_opened_is_tried_once_per_reconciliation(
    synced: World, time_passes: Callable[[timedelta], None], caplog: pytest.LogCaptureFixture
) -> None:
    alice = synced.app("alice").moderation
    with synced.db.session() as session:
        comments = session.scalars(
            select(Comment.id).where(Comment.site_id == synced.parks_site).limit(3)
        ).all()
    for comment_id in comments:  # steps 1-2 only: three actions left pending
        alice._record(comment_id, Action.HIDE, "SPM", "", None)
    time_passes(INTERRUPTED)
    asked: list[int] = []

    def not_connected(site: Site) -> Connector:
        asked.append(site.id)
        raise ConfigurationError(f"The site {site.name!r} is not connected on this computer.")

    alice.connectors = not_connected
    assert alice.reconcile() == []
    assert asked == [synced.parks_site]
    said = [r for r in caplog.records if "cannot open connector" in r.getMessage()]
    assert len(said) == 1
    assert {e.state for c in comments for e in log_of(synced, c)} == {"pending"}
