"""`hsm-console bans` as the demo's Parks moderator and supervisor runs it, with dana, another
Parks supervisor, deciding what they propose."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from hsm_console.app import App
from hsm_console.db.models import Ban, utcnow
from hsm_console.rules.bans import city_today
from hsm_console.rules.policy import load_policy
from hsm_sandbox import SandboxServer
from tests.conftest import FAST_NETWORK, RECENT_SEED
from tests.test_cli import Cli, cli  # noqa: F401 - the fixture
from tests.test_cli_review import _colleagues


def test_propose_decide_list_export_and_lift(
    cli: Cli,  # noqa: F811
    sandbox: SandboxServer,
    tmp_path: Path,
) -> None:
    page = sandbox.state.facebook
    post = next(p for p in RECENT_SEED.posts if p.page_id == "1000000000001")
    page.add_comment(post.id, "Hostile.", author_name="\u202eevil =1+1")
    cli("sync", "--site", "Highland Parks & Recreation")  # the Facebook Page alone: quick
    queue = json.loads(cli("queue", "--json", "--limit", "500").stdout)
    hostile = next(r["id"] for r in queue if r["excerpt"] == "Hostile.")
    until = (city_today(utcnow()) + timedelta(days=20)).isoformat()

    no_end = cli("bans", "propose", str(hostile), "--basis", "Threats.", "--code", "THR", ok=False)
    assert "--until" in no_end.stderr
    proposed = cli(
        "bans", "propose", str(hostile), "--basis", "Threats.", "--code", "THR", "--until", until
    ).stdout
    assert "Proposed ban 1 of \\u202eevil =1+1" in proposed
    own = cli("bans", "approve", "1", "--reason", "Mine.", ok=False)
    assert "another supervisor decides it" in own.stderr
    assert "Traceback" not in own.stderr

    dana = App(
        db=_colleagues(cli.database), policy=load_policy(), username="dana",
        connector_overrides=FAST_NETWORK,
    )  # fmt: skip
    assert dana.bans.approve(1, "Threats against staff.").ban.state.value == "active"

    listed = cli("bans", "list").stdout
    assert "#1 active: \\u202eevil =1+1 on Highland Parks & Recreation (Facebook), THR" in listed
    assert "\u202e" not in listed
    shown = json.loads(cli("bans", "show", "1", "--json").stdout)
    assert shown["author_name"] == "\u202eevil =1+1"
    assert shown["decided_by"] == "dana"
    target = tmp_path / "register.csv"
    assert "Wrote 1 ban(s)" in cli("bans", "export", str(target)).stdout
    with target.open(encoding="utf-8", newline="") as stream:
        (row,) = csv.DictReader(stream)
    assert row["author_name"] == "\u202eevil =1+1"
    assert row["state"] == "active"

    assert "No ban's end date has come." in cli("bans", "lift-due").stdout
    with dana.db.transaction() as session:  # time passes: the end is now behind us
        session.execute(update(Ban).values(ends_at=utcnow() - timedelta(minutes=1)))
    synced = cli("sync", "--site", "Highland Parks & Recreation").stdout
    assert "1 ban(s) whose end date came lifted" in synced
    assert "ended on its date" in cli("bans", "list").stdout
    refused = cli("bans", "lift", "1", "--reason", "Apologised.", ok=False)
    assert "Ban 1: ended on its date. Only a ban that is active can be ended" in refused.stderr
    assert "The action log is intact." in cli("verify-log").stdout
