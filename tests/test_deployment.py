"""Issue 11's "Done when", end to end (docs/deployment.md): one PostgreSQL, a login per
person, the agent as a real `hsm-console agent run` process under its own `hsm_agent` login,
the sandbox over real HTTP, and three windows at once: a moderator of Parks, a moderator of
Police and a supervisor of all, each on their own login in the City-wide mode."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import create_engine, select, text

from hsm_console.app import open_app
from hsm_console.cli.main import main as cli_main
from hsm_console.db.engine import Database
from hsm_console.db.models import Agent, Comment
from hsm_console.gui.main_window import MainWindow
from hsm_console.gui.settings import GuiSettings
from hsm_console.host.config import Settings
from hsm_console.services.admin import AdminService
from hsm_sandbox.server import SandboxServer
from tests.conftest import World, build_world
from tests.gui.conftest import started
from tests.gui.helpers import WAIT_MS, log_entries
from tests.gui.test_triage import open_dialog
from tests.test_db_roles import login_url, logins

__all__ = ["logins"]  # a fixture, used by name

pytestmark = [pytest.mark.postgres, pytest.mark.gui]


def _hsm_console() -> list[str]:
    """The installed command, as IT runs it (the module where no script was installed)."""
    script = shutil.which("hsm-console", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "hsm_console"]


@dataclass(frozen=True)
class RunningAgent:
    process: subprocess.Popen[str]
    login: str


@pytest.fixture
def start_agent(
    postgres_db: Database, logins: Callable[[str], str], tmp_path: Path
) -> Iterator[Callable[[], RunningAgent]]:
    """Starts `hsm-console agent run` under a login that is a member of hsm_agent only, with a
    home (keyring, logs) of its own, as on the City's server (docs/deployment.md, 4)."""
    started_here: list[subprocess.Popen[str]] = []

    def start() -> RunningAgent:
        login = logins("agent")
        owner = create_engine(postgres_db.url, isolation_level="AUTOCOMMIT")
        with owner.connect() as connection:
            connection.execute(text(f'CREATE ROLE "{login}" LOGIN'))
            connection.execute(text(f'GRANT hsm_agent TO "{login}"'))
        owner.dispose()
        home = tmp_path / "agent-home"
        env = {
            **os.environ, "HOME": str(home), "HSM_DATABASE_URL": login_url(postgres_db, login),
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            **{name: str(home / name.lower()) for name in
               ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")},
        }  # fmt: skip
        process = subprocess.Popen(
            [*_hsm_console(), "agent", "run", "--name", "agent-e2e", "--heartbeat", "0.5"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        started_here.append(process)
        return RunningAgent(process, login)

    yield start
    for process in started_here:
        if process.poll() is None:
            process.kill()
        process.communicate()


def _window(qtbot: QtBot, url: str, tmp_path: Path, name: str) -> MainWindow:
    """A workstation's console in the City-wide mode, wired as `hsm-console` wires it."""
    app = open_app(Settings(database_url=url, actions_by="agent"), migrate=False)
    settings = GuiSettings(QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat))
    settings.auto_sync_minutes = 0
    window = started(qtbot, MainWindow(app, settings))
    live = window.live
    assert live is not None
    qtbot.waitUntil(lambda: live.updates.listener.live, timeout=WAIT_MS)
    return window


def _status(window: MainWindow, comment_id: int) -> str | None:
    row = window.model.row_of(comment_id)
    shown = window.model.queue_row(row) if row is not None else None
    return shown.status if shown is not None else None


def _shown_sites(window: MainWindow) -> set[int]:
    return {row.site_id for row in window.model.cached_rows()}


def test_two_departments_and_a_supervisor_work_at_once_through_the_agent(
    qtbot: QtBot,
    postgres_db: Database,
    sandbox: SandboxServer,
    logins: Callable[[str], str],
    start_agent: Callable[[], RunningAgent],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world: World = build_world(postgres_db, sandbox)
    owner = AdminService(postgres_db, "ada")  # IT's first steps, as the owner
    urls = {}
    for who in ("alice", "carol", "sam"):  # Parks' moderator, Police's, the supervisor
        login = logins(who)
        owner.set_login(who, login)
        urls[who] = login_url(postgres_db, login)
    world.app("alice").sync.sync()
    world.app("carol").sync.sync()
    agent = start_agent()
    # The agent has started: its key and heartbeat are published (or it stopped, and says why).
    qtbot.waitUntil(
        lambda: agent.process.poll() is not None or _agent_names(postgres_db) == ["agent-e2e"],
        timeout=60_000,
    )
    assert agent.process.poll() is None, agent.process.communicate()[1]

    alice = _window(qtbot, urls["alice"], tmp_path, "alice")
    carol = _window(qtbot, urls["carol"], tmp_path, "carol")
    sam = _window(qtbot, urls["sam"], tmp_path, "sam")
    for window in (alice, carol):
        qtbot.waitUntil(lambda w=window: bool(_shown_sites(w)), timeout=WAIT_MS)
    assert _shown_sites(alice) == {world.parks_site}
    assert _shown_sites(carol) == {world.police_site}
    screen = sam.show_log()
    assert screen is not None
    qtbot.waitUntil(lambda: not screen.loading, timeout=WAIT_MS)
    before = screen.model.ids()
    resets: list[int] = []
    screen.model.modelReset.connect(lambda: resets.append(1))

    # Alice hides the Parks comment she has open: H, a code, Enter.
    qtbot.waitUntil(lambda: alice.detail.comment_id is not None, timeout=WAIT_MS)
    comment_id = alice.current_comment_id()
    assert comment_id is not None
    with postgres_db.session() as session:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        external = comment.external_id
    alice.activateWindow()
    qtbot.waitUntil(alice.isActiveWindow, timeout=WAIT_MS)
    dialog = open_dialog(qtbot, alice, Qt.Key.Key_H)
    qtbot.keyClicks(dialog.code_search, "PRF")
    qtbot.keyClick(dialog.code_search, Qt.Key.Key_Return)

    # The record first (her entry, by her login), then the agent's outcome in its own name.
    qtbot.waitUntil(lambda: len(log_entries(world, comment_id)) == 2, timeout=30_000)
    assert log_entries(world, comment_id)[0][:2] == ("hide", "pending")
    with postgres_db.engine.connect() as connection:
        actors = connection.execute(
            text("SELECT actor, state FROM action_log WHERE comment_id = :c ORDER BY id"),
            {"c": comment_id},
        ).all()
    assert [tuple(a) for a in actors] == [("alice", "pending"), (agent.login, "applied")]
    assert sandbox.state.facebook.is_hidden(external)
    # Alice's row shows the outcome; the supervisor's log gained both entries live.
    qtbot.waitUntil(lambda: _status(alice, comment_id) == "hidden", timeout=WAIT_MS)
    with postgres_db.engine.connect() as connection:
        pending, outcome = connection.execute(
            text("SELECT id FROM action_log WHERE comment_id = :c ORDER BY id"), {"c": comment_id}
        ).scalars()
    qtbot.waitUntil(lambda: screen.model.ids()[:2] == [outcome, pending], timeout=WAIT_MS)
    assert screen.model.ids()[-len(before) :] == before  # (the agent's sync may log too)
    assert resets == []  # updated in place, never read again whole

    # Police's moderator never sees a Parks row, and her login cannot read one with raw SQL.
    assert carol.model.row_of(comment_id) is None
    assert _shown_sites(carol) == {world.police_site}
    carols = Database(urls["carol"])
    try:
        with carols.engine.connect() as connection:
            assert connection.execute(
                text("SELECT count(*) FROM comments WHERE id = :c OR site_id = :s"),
                {"c": comment_id, "s": world.parks_site},
            ).scalar_one() == 0  # fmt: skip
            assert connection.execute(
                text("SELECT count(*) FROM action_log WHERE comment_id = :c"), {"c": comment_id}
            ).scalar_one() == 0  # fmt: skip
    finally:
        carols.dispose()
    for window in (alice, carol, sam):
        window.close()

    # The supervisor proves the log, through her own login; a workstation's doctor is content.
    assert cli_main(["--database", urls["sam"], "verify-log"]) == 0
    monkeypatch.setenv("HSM_ACTIONS_BY", "agent")
    capsys.readouterr()
    assert cli_main(["--database", urls["alice"], "doctor"]) == 0
    doctor = capsys.readouterr().out
    assert "OK    agent heartbeat: running: agent-e2e" in doctor
    assert "OK    live update triggers" in doctor
    # On the agent's server its doctor lists every site (it is no person of the console).
    assert cli_main(["--database", login_url(postgres_db, agent.login), "doctor"]) == 0
    doctor = capsys.readouterr().out
    assert "not a console user" not in doctor
    assert f"site {world.police_site} Highland Police Department (facebook) platform" in doctor
    agent.process.send_signal(signal.SIGTERM)  # a clean stop, as systemd's
    _, errors = agent.process.communicate(timeout=60)
    assert agent.process.returncode == 0, errors
    assert "agent agent-e2e started" in errors
    assert "ERROR" not in errors, errors
    assert "Traceback" not in errors, errors


def _agent_names(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Agent.name)))
