"""`hsm-console --self-test`: proof that an installed console works, on nothing of the user's.

It opens the window (offscreen, unless QT_QPA_PLATFORM names a display) on the demo's
temporary database and built-in sandbox, lets the window sync, hides one comment record
first and checks the log's hash chain. Window settings, keyring and home folders point into
a temporary folder for the run, so the user's database, settings and keyring are never
opened; everything is removed at the end.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hsm_console.services.queue_view import QueueView

# A sandbox already running (`hsm-console sandbox`), to check against instead of the built-in.
ENV_SANDBOX_URL = "HSM_SELF_TEST_SANDBOX_URL"
WAIT_SECONDS = 180  # a slow workstation's first start; a hung step fails rather than hangs
NOTE = "HSM Console self-test"


class SelfTestFailed(Exception):
    """A check did not pass; the message says which, in plain words."""


def run_self_test() -> int:
    """0 when every check passed; otherwise 1, with what failed on standard error."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Windows cannot remove a file still open; nothing of this folder is worth a failure.
    with tempfile.TemporaryDirectory(
        prefix="hsm-console-self-test-", ignore_cleanup_errors=True
    ) as home:
        log = _isolate(Path(home))
        try:
            _checks()
        except Exception as exc:  # whatever broke, the self-test says so and exits
            words = str(exc) if isinstance(exc, SelfTestFailed) else f"{type(exc).__name__}: {exc}"
            _say(f"Self-test FAILED: {words}", error=True)
            details = Path(log.baseFilename).read_text(encoding="utf-8").splitlines()[-20:]
            _say("\n".join(["Details for IT (the program's log):", *details]), error=True)
            return 1
        finally:
            logging.getLogger("hsm_console").removeHandler(log)
            log.close()
    _say("Self-test passed.")
    return 0


def _isolate(home: Path) -> logging.FileHandler:
    """Everything the window could reach of the user's, pointed into `home` for this run;
    returns the run's own log."""
    import keyring
    import keyring.backends.null
    from PySide6.QtCore import QSettings

    for name in ("HOME", "USERPROFILE", "APPDATA", "LOCALAPPDATA", "XDG_DATA_HOME",
                 "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):  # fmt: skip
        os.environ[name] = str(home)
    # Demo sites carry their token on the site row: an empty keyring, never the person's.
    keyring.set_keyring(keyring.backends.null.Keyring())  # type: ignore[no-untyped-call]
    # On Windows QSettings defaults to the registry: an INI file in `home` instead.
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home))
    handler = logging.FileHandler(home / "self-test.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("hsm_console")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def _checks() -> None:
    from PySide6.QtCore import QSettings

    from hsm_console.gui.settings import APPLICATION, ORGANISATION, GuiSettings
    from hsm_console.gui.start import start_console
    from hsm_console.rules.domain import Action, Platform
    from hsm_console.services.queue_view import QueueFilter, QueueView
    from hsm_console.services.verify import verify_log
    from hsm_sandbox.demo import DemoEnvironment

    environment = DemoEnvironment(os.environ.get(ENV_SANDBOX_URL) or None)
    console = start_console(
        None, True, GuiSettings(QSettings(ORGANISATION, APPLICATION)), environment
    )
    try:
        window, app = console.window, console.app
        _say(f"ok  the window opened ({os.environ['QT_QPA_PLATFORM']}) as {app.username}")
        # The first sync starts once the queue's first page is shown: wait for its end, not
        # merely for no sync to be running.
        _wait(lambda: not window.syncing and _every_site_tried(window.view), "The first sync")
        sites = window.view.sync_status()
        unread = [site for site in sites if site.last_error or site.last_ok_at is None]
        if not sites or unread:
            raise SelfTestFailed(
                f"the sync could not read {len(unread)} of {len(sites)} demo sites: "
                + "; ".join(f"{site.site_name}: {site.last_error or 'not read'}" for site in unread)
            )
        _wait(lambda: not window.loader.loading and window.model.rowCount() > 0, "The queue")
        _say(f"ok  the sync read {len(sites)} sites; the queue shows {window.model.rowCount()}")
        # Facebook lets the City hide a comment (LinkedIn, for one, does not).
        facebook = QueueFilter(platforms=frozenset({Platform.FACEBOOK.value}))
        newest = QueueView(app.db, app.username).newest(facebook, 1)
        if not newest:
            raise SelfTestFailed("the sync brought no new Facebook comment to hide.")
        result = app.moderation.act(newest[0].id, Action.HIDE, "PRF", NOTE)
        if not result.ok or not result.pending_entry_id < (result.outcome_entry_id or 0):
            raise SelfTestFailed(f"hiding comment {result.comment_id} failed: {result.message}")
        _say(
            f"ok  comment {result.comment_id} hidden: log entry #{result.pending_entry_id} "
            f"recorded first, #{result.outcome_entry_id} {result.state.value}"
        )
        report = verify_log(app.db)
        if not report.ok or report.head_id < (result.outcome_entry_id or 0):
            raise SelfTestFailed(f"the log's hash chain does not verify: {report.problem}")
        _say(f"ok  verify-log: {report.entries_checked} entries and {report.records_checked} "
             "records match their hash chain")  # fmt: skip
    finally:
        console.close()


def _every_site_tried(view: QueueView) -> bool:
    sites = view.sync_status()
    return bool(sites) and all(site.last_error or site.last_ok_at for site in sites)


def _wait(done: Callable[[], bool], what: str) -> None:
    """Let the window work until `done`; the window's jobs report through Qt's events."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            raise SelfTestFailed(f"{what} did not finish within {WAIT_SECONDS} seconds.")
        QApplication.processEvents()
        time.sleep(0.01)


def _say(line: str, error: bool = False) -> None:
    """A line for whoever started the test; a windowed Windows build may have no console."""
    stream = sys.stderr if error else sys.stdout
    if stream is not None:
        print(line, file=stream, flush=True)
