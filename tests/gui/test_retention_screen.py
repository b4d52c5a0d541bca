"""The Retention dialog driven as a records officer of Parks would: a hold placed and lifted,
the worksheet, a certificate recorded, and a disposal confirmed by its count and certificate,
on a real database synced from the sandbox."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from PySide6.QtWidgets import QComboBox, QLineEdit, QMessageBox, QPlainTextEdit
from pytestqt.qtbot import QtBot

from hsm_console.gui.retention_dialog import Form, RetentionDialog
from hsm_console.rules.domain import Role
from hsm_console.services import admin
from hsm_console.services.retention import city_today
from tests.conftest import World
from tests.gui.conftest import OpenWindow
from tests.gui.helpers import WAIT_MS, count

HOSTILE = "<b>bold</b> <img src=x onerror=alert(1)> \u202eevil"
LATER = city_today() + timedelta(days=6 * 365)


def _records_officer(world: World) -> None:
    with world.db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "-")
        rita = admin.ensure_person(session, "rita", "Rita Records")
        admin.grant(session, rita, Role.RECORDS_OFFICER, parks)
        admin.grant(session, rita, Role.MODERATOR, parks)  # so her queue fills


def _idle(qtbot: QtBot, dialog: RetentionDialog) -> None:
    qtbot.waitUntil(lambda: dialog.loading == 0, timeout=WAIT_MS)


def _form(qtbot: QtBot, dialog: RetentionDialog) -> Form:
    qtbot.waitUntil(lambda: dialog.form is not None, timeout=WAIT_MS)
    assert dialog.form is not None
    return dialog.form


def _fill(form: Form, **texts: str) -> None:
    for name, value in texts.items():
        field = form.fields[name]
        if isinstance(field, QPlainTextEdit):
            field.setPlainText(value)
        else:
            assert isinstance(field, QLineEdit)
            field.setText(value)
    form.accept()


def test_only_records_officers_are_offered_it(open_window: OpenWindow) -> None:
    assert open_window("alice").retention_action is None


def test_hold_worksheet_certificate_and_disposal(
    qtbot: QtBot, open_window: OpenWindow, gui_world: World, tmp_path: Path
) -> None:
    _records_officer(gui_world)
    window = open_window("rita")
    assert window.retention_action is not None
    window.retention_action.trigger()
    dialog = window.retention_dialog
    assert dialog is not None
    _idle(qtbot, dialog)
    assert dialog.sheet_table.rowCount() == 0  # today nothing is past retention
    dialog.service.today = lambda: LATER
    dialog.reload()
    _idle(qtbot, dialog)
    parks = count(gui_world, "SELECT count(*) FROM comments WHERE site_id = :s",
                  s=gui_world.parks_site)  # fmt: skip
    assert [r.comments for r in dialog.rows] == [parks]
    assert not dialog.lift_button.isEnabled()

    dialog.place_button.click()
    form = _form(qtbot, dialog)
    where = form.fields["where"]
    assert isinstance(where, QComboBox)
    assert where.itemText(0) == "All of PARKS"  # never another department, nor the City
    where.setCurrentIndex(where.findText("Highland Parks & Recreation (PARKS)"))
    _fill(form, reason=HOSTILE)
    qtbot.waitUntil(lambda: dialog.hold_table.rowCount() == 1, timeout=WAIT_MS)
    _idle(qtbot, dialog)
    reason = dialog.hold_table.item(0, 5)
    assert reason is not None
    assert reason.text() == HOSTILE.replace("\u202e", "\\u202e")  # plain, override visible
    assert dialog.rows == []  # the hold wins: nothing of Parks is disposable
    assert dialog.status.text().startswith("Placed legal hold 1. 1 legal hold(s) in force")

    dialog.hold_table.selectRow(0)
    assert dialog.lift_button.isEnabled()
    dialog.lift_button.click()
    _fill(_form(qtbot, dialog), reason="Claim withdrawn")
    qtbot.waitUntil(lambda: dialog.hold_table.rowCount() == 0, timeout=WAIT_MS)
    _idle(qtbot, dialog)
    assert [r.comments for r in dialog.rows] == [parks]

    saved = tmp_path / "sheet.csv"
    dialog.export_to(saved)
    _idle(qtbot, dialog)
    assert saved.read_text(encoding="utf-8").count("\n") == 2

    dialog.certify_button.click()
    today = city_today()
    _fill(_form(qtbot, dialog), number="LRC-2032-7", notice=str(today - timedelta(days=31)),
          approved=str(today))  # fmt: skip
    qtbot.waitUntil(lambda: dialog.certificate_table.rowCount() == 1, timeout=WAIT_MS)
    _idle(qtbot, dialog)

    dialog.certificate_table.selectRow(0)
    dialog.dispose_button.click()
    qtbot.waitUntil(lambda: dialog.confirmation is not None, timeout=WAIT_MS)
    box = dialog.confirmation
    assert box is not None
    assert f"Dispose of {parks} comments" in box.text()
    assert "certificate LRC-2032-7" in box.text()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    destructive = [b for b in box.buttons() if b.text().startswith("&Dispose")]
    destructive[0].click()
    qtbot.waitUntil(lambda: "Disposed of" in dialog.status.text(), timeout=WAIT_MS)
    _idle(qtbot, dialog)
    assert dialog.progress is None
    assert dialog.status.text().startswith(f"Disposed of {parks} comments")
    assert count(gui_world, "SELECT count(*) FROM comments WHERE text = ''") == parks
    assert dialog.rows == []
    dialog.grab().save(str(tmp_path / "retention.png"))
