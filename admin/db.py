"""One engine per process, on the embedded SQLite file or on MySQL/MariaDB.

`Database` owns the engine and the session factory. Errors from the driver are turned into
`DatabaseError`, one line an operator can act on ("cannot reach MySQL at 10.0.0.5:3306 ...").

SQLite transactions start with BEGIN IMMEDIATE (the write lock up front) so two writers queue
on the busy timeout instead of failing with "database is locked" when a read turns into a
write; pure readers may ask for a deferred transaction with `Database.read_session()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shardcron.executor.errors import ShardcronError

from .models import SCHEMA_VERSION, Base, Meta

SQLITE_BUSY_TIMEOUT_MS = 30_000
MIN_MARIADB = (10, 6)
MIN_MYSQL = (8, 0)


class DatabaseError(ShardcronError):
    """The database cannot be used: bad URL, unreachable, refused, too old, wrong schema."""


def redact_url(url: str | URL) -> str:
    """The URL with its password (and driver options) hidden, for messages and logs."""
    try:
        return make_url(url).set(query={}).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL has nothing we could reliably hide: show none of it
        return "<unparseable URL>"


def parse_database_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"invalid database URL {url!r}: use sqlite:///PATH or mysql+pymysql://USER:PASSWORD@HOST:PORT/DATABASE") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed
    if backend in ("mysql", "mariadb"):
        if driver != "pymysql":
            raise DatabaseError(f"database URL {redact_url(parsed)}: use the PyMySQL driver, i.e. {backend}+pymysql://...")
        if not parsed.database:
            raise DatabaseError(f"database URL {redact_url(parsed)} names no database (…/DATABASE at the end)")
        return parsed
    raise DatabaseError(f"unsupported database {parsed.drivername!r} in {redact_url(parsed)}: shardcron runs on SQLite and MySQL/MariaDB")


def _sqlite_path(url: URL) -> Path | None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def create_db_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine configured for shardcron's use of the given URL."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_path(parsed)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(f"cannot create the folder for SQLite file {path}: {exc.strerror}") from None
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _configure_sqlite(engine)
        return engine
    query = dict(parsed.query)
    query.setdefault("charset", "utf8mb4")
    return create_engine(
        parsed.set(query=query),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=3600,
        # Claims use SELECT ... FOR UPDATE SKIP LOCKED; READ COMMITTED keeps gap locks away.
        isolation_level="READ COMMITTED",
        connect_args={"connect_timeout": 5},
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


_MYSQL_HINTS = {
    1044: "the user has no access to this database",
    1045: "access denied: check the user name and password",
    1698: "access denied: check the user name and password",
    1049: "the database does not exist: create it first (CREATE DATABASE … CHARACTER SET utf8mb4)",
    1142: "the user lacks a privilege shardcron needs",
    1227: "the user lacks a privilege shardcron needs",
    2003: "cannot reach the server",
    2005: "unknown host",
    2013: "the server closed the connection",
}


def describe_db_error(exc: BaseException, url: str | URL) -> str:
    """One line saying what went wrong with the database at `url`."""
    where = redact_url(url)
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_HINTS:
        detail = str(args[1]) if len(args) > 1 else ""
        return f"database {where}: {_MYSQL_HINTS[args[0]]} ({detail})"
    first_line = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    first_line = re.sub(r"\s*\(Background on this error.*$", "", first_line)
    return f"database {where}: {first_line}"


def check_server(engine: Engine) -> str:
    """Connect once; refuse MySQL/MariaDB versions without SKIP LOCKED. Returns the server version."""
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return "SQLite " + conn.exec_driver_sql("select sqlite_version()").scalar_one()
            version = conn.exec_driver_sql("select version()").scalar_one()
    except (DBAPIError, SQLAlchemyError) as exc:
        raise DatabaseError(describe_db_error(exc, engine.url)) from None
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    is_maria = "mariadb" in version.lower()
    minimum = MIN_MARIADB if is_maria else MIN_MYSQL
    if numbers < minimum:
        name = "MariaDB" if is_maria else "MySQL"
        raise DatabaseError(f"database {redact_url(engine.url)}: {name} {version} is too old; shardcron needs {name} {'.'.join(map(str, minimum))} or newer")
    return ("MariaDB " if is_maria else "MySQL ") + version


@dataclass
class SchemaInitResult:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    version: int = SCHEMA_VERSION

    @property
    def changed(self) -> bool:
        return bool(self.created)


def init_schema(engine: Engine) -> SchemaInitResult:
    """Create whatever tables are missing and record the schema version; idempotent."""
    expected = [t.name for t in Base.metadata.sorted_tables]
    try:
        present = set(inspect(engine).get_table_names())
        result = SchemaInitResult(
            created=[name for name in expected if name not in present],
            existing=[name for name in expected if name in present],
        )
        if "sc_meta" in present:
            with engine.connect() as conn:
                stored = conn.execute(select(Meta.value).where(Meta.name == "schema_version")).scalar_one_or_none()
            if stored is not None and int(stored) > SCHEMA_VERSION:
                raise DatabaseError(
                    f"database {redact_url(engine.url)} has schema version {stored}, newer than this shardcron ({SCHEMA_VERSION}): upgrade shardcron"
                )
        if result.created:
            Base.metadata.create_all(engine, checkfirst=True)
        with engine.begin() as conn:
            stored = conn.execute(select(Meta.value).where(Meta.name == "schema_version")).scalar_one_or_none()
            if stored is None:
                conn.execute(Meta.__table__.insert().values(name="schema_version", value=str(SCHEMA_VERSION)))
    except (DBAPIError, SQLAlchemyError) as exc:
        raise DatabaseError(describe_db_error(exc, engine.url)) from None
    return result


def schema_is_current(engine: Engine) -> bool:
    """True when every table exists (used by readiness checks and by commands that need a schema)."""
    try:
        present = set(inspect(engine).get_table_names())
    except (DBAPIError, SQLAlchemyError) as exc:
        raise DatabaseError(describe_db_error(exc, engine.url)) from None
    return all(t.name in present for t in Base.metadata.sorted_tables)


class Database:
    """The engine and session factory of one process."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_db_engine(url, pool_size=pool_size)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reads only (on SQLite it does not take the write lock)."""
        with self._read_sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("select 1"))
        except (DBAPIError, SQLAlchemyError) as exc:
            raise DatabaseError(describe_db_error(exc, self.engine.url)) from None

    def dispose(self) -> None:
        self.engine.dispose()
