"""`in_ids`: a column in a list of ids bound as one parameter, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from hsm_console.db.engine import Database
from hsm_console.db.id_lists import id_rows, in_ids

PROBE = sa.Table("id_list_probe", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True))
FOUND = sa.select(PROBE.c.id).where(in_ids(PROBE.c.id)).order_by(PROBE.c.id)


@pytest.fixture
def probe(db: Database) -> sa.Engine:
    PROBE.create(db.engine)
    with db.engine.begin() as connection:
        connection.execute(PROBE.insert(), [{"id": i} for i in range(1, 3001)])
    return db.engine


def found(engine: sa.Engine, ids: Any) -> list[int]:
    with engine.connect() as connection:
        return list(connection.scalars(FOUND, {"ids": ids}))


def test_the_ids_listed_that_exist_and_no_others(probe: sa.Engine) -> None:
    assert found(probe, [5, 3, 5, 9999, -1, 0]) == [3, 5]
    assert found(probe, []) == []
    assert found(probe, range(2, 3001, 2)) == list(range(2, 3001, 2))
    assert found(probe, [2**62]) == []  # a bigint that matches nothing


def test_one_statement_text_whatever_the_number_of_ids(probe: sa.Engine) -> None:
    """The point of it: a text that does not change is parsed and cached once."""
    texts: list[str] = []
    sa.event.listen(probe, "before_cursor_execute", lambda *args: texts.append(args[2]))
    found(probe, [1])
    found(probe, list(range(1, 2001)))
    selects = [text for text in texts if text.startswith("SELECT")]  # not SQLite's BEGIN
    assert len(selects) == 2
    assert selects[0] == selects[1]
    assert "2000" not in selects[1]


def test_only_integers_reach_the_database(probe: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError) as raised:
        found(probe, ["1) OR (1=1"])
    assert isinstance(raised.value.orig, ValueError)
    assert found(probe, ["7", 8.0]) == [7, 8]  # numbers written otherwise are still ids


def test_a_list_of_ids_as_the_rows_of_a_query(probe: sa.Engine) -> None:
    with probe.connect() as connection:
        listed = id_rows([5, 3, 5, 9999], connection.dialect).subquery()
        joined = sa.select(PROBE.c.id).join(listed, listed.c.id == PROBE.c.id).order_by(PROBE.c.id)
        assert list(connection.scalars(joined)) == [3, 5, 5]
        assert list(connection.scalars(sa.select(sa.func.count()).select_from(
            id_rows([], connection.dialect).subquery()))) == [0]  # fmt: skip
