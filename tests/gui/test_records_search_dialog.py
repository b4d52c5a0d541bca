"""Search and export for a records request, driven as a records officer would, on a real
database synced from the sandbox."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from hsm_console.gui.records_search import RecordsSearchDialog
from hsm_console.rules.domain import Role
from hsm_console.services import admin, records_package
from hsm_console.services.package_check import verify_package
from hsm_console.services.records_package import PackageExporter
from tests.conftest import World
from tests.gui.conftest import OpenWindow
from tests.gui.helpers import WAIT_MS
from tests.gui.test_records_screen import select_request
from tests.records_fixtures import Records, build_records


@pytest.fixture
def records(gui_world: World) -> Records:
    return build_records(gui_world)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The export's first comment waits until the returned event is set."""
    release = threading.Event()
    section = records_package._section

    def waiting(pdf: object, item: object) -> None:
        release.wait(60)  # a safety net should the test itself fail
        section(pdf, item)  # type: ignore[arg-type]

    monkeypatch.setattr(records_package, "_section", waiting)
    return release


def _opened(qtbot: QtBot, records: Records, username: str = "rita") -> RecordsSearchDialog:
    dialog = RecordsSearchDialog(records.world.db, username, records.parks_request)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    return dialog


def _column(dialog: RecordsSearchDialog, column: int) -> list[str]:
    items = (dialog.table.item(r, column) for r in range(dialog.table.rowCount()))
    return [item.text() if item is not None else "" for item in items]


def test_the_request_is_searched_shown_as_text_and_exported(
    qtbot: QtBot, records: Records, tmp_path: Path
) -> None:
    dialog = _opened(qtbot, records)
    assert "from Jo Requester <jo@example.test>: =Every removed comment" in (
        dialog.request_label.text()
    )
    assert dialog.department.currentText() == "PARKS"  # the request's scope
    assert dialog.counts.text().startswith("Found ")
    ids = [int(text) for text in _column(dialog, 0)]
    assert records.hidden in ids
    assert records.police not in ids
    text = _column(dialog, 5)[ids.index(records.hostile)]
    assert "<script>alert(1)</script>" in text  # as words: a table item is plain text
    assert "\\u202eevil" in text  # the override made visible

    dialog.words.setText("qwertyold")  # an earlier version's word
    dialog.search_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    assert _column(dialog, 0) == [str(records.hidden)]
    assert dialog.counts.text() == (
        "Found 1 comment(s), 1 retained record(s), 1 earlier version(s), 4 log entries (of "
        "which 1 review(s) and 1 note(s))."
    )
    assert dialog.export_button.isEnabled()

    out = tmp_path / "exports"
    out.mkdir()
    dialog.export_to(out / "package")
    qtbot.waitUntil(lambda: dialog.exported is not None, timeout=WAIT_MS)
    assert dialog.progress is None  # closed
    assert dialog.counts.text().startswith(f"Package written to {out / 'package'}: 1 comment(s)")
    check = verify_package(out / "package")
    assert check.ok, check.problems
    assert check.manifest["query"] == {"departments": ["PARKS"], "words": "qwertyold"}


def test_cancel_in_the_progress_dialog_leaves_nothing(
    qtbot: QtBot, records: Records, tmp_path: Path, held: threading.Event
) -> None:
    dialog = _opened(qtbot, records)
    out = tmp_path / "exports"
    out.mkdir()
    dialog.export_to(out / "package")
    progress = dialog.progress
    assert progress is not None
    qtbot.waitUntil(progress.isVisible, timeout=WAIT_MS)
    cancel = progress.findChild(QPushButton)
    assert cancel is not None
    assert cancel.text() == "Cancel"
    cancel.click()
    assert progress.labelText() == "Cancelling: removing what was written…"
    held.set()
    qtbot.waitUntil(lambda: dialog.exported is not None, timeout=WAIT_MS)
    assert dialog.exported is not None
    assert dialog.exported.cancelled
    assert dialog.counts.text() == "The export was cancelled: nothing was written."
    assert list(out.iterdir()) == []


def test_someone_not_a_records_officer_is_told_why(qtbot: QtBot, records: Records) -> None:
    dialog = _opened(qtbot, records, "alice")
    assert dialog.request_label.text() == (
        f"Records request {records.parks_request} could not be opened."
    )
    problem = dialog.problems.current
    assert problem is not None
    assert "Only a records officer may" in problem.problem.message
    assert not dialog.search_button.isEnabled()
    assert not dialog.export_button.isEnabled()


def test_the_records_tab_opens_it_for_the_selected_request(
    qtbot: QtBot, open_window: OpenWindow, records: Records
) -> None:
    assert open_window("bob").records_screen is None
    with records.world.db.transaction() as session:
        alice = admin.ensure_person(session, "alice")
        admin.grant(session, alice, Role.RECORDS_OFFICER, None)
    window = open_window("alice")
    assert window.records_screen is None  # built when its tab is first shown
    screen = window.show_records()
    assert screen is not None
    qtbot.waitUntil(lambda: records.city_request in [r.id for r in screen.rows], timeout=WAIT_MS)
    select_request(qtbot, screen, records.city_request)
    screen.search_button.click()
    opened = window.findChildren(RecordsSearchDialog)
    assert len(opened) == 1
    dialog = opened[0]
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    assert dialog.department.currentText() == "All my departments"
    assert records.police in [int(text) for text in _column(dialog, 0)]
    assert PackageExporter(records.world.db, "alice").request(records.city_request).id == (
        records.city_request
    )
    dialog.close()


def test_closing_the_dialog_stops_the_export_and_leaves_nothing(
    qtbot: QtBot, records: Records, tmp_path: Path, held: threading.Event
) -> None:
    dialog = _opened(qtbot, records)
    out = tmp_path / "exports"
    out.mkdir()
    dialog.export_to(out / "package")
    dialog.reject()  # Close (or Esc) while the package is being written
    held.set()
    qtbot.waitUntil(lambda: not dialog.runner.busy(), timeout=WAIT_MS)
    assert dialog.exported is None  # the answer came to a closed dialog: dropped
    assert list(out.iterdir()) == []
