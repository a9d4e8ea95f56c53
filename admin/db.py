"""The admin database: one engine per process, schema creation and upgrade, server checks.

`Database` owns the engine and the session factory. Engines come from
`shardcron.core.sqlengine` (shared with the retry-task table); errors from the driver are
turned into `DatabaseError`, one line an operator can act on. Pure readers may ask for a
deferred SQLite transaction with `Database.read_session()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Engine, Result, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from shardcron.core.sqlengine import (  # noqa: F401  (re-exported for the admin)
    DatabaseError,
    create_db_engine,
    describe_db_error,
    parse_database_url,
    redact_url,
)

if TYPE_CHECKING:  # Alembic is loaded by the calls that inspect or upgrade the schema, not on import
    from shardcron.core.schema_versions.status import SchemaStatus
    from shardcron.core.schema_versions.upgrade import UpgradeResult

MIN_MARIADB = (10, 6)
MIN_MYSQL = (8, 0)
#: The oldest PostgreSQL still supported by its project when PostgreSQL support was added (SKIP
#: LOCKED and ON CONFLICT need 9.5; the tests run on 15).
MIN_POSTGRESQL = (13, 0)


def changed_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run through a Session changed (the Session types its
    answer as a plain Result; for those statements it is a CursorResult, which counts them)."""
    return cast(CursorResult[Any], result).rowcount


def check_server(engine: Engine) -> str:
    """Connect once; refuse server versions without what shardcron needs (SKIP LOCKED on
    MySQL/MariaDB; PostgreSQL older than 13). Returns the server version."""
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return "SQLite " + conn.exec_driver_sql("select sqlite_version()").scalar_one()
            if engine.dialect.name == "postgresql":
                version = conn.exec_driver_sql("show server_version").scalar_one()
                return _check_postgresql(engine, version)
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


def _check_postgresql(engine: Engine, version: str) -> str:
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    if numbers < MIN_POSTGRESQL:
        raise DatabaseError(f"database {redact_url(engine.url)}: PostgreSQL {version} is too old; shardcron needs PostgreSQL {MIN_POSTGRESQL[0]} or newer")
    return "PostgreSQL " + version


def init_schema(engine: Engine) -> UpgradeResult:
    """Create the admin schema in an empty database, or bring an existing one to this code's
    revision (a 0.1.0 database is recognised and recorded, not re-created); idempotent. Raises
    `DatabaseError` (one line) unless the database ends up current.

    Concurrent callers are safe: on MySQL and PostgreSQL they queue on a named (advisory) lock,
    on SQLite on the write lock; the later ones find the work done.
    """
    # Deferred: Alembic loads with the calls that upgrade the schema, not on import.
    from shardcron.core.schema_versions.messages import require_current
    from shardcron.core.schema_versions.upgrade import upgrade_schema

    from .schema import ADMIN_SCHEMA

    result = upgrade_schema(ADMIN_SCHEMA, engine)
    require_current(ADMIN_SCHEMA, result.after, redact_url(engine.url), DatabaseError)
    return result


def read_schema_status(engine: Engine) -> SchemaStatus:
    """Where the database stands against this code's revisions; reads only."""
    # Deferred: Alembic loads with the calls that read the schema, not on import.
    from shardcron.core.schema_versions.status import read_status

    from .schema import ADMIN_SCHEMA

    try:
        with engine.connect() as conn:
            return read_status(ADMIN_SCHEMA, conn)
    except (DBAPIError, SQLAlchemyError) as exc:
        raise DatabaseError(describe_db_error(exc, engine.url)) from None


def require_current_schema(engine: Engine, *, upgrade_in_place: bool = False) -> UpgradeResult | None:
    """Refuse (one line naming the command to run) a schema older or newer than this code.

    With `upgrade_in_place` (the embedded SQLite file, one node) an older schema is upgraded
    first; the result says what changed.
    """
    # Deferred: Alembic loads with the calls that check the schema, not on import.
    from shardcron.core.schema_versions.messages import require_current

    from .schema import ADMIN_SCHEMA

    if upgrade_in_place:
        return init_schema(engine)
    require_current(ADMIN_SCHEMA, read_schema_status(engine), redact_url(engine.url), DatabaseError)
    return None


class Database:
    """The engine and session factory of one process."""

    def __init__(self, url: str, *, pool_size: int = 10, create_folder: bool = False) -> None:
        """`create_folder`: create a SQLite file's missing folder (only the embedded default's,
        `Config.creates_database_folder`; see `create_db_engine`)."""
        self.url = url
        self.engine = create_db_engine(url, pool_size=pool_size, create_folder=create_folder)
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
