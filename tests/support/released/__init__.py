"""Databases as released versions of shardcron left them, with rows: where upgrade tests start.

Each release keeps its DDL as it shipped (`<version>/{mysql,sqlite}/{admin,retry_task}.sql`,
copied from `sql/` at the release, never regenerated; 0.1.0 shipped none for PostgreSQL, so its
`postgresql/` files are the baseline revision rendered for PostgreSQL, see their header) and the rows an installation of it holds
(`rows_<version>.py`, inserted around the models, which describe head). When a release ships,
add its folder and rows and append it to RELEASES: every upgrade test then also starts from it.

For a test of one revision, `database_at(url, "0002", rows)` builds a database at any revision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shardcron.core.schema_versions.spec import VersionedSchema
from shardcron.core.schema_versions.upgrade import upgrade_schema
from shardcron.core.sqlengine import create_db_engine
from tests.support.schema_snapshot import apply_ddl

from . import rows_0_1_0

HERE = Path(__file__).resolve().parent

Rows = Mapping[str, Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class Release:
    version: str
    admin_rows: Rows
    retry_task_rows: Rows

    def ddl(self, name: str, url: str) -> Path:
        """`name` is "admin" or "retry_task"."""
        return HERE / self.version / dialect_dir(url) / f"{name}.sql"

    def __str__(self) -> str:
        return self.version


RELEASES: tuple[Release, ...] = (Release("0.1.0", rows_0_1_0.ADMIN_ROWS, rows_0_1_0.RETRY_TASK_ROWS),)


def dialect_dir(url: str) -> str:
    backend = sa.engine.make_url(url).get_backend_name()
    return backend if backend in ("sqlite", "postgresql") else "mysql"


def released_database(url: str, release: Release, name: str, rows: Rows) -> None:
    """Create `release`'s schema `name` in the empty database at `url`, holding `rows`."""
    engine = sa.create_engine(url)
    try:
        apply_ddl(engine, release.ddl(name, url))
        insert_rows(engine, rows)
    finally:
        engine.dispose()


def database_at(url: str, schema: VersionedSchema, revision: str, rows: Rows) -> None:
    """The empty database at `url` upgraded to `revision` (not head), then holding `rows`."""
    engine = create_db_engine(url, pool_size=1)
    try:
        upgrade_schema(schema, engine, target=revision)
        insert_rows(engine, rows)
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    """The tables of the database at `url`."""
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def insert_rows(engine: sa.Engine, rows: Rows) -> None:
    """Insert `rows` as an installation wrote them, ids included. On PostgreSQL a given id does
    not move the column's sequence on (MySQL's AUTO_INCREMENT and SQLite's do), so each sequence
    is set past the largest id, as a restore of such a database would."""
    with engine.begin() as conn:
        for table, table_rows in rows.items():
            columns = [sa.column(name) for name in table_rows[0]]
            conn.execute(sa.table(table, *columns).insert(), [dict(row) for row in table_rows])
            if engine.dialect.name == "postgresql" and "id" in table_rows[0]:
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def _plain(value: Any) -> Any:
    """Compare values across drivers: dates as ISO text (SQLite stores text), bools as ints."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def read_rows(engine: sa.Engine, table: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    """`columns` of every row of `table`, in primary-key order."""
    key = sa.inspect(engine).get_pk_constraint(table)["constrained_columns"]
    with engine.connect() as conn:
        result = conn.execute(sa.text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(key)}"))
        return [{name: _plain(value) for name, value in row._mapping.items()} for row in result]


#: Values a later revision moves elsewhere on purpose: (table, column) -> where they went.
#: `assert_rows_kept` does not compare them; the upgrade tests check them where they went.
MOVED_BY_REVISIONS = {
    ("sc_user", "api_token_hash"): "0004 moves each API token into sc_api_token, named 'default', and empties the column",
}


def assert_rows_kept(url: str, rows: Rows) -> None:
    """Every row of `rows` is in the database with every value it had (other rows may exist),
    but for the columns of MOVED_BY_REVISIONS."""
    engine = sa.create_engine(url)
    try:
        for table, expected in rows.items():
            columns = [name for name in expected[0] if (table, name) not in MOVED_BY_REVISIONS]
            actual = read_rows(engine, table, columns)
            wanted = [{name: _plain(row[name]) for name in columns} for row in expected]
            missing = [row for row in wanted if row not in actual]
            assert missing == [], f"{table}: rows changed or lost by the upgrade"
    finally:
        engine.dispose()
