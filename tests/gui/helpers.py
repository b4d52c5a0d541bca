"""Reading what the window did from the database and the sandbox."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import text

from hsm_console.app import App
from hsm_console.db.models import Comment
from hsm_console.gui.id_model import IdWindowModel
from hsm_console.rules.domain import PlatformState
from tests.conftest import World

WAIT_MS = 15_000  # generous: CI machines are slow, and nothing here measures speed


def read_rows(qtbot: QtBot, model: IdWindowModel[Any]) -> list[Any]:
    """Every row of the model (rows out of reach left out), once the worker threads have
    read them all: rows are read apart from painting, and arrive a little later."""
    qtbot.waitUntil(lambda: all_read(model), timeout=WAIT_MS)
    return [row for n in range(model.rowCount()) if (row := model.row_at(n)) is not None]


def all_read(model: IdWindowModel[Any]) -> bool:
    """Whether every row has been read; if not, asks for the first one missing (the model
    reads one window at a time, the last one asked)."""
    missing = next((n for n in range(model.rowCount()) if not model.is_loaded(n)), None)
    if missing is not None:
        model.row_at(missing)
    return missing is None


def fresh_row(qtbot: QtBot, model: IdWindowModel[Any], number: int) -> Any:
    """Row `number` as read after the last `refresh` (the stale one is painted meanwhile)."""
    qtbot.waitUntil(lambda: model.is_fresh(number), timeout=WAIT_MS)
    return model.row_at(number)


def log_entries(world: World, comment_id: int) -> list[tuple[str, str, str | None, int | None]]:
    """(action, state, reason code, outcome_of) of a comment's log entries, oldest first."""
    with world.db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT action, state, reason_code, outcome_of FROM action_log "
                "WHERE comment_id = :c ORDER BY id"
            ),
            {"c": comment_id},
        )
        return [(row[0], row[1], row[2], row[3]) for row in rows]


def count(world: World, sql: str, **params: object) -> int:
    with world.db.engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def comment_state(world: World, comment_id: int) -> tuple[str, str]:
    """(status, platform_state) of the comment in the database."""
    with world.db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, platform_state FROM comments WHERE id = :c"), {"c": comment_id}
        ).one()
        return row[0], row[1]


def state_on_platform(world: World, comment_id: int) -> PlatformState:
    """What the sandbox itself says about the comment, asked over HTTP."""
    return state_seen_by(world.app("alice"), comment_id)


def state_seen_by(app: App, comment_id: int) -> PlatformState:
    """What the platform tells `app` about the comment, asked over HTTP."""
    with app.db.session() as session:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        connector = app.connectors(comment.site)
        external_id = comment.external_id
    try:
        return connector.fetch_state(external_id)
    finally:
        connector.close()
