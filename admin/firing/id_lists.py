"""`column IN (1, 2, 3)` for long lists of integer ids, written as literals.

The scheduler's statements name hundreds to thousands of ids at a time (the fires a tick
claims, the run rows a batch of answers moves on). As bound parameters each id costs a
placeholder to render, a name to invent and a value to bind, on every execution, which came to
more than the statement's own work in the database. Ids are integers (checked here), so writing
them into the SQL is safe and the same on every engine, and no engine's limit on the number of
bound parameters applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import sqlalchemy as sa


def in_ids(column: sa.ColumnElement, ids: Iterable[int]) -> sa.ColumnElement[bool]:
    """`column IN (…)` with `ids` as integer literals; false for no ids."""
    literals = ",".join(map(str, map(_as_int, ids)))
    if not literals:
        return sa.false()
    # A text clause stands wherever a boolean column expression may (WHERE, and_, &).
    return cast(sa.ColumnElement[bool], sa.text(f"{column.table.name}.{column.name} IN ({literals})"))


def _as_int(value: int) -> int:
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"an id must be an int, not {type(value).__name__}: {value!r}")
        value = int(value)
    return value
