"""Run by test_crash.py in a child process: act on a comment and die at a chosen step.

argv: DATABASE_URL COMMENT_ID {before-platform,after-platform}
The process kills itself with SIGKILL (no clean-up, no exception handlers), as a power cut or
a killed task would, either just before the platform call or just after it succeeded.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from hsm_console.app import App
from hsm_console.connectors.base import Connector
from hsm_console.db.engine import Database
from hsm_console.rules.domain import Action
from hsm_console.rules.policy import load_policy
from hsm_console.services.moderation import ModerationService


class DiesMidway(Connector):
    def __init__(self, inner: Connector, when: str) -> None:
        self.inner = inner
        self.when = when

    def apply(self, action: Action, comment_external_id: str) -> None:
        if self.when == "after-platform":
            self.inner.apply(action, comment_external_id)
        os.kill(os.getpid(), signal.SIGKILL)

    def list_posts(self, cursor: str | None = None) -> Any:
        raise NotImplementedError

    def list_comments(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def fetch_state(self, comment_external_id: str) -> Any:
        raise NotImplementedError


def main() -> None:
    url, comment_id, when = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    db = Database(url)
    app = App(db=db, policy=load_policy(), username="alice")
    factory = app.connectors
    service = ModerationService(
        db, app.policy, lambda site: DiesMidway(factory(site), when), "alice"
    )
    service.act(comment_id, Action.HIDE, "PRF")
    raise SystemExit("the process should have been killed")


if __name__ == "__main__":
    main()
