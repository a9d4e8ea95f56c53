"""The write gate: this process's writers of one SQLite file queue on it before BEGIN IMMEDIATE."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.core.sqlengine import create_db_engine
from shardcron.core.sqlite_gate import GatedConnection, gate_for

DEADLINE_S = 10.0


def _engine(path: Path) -> sa.Engine:
    engine = create_db_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v INTEGER)")
    return engine


def test_engines_on_one_file_share_its_gate_and_readers_never_take_it(tmp_path: Path) -> None:
    one, two = _engine(tmp_path / "a.db"), _engine(tmp_path / "a.db")
    other = _engine(tmp_path / "b.db")
    gate = gate_for(tmp_path / "a.db")
    try:
        with one.connect() as conn:
            assert isinstance(conn.connection.dbapi_connection, GatedConnection)
            assert conn.connection.dbapi_connection.gate is gate
        with one.begin():
            assert gate._lock.locked()
            with other.begin():  # another file: its own gate
                pass
            with two.execution_options(sqlite_begin="DEFERRED").connect() as reader, reader.begin():
                assert reader.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 0
        assert not gate._lock.locked()
    finally:
        for engine in (one, two, other):
            engine.dispose()


def test_a_waiting_writer_starts_as_soon_as_the_holder_commits(tmp_path: Path) -> None:
    """SQLite's busy handler would poll in growing sleeps (up to 100 ms apart after a few
    hundred ms of waiting); the gate hands over at once."""
    engine = _engine(tmp_path / "w.db")
    gate = gate_for(tmp_path / "w.db")
    reached = threading.Event()
    enter = gate.enter

    def noting_enter(timeout_s: float) -> bool:
        if threading.current_thread().name == "waiter":
            reached.set()
        return enter(timeout_s)

    gate.enter = noting_enter  # type: ignore[method-assign]
    began: list[float] = []
    committed: list[float] = []

    def holder() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t (v) VALUES (1)"))
            waiter.start()
            assert reached.wait(DEADLINE_S)
            # The write lock is held this long while the waiter waits: the length of a slow
            # transaction, after which SQLite's own busy handler sleeps 100 ms between polls.
            threading.Event().wait(0.4)
        committed.append(time.monotonic())

    def wait_then_write() -> None:
        with engine.begin() as conn:
            began.append(time.monotonic())
            conn.execute(sa.text("INSERT INTO t (v) VALUES (2)"))

    waiter = threading.Thread(target=wait_then_write, name="waiter")
    first = threading.Thread(target=holder, name="holder")
    try:
        first.start()
        first.join(DEADLINE_S)
        waiter.join(DEADLINE_S)
        assert began and committed
        assert began[0] - committed[0] < 0.03
        with engine.connect() as conn:
            assert sorted(conn.execute(sa.text("SELECT v FROM t")).scalars()) == [1, 2]
    finally:
        del gate.enter
        engine.dispose()


def test_a_rolled_back_or_closed_transaction_gives_the_gate_back(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "r.db")
    gate = gate_for(tmp_path / "r.db")
    try:
        with pytest.raises(RuntimeError), engine.begin():
            assert gate._lock.locked()
            raise RuntimeError("boom")
        assert not gate._lock.locked()
        conn = engine.connect()
        conn.begin()
        assert gate._lock.locked()
        conn.close()  # returned to the pool: rolled back
        assert not gate._lock.locked()
        conn = engine.connect()
        conn.begin()
        conn.invalidate()  # the DBAPI connection is closed
        assert not gate._lock.locked()
    finally:
        engine.dispose()


def test_a_second_write_transaction_in_the_same_thread_does_not_wait_on_itself(tmp_path: Path) -> None:
    """As without the gate, SQLite refuses it (its busy timeout shortened here): the thread
    does not hang on a gate it holds."""
    engine = _engine(tmp_path / "n.db")
    try:
        with engine.begin():
            inner = engine.connect()
            inner.connection.dbapi_connection.execute("PRAGMA busy_timeout = 50")
            with pytest.raises(sa.exc.OperationalError, match="locked"):
                inner.begin()
            inner.close()
    finally:
        engine.dispose()
