"""Idempotent writes that every engine does atomically: insert-or-ignore and insert-or-update.

Follow-ups, child fires, alarms and registrations may be written twice (two scheduler nodes, an
executor re-sending a call); the table's unique key decides, and the second write is a no-op or
an update instead of an error. Each is one statement, so nothing is half-written and no retry
loop is needed around a unique-key race.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def insert_ignoring_duplicates(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows`; a row whose unique key already exists is skipped (any other error raises)."""
    if not rows:
        return
    # On the session's connection: a Core statement of a table, nothing for the ORM to do.
    session.connection().execute(_ignoring_insert(_dialect(session), table), [dict(row) for row in rows])


def insert_ignoring_duplicates_returning(
    session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]], columns: tuple[sa.Column, ...],
) -> list[sa.Row] | None:
    """`insert_ignoring_duplicates`, in the same round trip reading `columns` of the rows it
    wrote: on MariaDB (10.5 and later) of every row, an existing one included; on PostgreSQL and
    SQLite only of the rows it inserted. None where the database cannot return rows from an
    INSERT (MySQL) and nothing was written: the caller writes with `insert_ignoring_duplicates`
    and reads what it needs."""
    if not rows:
        return []
    dialect = session.get_bind().dialect
    if not (dialect.insert_executemany_returning if len(rows) > 1 else dialect.insert_returning):
        return None
    stmt = _ignoring_insert_returning(dialect.name, table, columns)
    return list(session.connection().execute(stmt, [dict(row) for row in rows]))


@functools.lru_cache(maxsize=64)
def _ignoring_insert_returning(dialect: str, table: sa.Table, columns: tuple[sa.Column, ...]) -> sa.Insert:
    return _ignoring_insert(dialect, table).returning(*columns)


@functools.lru_cache(maxsize=64)
def _ignoring_insert(dialect: str, table: sa.Table) -> sa.Insert:
    """The statement, built once per engine kind and table (a workflow step's fire is one: a
    statement built per call cost more CPU than the database's work for it)."""
    if dialect == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        # Skips unique-key conflicts only: any other error (NOT NULL, too long) still raises.
        return postgresql_insert(table).on_conflict_do_nothing()
    # A no-op update rather than INSERT IGNORE, which would also swallow truncation and
    # NOT NULL errors.
    first_key = table.primary_key.columns.values()[0]
    return mysql_insert(table).on_duplicate_key_update({first_key.name: first_key})


def upsert(session: Session, table: sa.Table, row: Mapping[str, Any], *, key: Sequence[str], update: Sequence[str]) -> None:
    """Insert `row`, or, when the unique key `key` exists, set the `update` columns from it."""
    dialect = _dialect(session)
    stmt: sa.Insert
    if dialect == "sqlite":
        lite = sqlite_insert(table).values(dict(row))
        stmt = lite.on_conflict_do_update(index_elements=list(key), set_={name: lite.excluded[name] for name in update})
    elif dialect == "postgresql":
        postgres = postgresql_insert(table).values(dict(row))
        stmt = postgres.on_conflict_do_update(index_elements=list(key), set_={name: postgres.excluded[name] for name in update})
    else:
        mysql = mysql_insert(table).values(dict(row))
        stmt = mysql.on_duplicate_key_update({name: mysql.inserted[name] for name in update})
    session.execute(stmt)
