"""The lock that keeps two upgraders of one database apart.

MySQL/MariaDB: a named lock (`GET_LOCK`) held by one connection for the length of an upgrade.
Named locks belong to the session: a process killed mid-upgrade loses its connection and so its
lock, and the next upgrade can go ahead (and resume). Lock names are server-wide, so the name
carries the database's name.

PostgreSQL: a transaction-level advisory lock (`pg_advisory_xact_lock`) on a 64-bit key derived
from the same name, taken as the upgrade's one transaction begins and released by its commit or
rollback (or by the server when the connection dies).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

_MAX_NAME = 64  # MySQL's limit on lock names


class LockTimeout(Exception):
    """Another session held the lock for longer than we were willing to wait."""


def lock_name(database: str, version_table: str) -> str:
    name = f"shardcron-upgrade:{database}.{version_table}"
    if len(name) <= _MAX_NAME:
        return name
    return "shardcron-upgrade:" + hashlib.sha256(name.encode()).hexdigest()[:40]


def advisory_key(name: str) -> int:
    """The signed 64-bit key of PostgreSQL's advisory lock for `name`."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def take_advisory_xact_lock(conn: Connection, name: str, timeout_s: float, on_wait: Callable[[], None] | None = None) -> None:
    """Take the advisory lock for `name` in `conn`'s open transaction (PostgreSQL); it is held
    until that transaction ends. `on_wait()` is called once if another session holds it.
    Raises `LockTimeout` after `timeout_s` (the transaction is then aborted: roll it back)."""
    key = advisory_key(name)
    if conn.exec_driver_sql("SELECT pg_try_advisory_xact_lock(%s)", (key,)).scalar():
        return
    if on_wait is not None:
        on_wait()
    # lock_timeout covers advisory locks; SET LOCAL ends with this transaction. 0 would mean "wait forever".
    timeout_ms = max(1, math.ceil(timeout_s * 1000))
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {timeout_ms}")
    try:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (key,))
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03" or re.search("lock timeout", str(exc.orig)):
            raise LockTimeout(name) from None
        raise
    conn.exec_driver_sql("SET LOCAL lock_timeout = 0")


@contextmanager
def named_lock(conn: Connection, name: str, timeout_s: float, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold `GET_LOCK(name)` on `conn`; `on_wait()` is called once if another session holds it.

    Raises `LockTimeout` after `timeout_s`. The connection is left outside any transaction.
    """
    got = conn.exec_driver_sql("SELECT GET_LOCK(%s, 0)", (name,)).scalar()
    if got != 1:
        if on_wait is not None:
            on_wait()
        got = conn.exec_driver_sql("SELECT GET_LOCK(%s, %s)", (name, max(0, math.ceil(timeout_s)))).scalar()
    conn.commit()
    if got != 1:
        raise LockTimeout(name)
    try:
        yield
    finally:
        try:
            conn.rollback()
            conn.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (name,))
            conn.commit()
        except DBAPIError:
            pass  # a lost connection has released its lock already
