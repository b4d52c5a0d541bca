"""`review`, `reverse`, `note`, `notice` and `appeal` on the command line, as a supervisor of
the demo's Parks department runs them (the demo makes the OS account one)."""

from __future__ import annotations

import json

from hsm_console.app import App
from hsm_console.db.engine import Database
from hsm_console.rules.domain import Action, Role
from hsm_console.rules.policy import load_policy
from hsm_console.services import admin
from hsm_sandbox import SandboxServer
from tests.conftest import FAST_NETWORK
from tests.test_cli import Cli, cli  # noqa: F401 - the fixture


def _colleagues(database: str) -> Database:
    """alice moderates Parks, dana supervises it (beside the demo's own account)."""
    db = Database(database)
    with db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        alice = admin.ensure_person(session, "alice", "Alice Moderator")
        admin.grant(session, alice, Role.MODERATOR, parks)
        dana = admin.ensure_person(session, "dana", "Dana Director")
        admin.grant(session, dana, Role.SUPERVISOR, parks)
    return db


def test_review_question_reverse_note_notice_and_appeal(cli: Cli, sandbox: SandboxServer) -> None:  # noqa: F811
    cli("sync")
    queue = [r for r in json.loads(cli("queue", "--json").stdout) if r["platform"] == "facebook"]
    theirs, mine = queue[0]["id"], queue[1]["id"]
    db = _colleagues(cli.database)
    alice = App(db=db, policy=load_policy(), username="alice", connector_overrides=FAST_NETWORK)
    hidden = alice.moderation.act(theirs, Action.HIDE, "OFT", "nothing about the pool")
    assert hidden.ok, hidden.message
    entry = str(hidden.pending_entry_id)

    waiting = json.loads(cli("review", "list", "--json").stdout)
    assert [(w["entry_id"], w["state"], w["moderator"]) for w in waiting] == [
        (hidden.pending_entry_id, "needs_review", "alice")
    ]
    shown = cli("review", entry).stdout
    assert "The objective test: The comment is unrelated to the post when" in shown
    assert "review: Needs review" in shown
    refused = cli("review", entry, "--question", ok=False)
    assert "A note saying why the action is questioned is required" in refused.stderr
    cli("review", entry, "--question", "--note", "It asks about the pool's hours.")
    assert "No action waits for review" in cli("review", "list").stdout
    questioned = cli("log", "--review-state", "questioned").stdout.splitlines()
    assert len(questioned) == 1
    assert f"hide pending reason OFT comment {theirs}" in questioned[0]
    bad = cli("log", "--review-state", "maybe", ok=False)
    assert "--review-state is one of" in bad.stderr
    reversed_ = cli("reverse", entry, "--reason", "On topic.").stdout
    assert "Unhidden on Facebook" in reversed_

    cli("act", str(mine), "hide", "--reason", "OFT")
    own = json.loads(cli("review", "list", "--json").stdout)[0]["entry_id"]
    self_review = cli("review", str(own), "--concur", ok=False)
    assert "never reviews their own action" in self_review.stderr
    assert "Traceback" not in self_review.stderr

    cli("note", str(mine), "<script>alert(1)</script>\u202eevil")
    notes = json.loads(cli("note", str(mine), "--json").stdout)
    assert [n["text"] for n in notes] == ["<script>alert(1)</script>\u202eevil"]
    assert "\u202e" not in cli("show", str(mine)).stdout  # shown escaped
    assert "\\u202eevil" in cli("note", str(mine)).stdout

    draft = cli("notice", str(own)).stdout
    assert "Off-topic (OFT), under Section 5.1(k)" in draft
    sent = cli("notice", str(own), "--sent", "email", "--at", "2026-11-30T09:00-06:00").stdout
    assert "Recorded the notice sent by email" in sent

    appealed = cli("appeal", "record", str(own), "--text", "I was on topic", "--channel", "email")
    assert "for dana to decide" in appealed.stdout  # never the moderator who acted
    appeal_id = json.loads(cli("appeal", "list", "--open", "--json").stdout)[0]["entry_id"]
    mine_to_decide = cli("appeal", "decide", str(appeal_id), "--uphold", "--note", "x", ok=False)
    assert "another supervisor decides the appeal" in mine_to_decide.stderr
    assert "No appeal waits" not in cli("appeal", "list", "--open").stdout
    verified = cli("verify-log")
    assert "The action log is intact." in verified.stdout
    db.dispose()
