"""The admin database: one engine per process, schema creation, server checks.

`Database` owns the engine and the session factory. Engines come from
`shardcron.executor.sqlengine` (shared with the retry-task table); errors from the driver are
turned into `DatabaseError`, one line an operator can act on. Pure readers may ask for a
deferred SQLite transaction with `Database.read_session()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shardcron.executor.sqlengine import (  # noqa: F401  (re-exported for the admin)
    DatabaseError,
    create_db_engine,
    describe_db_error,
    parse_database_url,
    redact_url,
)

from .models import SCHEMA_VERSION, Base, Meta

MIN_MARIADB = (10, 6)
MIN_MYSQL = (8, 0)


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
