"""A package's CSV and JSONL are the same bytes for the same data, on SQLite and PostgreSQL,
whatever reads and writes them: a fixed world (ids, times, hashes, hostile text) is exported
and held byte for byte against the files in tests/package_golden/, written by the package
as it read its rows through SQLAlchemy's types (before session 19 read them through the
driver). A change that alters them changes what a records request is answered with:
docs/design.md, "Search and export packages"."""

from __future__ import annotations

import difflib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from hsm_console.db.chain import append_entry, record_hash
from hsm_console.db.engine import Database
from hsm_console.db.models import Comment, CommentVersion, Post, RecordsRequest, RetainedRecord
from hsm_console.rules.domain import Platform, Role
from hsm_console.rules.records_query import RecordsQuery
from hsm_console.services import admin, records_package
from hsm_console.services.package_check import verify_package
from hsm_console.services.records_package import CSV_FILE, JSONL_FILE, PackageExporter

GOLDEN = Path(__file__).parent / "package_golden"
HOSTILE = (
    '=HYPERLINK("http://x.test","go") <b>b</b> \u202eevil\u202c \x1b[31mred\x1b[0m 中文 '
    '\U0001f600 שלום "quoted", comma\r\nnext line\ttab \\ back'
)
# Around the City's clock change (2 AM CST became 3 AM CDT at 08:00 UTC), and microseconds.
BEFORE_CHANGE = datetime(2026, 3, 8, 7, 30, 5, tzinfo=UTC)
AFTER_CHANGE = datetime(2026, 3, 8, 8, 30, 5, 123456, tzinfo=UTC)
LATER = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)


def _world(db: Database) -> int:
    """The fixed world; returns its request's id."""
    with db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        police = admin.ensure_department(session, "POLICE", "Police")
        sites = [
            admin.ensure_site(
                session, department, Platform.FACEBOOK, name, page, "https://graph.test", {}
            )
            for department, name, page in (
                (parks, '=Parks, "Rec"', "p1"), (police, "Police", "p2"),
            )
        ]  # fmt: skip
        rita = admin.ensure_person(session, "rita", "Rita Records")
        admin.grant(session, rita, Role.RECORDS_OFFICER, parks)
        for site in sites:
            session.add(
                Post(
                    id=site.id, site_id=site.id, external_id=f"post-{site.id}",
                    text="Pool hours — ¿abierto?", permalink=f"https://fb.test/p/{site.id}",
                    created_at=BEFORE_CHANGE, fetched_at=BEFORE_CHANGE,
                    raw={"id": f"post-{site.id}", "é": [1, 2.5, True, None]},
                )
            )  # fmt: skip
        session.flush()
        comments: list[Comment] = []
        for number, (site, text, author) in enumerate(
            [
                (sites[0], "The fountain is broken", "Quinn Public"),
                (sites[0], HOSTILE, "-Evil <b>Author</b>"),
                (sites[0], "+a reply", "@someone"),
                (sites[1], "Not in the search", "Other"),
            ],
            start=1,
        ):
            comment = Comment(
                id=number, site_id=site.id, post_id=site.id,
                parent_id=1 if number == 3 else None, external_id=f"c-{number}",
                author_id=f"a-{number}", author_name=author, text=text,
                created_at=AFTER_CHANGE if number == 2 else BEFORE_CHANGE,
                permalink=f"https://fb.test/c/{number}",
                attachments=["https://fb.test/img/1.png"] if number == 2 else [],
                raw={"message": text, "nested": {"ü": "\x00\u2028", "n": -1.5e-7}},
                fetched_at=AFTER_CHANGE, platform_state="visible", status="hidden",
                version=2, pending_entry_id=None, last_actor="alice",
                last_action_at=LATER, suggested_code="PRF", suggestion_why="=SUM(A1)",
                edited_at=LATER if number == 1 else None, gone_seen_at=None,
            )  # fmt: skip
            session.add(comment)
            comments.append(comment)
        session.flush()
        session.add(
            CommentVersion(
                id=1, comment_id=1, author_name="Quinn Public", text="The fountain was broken",
                raw={"v": 1}, edited_at=None, replaced_seen_at=AFTER_CHANGE,
            )
        )  # fmt: skip
        for number, comment in enumerate(comments, start=1):
            values: dict[str, Any] = {
                "comment_id": comment.id, "captured_at": LATER, "captured_by": "alice",
                "site_id": comment.site_id, "platform": Platform.FACEBOOK.value,
                "comment_external_id": comment.external_id,
                "parent_external_id": "c-1" if comment.parent_id else None,
                "post_external_id": f"post-{comment.site_id}",
                "post_text": "Pool hours — ¿abierto?",
                "post_permalink": f"https://fb.test/p/{comment.site_id}",
                "author_id": comment.author_id, "author_name": comment.author_name,
                "text": comment.text, "created_at": comment.created_at,
                "permalink": comment.permalink, "attachments": list(comment.attachments),
                "raw": comment.raw,
            }  # fmt: skip
            session.add(RetainedRecord(id=number, **values, sha256=record_hash(values)))
            session.flush()
            pending = append_entry(
                session, at=LATER, actor="alice", state="pending", action="hide",
                comment_id=comment.id, site_id=comment.site_id,
                department_id=sites[0].department_id if number < 4 else police.id,
                record_id=number, record_sha256=record_hash(values), reason_code="PRF",
                policy_version="2026.1", note="-1 =cmd|' /C calc'!A0" if number == 2 else "",
            )  # fmt: skip
            append_entry(
                session, at=LATER, actor="alice", state="applied", action="hide",
                comment_id=comment.id, site_id=comment.site_id,
                department_id=pending.department_id, record_id=number,
                record_sha256=record_hash(values), reason_code="PRF",
                policy_version="2026.1", outcome_of=pending.id, detail="@done\u202e",
                second_review=number == 1,
            )  # fmt: skip
        request = RecordsRequest(
            id=7, department_id=parks.id, received_at=LATER, requester="Jo <jo@example.test>",
            words="Everything", scope={"departments": ["PARKS"]}, due_on=date(2026, 3, 20),
            extended_to=None, extension_reason="", state="open", handler="rita",
            comment_id=None, handed_over_at=None,
        )  # fmt: skip
        session.add(request)
        return 7


@pytest.mark.parametrize("batch", [1000, 2])  # one read, and comments across reads
def test_the_csv_and_jsonl_are_the_same_bytes_for_the_same_data(
    db: Database, tmp_path: Path, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records_package, "BATCH", batch)
    request = _world(db)
    out = tmp_path / "package"
    result = PackageExporter(db, "rita").export(request, out, query=RecordsQuery())
    assert result.counts.comments == 3  # the Police comment is outside rita's department
    check = verify_package(out)
    assert check.ok, check.problems
    for name in (CSV_FILE, JSONL_FILE):
        made, expected = (out / name).read_bytes(), (GOLDEN / name).read_bytes()
        if made != expected:
            changes = difflib.unified_diff(
                expected.decode("utf-8").splitlines(), made.decode("utf-8").splitlines(),
                "expected", "made", lineterm="", n=0,
            )  # fmt: skip
            pytest.fail(f"{name} changed:\n" + "\n".join(changes))
