"""The fast ticks' held connection, on MariaDB and PostgreSQL (real servers): one connection,
fresh answers, a connection the server cut replaced at once, given back to the pool on close."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.enums import FireStatus, TriggerType
from shardcron.admin.firing.fire_store import FireStore
from shardcron.admin.firing.held_reader import HeldReader
from shardcron.admin.firing.node_lease import LeaseClock, NodeLease
from shardcron.admin.models import Fire
from shardcron.core.clock import FakeClock
from tests.support.scheduler_rows import add_group, add_job

T0 = 1_767_225_600_000


@pytest.fixture
def db_url(server_url: str) -> str:
    """`admin_db` (tests.support.scheduler_fixtures) on the servers only: SQLite asks through a read session."""
    return server_url


@pytest.fixture
def db(admin_db: Database) -> Database:
    return admin_db


def _session_id(db: Database) -> sa.TextClause:
    return sa.text("SELECT pg_backend_pid()" if db.dialect == "postgresql" else "SELECT CONNECTION_ID()")


def _cut(db: Database, session_id: int) -> None:
    """The server ends that connection, as a restart or `wait_timeout` would."""
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": session_id}).scalar() is True
        else:
            conn.exec_driver_sql(f"KILL {int(session_id)}")
        conn.commit()


def _add_pending_fire(db: Database, job_id: int, at_ms: int) -> None:
    with db.session() as s:
        s.add(Fire(job_id=job_id, fire_at_ms=at_ms, trigger_type=TriggerType.MANUAL, origin_ref=0, status=FireStatus.PENDING, created_at_ms=T0))


def test_one_connection_answers_every_time_and_sees_each_commit(db: Database) -> None:
    clock = FakeClock(T0)
    store = FireStore(db, NodeLease(db, "node-a", clock, LeaseClock(clock), lease_ms=10_000, renew_ms=2500, margin_ms=2500), lookahead_ms=2000, misfire_grace_ms=5000)
    reader = store._poll  # the store's own: its connection's id is read through it too
    assert reader is not None
    job_id = add_job(db, add_group(db, "app", T0), T0)
    first = reader.first(_session_id(db), {})[0]
    assert store.pending_due(T0) is False
    _add_pending_fire(db, job_id, T0 + 1000)  # committed by another connection
    assert store.pending_due(T0) is True  # autocommit: no snapshot held from the first answer
    assert store.pending_due(T0 - 5000) is False  # not due within the lookahead
    assert reader.first(_session_id(db), {})[0] == first
    assert db.engine.pool.checkedout() == 1
    store.close()
    assert db.engine.pool.checkedout() == 0


def test_a_connection_the_server_cut_is_replaced_at_once(db: Database) -> None:
    reader = HeldReader(db.engine)
    first = reader.first(_session_id(db), {})[0]
    _cut(db, first)
    second = reader.first(_session_id(db), {})[0]  # answered, on a new connection
    assert second != first
    assert reader.first(_session_id(db), {})[0] == second
    reader.close()
    assert db.engine.pool.checkedout() == 0


def test_an_error_is_raised_and_the_next_question_gets_a_fresh_connection(db: Database) -> None:
    reader = HeldReader(db.engine)
    assert reader.first(sa.text("SELECT 1"), {})[0] == 1
    with pytest.raises(sa.exc.DBAPIError, match="no_such_column"):
        reader.first(sa.text("SELECT no_such_column FROM sc_fire"), {})
    assert db.engine.pool.checkedout() == 0  # given back with the error, not kept in an unknown state
    assert reader.first(sa.text("SELECT 1"), {})[0] == 1
    reader.close()
    assert db.engine.pool.checkedout() == 0
