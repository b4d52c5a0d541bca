"""`records search`, `records export` and `verify-package` on the command line, as the demo's
account runs them once it is also the Parks records officer."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from hsm_console.app import current_username
from hsm_console.db.engine import Database
from hsm_console.db.models import RecordsRequest
from hsm_console.rules.domain import Role
from hsm_console.services import admin
from hsm_console.services.records_package import JSONL_FILE, MANIFEST
from tests.test_cli import Cli, cli  # noqa: F401 - the fixture


def _records_officer(database: str) -> int:
    """The demo's account keeps the Parks records; returns a Parks request's id."""
    db = Database(database)
    try:
        with db.transaction() as session:
            parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
            me = admin.ensure_person(session, current_username(db))
            admin.grant(session, me, Role.RECORDS_OFFICER, parks)
            request = RecordsRequest(
                department_id=parks.id, received_at=datetime(2026, 11, 30, 15, tzinfo=UTC),
                requester="A. Reporter", words="Every hidden comment on Parks Facebook",
                scope={"departments": ["PARKS"], "platforms": ["facebook"], "actions": ["hide"]},
                due_on=date(2026, 12, 7), extended_to=None, extension_reason="", state="open",
                handler=None, comment_id=None, handed_over_at=None,
            )  # fmt: skip
            session.add(request)
            session.flush()
            return request.id
    finally:
        db.dispose()


def test_search_export_and_verify_a_package(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    cli("sync")
    queue = [r for r in json.loads(cli("queue", "--json").stdout) if r["platform"] == "facebook"]
    cli("act", str(queue[0]["id"]), "hide", "--reason", "OFT")
    request = str(_records_officer(cli.database))

    found = json.loads(cli("records", "search", "--request", request, "--json").stdout)
    assert found["counts"]["comments"] == 1
    assert [hit["comment_id"] for hit in found["hits"]] == [queue[0]["id"]]
    listing = cli("records", "search", "--department", "PARKS", "--reason", "OFT").stdout
    assert listing.startswith("Found 1 comment(s), 1 retained record(s), 0 earlier version(s), 2")
    refused = cli("records", "search", "--department", "POLICE", ok=False)
    assert "does not keep the records of department 'POLICE'" in refused.stderr

    folder = tmp_path / "exports" / "request"
    folder.parent.mkdir()
    written = cli("records", "export", request, "--out", str(folder)).stdout
    assert f"Package of request {request} written to {folder}: 1 comment(s)" in written
    assert "logged as entry" in written
    verified = cli("verify-package", str(folder))
    assert "verified: every file is as its manifest lists it, and its 2 log entries" in (
        verified.stdout
    )

    manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    manifest["counts"]["comments"] = 0
    (folder / MANIFEST).write_text(json.dumps(manifest))
    (folder / JSONL_FILE).write_bytes((folder / JSONL_FILE).read_bytes().replace(b"OFT", b"SPM"))
    failed = cli("verify-package", str(folder), ok=False)
    assert failed.returncode == 1
    assert f"{JSONL_FILE}: altered" in failed.stdout
    assert "the manifest says 0" in failed.stdout
    missing = cli("verify-package", str(tmp_path / "nothing-here"), ok=False)
    assert "There is no package at" in missing.stderr
