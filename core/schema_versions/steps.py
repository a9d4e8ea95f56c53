"""Re-runnable DDL steps for revision scripts: `steps.add_column(...)` instead of `op.add_column(...)`.

MySQL commits each DDL statement at once, so a revision that stops after its second statement
cannot be rolled back; the next upgrade runs the revision again from its start. Each step here
skips what is already done, so that re-run goes on where the first one stopped. On SQLite the
whole upgrade is one transaction, so a failed one leaves nothing to skip. Offline (`--sql`)
nothing can be looked up: the steps print their DDL for a database at the previous revision.

The revision tool of docs/development.md ("Schema changes") writes new revisions with these steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


def _inspector() -> sa.Inspector | None:
    """The live schema, or None offline (where every step is emitted)."""
    if op.get_context().as_sql:
        return None
    return sa.inspect(op.get_bind())


def _has_table(insp: sa.Inspector | None, table: str) -> bool:
    return insp is not None and insp.has_table(table)


def _has_index(insp: sa.Inspector | None, table: str, name: str) -> bool:
    if insp is None or not insp.has_table(table):
        return False
    names = {ix["name"] for ix in insp.get_indexes(table)} | {uq["name"] for uq in insp.get_unique_constraints(table)}
    return name in names


def _has_column(insp: sa.Inspector | None, table: str, column: str) -> bool:
    return insp is not None and insp.has_table(table) and column in {c["name"] for c in insp.get_columns(table)}


def create_table(name: str, *items: Any, **kw: Any) -> None:
    """`op.create_table`, unless the table exists."""
    if not _has_table(_inspector(), name):
        op.create_table(name, *items, **kw)


def drop_table(name: str) -> None:
    """`op.drop_table`, if the table exists."""
    insp = _inspector()
    if insp is None or insp.has_table(name):
        op.drop_table(name)


def create_index(name: str, table: str, columns: Sequence[str], *, unique: bool = False, **kw: Any) -> None:
    """`op.create_index`, unless an index (or unique constraint) of that name exists on the table."""
    if not _has_index(_inspector(), table, name):
        op.create_index(name, table, list(columns), unique=unique, **kw)


def drop_index(name: str, table_name: str) -> None:
    """`op.drop_index`, if the index exists."""
    insp = _inspector()
    if insp is None or _has_index(insp, table_name, name):
        op.drop_index(name, table_name=table_name)


def add_column(table: str, column: sa.Column[Any]) -> None:
    """`op.add_column`, unless the column exists. A NOT NULL column needs a `server_default`:
    the rows already there get it, and nodes still running the previous release can insert."""
    if not _has_column(_inspector(), table, column.name):
        op.add_column(table, column)


def drop_column(table: str, column: str) -> None:
    """`op.drop_column`, if the column exists (SQLite 3.35 and newer drop columns in place)."""
    insp = _inspector()
    if insp is None or _has_column(insp, table, column):
        op.drop_column(table, column)
