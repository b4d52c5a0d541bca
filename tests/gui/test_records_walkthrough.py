"""Issue 10's "Done when", tried as a records officer would, in the demo: a colleague removes
Parks Facebook comments; the demo's person (who keeps Parks' records) registers the question
"every comment removed from the Parks Facebook page this quarter, with the reasons and the
original text", searches, exports the package and has it verified by `verify-package` in a
process of its own; then a disposal is refused without a certificate and carried out with
one. Only through the widgets, but for the two commands and the date moved past retention.
"""

from __future__ import annotations

import json
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QComboBox, QMessageBox, QPlainTextEdit
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from hsm_console.db.models import Comment, Department, Site
from hsm_console.gui.records_screen import NewRequestDialog
from hsm_console.gui.records_search import RecordsSearchDialog
from hsm_console.gui.start import Console
from hsm_console.rules.domain import Action, Role
from hsm_console.rules.records_query import DateBasis
from hsm_console.services.admin import ensure_person, grant
from hsm_console.services.moderation import ModerationService
from hsm_console.services.retention import city_today
from hsm_console.services.verify import verify_log
from tests.cli_process import hsm
from tests.gui.helpers import WAIT_MS
from tests.gui.test_records_screen import answer_dialog, select_request

ROOT = Path(__file__).resolve().parents[2]
PARKS_FACEBOOK = "Highland Parks & Recreation"
QUESTION = (
    "Every comment removed from the Parks Facebook page this quarter, with the reasons and "
    "the original text."
)


def colleague_removes(console: Console) -> list[int]:
    """jordan, a Parks moderator, removes two Parks Facebook comments and hides a third."""
    app = console.window.app
    with app.db.transaction() as session:
        jordan = ensure_person(session, "jordan", "Jordan Parks Moderator")
        parks = session.scalar(select(Department).where(Department.code == "PARKS"))
        assert parks is not None
        grant(session, jordan, Role.MODERATOR, parks)
        facebook = list(
            session.scalars(
                select(Comment.id)
                .join(Site, Comment.site_id == Site.id)
                .where(
                    Site.name == PARKS_FACEBOOK,
                    Comment.status == "new",
                    Comment.parent_id.is_(None),
                )
                .order_by(Comment.id)
                .limit(3)
            )
        )
    moderation = ModerationService(app.db, app.policy, app.connectors, "jordan")
    removed = [
        moderation.act(facebook[0], Action.REMOVE, "SPM", "an advert"),
        moderation.act(facebook[1], Action.REMOVE, "PRF", "obscene words"),
    ]
    assert moderation.act(facebook[2], Action.HIDE, "OFT", "not about the post").ok
    assert all(r.ok for r in removed)
    return facebook[:2]


def choose(combo: QComboBox, value: Any) -> None:
    """Pick the item whose data is `value` (a set of one, as the search form keeps them)."""
    wanted = frozenset({value}) if isinstance(value, str | int) else value
    index = next(i for i in range(combo.count()) if combo.itemData(i) == wanted)
    combo.setCurrentIndex(index)


def quarter_of(day: date) -> tuple[date, date]:
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    after = date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    return first, after - timedelta(days=1)


def command(*args: str, database: str | None = None) -> subprocess.CompletedProcess[str]:
    prefix = ["--database", database] if database else []
    return hsm(*prefix, *args)


def test_a_records_officer_answers_the_parks_facebook_question_and_disposes_lawfully(
    qtbot: QtBot, demo: Console, tmp_path: Path
) -> None:
    window = demo.window
    removed = colleague_removes(demo)

    # 1. The Records tab: register the request as the Herald sent it.
    screen = window.show_records()
    assert screen is not None

    def new(dialog: object) -> None:
        assert isinstance(dialog, NewRequestDialog)
        dialog.requester.setText("Highland Herald, city desk")
        dialog.words.setPlainText(QUESTION)
        dialog.department.setCurrentIndex(dialog.department.findText("PARKS"))

    # The tab is built as it is first shown: its button waits for the register's departments.
    qtbot.waitUntil(screen.new_button.isEnabled, timeout=WAIT_MS)
    answer_dialog(new)
    screen.new_button.click()
    qtbot.waitUntil(lambda: any(r.words == QUESTION for r in screen.rows), timeout=WAIT_MS)
    request = next(r for r in screen.rows if r.words == QUESTION)
    assert request.state == "open"
    select_request(qtbot, screen, request.id)

    # 2. Search and export…: the site, the action, this quarter by the action's day.
    screen.search_button.click()
    (dialog,) = window.findChildren(RecordsSearchDialog)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    choose(dialog.site, next(
        dialog.site.itemData(i) for i in range(dialog.site.count())
        if dialog.site.itemText(i).startswith(PARKS_FACEBOOK)
    ))  # fmt: skip
    choose(dialog.action, Action.REMOVE.value)
    dialog.dated.setCurrentIndex(dialog.dated.findData(DateBasis.ACTED))
    first, last = quarter_of(city_today())
    dialog.on_from.setDate(QDate(first.year, first.month, first.day))
    dialog.on_to.setDate(QDate(last.year, last.month, last.day))
    dialog.search_button.click()
    qtbot.waitUntil(lambda: dialog.found is not None and not dialog.busy, timeout=WAIT_MS)
    found = dialog.found
    assert found is not None
    assert dialog.counted is not None  # the counts, a second job after the window
    assert dialog.counted.comments == 2  # the hide and every other site are left out
    assert sorted(hit.comment_id for hit in found.hits) == sorted(removed)
    assert dialog.counts.text().startswith("Found 2 comment(s), 2 retained record(s)")

    package = tmp_path / "herald-request"
    dialog.export_to(package)
    qtbot.waitUntil(lambda: dialog.exported is not None, timeout=WAIT_MS)
    assert sorted(p.name for p in package.iterdir()) == [
        "manifest.json", "package.pdf", "records.csv", "records.jsonl",
    ]  # fmt: skip
    lines = [json.loads(line) for line in (package / "records.jsonl").read_text().splitlines()]
    reasons = {e["reason_code"] for e in lines if e["type"] == "entry" and e["action"] == "remove"}
    assert reasons == {"SPM", "PRF"}
    originals = {r["comment_id"]: r["text"] for r in lines if r["type"] == "record"}
    assert set(originals) == set(removed)
    assert all(originals.values())  # the original text, as retained before the removal
    dialog.close()

    # 3. The requester checks the package on their own: no database, another process.
    checked = command("verify-package", str(package))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (package / "records.csv").write_text("altered\n")
    altered = command("verify-package", str(package))
    assert altered.returncode != 0
    assert "records.csv" in altered.stdout + altered.stderr

    # 4. Years later: a disposal without a certificate is refused, then one is carried out.
    database = window.app.db.url.render_as_string(hide_password=False)
    refused = command("disposal", "dispose", "LRC-2032-0001", "--yes", database=database)
    assert refused.returncode != 0
    assert "No approved disposal certificate" in refused.stdout + refused.stderr
    assert window.retention_action is not None
    window.retention_action.trigger()
    retention = window.retention_dialog
    assert retention is not None
    retention.service.today = lambda: city_today() + timedelta(days=6 * 365)
    retention.reload()
    qtbot.waitUntil(lambda: retention.loading == 0 and bool(retention.rows), timeout=WAIT_MS)
    retention.sheet_table.selectAll()
    retention.certify_button.click()
    qtbot.waitUntil(lambda: retention.form is not None, timeout=WAIT_MS)
    form = retention.form
    assert form is not None
    today = city_today()
    for name, value in (
        ("number", "LRC-2032-0001"),
        ("notice", str(today - timedelta(days=31))),
        ("approved", str(today)),
    ):
        field = form.fields[name]
        assert not isinstance(field, QPlainTextEdit | QComboBox)
        field.setText(value)
    form.accept()
    qtbot.waitUntil(lambda: retention.certificate_table.rowCount() == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: retention.loading == 0, timeout=WAIT_MS)
    retention.certificate_table.selectRow(0)
    retention.dispose_button.click()
    qtbot.waitUntil(lambda: retention.confirmation is not None, timeout=WAIT_MS)
    box = retention.confirmation
    assert box is not None
    assert "certificate LRC-2032-0001" in box.text()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    next(b for b in box.buttons() if b.text().startswith("&Dispose")).click()
    qtbot.waitUntil(lambda: "Disposed of" in retention.status.text(), timeout=WAIT_MS)
    with window.app.db.session() as session:
        blank = session.scalar(select(func.count()).where(Comment.text == ""))
        assert session.get(Comment, removed[0]).status == "disposed"  # type: ignore[union-attr]
    assert blank is not None
    assert blank >= len(removed)
    report = verify_log(window.app.db)
    assert report.ok, report.problem
