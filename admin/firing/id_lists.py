"""`column IN (1, 2, 3)` for long lists of integer ids, written as literals.

The scheduler's statements name hundreds to thousands of ids at a time (the fires a tick
claims, the run rows a batch of answers moves on). As bound parameters each id costs a
placeholder to render, a name to invent and a value to bind, on every execution, which came to
more than the statement's own work in the database. Ids are integers (checked here), so writing
them into the SQL is safe and the same on every engine, and no engine's limit on the number of
bound parameters applies.

A short list (at most SHORT_LIST ids: a workflow advancing one instance, a page of runs) is the
opposite case: written as literals, every new set of ids is a new SQL text, compiled afresh and
cached under its own key, which cost a workflow step's advance a fifth of its CPU
(docs/benchmarks.md, "Workflows"). Those are an expanding bound parameter instead, so the
statement is compiled once.

Statements built once, at import (a workflow step transition's: rpc/run_results.py,
workflows/step_rows.py, step_results.py, step_fires.py), take their lists as an expanding
parameter of any length instead: their lists are bounded (a callback batch, one instance's
steps), and building a statement per call cost more than running it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable


#: Lists up to this long are bound (one compiled statement); longer ones are literals.
SHORT_LIST = 32


def in_ids(column: sa.ColumnElement, ids: Iterable[int]) -> sa.ColumnElement[bool]:
    """`column IN (…)` with `ids` as integer literals (a bound list when short); false for no ids."""
    values = list(map(_as_int, ids))
    if not values:
        return sa.false()
    if len(values) <= SHORT_LIST:
        return column.in_(values)
    literals = ",".join(map(str, values))
    # A text clause stands wherever a boolean column expression may (WHERE, and_, &).
    return cast(sa.ColumnElement[bool], sa.text(f"{column.table.name}.{column.name} IN ({literals})"))


def execute_for_ids(
    session: Session, build: Callable[[sa.ColumnElement[bool]], Executable], column: sa.ColumnElement, ids: Iterable[int], params: Mapping[str, Any] | None = None,
) -> sa.Result[*tuple[Any, ...]]:
    """Run `build(column IN ids)` with `params`. For at most SHORT_LIST ids the statement is built
    once per `build` and column, the ids an expanding parameter, and runs on the session's
    connection (building a workflow step's statements per call cost more than running them);
    a longer list goes into a statement built for it with the ids as literals (`in_ids`).
    `build` must be a function defined once (a module's), not a new lambda per call."""
    values = list(map(_as_int, ids))
    if len(values) <= SHORT_LIST:
        return session.connection().execute(_built_once(build, column), {**(params or {}), "ids": values})
    return session.execute(build(in_ids(column, values)), params or {})


@functools.lru_cache(maxsize=64)
def _built_once(build: Callable[[sa.ColumnElement[bool]], Executable], column: sa.ColumnElement) -> Executable:
    return build(column.in_(sa.bindparam("ids", expanding=True)))


def _as_int(value: int) -> int:
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"an id must be an int, not {type(value).__name__}: {value!r}")
        value = int(value)
    return value
