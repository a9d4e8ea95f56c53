"""The business database the retry-task table lives in.

`RetryTasks` usually receives the application's own SQLAlchemy engine; given a URL it builds one
with `open_engine` (the engine set-up shared with the admin database, in `sqlengine`).

On MySQL every transaction of ours runs at READ COMMITTED whatever the application's engine
default is: claims use `FOR UPDATE SKIP LOCKED`, and REPEATABLE READ would add gap locks and let a
transaction read a snapshot older than the rows it just waited for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from .. import sqlengine
from ..sqlengine import redact_url  # noqa: F401  (used by the CLI)
from .errors import TasksDatabaseError
from .schema import TABLE_NAME, metadata

T = TypeVar("T")

#: MySQL errors after which the whole transaction can simply run again: deadlock victim, lock wait timeout.
_RETRIABLE_MYSQL = {1213, 1205}
_TRANSACTION_ATTEMPTS = 5


def describe_db_error(exc: BaseException, url: str | URL) -> str:
    return sqlengine.describe_db_error(exc, url, what="retry-task database")


def parse_url(url: str) -> URL:
    return sqlengine.parse_database_url(url, error=TasksDatabaseError)


def open_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for a `sqlite:///PATH` or `mysql+pymysql://...` URL (shared set-up, our errors)."""
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
        if self.dialect not in ("sqlite", "mysql"):
            raise TasksDatabaseError(f"retry tasks run on SQLite and MySQL/MariaDB, not {self.dialect} ({redact_url(self.engine.url)})")
        if self.dialect == "sqlite" and not self.engine.dialect.update_returning:
            raise TasksDatabaseError("retry tasks need SQLite 3.35 or newer (UPDATE ... RETURNING)")
        self._tx_engine = self.engine.execution_options(isolation_level="READ COMMITTED") if self.is_mysql else self.engine
        self._read_engine = self._tx_engine if self.is_mysql else self.engine.execution_options(sqlite_begin="DEFERRED")

    @property
    def is_mysql(self) -> bool:
        return self.dialect == "mysql"

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
        """Run `work(conn)` in one transaction, again from the start if MySQL picked it as a
        deadlock victim; other database errors become one-line `TasksDatabaseError`s."""
        for attempt in range(1, _TRANSACTION_ATTEMPTS + 1):
            try:
                with self._tx_engine.begin() as conn:
                    return work(conn)
            except DBAPIError as exc:
                code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
                if self.is_mysql and code in _RETRIABLE_MYSQL and attempt < _TRANSACTION_ATTEMPTS:
                    continue
                raise TasksDatabaseError(self.describe(exc)) from exc
            except SQLAlchemyError as exc:
                raise TasksDatabaseError(self.describe(exc)) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def create_table(self) -> bool:
        """Create the retry-task table (and its indexes) if missing; True if it was created."""
        try:
            existed = inspect(self.engine).has_table(TABLE_NAME)
            metadata.create_all(self.engine, checkfirst=True)
        except (DBAPIError, SQLAlchemyError) as exc:
            raise TasksDatabaseError(self.describe(exc)) from None
        return not existed

    def has_table(self) -> bool:
        try:
            return inspect(self.engine).has_table(TABLE_NAME)
        except (DBAPIError, SQLAlchemyError) as exc:
            raise TasksDatabaseError(self.describe(exc)) from None

    def dispose(self) -> None:
        if self.owns_engine:
            self.engine.dispose()
