"""Many rows into one table in as few statements as possible (with their new ids in row order).

The dispatcher writes up to a thousand run rows per transaction (the row id is the wire logId,
so it must be known before `/run`). Going through SQLAlchemy's executemany cost more per row
than the database's own insert, so rows go to the driver directly:

- SQLite: the transaction holds the write lock from its first statement (BEGIN IMMEDIATE), so
  nobody else inserts meanwhile. The ids are the next ones after both the table's largest id
  and its AUTOINCREMENT counter (an id is never handed out twice, even after the newest rows
  were deleted), written explicitly in multi-row INSERTs of as many rows as the bound-parameter
  limit allows; SQLite moves the counter on.
- MySQL/MariaDB on a connection whose new ids are consecutive (`consecutive_ids`: InnoDB's
  `innodb_autoinc_lock_mode` 0 or 1, `auto_increment_increment` 1; MariaDB's defaults): one
  multi-row INSERT per chunk, its ids the run from the first new id (`lastrowid`) on, in row
  order. InnoDB hands such a "simple insert" (a VALUES list, its row count known before it
  runs) one run of consecutive values under those settings.
- Otherwise MariaDB: one multi-row `INSERT … RETURNING id` per chunk. The ids of one statement
  ascend in the order of its rows, so the sorted ids match the rows in order. Reading the ids
  back costs the driver CPU per row in the scheduler's bursts, hence the first way
  (docs/benchmarks.md, Scheduler: "Run rows on MySQL/MariaDB are inserted without RETURNING").
- Otherwise MySQL 8 (no RETURNING): one INSERT per row.
- PostgreSQL: SQLAlchemy's own batched path ("insertmanyvalues": multi-row `INSERT … RETURNING
  id` of up to 1,000 rows, the ids matched to the rows by SQLAlchemy's sort key), through psycopg
  with bound parameters; no literals are built here.

Why not SQLAlchemy's batched path everywhere: with SQLAlchemy's "insertmanyvalues"
(`insert().returning(id, sort_by_parameter_order=True)` with the rows as dicts, and
`prefix_with("OR IGNORE" / "IGNORE")` for the fires) in place of the SQLite and MySQL/MariaDB
paths below, the scheduler benchmark's (b) fell on both databases by more than the 10 % a
shorter module would be worth (figures in docs/benchmarks.md, "SQLAlchemy's batched inserts
against the hand-built ones"). SQLAlchemy builds a parameter dict per row and binds every value;
the paths here hand the driver tuples (SQLite) or one literal statement whose ids need no
reading back (MariaDB). PostgreSQL has no hand path to compare.

`insert_ignoring_duplicates` writes the fire loop's scheduled fires the same way, skipping
those that exist already, with no ids back. Every row has the same keys. Enum values are
StrEnum members, which both drivers take as the plain strings they are, and the table's
Python-side scalar defaults fill the columns the rows leave out.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import ScalarElementColumnDefault

#: Most bytes of row literals in one MariaDB statement (well under the server's max_allowed_packet).
MAX_STATEMENT_BYTES = 1 << 20


def insert_returning_ids(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    return insert_values_returning_ids(session, table, list(rows[0]), [tuple(row.values()) for row in rows])


def insert_values_returning_ids(session: Session, table: sa.Table, columns: list[str], values: list[tuple]) -> list[int]:
    """`insert_returning_ids` for rows given as tuples in the order of `columns` (no dict per
    row: the dispatcher's run rows)."""
    if not values:
        return []
    dialect = session.get_bind().dialect
    columns, values = _with_defaults(table, columns, values)
    if dialect.name == "sqlite":
        return _insert_sqlite(session, table, columns, values)
    if dialect.name == "postgresql":
        stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(session.connection().execute(stmt, [dict(zip(columns, row, strict=True)) for row in values]).scalars())
    consecutive = consecutive_ids(session)
    if consecutive or dialect.insert_executemany_returning_sort_by_parameter_order:
        ids: list[int] = []
        with _driver_cursor(session) as (cursor, escape):
            for sql, count in _multirow_inserts(f"INSERT INTO {table.name}", columns, values, escape):
                if consecutive:
                    cursor.execute(sql)  # no arguments: nothing is %-formatted
                    first = cursor.lastrowid
                    if cursor.rowcount != count or not first:
                        raise RuntimeError(f"inserted {count} rows but the server reports {cursor.rowcount} from id {first}")
                    chunk_ids = list(range(first, first + count))
                else:
                    cursor.execute(sql + " RETURNING id")
                    chunk_ids = sorted(row[0] for row in cursor.fetchall())
                    if len(chunk_ids) != count:
                        raise RuntimeError(f"inserted {count} rows but got {len(chunk_ids)} ids back")
                ids += chunk_ids
        return ids
    connection = session.connection()
    keys = []
    for row in values:
        key = connection.execute(sa.insert(table).values(dict(zip(columns, row, strict=True)))).inserted_primary_key
        assert key is not None  # a single-row INSERT always has one
        keys.append(key[0])
    return keys


def consecutive_ids(session: Session) -> bool:
    """Whether a multi-row INSERT on the session's MySQL/MariaDB connection gets consecutive new
    ids, in row order: InnoDB allocates a simple insert's values at once under
    `innodb_autoinc_lock_mode` 0 (traditional) or 1 (consecutive; MariaDB's default), and they step
    by the session's `auto_increment_increment`, which must be 1. MySQL 8's default mode 2
    (interleaved) promises no run, nor do Galera clusters, which raise the increment. Asked once
    per database connection (the pool keeps the answer with the connection)."""
    connection = session.connection()
    info = connection.connection.info
    known = info.get(_CONSECUTIVE_IDS)
    if known is None:
        mode, step = connection.exec_driver_sql("SELECT @@GLOBAL.innodb_autoinc_lock_mode, @@SESSION.auto_increment_increment").one()
        known = info[_CONSECUTIVE_IDS] = int(mode) in (0, 1) and int(step) == 1
    return known


_CONSECUTIVE_IDS = "shardcron.consecutive_ids"


def insert_ignoring_duplicates(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert the rows, skipping any that collides with a unique key (SQLite `OR IGNORE`,
    MySQL/MariaDB `IGNORE`, PostgreSQL `ON CONFLICT DO NOTHING`), the same way as
    `insert_returning_ids` but with no ids back."""
    if not rows:
        return
    columns, values = _with_defaults(table, list(rows[0]), [tuple(row.values()) for row in rows])
    if session.get_bind().dialect.name == "postgresql":
        stmt = postgresql_insert(table).on_conflict_do_nothing()
        session.connection().execute(stmt, [dict(zip(columns, row, strict=True)) for row in values])
        return
    if session.get_bind().dialect.name == "sqlite":
        _sqlite_multirow(session, f"INSERT OR IGNORE INTO {table.name}", columns, values)
        return
    with _driver_cursor(session) as (cursor, escape):
        for sql, _ in _multirow_inserts(f"INSERT IGNORE INTO {table.name}", columns, values, escape):
            cursor.execute(sql)


def _driver_connection(session: Session) -> Any:
    """The driver's own connection under the session's (sqlite3's or PyMySQL's: their own
    methods are used)."""
    connection = session.connection().connection.dbapi_connection
    assert connection is not None  # a connection the session has checked out always has one
    return connection


def _with_defaults(table: sa.Table, columns: list[str], values: list[tuple]) -> tuple[list[str], list[tuple]]:
    """The columns the rows leave out that have a scalar default, added with it."""
    given = set(columns)
    defaults = {c.name: c.default.arg for c in table.columns if c.name not in given and isinstance(c.default, ScalarElementColumnDefault)}
    for value in values[0]:
        if isinstance(value, Enum) and not isinstance(value, str):
            raise TypeError(f"{value!r}: only StrEnum members go to the driver as they are")
    if not defaults:
        return columns, values
    fixed = tuple(defaults.values())
    return [*columns, *defaults], [(*row, *fixed) for row in values]


def _insert_sqlite(session: Session, table: sa.Table, columns: list[str], values: list[tuple]) -> list[int]:
    seq = sa.text(f"(SELECT seq FROM sqlite_sequence WHERE name = '{table.name}')")
    base = session.execute(
        sa.select(sa.func.max(sa.func.coalesce(sa.select(sa.func.max(table.c.id)).scalar_subquery(), 0), sa.func.coalesce(seq, 0)))
    ).scalar_one()
    ids = list(range(base + 1, base + 1 + len(values)))
    _sqlite_multirow(session, f"INSERT INTO {table.name}", ["id", *columns], [(new_id, *row) for new_id, row in zip(ids, values, strict=True)])
    return ids


def _sqlite_multirow(session: Session, head: str, columns: list[str], values: list[tuple]) -> None:
    """`head (columns) VALUES (?, …), (?, …), …` with as many rows per statement as SQLite's
    limit on bound parameters allows. One statement is one step of the SQLite engine, and the
    driver lets go of the interpreter lock around each step: with a step per row (executemany)
    the dispatch threads could take the lock from the fire loop once per row during a burst
    (docs/benchmarks.md, Scheduler)."""
    driver = _driver_connection(session)
    per_statement = max(1, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(columns))
    row_marks = "(" + ",".join("?" * len(columns)) + ")"
    prefix = f"{head} ({', '.join(columns)}) VALUES "
    cursor = driver.cursor()
    try:
        for start in range(0, len(values), per_statement):
            chunk = values[start : start + per_statement]
            cursor.execute(prefix + ",".join([row_marks] * len(chunk)), [value for row in chunk for value in row])
    finally:
        cursor.close()


@contextmanager
def _driver_cursor(session: Session) -> Iterator[tuple[Any, Callable[[Any], str]]]:
    """A cursor of the session's own connection (same transaction) and a function quoting one
    value as a SQL literal: ints (most values) and NULL as they are, everything else through
    the driver's own quoting, as its executemany would."""
    driver = _driver_connection(session)

    quoted: dict[str, str] = {}  # a batch repeats its strings (statuses, handlers, addresses)

    def escape(value: Any) -> str:
        if value is None:
            return "NULL"
        kind = type(value)
        if kind is int:
            return str(value)
        if kind is str or isinstance(value, str):  # StrEnum members quote as their plain string
            literal = quoted.get(value)
            if literal is None:
                literal = quoted[value] = driver.escape(str(value))
            return literal
        return driver.escape(value)

    cursor = driver.cursor()
    try:
        yield cursor, escape
    finally:
        cursor.close()


def _multirow_inserts(head: str, columns: list[str], values: list[tuple], escape: Callable[[Any], str]) -> Iterator[tuple[str, int]]:
    """`head (columns) VALUES (…),(…)` statements of at most about MAX_STATEMENT_BYTES each,
    with the number of rows in each."""
    prefix = f"{head} ({', '.join(columns)}) VALUES "
    chunk: list[str] = []
    size = 0
    for row in values:
        literal = "(" + ",".join(map(escape, row)) + ")"
        chunk.append(literal)
        size += len(literal)
        if size >= MAX_STATEMENT_BYTES:
            yield prefix + ",".join(chunk), len(chunk)
            chunk, size = [], 0
    if chunk:
        yield prefix + ",".join(chunk), len(chunk)
