"""SQLAlchemy engines for the two databases shardcron runs on: a SQLite file and MySQL/MariaDB.

Shared by the admin database and the retry-task table in the application's database, so both
parse URLs, describe failures and configure connections the same way.

SQLite transactions start with BEGIN IMMEDIATE (the write lock up front) so two writers queue
on the busy timeout instead of failing with "database is locked" when a read turns into a
write; pure readers ask for `execution_options(sqlite_begin="DEFERRED")`. MySQL sessions run at
READ COMMITTED: claims use `FOR UPDATE SKIP LOCKED`, and REPEATABLE READ would add gap locks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import ShardcronError

SQLITE_BUSY_TIMEOUT_MS = 30_000


class DatabaseError(ShardcronError):
    """A database cannot be used: bad URL, unreachable, refused, too old, wrong schema."""


def redact_url(url: str | URL) -> str:
    """The URL with its password (and driver options) hidden, for messages and logs."""
    try:
        return make_url(url).set(query={}).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL has nothing we could reliably hide: show none of it
        return "<unparseable URL>"


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


def describe_db_error(exc: BaseException, url: str | URL, *, what: str = "database") -> str:
    """One line saying what went wrong with the database at `url`."""
    where = redact_url(url)
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_HINTS:
        detail = str(args[1]) if len(args) > 1 else ""
        return f"{what} {where}: {_MYSQL_HINTS[args[0]]} ({detail})"
    first_line = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    first_line = re.sub(r"\s*\(Background on this error.*$", "", first_line)
    return f"{what} {where}: {first_line}"


def parse_database_url(url: str, *, error: type[ShardcronError] = DatabaseError) -> URL:
    """A `sqlite:///PATH` or `mysql+pymysql://…/DATABASE` URL, or `error` saying what is wrong."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise error(f"invalid database URL {url!r}: use sqlite:///PATH or mysql+pymysql://USER:PASSWORD@HOST:PORT/DATABASE") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed
    if backend in ("mysql", "mariadb"):
        if driver != "pymysql":
            raise error(f"database URL {redact_url(parsed)}: use the PyMySQL driver, i.e. {backend}+pymysql://...")
        if not parsed.database:
            raise error(f"database URL {redact_url(parsed)} names no database (…/DATABASE at the end)")
        return parsed
    raise error(f"unsupported database {parsed.drivername!r} in {redact_url(parsed)}: shardcron runs on SQLite and MySQL/MariaDB")


def _sqlite_path(url: URL) -> Path | None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def create_db_engine(url: str, *, pool_size: int = 10, error: type[ShardcronError] = DatabaseError) -> Engine:
    """An engine configured for shardcron's use of the given URL."""
    parsed = parse_database_url(url, error=error)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_path(parsed)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise error(f"cannot create the folder for SQLite file {path}: {exc.strerror}") from None
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
