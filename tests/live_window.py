"""Run by test_live.py in a child process: the real console window, offscreen, on the same
PostgreSQL as the test, saying on stdout what became of one comment's queue row.

argv: DATABASE_URL USERNAME COMMENT_ID SETTINGS_FILE
Prints "ready" once the queue shows the comment and live updates listen; then, when another
process has acted on it, "left resets=N" (the row left the queue; N: how many times the
whole table was reset meanwhile) or "changed STATUS", and exits 0. Exits 1 after 3 minutes.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from hsm_console.app import App
from hsm_console.db.engine import Database
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.settings import GuiSettings
from hsm_console.rules.policy import load_policy


def main() -> int:
    url, username, comment, settings_file = sys.argv[1:5]
    comment_id = int(comment)
    qt = QApplication([])
    db = Database(url)
    settings = GuiSettings(QSettings(settings_file, QSettings.Format.IniFormat))
    settings.auto_sync_minutes = 0
    window = MainWindow(App(db=db, policy=load_policy(), username=username), settings)
    window.show()
    window.start()
    live = window.live
    assert live is not None, "a window on PostgreSQL listens"
    state = {"ready": False, "resets": 0}

    def counted() -> None:
        state["resets"] += 1

    def look() -> None:
        row = window.model.row_of(comment_id)
        if not state["ready"]:
            if row is not None and live.updates.listener.live and not window.loader.loading:
                state["ready"] = True
                window.model.modelReset.connect(counted)
                print("ready", flush=True)
            return
        if row is None:
            print(f"left resets={state['resets']}", flush=True)
            qt.exit(0)
            return
        shown = window.model.queue_row(row)
        if shown is not None and shown.status != "new":
            print(f"changed {shown.status}", flush=True)
            qt.exit(0)

    poll = QTimer()
    poll.timeout.connect(look)
    poll.start(20)
    QTimer.singleShot(180_000, lambda: qt.exit(1))  # a guard against hanging, not a bound
    code = qt.exec()
    poll.stop()
    window.close()
    db.dispose()
    return code


if __name__ == "__main__":
    sys.exit(main())
