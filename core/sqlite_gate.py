"""One queue per SQLite file for the writers of this process.

SQLite has one write lock per file. A `BEGIN IMMEDIATE` that finds it taken waits in SQLite's
busy handler, which does not wake when the lock is released: it sleeps and retries, its pauses
growing to 100 ms. With many writers in one process (the admin's web threads, the scheduler's
loops, the dispatcher's recorder) a writer could wait several such pauses for a lock that was
free most of that time, and the one that retried first won, not the one that waited longest
(docs/benchmarks.md, "Workflows": step-to-step latencies in seconds under load).

So the writers of one process queue on a `threading.Lock` per file first, taken just before
`BEGIN IMMEDIATE` and given back when the connection commits, rolls back or closes: a waiting
writer is woken as soon as the lock is free. SQLite's lock still decides between processes (a
second scheduler on the same file, `shardcron db` commands); within a process it is only ever
asked by the writer at the head of the queue. Readers (`BEGIN DEFERRED`, WAL) never queue.

A writer that already holds its file's gate and opens a second write transaction on another
connection (which SQLite would refuse after its busy timeout anyway) does not wait on itself:
it goes straight to SQLite, as it did without the gate. A gate held longer than the busy timeout
(a transaction left open) is waited for no longer than that; the writer then asks SQLite alone.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("shardcron.sqlite")


class WriteGate:
    """The write queue of one SQLite file in this process."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._holder: int | None = None  # the thread ident holding it

    def enter(self, timeout_s: float) -> bool:
        """Wait for the gate; False when not taken (held by this very thread, or the wait timed out)."""
        me = threading.get_ident()
        if self._holder == me:
            return False
        if not self._lock.acquire(timeout=timeout_s):
            log.warning("SQLite write gate not free after %.0f s; asking SQLite alone", timeout_s, extra={"path": self.path})
            return False
        self._holder = me
        return True

    def leave(self) -> None:
        self._holder = None
        self._lock.release()


_GATES: dict[str, WriteGate] = {}
_GATES_LOCK = threading.Lock()


def gate_for(path: Path) -> WriteGate:
    """The process's gate of this file (every engine on the file shares it)."""
    key = str(path.resolve())
    with _GATES_LOCK:
        gate = _GATES.get(key)
        if gate is None:
            gate = _GATES[key] = WriteGate(key)
        return gate


class GatedConnection(sqlite3.Connection):
    """A sqlite3 connection that gives its file's gate back when its transaction ends.

    `sqlengine` passes it as sqlite3's connection `factory`, sets `gate` on connect and calls
    `begin_write` before `BEGIN IMMEDIATE`."""

    gate: WriteGate | None = None
    _holding = False

    def begin_write(self, timeout_s: float) -> None:
        if self.gate is not None and not self._holding:
            self._holding = self.gate.enter(timeout_s)

    def end_write(self) -> None:
        if self._holding:
            self._holding = False
            assert self.gate is not None
            self.gate.leave()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_write()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_write()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_write()

    def __del__(self) -> None:  # a connection dropped without close(): never keep the gate
        self.end_write()


def begin_write(dbapi_connection: Any, timeout_s: float) -> None:
    """Queue for the connection's file gate when it has one (a GatedConnection on a file)."""
    if isinstance(dbapi_connection, GatedConnection):
        dbapi_connection.begin_write(timeout_s)


def end_write(dbapi_connection: Any) -> None:
    if isinstance(dbapi_connection, GatedConnection):
        dbapi_connection.end_write()
