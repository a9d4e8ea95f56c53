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

from collections.abc import Iterable
from typing import cast

import sqlalchemy as sa


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


def short_ids(ids: Iterable[int]) -> list[int] | None:
    """`ids` checked as ints when there are at most SHORT_LIST of them, for a statement built once
    with the list as an expanding parameter (`column.in_(sa.bindparam(name, expanding=True))`);
    None for a longer list, which goes into a statement built for it with `in_ids`."""
    values = list(map(_as_int, ids))
    return values if len(values) <= SHORT_LIST else None


def _as_int(value: int) -> int:
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"an id must be an int, not {type(value).__name__}: {value!r}")
        value = int(value)
    return value
