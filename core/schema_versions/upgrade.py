"""Bring a database to this code's head revision.

SQLite: one transaction (`BEGIN IMMEDIATE`, so a second upgrader waits on the busy timeout and
then finds the work done); a revision that fails rolls everything back, the file is as it was.
Foreign keys are off during the transaction and checked before the commit, as SQLite's own
procedure for rebuilding tables asks.

PostgreSQL: one transaction, too (its DDL is transactional), under an advisory lock taken as it
begins: a second upgrader waits, then finds the work done, or gives up after `lock_timeout_s`
with one line; a revision that fails rolls everything back.

MySQL/MariaDB: under a named lock (a second upgrader waits, then finds the work done, or gives up
after `lock_timeout_s` with one line). DDL commits statement by statement, so each revision is
recorded as soon as it is done; a failed one is run again from its start by the next upgrade,
and its re-runnable steps (`steps`) skip what the failed run already did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from alembic import command
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..errors import ShardcronError
from ..sqlengine import DatabaseError, create_db_engine, describe_db_error, emits_sqlite_begin, redact_url
from .named_lock import LockTimeout, lock_name, named_lock, take_advisory_xact_lock
from .spec import VersionedSchema
from .status import SchemaState, SchemaStatus, alembic_config, read_status

log = logging.getLogger("shardcron.schema")

DEFAULT_LOCK_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class UpgradeResult:
    before: SchemaStatus
    after: SchemaStatus
    #: Tables that did not exist before the upgrade.
    created_tables: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.before.revision != self.after.revision or bool(self.created_tables)


class _RevisionFailed(Exception):
    def __init__(self, revision: str, applied: list[str], cause: BaseException) -> None:
        super().__init__(revision)
        self.revision, self.applied, self.cause = revision, applied, cause


def refuse_ahead(schema: VersionedSchema, status: SchemaStatus, url: Any, error: type[ShardcronError]) -> None:
    if status.state is SchemaState.AHEAD:
        raise error(
            f"{schema.label} {redact_url(url)}: revision {status.revision}, newer than this shardcron "
            f"(head {status.head}): run the shardcron version that upgraded it"
        )


def upgrade_schema(
    schema: VersionedSchema,
    engine: Engine,
    *,
    target: str = "head",
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    on_wait: Callable[[], None] | None = None,
    error: type[ShardcronError] = DatabaseError,
) -> UpgradeResult:
    """Upgrade `engine`'s database to `target` (a revision id, or head); idempotent.

    Raises `error` with one line when the database is unreachable, newer than this code, locked
    by another upgrade for too long, or when a revision fails (saying what state it is left in).
    `on_wait` is called when another process is upgrading the same database and we wait for it.
    """
    try:
        if engine.dialect.name == "sqlite":
            with _sqlite_engine(engine) as own:
                return _upgrade_sqlite(schema, own, target, error)
        if engine.dialect.name == "mysql":
            return _upgrade_mysql(schema, engine, target, lock_timeout_s, on_wait, error)
        if engine.dialect.name == "postgresql":
            return _upgrade_postgresql(schema, engine, target, lock_timeout_s, on_wait, error)
        raise error(f"{schema.label} {redact_url(engine.url)}: shardcron upgrades SQLite, MySQL/MariaDB and PostgreSQL, not {engine.dialect.name}")
    except _RevisionFailed as exc:
        log.debug("revision %s failed", exc.revision, exc_info=exc.cause)
        raise error(_failure_line(schema, engine, exc)) from None
    except (DBAPIError, SQLAlchemyError) as exc:
        raise error(describe_db_error(exc, engine.url, what=schema.label)) from None


def _failure_line(schema: VersionedSchema, engine: Engine, exc: _RevisionFailed) -> str:
    cause = exc.cause
    if isinstance(cause, (DBAPIError, SQLAlchemyError)):
        reason = describe_db_error(cause, engine.url, what="").split(": ", 1)[-1]
    else:
        reason = f"{type(cause).__name__}: {cause}".strip().splitlines()[0]
    where = f"{schema.label} {redact_url(engine.url)}"
    if engine.dialect.name in ("sqlite", "postgresql"):
        return f"{where}: revision {exc.revision} failed ({reason}); the upgrade was rolled back, nothing changed"
    if not exc.applied:
        done = ""
    elif len(exc.applied) == 1:
        done = f"revision {exc.applied[0]} is applied; "
    else:
        done = f"revisions {', '.join(exc.applied)} are applied; "
    return f"{where}: revision {exc.revision} failed ({reason}); {done}fix the cause and run `{schema.upgrade_command}` again to resume"


@contextmanager
def _sqlite_engine(engine: Engine) -> Iterator[Engine]:
    """An engine whose transactions hold DDL: `engine` itself when shardcron made it, else one of
    our own on the same file (an application's engine leaves DDL outside any transaction)."""
    if emits_sqlite_begin(engine) or not engine.url.database or engine.url.database == ":memory:":
        yield engine
        return
    own = create_db_engine(engine.url.render_as_string(hide_password=False), pool_size=1)
    try:
        yield own
    finally:
        own.dispose()


def _run_alembic(schema: VersionedSchema, conn: Connection, status: SchemaStatus, target: str) -> None:
    applied: list[str] = []

    def on_version_apply(*, step: Any, **_: Any) -> None:
        applied.extend(step.up_revision_ids)

    config = alembic_config(schema, connection=conn, on_version_apply=on_version_apply)
    try:
        command.upgrade(config, target)
    except Exception as exc:  # a revision's own error, or the database's: one line, no traceback
        remaining = [rev for rev in status.pending if rev not in applied]
        raise _RevisionFailed(remaining[0] if remaining else target, applied, exc) from exc


def _table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _upgrade_sqlite(schema: VersionedSchema, engine: Engine, target: str, error: type[ShardcronError]) -> UpgradeResult:
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        foreign_keys = raw.execute("PRAGMA foreign_keys").fetchone()[0]
        raw.execute("PRAGMA foreign_keys = OFF")  # only takes effect outside a transaction
        try:
            with conn.begin():
                before = read_status(schema, conn)
                refuse_ahead(schema, before, engine.url, error)
                tables_before = _table_names(conn)
                if before.state is not SchemaState.CURRENT:
                    _run_alembic(schema, conn, before, target)
                    violations = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if violations:
                        raise _RevisionFailed(before.pending[-1], [], RuntimeError(f"{len(violations)} rows break a foreign key (first: {tuple(violations[0])})"))
                after = read_status(schema, conn)
                created = tuple(sorted(_table_names(conn) - tables_before - {schema.version_table}))
        finally:
            raw.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    return UpgradeResult(before, after, created)


def _upgrade_mysql(
    schema: VersionedSchema,
    engine: Engine,
    target: str,
    lock_timeout_s: float,
    on_wait: Callable[[], None] | None,
    error: type[ShardcronError],
) -> UpgradeResult:
    name = lock_name(engine.url.database or "", schema.version_table)
    with engine.connect() as conn:
        try:
            with named_lock(conn, name, lock_timeout_s, on_wait):
                before = read_status(schema, conn)
                tables_before = _table_names(conn)
                conn.rollback()  # Alembic begins and commits one transaction per revision itself
                refuse_ahead(schema, before, engine.url, error)
                if before.state is not SchemaState.CURRENT:
                    _run_alembic(schema, conn, before, target)
                after = read_status(schema, conn)
                created = tuple(sorted(_table_names(conn) - tables_before - {schema.version_table}))
                conn.rollback()
        except LockTimeout:
            raise error(
                f"{schema.label} {redact_url(engine.url)}: another upgrade has held lock {name!r} for {lock_timeout_s:g} s; "
                f"run `{schema.upgrade_command}` again when it has finished"
            ) from None
    return UpgradeResult(before, after, created)


def _upgrade_postgresql(
    schema: VersionedSchema,
    engine: Engine,
    target: str,
    lock_timeout_s: float,
    on_wait: Callable[[], None] | None,
    error: type[ShardcronError],
) -> UpgradeResult:
    name = lock_name(engine.url.database or "", schema.version_table)
    with engine.connect() as conn:
        try:
            with conn.begin():
                take_advisory_xact_lock(conn, name, lock_timeout_s, on_wait)
                before = read_status(schema, conn)
                refuse_ahead(schema, before, engine.url, error)
                tables_before = _table_names(conn)
                if before.state is not SchemaState.CURRENT:
                    _run_alembic(schema, conn, before, target)
                after = read_status(schema, conn)
                created = tuple(sorted(_table_names(conn) - tables_before - {schema.version_table}))
        except LockTimeout:
            raise error(
                f"{schema.label} {redact_url(engine.url)}: another upgrade has held lock {name!r} for {lock_timeout_s:g} s; "
                f"run `{schema.upgrade_command}` again when it has finished"
            ) from None
    return UpgradeResult(before, after, created)
