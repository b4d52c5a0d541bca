"""A list of ids bound as one parameter: a column in it (`in_ids`, for statements built
once) or its ids as the rows of a query (`id_rows`).

An IN list bound with `bindparam(expanding=True)` is rendered again at each execution, one
placeholder an id: SQLAlchemy names and casts each, and psycopg parses each new text with
its regular expression (its cache, keyed by the text, misses). For the queue's rows, read a
window at a time while the screen scrolls, that was 10 µs a row of the worker's CPU on
PostgreSQL and 1 µs on SQLite. One parameter keeps one text: PostgreSQL's `= ANY(array)`,
SQLite's `IN (SELECT value FROM json_each(...))`, both looking each id up by the index.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Dialect,
    Select,
    Text,
    TypeDecorator,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType


class IdList(TypeDecorator[Sequence[int]]):
    """A list of ids as one value: an array on PostgreSQL, JSON text on SQLite."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(BigInteger()))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Sequence[int] | None, dialect: Dialect) -> Any:
        ids = [int(item) for item in value or ()]  # ints only: nothing else reaches the SQL
        return ids if dialect.name == "postgresql" else json.dumps(ids)


class InIds(ColumnElement[Any]):
    """`column` is one of the ids bound to the parameter `name` (made by `in_ids`)."""

    type = NullType()  # not Boolean: SQLite would get the test as `(... IN ...) = 1`, no index
    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy reads this list, as its own classes do
        ("column", InternalTraversal.dp_clauseelement),
        ("ids", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.ids = bindparam(name, type_=IdList())


def in_ids(column: Any, name: str = "ids") -> InIds:
    """`column IN` the ids given at execution as `{name: [ids]}`."""
    return InIds(column, name)


@compiles(InIds)
def _json_each(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} IN (SELECT value FROM json_each({ids}))"


@compiles(InIds, "postgresql")
def _any(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} = ANY({ids})"


def id_rows(ids: Sequence[int], dialect: Dialect) -> Select[Any]:
    """`ids` as the rows (`id`) of a query, for joining or counting over a list already
    found: SQLite's `json_each`, PostgreSQL's `unnest`."""
    bound = bindparam("listed_ids", list(ids), type_=IdList())
    if dialect.name == "sqlite":
        return select(literal_column("value", BigInteger).label("id")).select_from(
            func.json_each(bound)
        )
    return select(func.unnest(bound).label("id"))
