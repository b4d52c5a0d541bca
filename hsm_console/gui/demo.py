"""`hsm-console --demo`: a fresh database in a temporary folder, served by the sandbox
running in this process, with the person signed in as a demo moderator of Parks."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hsm_console.app import App, open_app
from hsm_console.config import Settings
from hsm_console.sandbox.seed import build
from hsm_console.sandbox.server import SandboxServer
from hsm_console.services.admin import setup_demo


class DemoEnvironment:
    """Owns the demo's folder and sandbox; `close` removes both."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="hsm-console-demo-")
        self.database_url = f"sqlite:///{Path(self._folder.name) / 'demo.sqlite3'}"
        # Seed times end now, so the demo queue looks like today's.
        self.sandbox = SandboxServer(port=0, seed=build(end=datetime.now(UTC))).start()

    def open_app(self) -> App:
        app = open_app(Settings(self.database_url))
        setup_demo(app.db, self.sandbox.url, app.username, f"{app.username} (demo moderator)")
        return app

    def close(self) -> None:
        self.sandbox.stop()
        self._folder.cleanup()
