"""`hsm-console requests` as the demo's Parks records officer runs it (the demo makes the OS
account one): register, list, show, assign, extend, answer and accept; times in Chicago,
hostile text escaped, refusals in words. The service's rules are tested in
test_records_requests.py: each command here costs a process start."""

from __future__ import annotations

import json

from hsm_console.host.identity import os_username
from hsm_sandbox import SandboxServer
from tests.test_cli import Cli, cli  # noqa: F401 - the fixture

HOSTILE = '=HYPERLINK("x") <script>alert(1)</script> \u202eevil'


def test_requests_on_the_command_line(cli: Cli, sandbox: SandboxServer) -> None:  # noqa: F811
    added = cli(
        "requests", "add", "--department", "PARKS", "--requester", HOSTILE,
        "--words", "Every comment removed from the Parks Facebook page in Q3.",
        "--received", "2026-02-09T23:30", "--scope", '{"site": "Parks Facebook"}',
    ).stdout  # fmt: skip
    # Monday 23:30 in Highland: Lincoln's and Washington's Birthdays skipped.
    assert added.strip() == "Registered request 1, due Wednesday 18 February 2026."
    assigned = cli("requests", "assign", "1", os_username()).stdout
    assert assigned.strip() == "Request 1: open, due Wednesday 18 February 2026."
    late = cli("requests", "extend", "1", "--reason", "many_records", ok=False)
    assert "can no longer be extended" in late.stderr
    assert "Traceback" not in late.stderr
    assert "Request 1: answered" in cli("requests", "answer", "1", "--note", "Sent.").stdout
    shown = cli("requests", "show", "1").stdout
    assert "\u202e" not in shown
    assert "\\u202eevil" in shown
    assert "Received:  2026-02-09 23:30:00 CST" in shown
    assert f"answer by {os_username()}: Sent." in shown

    listed = json.loads(cli("requests", "list", "--json").stdout)
    assert [(r["id"], r["state"], r["urgency"]) for r in listed] == [(1, "answered", "none")]
    assert listed[0]["requester"] == HOSTILE  # kept exactly
    assert listed[0]["received_at"] == "2026-02-09 23:30:00 CST"
    # Only a draft handed over from the queue is accepted (test_records_requests.py has one).
    refused = cli("requests", "accept", "1", ok=False)
    assert "Request 1: This request cannot be accepted: it was answered." in refused.stderr
