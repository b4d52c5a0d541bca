"""The command line as a new user runs it: demo, sync, queue, act, show, log, verify-log."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from hsm_console.db.engine import Database
from hsm_console.host.identity import os_username
from hsm_sandbox import SandboxServer
from tests.cli_process import hsm

ROOT = Path(__file__).resolve().parents[1]


class Cli:
    def __init__(self, database: str, env: dict[str, str] | None = None) -> None:
        self.database = database
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}

    def __call__(
        self, *args: str, stdin: str = "", ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = hsm("--database", self.database, *args, stdin=stdin, env=self.env)
        if ok:
            assert done.returncode == 0, done.stderr + done.stdout
        return done


@pytest.fixture
def cli(tmp_path: Path, sandbox: SandboxServer) -> Cli:
    run = Cli(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    run("db", "upgrade")
    run("demo", "--sandbox-url", sandbox.url)
    return run


def test_new_user_walkthrough(cli: Cli, sandbox: SandboxServer) -> None:
    first = cli("sync")
    assert "[1/8] Highland Parks & Recreation: starting" in first.stdout
    assert "[8/8] Highland community forum: done" in first.stdout
    queue = json.loads(cli("queue", "--json", "--limit", "5000").stdout)
    assert f"Sync finished: {len(queue)} new comments from 8 sites." in first.stdout
    again = cli("sync")
    assert "Sync finished: 0 new comments from 8 sites." in again.stdout

    assert len({row["platform"] for row in queue}) == 8  # one queue from every kind of site
    assert "Highland Police Department" not in {row["site_name"] for row in queue}
    times = [row["created_at"] for row in queue]
    assert times == sorted(times, reverse=True)  # newest first
    queue = [row for row in queue if row["platform"] == "facebook"]
    listing = cli("queue").stdout
    assert "RECEIVED (Chicago)" in listing
    assert " CST " in listing or " CDT " in listing

    target = queue[0]["id"]
    acted = cli("act", str(target), "hide", "--reason", "PRF", "--note", "profanity")
    assert "Hidden on Facebook; recorded as log entry 1." in acted.stdout
    assert "#1 pending, #2 applied" in acted.stdout

    shown = cli("show", str(target)).stdout
    assert "Status:    hidden; on the platform: hidden" in shown
    assert "Retained records: 1" in shown
    assert "hide pending reason PRF" in shown
    assert "hide applied reason PRF" in shown
    assert "(outcome of #1)" in shown

    log = cli("log").stdout.splitlines()
    assert len(log) == 2
    assert f"{os_username()} hide pending reason PRF comment {target}" in log[0]

    verified = cli("verify-log")
    assert "Checked 2 log entries and 1 retained records." in verified.stdout
    assert "The action log is intact." in verified.stdout
    assert len(json.loads(cli("log", "--json").stdout)) == 2
    shown_json = json.loads(cli("show", str(target), "--json").stdout)
    assert shown_json["status"] == "hidden"
    assert [(h["state"], h["outcome_of"]) for h in shown_json["history"]] == [
        ("pending", None),
        ("applied", 1),
    ]


def test_refusals_are_plain_errors(cli: Cli) -> None:
    cli("sync")
    target = json.loads(cli("queue", "--json").stdout)[0]["id"]
    unknown = cli("act", str(target), "hide", "--reason", "XYZ", ok=False)
    assert unknown.returncode == 1
    assert "'XYZ' is not a reason code of policy 2026.2" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    no_code = cli("act", str(target), "remove", ok=False)
    assert "A reason code from the City's comment policy is required" in no_code.stderr
    missing = cli("show", "999999", ok=False)
    assert "There is no comment 999999." in missing.stderr


def test_verify_log_fails_naming_the_altered_entry(cli: Cli) -> None:
    cli("sync")
    target = json.loads(cli("queue", "--json").stdout)[0]["id"]
    cli("act", str(target), "flag", "--reason", "SPM")
    db = Database(cli.database)
    with db.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER action_log_no_update"))
        conn.execute(text("UPDATE action_log SET actor = 'someone-else' WHERE id = 1"))
    db.dispose()
    failed = cli("verify-log", ok=False)
    assert failed.returncode == 1
    assert "VERIFICATION FAILED: entry 1 was altered" in failed.stdout
    assert "First entry that does not match: 1." in failed.stdout


def test_no_environment_variable_changes_who_acts(cli: Cli) -> None:
    cli("sync")
    impostor = Cli(cli.database, {"USER": "mallory", "LOGNAME": "mallory", "USERNAME": "mallory"})
    target = json.loads(impostor("queue", "--json").stdout)[0]["id"]
    impostor("act", str(target), "flag", "--reason", "SPM")
    entries = json.loads(cli("log", "--json").stdout)
    assert {e["actor"] for e in entries} == {os_username()}
    assert "--user" not in cli("act", "--help").stdout


def test_hostile_text_cannot_steer_the_terminal(cli: Cli, sandbox: SandboxServer) -> None:
    evil = "\x1b[2J\x1b]0;pwned\x07 safe \u202eevil\u202c <b>bold</b>"
    sandbox.state.facebook.add_comment("1000000000001_122100000000000", evil)
    cli("sync")
    rows = json.loads(cli("queue", "--json").stdout)
    target = next(r["id"] for r in rows if "pwned" in r["excerpt"])
    shown = cli("show", str(target)).stdout
    assert "\x1b" not in shown
    assert "\u202e" not in shown
    assert "\\x1b[2J\\x1b]0;pwned\\x07 safe \\u202eevil\\u202c <b>bold</b>" in shown
    raw_json = cli("show", str(target), "--json").stdout
    assert raw_json.isascii()
    assert json.loads(raw_json)["text"] == evil


def test_sync_reports_a_failing_site_and_exits_1(cli: Cli, sandbox: SandboxServer) -> None:
    from hsm_sandbox import FaultKind

    sandbox.faults.add(FaultKind.REVOKED_TOKEN, times=None)
    failed = cli("sync", ok=False)
    assert failed.returncode == 1
    assert "Highland Parks & Recreation FAILED: The Facebook token" in failed.stdout
    assert "sandbox-demo-token" not in failed.stdout + failed.stderr


def test_platforms_shows_the_capability_map(tmp_path: Path) -> None:
    run = Cli(f"sqlite:///{tmp_path / 'caps.sqlite3'}")
    caps = {row["platform"]: row for row in json.loads(run("platforms", "--json").stdout)}
    assert set(caps) == {
        "Facebook", "Instagram", "X", "YouTube", "TikTok", "LinkedIn", "WordPress", "Discourse"
    }  # fmt: skip
    assert "remove" not in caps["X"]["actions"]
    assert "remove" not in caps["TikTok"]["actions"]
    assert "hide" not in caps["LinkedIn"]["actions"]
    assert caps["YouTube"]["daily_quota"] == 10_000
    assert caps["YouTube"]["action_cost"] == 50
    text = run("platforms").stdout
    assert "X: flag, hide, unhide, keep" in text
    assert "Hide the reply instead" in text


def test_log_filters_and_exports_the_supervisors_view(cli: Cli, tmp_path: Path) -> None:
    cli("sync")
    first, second = (row["id"] for row in json.loads(cli("queue", "--json").stdout)[:2])
    cli("act", str(first), "flag", "--reason", "SPM")
    cli("act", str(second), "keep")
    flags = cli("log", "--action", "flag", "--state", "pending").stdout.splitlines()
    assert len(flags) == 1
    assert f"flag pending reason SPM comment {first}" in flags[0]
    assert "no entries you may read" in cli("log", "--search", "zzqqxx-nothing").stdout
    exported = cli("log", "--export", str(tmp_path / "view.jsonl"), "--reason", "SPM")
    assert "Exported 2 log entries" in exported.stdout
    lines = (tmp_path / "view.jsonl").read_text().splitlines()
    assert [json.loads(line)["state"] for line in lines] == ["applied", "pending"]
    refused = cli("log", "--department", "POLICE", ok=False)
    assert "'POLICE' is not a department" in refused.stderr
    assert "yours: PARKS" in refused.stderr
    wrong = cli("log", "--export", str(tmp_path / "view.xlsx"), ok=False)
    assert "Export to a .csv or a .jsonl file" in wrong.stderr
    assert not (tmp_path / "view.xlsx").exists()
    bad_day = cli("log", "--from", "yesterday", ok=False)
    assert "'yesterday' is not a day as YYYY-MM-DD" in bad_day.stderr


def test_dashboard_prints_the_figures_and_json(cli: Cli) -> None:
    cli("sync")
    queue = json.loads(cli("queue", "--json", "--limit", "5000").stdout)
    first, second = [row["id"] for row in queue if row["platform"] == "facebook"][:2]
    cli("act", str(first), "hide", "--reason", "OFT")
    cli("act", str(second), "flag", "--reason", "SPM")
    tables = {t["name"]: t for t in json.loads(cli("dashboard", "--json").stdout)}
    [week] = tables["by_reason"]["rows"]
    assert dict(zip(tables["by_reason"]["columns"], week, strict=True)) == {
        "Week of": week[0], "OFT": 1, "SPM": 1, "Total": 2,
    }  # fmt: skip
    assert tables["judgement"]["rows"] == [[week[0], 1, 1, 100.0]]
    suggested = next(row for row in queue if len(row["suggestions"]) > 1)
    assert suggested["suggested_code"] == suggested["suggestions"][0]["code"]
    shown = json.loads(cli("show", str(suggested["id"]), "--json").stdout)
    assert [s["code"] for s in shown["suggestions"]] == [
        s["code"] for s in suggested["suggestions"]
    ]
    assert all(s["matches"] for s in shown["suggestions"])
    assert f"Suggestion {suggested['suggested_code']}: " in cli("show", str(suggested["id"])).stdout
    agreement = tables["suggestions"]  # suggestions against decisions, per code
    assert agreement["columns"][:2] == ["Code", "Suggested"]
    assert {row[0] for row in agreement["rows"]} >= {"PII", "PRF"}
    text = cli("dashboard", "--reason", "SPM").stdout
    assert "Actions per week by reason code" in text
    assert "Suggestions against decisions, per code" in text
    assert "SPM  Total" in text
    assert "OFT" not in text
    refused = cli("dashboard", "--department", "POLICE", ok=False)
    assert "'POLICE' is not a department" in refused.stderr
    assert "--state" in cli("dashboard", "--state", "failed", ok=False).stderr


def test_a_database_that_cannot_be_reached_is_said_in_plain_words() -> None:
    """No traceback: what went wrong and where to look (port 1 refuses at once)."""
    done = Cli("postgresql://clerk:s3cret-pw@127.0.0.1:1/hsm")("db", "upgrade", ok=False)
    assert done.returncode == 1
    assert done.stderr.startswith("hsm-console: the database could not be reached (")
    assert "Traceback" not in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout
    assert "deployment.md" in done.stderr
