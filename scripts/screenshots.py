#!/usr/bin/env python3
"""Screenshots of the real console window for docs/, taken under a private Xvfb.

    python scripts/screenshots.py [--out docs]

Starts Xvfb on a free display, runs the console there in demo mode (a real X11 window,
QT_QPA_PLATFORM=xcb), drives it to each screen and grabs the whole X screen, dialogs
included. Needs the `xvfb` Debian package (see docs/ or scripts/services/debian-packages.sh).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCREEN = (1280, 800)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.inside:
        return take_screenshots(args.out)
    return run_under_xvfb(args.out)


def run_under_xvfb(out: Path) -> int:
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        print("Xvfb is not installed: apt-get install xvfb", file=sys.stderr)
        return 2
    # Xvfb picks a free display itself and writes its number to this pipe.
    read_end, write_end = os.pipe()
    screen = f"{SCREEN[0]}x{SCREEN[1]}x24"
    server = subprocess.Popen(  # noqa: S603 - a fixed program found on PATH
        [xvfb, "-displayfd", str(write_end), "-screen", "0", screen, "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as announced:
            display = announced.readline().strip()
        if not display:
            print("Xvfb did not start", file=sys.stderr)
            return 2
        env = {**os.environ, "DISPLAY": f":{display}", "QT_QPA_PLATFORM": "xcb"}
        env.pop("WAYLAND_DISPLAY", None)
        return subprocess.call(  # noqa: S603 - this very script, with the same interpreter
            [sys.executable, str(Path(__file__).resolve()), "--inside", "--out", str(out)],
            env=env,
            cwd=ROOT,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


def take_screenshots(out: Path) -> int:
    sys.path.insert(0, str(ROOT))
    import threading
    import urllib.request
    from datetime import UTC, date, datetime, timedelta

    import keyring
    from keyrings.alt.file import PlaintextKeyring
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QComboBox, QTabWidget
    from sqlalchemy import select

    from hsm_console.db.models import Department
    from hsm_console.gui.appearance import use_palette
    from hsm_console.gui.records_search import RecordsSearchDialog
    from hsm_console.gui.settings import GuiSettings
    from hsm_console.gui.start import qt_application, start_console
    from hsm_console.gui.ui_files import child
    from hsm_console.host.credentials import AppCredentials, CredentialStore
    from hsm_console.rules.domain import Action, Platform, Role
    from hsm_console.rules.review import Channel
    from hsm_console.services.admin import ensure_person, grant
    from hsm_console.services.moderation import ModerationService
    from hsm_sandbox.signin import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

    application = qt_application()

    def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the window did not get there in time")
            application.processEvents()
            time.sleep(0.01)

    def settle(seconds: float = 0.4) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            application.processEvents()
            time.sleep(0.01)

    def pick(combo: QComboBox, wanted: Callable[[str], bool]) -> None:
        combo.setCurrentIndex(next(i for i in range(combo.count()) if wanted(combo.itemText(i))))

    def capture(name: str) -> None:
        settle()
        screen = QGuiApplication.primaryScreen()
        path = out / name
        screen.grabWindow(0).save(str(path), "PNG")  # the whole X screen, dialogs too
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    with tempfile.TemporaryDirectory() as folder:
        ring = PlaintextKeyring()  # the sites connected below, kept out of the user's keyring
        ring.file_path = str(Path(folder) / "keyring.cfg")
        keyring.set_keyring(ring)
        settings = GuiSettings(QSettings(str(Path(folder) / "gui.ini"), QSettings.Format.IniFormat))
        settings.auto_sync_minutes = 0
        console = start_console(None, True, settings)
        window = console.window
        try:
            window.setGeometry(0, 0, *SCREEN)
            wait_until(lambda: not window.syncing and window.model.rowCount() > 0)
            model = window.model

            def all_read() -> bool:  # rows are read on worker threads, a window at a time
                missing = [r for r in range(model.rowCount()) if not model.is_loaded(r)]
                if missing:
                    model.queue_row(missing[0])
                return not missing

            wait_until(all_read)
            # A Facebook comment with suggestions (several if one has), so they all show.
            rows = [
                (r, q)
                for r in range(window.model.rowCount())
                if (q := window.model.queue_row(r)) is not None and q.platform == "facebook"
            ]
            row = next(
                (r for r, q in rows if len(q.suggestions) > 1),
                next(r for r, q in rows if q.suggested_code == "PII"),
            )
            window.select_row(row)
            wait_until(lambda: window.detail.comment_id == window.current_comment_id())
            capture("console-queue.png")

            window.act(Action.HIDE)
            wait_until(lambda: window.triage.dialog is not None)
            dialog = window.triage.dialog
            assert dialog is not None
            first = dialog.rows[0].suggestions[0].code
            QTest.keyClicks(dialog.code_search, dialog.keys[first])  # one key takes a code
            dialog.note.setText("an advert for tickets")
            capture("console-action-dialog.png")
            dialog.reject()
            wait_until(lambda: window.triage.dialog is None)

            window.help.open()
            capture("console-shortcuts.png")
            window.help.hide()

            # The demo's person supervises Parks: the policy's checks on its sites.
            checks = window.open_site_checks()
            checks.setGeometry(140, 60, 1000, 620)
            wait_until(lambda: not checks.loading and checks.table.rowCount() > 0)
            checks.table.selectRow(0)
            capture("console-site-checks.png")
            checks.close()

            # The demo's moderator is made an administrator to show the administration, with
            # two real (not demo) sites pointed at the sandbox by another name for its address
            # (the demo's own sites hold the first): one is connected on camera.
            with window.app.db.transaction() as session:
                person = ensure_person(session, window.app.username)
                grant(session, person, Role.ADMINISTRATOR, None)
            assert console.demo is not None
            sandbox = console.demo.sandbox
            department = window.app.admin.departments()[0].code
            for platform, account, path in (
                ("x", "1102323333", "/x"),
                ("youtube", "UCHighlandParks000000001", "/youtube"),
            ):
                window.app.admin.add_site(
                    platform, account, f"Parks on {Platform(platform).label}", department,
                    sandbox.url.replace("127.0.0.1", "localhost") + path, {},
                )  # fmt: skip
            CredentialStore().set_app(
                Platform.X, AppCredentials(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
            )
            asked: list[str] = []

            def browser(url: str) -> bool:  # the person consents below, after the shot
                asked.append(url)
                return True

            window.app.open_browser = browser
            admin = window.open_administration()
            admin.setGeometry(60, 30, 1160, 740)
            wait_until(lambda: admin.site_table.rowCount() > 0)
            child(admin, QTabWidget, "adminTabs").setCurrentIndex(2)
            admin.site_platform.setCurrentIndex(admin.site_platform.findData("x"))
            sites = admin.listing.sites
            ours = {s.name: r for r, s in enumerate(sites) if not s.sandbox}
            admin.site_table.selectRow(ours["Parks on X"])
            admin.connect_site()
            flow = admin.connect_flow
            assert flow is not None
            wait_until(lambda: flow.progress is not None and bool(asked))
            capture("console-connect.png")
            redirect = sandbox.signin.approve(asked[0])  # the person consents in the browser
            threading.Thread(
                target=lambda: urllib.request.urlopen(redirect, timeout=10).close(),  # noqa: S310
                daemon=True,
            ).start()
            wait_until(lambda: not flow.running and not window.runner.busy())
            admin.site_table.selectRow(ours["Parks on YouTube"])
            settle(1.0)
            admin.site_table.scrollToBottom()  # once the rows have their height
            capture("console-admin.png")
            admin.close()

            # The demo's person supervises Parks: a few decisions, then the Log tab.
            hidden = window.model.comment_id(row)
            window.app.moderation.act(hidden, Action.HIDE, "PII", "posts a named neighbour's SSN")
            for other in (0, 1, 2):
                comment = window.model.comment_id(other)
                if comment != hidden:
                    window.app.moderation.act(comment, Action.FLAG, "OFT", "about another post")
            log = window.show_log()
            assert log is not None
            log.reload()
            wait_until(lambda: not log.loading and log.model.rowCount() > 0)
            log.person.setCurrentIndex(log.person.findData(window.app.username))
            log.action.setCurrentIndex(log.action.findData("hide"))
            settle(0.6)  # the filters settle, then the log is read again
            wait_until(lambda: not log.loading and log.model.rowCount() == 2)
            log.select_row(1)  # the pending entry: the decision, with its retained record
            wait_until(lambda: log.entry is not None and log.entry.row.state == "pending")
            log.verify()
            wait_until(lambda: log.last_report is not None)
            capture("console-log.png")

            # More decisions under other codes, one reversed, then the Dashboard tab.
            for other, code in ((3, "PRF"), (4, "SPM"), (5, "SPM"), (6, "THR")):
                comment = window.model.comment_id(other)
                if comment != hidden:
                    window.app.moderation.act(comment, Action.FLAG, code, "")
            window.app.moderation.act(hidden, Action.UNHIDE, None, "the number was a typo")
            dashboard = window.show_dashboard()
            assert dashboard is not None
            wait_until(lambda: dashboard.shown is not None and not dashboard.loading)
            capture("console-dashboard.png")
            # A colleague hides off-topic comments; the demo's person reviews them.
            with window.app.db.transaction() as session:
                colleague = ensure_person(session, "jordan", "Jordan Parks Moderator")
                parks = session.scalar(select(Department).where(Department.code == "PARKS"))
                assert parks is not None
                grant(session, colleague, Role.MODERATOR, parks)
            jordan = ModerationService(
                window.app.db, window.app.policy, window.app.connectors, "jordan"
            )
            facebook = [
                window.model.comment_id(r)
                for r in range(3, window.model.rowCount())
                if (q := window.model.queue_row(r)) is not None
                and q.platform == "facebook"
                and q.id != hidden
            ]
            hides = [
                jordan.act(comment, Action.HIDE, "OFT", "not about the post")
                for comment in facebook[:3]
            ]
            window.app.review.record_appeal(
                hides[2].pending_entry_id, "My comment was about the pool's hours.", Channel.EMAIL
            )
            review = window.show_review()
            assert review is not None
            wait_until(lambda: not review.loading and len(review.waiting) >= 3)
            first = next(i for i, item in enumerate(review.waiting) if item.moderator == "jordan")
            review.waiting_table.setCurrentCell(first, 0)
            wait_until(lambda: review.item is not None)
            review.words.setPlainText("It asks when the pool opens: on topic for this post.")
            capture("console-review.png")
            # The demo's person keeps Parks' records: a request handed over from the queue,
            # one overdue, one due soon, one just received.
            window.app.moderation.act(facebook[3], Action.FLAG, "FOI", "asks for the contract")
            requests = window.app.records_requests
            now = datetime.now(UTC)
            for days, requester, words in (
                (20, "Highland Herald", "Every comment removed from the Parks Facebook page "
                 "in the third quarter, with the reasons and the original text."),
                (6, "", "Messages about the pool closing, June to August."),
                (0, "J. Q. Public", "The blocked accounts list of the Parks pages."),
            ):  # fmt: skip
                requests.register(now - timedelta(days=days), requester, words, "PARKS")
            records = window.show_records()
            assert records is not None
            records.reload()
            wait_until(lambda: not records.loading and len(records.rows) >= 4)
            draft = next(i for i, row in enumerate(records.rows) if row.comment_id is not None)
            records.table.setCurrentCell(draft, 0)
            wait_until(lambda: records.detail is not None)
            capture("console-records.png")
            # The Herald's question: the removals on the Parks Facebook page, searched.
            jordan.act(facebook[4], Action.REMOVE, "SPM", "an advert for a car wash")
            herald = next(
                i for i, row in enumerate(records.rows) if row.requester.endswith("Herald")
            )
            records.table.setCurrentCell(herald, 0)
            wait_until(lambda: records.detail is not None and records.detail.request.id
                       == records.rows[herald].id)  # fmt: skip
            records.search_button.click()
            (search,) = window.findChildren(RecordsSearchDialog)
            wait_until(lambda: not search.busy)
            pick(search.site, lambda text: text.startswith("Highland Parks & Recreation"))
            pick(search.action, lambda text: text.lower() == "remove")
            search.search_button.click()
            wait_until(lambda: search.found is not None and not search.busy)
            capture("console-records-search.png")
            search.close()
            # Retention, years from now: the worksheet of what has passed its period.
            assert window.retention_action is not None
            window.retention_action.trigger()
            retention = window.retention_dialog
            assert retention is not None
            retention.service.today = lambda: date.today() + timedelta(days=6 * 365)
            retention.reload()
            wait_until(lambda: retention.loading == 0 and bool(retention.rows))
            child(retention, QTabWidget, "tabs").setCurrentIndex(1)  # the worksheet
            capture("console-retention.png")
            retention.close()
            assert window.pages is not None
            window.pages.setCurrentIndex(0)

            use_palette(application, dark=True)
            window.select_row(0)
            wait_until(lambda: window.detail.comment_id == window.current_comment_id())
            capture("console-dark.png")
        finally:
            console.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
