"""SQLAlchemy engines for the databases shardcron runs on: a SQLite file, MySQL/MariaDB and
PostgreSQL (through psycopg 3).

Shared by the admin database and the retry-task table in the application's database, so both
parse URLs, describe failures and configure connections the same way.

SQLite transactions start with BEGIN IMMEDIATE (the write lock up front) so two writers queue
on the busy timeout instead of failing with "database is locked" when a read turns into a
write; pure readers ask for `execution_options(sqlite_begin="DEFERRED")`. MySQL sessions run at
READ COMMITTED: claims use `FOR UPDATE SKIP LOCKED`, and REPEATABLE READ would add gap locks.
PostgreSQL sessions run at READ COMMITTED too (its default, set explicitly so a server configured
otherwise cannot turn a lost claim race into a serialization error), and both servers' sessions
in UTC.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from . import private_files
from .clock import SYSTEM_CLOCK
from .errors import ShardcronError
from .sqlite_gate import GatedConnection, WriteGate, begin_write, end_write, gate_for

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


#: psycopg reports a failed connection with no SQLSTATE, only the server's or libpq's text; these
#: patterns of that text (stable across PostgreSQL 13-17 and libpq 13-17) get the same hints.
_POSTGRES_CONNECT_HINTS = (
    (re.compile(r"password authentication failed|no password supplied|role \"[^\"]*\" does not exist"), "access denied: check the user name and password"),
    (re.compile(r"database \"[^\"]*\" does not exist"), "the database does not exist: create it first (CREATE DATABASE … ENCODING 'UTF8')"),
    (re.compile(r"permission denied for database|not permitted to log in|no pg_hba.conf entry"), "the user has no access to this database"),
    (re.compile(r"Connection refused|timeout expired|Connection timed out|No route to host"), "cannot reach the server"),
    (re.compile(r"failed to resolve host|could not translate host name"), "unknown host"),
    (re.compile(r"server closed the connection"), "the server closed the connection"),
)
#: SQLSTATE classes of errors raised inside a session.
_POSTGRES_SQLSTATE_HINTS = {"42501": "the user lacks a privilege shardcron needs", "3D000": "the database does not exist"}


def describe_db_error(exc: BaseException, url: str | URL, *, what: str = "database") -> str:
    """One line saying what went wrong with the database at `url`."""
    where = redact_url(url)
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_HINTS:
        detail = str(args[1]) if len(args) > 1 else ""
        return f"{what} {where}: {_MYSQL_HINTS[args[0]]} ({detail})"
    first_line = _first_line(orig)
    if type(orig).__module__.startswith("psycopg"):
        hint = _postgres_hint(orig, str(orig))
        if hint is not None:
            return f"{what} {where}: {hint} ({first_line})"
    return f"{what} {where}: {first_line}"


def _first_line(orig: BaseException) -> str:
    """The error's first line; of libpq's "connection failed: ... failed: FATAL:  ..." only what
    follows the last "failed:", the part that names the cause."""
    text = str(orig).strip()
    line = text.splitlines()[0] if text else type(orig).__name__
    line = re.sub(r"\s*\(Background on this error.*$", "", line)
    return re.sub(r"^connection failed: .*failed: (?:FATAL:\s+)?", "", line)


def _postgres_hint(orig: BaseException, text: str) -> str | None:
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _POSTGRES_SQLSTATE_HINTS:
        return _POSTGRES_SQLSTATE_HINTS[sqlstate]
    for pattern, hint in _POSTGRES_CONNECT_HINTS:
        if pattern.search(text):
            return hint
    return None


#: What every "unsupported" message offers instead.
URL_FORMS = "sqlite:///PATH, mysql+pymysql://USER:PASSWORD@HOST:PORT/DATABASE or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"


def parse_database_url(url: str, *, error: type[ShardcronError] = DatabaseError) -> URL:
    """A `sqlite:///PATH`, `mysql+pymysql://…/DATABASE` or `postgresql+psycopg://…/DATABASE` URL
    (a bare `postgresql://` means psycopg), or `error` saying what is wrong."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise error(f"invalid database URL {url!r}: use {URL_FORMS}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed
    if backend in ("mysql", "mariadb"):
        if driver != "pymysql":
            raise error(f"database URL {redact_url(parsed)}: use the PyMySQL driver, i.e. {backend}+pymysql://...")
        if not parsed.database:
            raise error(f"database URL {redact_url(parsed)} names no database (…/DATABASE at the end)")
        return parsed
    if backend == "postgresql":
        if driver not in ("", "psycopg"):
            raise error(f"database URL {redact_url(parsed)}: use the psycopg (version 3) driver, i.e. postgresql+psycopg://...")
        if not parsed.database:
            raise error(f"database URL {redact_url(parsed)} names no database (…/DATABASE at the end)")
        return parsed.set(drivername="postgresql+psycopg")
    raise error(f"unsupported database {parsed.drivername!r} in {redact_url(parsed)}: shardcron runs on SQLite, MySQL/MariaDB and PostgreSQL; use {URL_FORMS}")


def missing_sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names when it does not exist (commands that only read must not
    create an empty one); None for other databases, in-memory ones and files that exist."""
    if url.get_backend_name() != "sqlite":
        return None
    path = _sqlite_path(url)
    return path if path is not None and not path.exists() else None


def _sqlite_path(url: URL) -> Path | None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def create_db_engine(url: str, *, pool_size: int = 10, error: type[ShardcronError] = DatabaseError, create_folder: bool = False) -> Engine:
    """An engine configured for shardcron's use of the given URL.

    A SQLite file is created (0600) when missing, but its folder only with `create_folder` (the
    admin's embedded default in its own instance folder): a folder a URL names that does not
    exist is most likely a typo, and creating `/typo/...` silently would hide it."""
    parsed = parse_database_url(url, error=error)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_path(parsed)
        if path is not None:
            if create_folder:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise error(f"cannot create the folder for SQLite file {path}: {exc.strerror}") from None
            elif not path.parent.is_dir():
                raise error(f"SQLite file {path}: folder {path.parent} does not exist; create it first, or fix the database URL")
            try:
                # The file holds password and token hashes: create it 0600 before SQLite would
                # create it with the umask's mode (SQLite gives its -wal and -shm files the
                # database file's mode).
                private_files.create_empty(path)
            except OSError as exc:
                raise error(f"cannot create SQLite file {path}: {exc.strerror}") from None
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        if path is not None:
            connect_args["factory"] = GatedConnection
        engine = create_engine(parsed, connect_args=connect_args, pool_size=pool_size, max_overflow=pool_size)
        _configure_sqlite(engine, gate_for(path) if path is not None else None)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_recycle=3600,
            isolation_level="READ COMMITTED",
            # UTC sessions, as on MySQL; the scheduler's leases read clock_timestamp() as epoch ms.
            connect_args={"connect_timeout": 5, "options": "-c timezone=UTC", "application_name": "shardcron"},
        )
    query = dict(parsed.query)
    query.setdefault("charset", "utf8mb4")
    return create_engine(
        parsed.set(query=query),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=3600,
        isolation_level="READ COMMITTED",
        # UTC sessions: every instant is stored as epoch milliseconds, and what the server's clock
        # says (the scheduler's leases read UNIX_TIMESTAMP(NOW(3))) must not depend on its zone.
        connect_args={"connect_timeout": 5, "init_command": "SET time_zone = '+00:00'"},
    )


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys = ON")
    _enter_wal(cur)
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def _enter_wal(cur: Any) -> None:
    """Switch the file to WAL, waiting out another connection's write lock.

    A new file stays in rollback-journal mode on disk until its first commit, and while another
    connection holds the write lock there, `PRAGMA journal_mode = WAL` fails at once with
    "database is locked" (SQLite does not call the busy handler for it). Two processes creating
    the same file meet exactly that, so retry until the busy timeout has passed.
    """
    deadline = SYSTEM_CLOCK.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or SYSTEM_CLOCK.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _on_sqlite_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    if mode == "DEFERRED":
        conn.exec_driver_sql("BEGIN DEFERRED")
        return
    dbapi_connection = conn.connection.dbapi_connection
    begin_write(dbapi_connection, SQLITE_BUSY_TIMEOUT_MS / 1000)  # this process's writers queue here first
    try:
        conn.exec_driver_sql(f"BEGIN {mode}")
    except BaseException:
        end_write(dbapi_connection)
        raise


def _configure_sqlite(engine: Engine, gate: WriteGate | None = None) -> None:
    def on_connect(dbapi_conn: Any, record: Any) -> None:
        if isinstance(dbapi_conn, GatedConnection):
            dbapi_conn.gate = gate
        _on_sqlite_connect(dbapi_conn, record)

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", _on_sqlite_begin)


def emits_sqlite_begin(engine: Engine) -> bool:
    """True for SQLite engines made by `create_db_engine`, whose transactions really begin (and
    so may hold DDL: Python's sqlite3 driver on its own does not open a transaction for DDL)."""
    return engine.dialect.name == "sqlite" and event.contains(engine, "begin", _on_sqlite_begin)
