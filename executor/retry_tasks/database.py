"""The business database the retry-task table lives in.

`RetryTasks` usually receives the application's own SQLAlchemy engine; given a URL it builds one
with `open_engine` (the engine set-up shared with the admin database, in `sqlengine`).

On MySQL and PostgreSQL every transaction of ours runs at READ COMMITTED whatever the
application's engine default is: claims use `FOR UPDATE SKIP LOCKED`, and REPEATABLE READ would
add gap locks (MySQL), turn a row updated by a concurrent claim into a serialization failure
(PostgreSQL) and let a transaction read a snapshot older than the rows it just waited for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from shardcron.core import sqlengine
from shardcron.core.sqlengine import redact_url
from .errors import TasksDatabaseError
from .schema import RETRY_TASK_SCHEMA, TABLE_NAME

if TYPE_CHECKING:  # Alembic is loaded only by the calls that inspect or upgrade the table
    from shardcron.core.schema_versions.status import SchemaStatus
    from shardcron.core.schema_versions.upgrade import UpgradeResult

T = TypeVar("T")

#: MySQL errors after which the whole transaction can simply run again: deadlock victim, lock wait timeout.
_RETRIABLE_MYSQL = {1213, 1205}
#: The same for PostgreSQL (SQLSTATE): deadlock detected, serialization failure, lock not available.
_RETRIABLE_POSTGRESQL = {"40P01", "40001", "55P03"}
_TRANSACTION_ATTEMPTS = 5


def describe_db_error(exc: BaseException, url: str | URL) -> str:
    return sqlengine.describe_db_error(exc, url, what="retry-task database")


def parse_url(url: str) -> URL:
    return sqlengine.parse_database_url(url, error=TasksDatabaseError)


def open_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for a `sqlite:///PATH`, `mysql+pymysql://...` or `postgresql+psycopg://...` URL
    (shared set-up, our errors)."""
    return sqlengine.create_db_engine(url, pool_size=pool_size, error=TasksDatabaseError)


class TaskDatabase:
    """The engine plus our transaction discipline (isolation, retry of deadlock victims)."""

    def __init__(self, engine_or_url: Engine | str, *, pool_size: int = 10) -> None:
        if isinstance(engine_or_url, Engine):
            self.engine, self.owns_engine = engine_or_url, False
        elif isinstance(engine_or_url, str):
            self.engine, self.owns_engine = open_engine(engine_or_url, pool_size=pool_size), True
        else:
            raise TypeError(f"expected an SQLAlchemy Engine or a database URL, got {type(engine_or_url).__name__}")
        self.dialect = self.engine.dialect.name
        if self.dialect not in ("sqlite", "mysql", "postgresql"):
            raise TasksDatabaseError(f"retry tasks run on SQLite, MySQL/MariaDB and PostgreSQL, not {self.dialect} ({redact_url(self.engine.url)})")
        if self.dialect == "postgresql" and self.engine.dialect.driver != "psycopg":
            raise TasksDatabaseError(f"retry tasks on PostgreSQL use the psycopg (version 3) driver, not {self.engine.dialect.driver} ({redact_url(self.engine.url)})")
        if self.dialect == "sqlite" and not self.engine.dialect.update_returning:
            raise TasksDatabaseError("retry tasks need SQLite 3.35 or newer (UPDATE ... RETURNING)")
        self._tx_engine = self.engine.execution_options(isolation_level="READ COMMITTED") if self.is_server else self.engine
        self._read_engine = self._tx_engine if self.is_server else self.engine.execution_options(sqlite_begin="DEFERRED")
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def is_mysql(self) -> bool:
        return self.dialect == "mysql"

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @property
    def is_server(self) -> bool:
        """A database server shared by processes on many machines (not a SQLite file)."""
        return self.dialect != "sqlite"

    def _retriable(self, exc: DBAPIError) -> bool:
        """Whether the whole transaction may simply run again (a deadlock victim and the like)."""
        if self.is_mysql:
            code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
            return code in _RETRIABLE_MYSQL
        return self.is_postgresql and getattr(exc.orig, "sqlstate", None) in _RETRIABLE_POSTGRESQL

    def describe(self, exc: BaseException) -> str:
        return describe_db_error(exc, self.engine.url)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads (on SQLite it does not take the write lock)."""
        try:
            with self._read_engine.connect() as conn:
                yield conn
        except (DBAPIError, SQLAlchemyError) as exc:
            raise TasksDatabaseError(self.describe(exc)) from None

    def transaction(self, work: Callable[[Connection], T]) -> T:
        """Run `work(conn)` in one transaction, again from the start if the server picked it as
        a deadlock victim; other database errors become one-line `TasksDatabaseError`s."""
        for attempt in range(1, _TRANSACTION_ATTEMPTS + 1):
            try:
                with self._tx_engine.begin() as conn:
                    return work(conn)
            except DBAPIError as exc:
                if self._retriable(exc) and attempt < _TRANSACTION_ATTEMPTS:
                    continue
                raise TasksDatabaseError(self.describe(exc)) from exc
            except SQLAlchemyError as exc:
                raise TasksDatabaseError(self.describe(exc)) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def connection(self, *, autocommit: bool = False) -> Connection:
        """A connection of its own for work that spans calls (a drain run's held claims), at
        READ COMMITTED or autocommitting; the caller closes it."""
        try:
            return (self._autocommit_engine if autocommit else self._tx_engine).connect()
        except (DBAPIError, SQLAlchemyError) as exc:
            raise TasksDatabaseError(self.describe(exc)) from None

    def create_table(self) -> bool:
        """Create the retry-task table, or bring an existing one to this code's revision
        (`shardcron tasks init`); True if the table was created. Raises `TasksDatabaseError`
        (one line) unless the table ends up current."""
        from shardcron.core.schema_versions.messages import require_current

        result = self.upgrade_schema()
        require_current(RETRY_TASK_SCHEMA, result.after, redact_url(self.engine.url), TasksDatabaseError)
        return TABLE_NAME in result.created_tables

    def upgrade_schema(self) -> UpgradeResult:
        """Bring the table to this code's revision; safe while other processes do the same."""
        from shardcron.core.schema_versions.upgrade import upgrade_schema  # Alembic: only on this path

        return upgrade_schema(RETRY_TASK_SCHEMA, self.engine, error=TasksDatabaseError)

    def schema_status(self) -> SchemaStatus:
        """Where the table stands against this code's revisions; reads only."""
        from shardcron.core.schema_versions.status import read_status

        with self.connect() as conn:
            return read_status(RETRY_TASK_SCHEMA, conn)

    def has_table(self) -> bool:
        try:
            return inspect(self.engine).has_table(TABLE_NAME)
        except (DBAPIError, SQLAlchemyError) as exc:
            raise TasksDatabaseError(self.describe(exc)) from None

    def dispose(self) -> None:
        if self.owns_engine:
            self.engine.dispose()
