"""Pooled PostgreSQL connections: pinged only after sitting idle, replaced when dead."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from hsm_console.db import engine as engine_module
from hsm_console.db.engine import Database

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def _backend(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(text("SELECT pg_backend_pid()")))


def _counting_pings(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    pings: list[Any] = []
    real = db.engine.dialect.do_ping

    def ping(connection: Any) -> bool:
        pings.append(connection)
        return real(connection)

    monkeypatch.setattr(db.engine.dialect, "do_ping", ping)
    return pings


def test_a_connection_used_a_moment_ago_is_not_pinged(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _counting_pings(db, monkeypatch)
    first = _backend(db)
    assert [_backend(db) for _ in range(3)] == [first] * 3  # the same pooled connection
    assert pings == []


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(
    db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _counting_pings(db, monkeypatch)
    first = _backend(db)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)  # every checkout is "idle"
    assert _backend(db) == first  # pinged, alive, kept
    assert len(pings) == 1
    other = Database(db_url)
    try:
        with other.engine.connect() as connection:
            killed = connection.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
            assert killed.scalar()
    finally:
        other.dispose()
    replaced = _backend(db)  # no error: the ping found it dead, the pool connected anew
    assert replaced != first
    assert len(pings) == 2
