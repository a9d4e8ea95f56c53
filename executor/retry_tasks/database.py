"""The business database the retry-task table lives in.

`RetryTasks` usually receives the application's own SQLAlchemy engine; given a URL it builds one
with `open_engine`. The executor never imports the admin, so this is the executor's own small
engine factory (SQLite file or MySQL/MariaDB via PyMySQL).

On MySQL every transaction of ours runs at READ COMMITTED whatever the application's engine
default is: claims use `FOR UPDATE SKIP LOCKED`, and REPEATABLE READ would add gap locks and let a
transaction read a snapshot older than the rows it just waited for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from .errors import TasksDatabaseError
from .schema import TABLE_NAME, metadata

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_S = 30.0
#: MySQL errors after which the whole transaction can simply run again: deadlock victim, lock wait timeout.
_RETRIABLE_MYSQL = {1213, 1205}
_TRANSACTION_ATTEMPTS = 5


def redact_url(url: str | URL) -> str:
    try:
        return make_url(url).set(query={}).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL: show none of it rather than leak a password
        return "<unparseable URL>"


def describe_db_error(exc: BaseException, url: str | URL) -> str:
    """One line: where, and what the driver said (first line, without SQLAlchemy's links)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    text = re.sub(r"\s*\(Background on this error.*$", "", text)
    return f"retry-task database {redact_url(url)}: {text}"


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        raise TasksDatabaseError(
            f"invalid database URL {url!r}: use sqlite:///PATH or mysql+pymysql://USER:PASSWORD@HOST:PORT/DATABASE"
        ) from None


def open_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for a `sqlite:///PATH` or `mysql+pymysql://...` URL."""
    parsed = parse_url(url)
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _configure_sqlite(engine)
        return engine
    if backend in ("mysql", "mariadb") and driver == "pymysql":
        if not parsed.database:
            raise TasksDatabaseError(f"database URL {redact_url(parsed)} names no database (.../DATABASE at the end)")
        query = dict(parsed.query)
        query.setdefault("charset", "utf8mb4")
        try:
            return create_engine(
                parsed.set(query=query),
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                pool_recycle=3600,
                isolation_level="READ COMMITTED",
                connect_args={"connect_timeout": 5},
            )
        except NoSuchModuleError as exc:  # pragma: no cover - PyMySQL is a dependency
            raise TasksDatabaseError(describe_db_error(exc, parsed)) from None
    raise TasksDatabaseError(
        f"unsupported database {parsed.drivername!r} in {redact_url(parsed)}: use sqlite:///PATH or mysql+pymysql://..."
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # BEGIN is issued below, so it can be IMMEDIATE
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take SQLite's single write lock up front, so they queue on the busy timeout
        # instead of failing when a read inside the transaction turns into a write; reads
        # (`TaskDatabase.connect`) ask for a deferred transaction and take no write lock.
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'IMMEDIATE')}")


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
