"""`retention`, `hold` and `disposal` on the command line, as the City Clerk's office runs them
(the demo's OS account made a records officer of every department). In-process: the
subprocess walkthroughs of test_cli.py already prove the entry point, and each costs seconds."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from _pytest.capture import CaptureResult

from hsm_console.cli.main import main
from hsm_console.db.engine import Database
from hsm_console.host.identity import os_username
from hsm_console.rules.domain import Role
from hsm_console.services import admin
from hsm_console.services.retention import city_today
from tests.test_cli import Cli, cli  # noqa: F401 - the fixture


@pytest.mark.expected_log("Refused:")
def test_classes_worksheet_holds_and_certificates(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def run(*args: str, ok: bool = True) -> CaptureResult[str]:
        code = main(["--database", cli.database, *args])
        done = capsys.readouterr()
        assert (code == 0) is ok, done.err + done.out
        return done

    refused = run("hold", "list", ok=False)
    assert "Only a records officer may see legal holds" in refused.err
    assert "Traceback" not in refused.err
    db = Database(cli.database)
    with db.transaction() as session:
        person = admin.ensure_person(session, os_username(), "Clerk")
        admin.grant(session, person, Role.RECORDS_OFFICER, None)
    db.dispose()

    classes = json.loads(run("retention", "classes", "--json").out)
    assert {c["record_class"]: c["years"] for c in classes}["action_log"] is None
    # The demo's comments are recent: nothing is past retention yet.
    assert "Nothing in your departments is past retention" in run("retention", "worksheet").out
    sheet = tmp_path / "sheet.csv"
    run("retention", "worksheet", "--csv", str(sheet))
    assert sheet.read_text(encoding="utf-8").startswith("Department,Record series,")

    placed = run("hold", "place", "--department", "parks", "--author", "u-1",
                 "--reason", "Notice of claim \u202e<b>x</b>").out  # fmt: skip
    assert placed.startswith("Placed legal hold 1")
    listed = run("hold", "list").out
    assert "#1 PARKS: author u-1; in force" in listed
    assert "\\u202e<b>x</b>" in listed  # shown escaped
    run("hold", "lift", "1", "--reason", "Claim withdrawn")
    assert "; lifted" in run("hold", "list", "--all").out

    today = city_today()
    none = run("disposal", "dispose", "LRC-1", "--yes", ok=False)
    assert "No approved disposal certificate 'LRC-1' is recorded" in none.err
    run("disposal", "certify", "LRC-1", "--notice-given-on", str(today - timedelta(days=10)),
        "--approved-on", str(today), "--covers", f"comments:2020-01-01:{today}")  # fmt: skip
    early = run("disposal", "dispose", "LRC-1", "--yes", ok=False)
    assert f"allows disposal from {today + timedelta(days=20)}" in early.err
    certificates = json.loads(run("disposal", "list", "--json").out)
    assert [(c["number"], c["disposed"]) for c in certificates] == [("LRC-1", 0)]
    wrong = run("disposal", "certify", "X", "--notice-given-on", "2026-01-01", "--approved-on",
                "2026-01-02", "--covers", "action_log:2020-01-01:2020-12-31", ok=False)  # fmt: skip
    assert "action_log is not a class of record disposed of through the console" in wrong.err
