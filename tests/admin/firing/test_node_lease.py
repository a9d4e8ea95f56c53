"""A scheduler's lease term: the fence every send checks, renewal, hand-over, the clock it is judged by."""

from __future__ import annotations

import math
import time

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database, init_schema
from shardcron.admin.enums import FireStatus, TriggerType
from shardcron.admin.models import Fire, SchedulerLease
from shardcron.admin.firing.node_lease import LeaseClock, LeaseTerm, NodeLease
from shardcron.admin.scheduling.runner import scheduler_database
from shardcron.core.clock import FakeClock

T0 = 1_767_225_600_000


def lease_rows(db: Database) -> dict[str, tuple[int, int]]:
    with db.read_session() as s:
        return {r.owner: (r.lease_until_ms, r.send_horizon_ms) for r in s.execute(sa.select(SchedulerLease)).scalars()}


def make_lease(db: Database, clock: FakeClock, node_id: str = "node-a", lease_ms: int = 2000, renew_ms: int = 500, margin_ms: int = 500) -> NodeLease:
    return NodeLease(db, node_id, clock, LeaseClock(clock), lease_ms=lease_ms, renew_ms=renew_ms, margin_ms=margin_ms)


def test_a_term_holds_before_its_fence_for_fires_planned_before_its_horizon() -> None:
    mono = [10.0]
    term = LeaseTerm("n#1", lambda: mono[0])
    assert not term.holds(T0) and term.over  # nothing may go out before the first renewal committed
    term = LeaseTerm("n#2", lambda: mono[0])
    term.extend(fence=11.5, horizon_ms=T0 + 1500)
    assert term.holds(T0 + 1499) and term.alive()
    assert not term.holds(T0 + 1500)  # planned at the horizon: it could not be told apart from a wall clock jump
    assert term.over


def test_a_term_that_stopped_holding_never_holds_again_even_when_extended() -> None:
    mono = [0.0]
    term = LeaseTerm("n#1", lambda: mono[0])
    term.extend(fence=1.5, horizon_ms=T0 + 1500)
    mono[0] = 1.5
    assert not term.alive()
    term.extend(fence=5.0, horizon_ms=T0 + 5000)  # a renewal that committed late
    mono[0] = 2.0
    assert not term.holds(T0 + 100) and not term.alive()


def test_the_first_tick_starts_a_term_and_later_ticks_renew_it(admin_db, fake_clock) -> None:
    lease = make_lease(admin_db, fake_clock)
    assert lease.current() is None
    lease.tick(fake_clock.now_ms())
    term = lease.current()
    assert term is not None and term.owner.startswith("node-a#") and len(term.owner) == len("node-a#") + 8
    assert lease_rows(admin_db) == {term.owner: (T0 + 2000, T0 + 1500)}
    fake_clock.advance(400)
    lease.tick(fake_clock.now_ms())
    assert lease.current() is term and lease_rows(admin_db) == {term.owner: (T0 + 2400, T0 + 1900)}
    fake_clock.advance(1000)  # a renewal 1.0 s late is still within the fence (1.5 s)
    assert term.holds(T0 + 1399)
    lease.tick(fake_clock.now_ms())
    assert lease.current() is term and term.horizon_ms == T0 + 2900


def test_a_term_not_renewed_in_time_ends_once_and_a_new_one_begins(admin_db, fake_clock) -> None:
    lease = make_lease(admin_db, fake_clock)
    ended: list[str] = []
    lease.on_term_end(lambda t: ended.append(t.owner))
    lease.tick(fake_clock.now_ms())
    first = lease.current()
    fake_clock.advance(1500)  # a stall: the fence (start + 2.0 s - 0.5 s) has passed
    assert lease.current() is None
    lease.tick(fake_clock.now_ms())
    second = lease.current()
    assert second is not None and second.owner != first.owner and ended == [first.owner]
    lease.end(first, "seen again")  # a second report of the same end changes nothing
    assert ended == [first.owner]
    # The ended term's lease is cut to margin from now (T0+1.5 s + 0.5 s), never lengthened.
    assert lease_rows(admin_db)[first.owner] == (T0 + 2000, T0 + 1500)


def test_a_term_whose_row_another_node_deleted_ends_at_its_next_renewal(admin_db, fake_clock) -> None:
    lease = make_lease(admin_db, fake_clock)
    ended: list[str] = []
    lease.on_term_end(lambda t: ended.append(t.owner))
    lease.tick(fake_clock.now_ms())
    first = lease.current()
    with admin_db.session() as s:  # as an adopter does
        s.execute(sa.delete(SchedulerLease).where(SchedulerLease.owner == first.owner))
    fake_clock.advance(500)
    lease.tick(fake_clock.now_ms())
    assert ended == [first.owner] and first.over and not first.holds(T0)
    assert lease.current() is not None and lease.current().owner != first.owner


def test_hand_over_cuts_an_ended_terms_lease_to_the_margin(admin_db, fake_clock) -> None:
    lease = make_lease(admin_db, fake_clock, lease_ms=10_000, renew_ms=2000, margin_ms=1000)
    lease.tick(fake_clock.now_ms())
    term = lease.current()
    fake_clock.advance(200)
    lease.end(term, "the dispatcher's sending thread died")
    assert lease_rows(admin_db)[term.owner][0] == T0 + 200 + 1000


def test_finish_deletes_a_term_that_holds_nothing_and_hands_over_one_that_does(admin_db, fake_clock) -> None:
    idle = make_lease(admin_db, fake_clock, "idle")
    busy = make_lease(admin_db, fake_clock, "busy")
    idle.tick(T0)
    busy.tick(T0)
    with admin_db.session() as s:
        s.add(Fire(job_id=1, fire_at_ms=T0, trigger_type=TriggerType.CRON, origin_ref=0, status=FireStatus.CLAIMED, owner=busy.term.owner, created_at_ms=T0))
    busy_owner = busy.term.owner
    idle.finish()
    busy.finish()
    assert lease_rows(admin_db) == {busy_owner: (T0 + 500, T0 + 1500)}
    assert idle.current() is None and busy.current() is None


@pytest.mark.mysql
def test_on_mysql_leases_are_stamped_by_the_servers_clock_in_utc(mysql_url: str) -> None:
    db = Database(mysql_url, pool_size=2)
    try:
        clock = FakeClock(start_ms=1_000)  # a node clock decades off: the server's decides
        expression = LeaseClock.for_database(db, clock).now_sql()
        with db.read_session() as s:
            server_ms = s.execute(sa.select(expression)).scalar_one()
            zone = s.execute(sa.text("SELECT @@session.time_zone")).scalar_one()
        assert abs(server_ms - time.time() * 1000) < 5_000
        assert zone == "+00:00"
    finally:
        db.dispose()


@pytest.mark.mysql
def test_on_mariadb_a_schedulers_connections_cut_transactions_left_idle_for_a_lease(mysql_url: str) -> None:
    db = Database(mysql_url, pool_size=2)
    own = scheduler_database(db, lease_ms=1500)
    try:
        assert own is not db
        with own.engine.connect() as conn:
            version = conn.exec_driver_sql("SELECT version()").scalar_one()
            if "mariadb" in version.lower():
                value = conn.exec_driver_sql("SELECT @@session.idle_transaction_timeout").scalar_one()
                assert int(value) == math.ceil(1500 / 1000)
            else:  # MySQL has no such setting: the connection works without it
                assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        own.dispose()
        db.dispose()


@pytest.mark.postgres
def test_on_postgresql_leases_are_stamped_by_the_servers_clock_in_utc(postgres_url: str) -> None:
    db = Database(postgres_url, pool_size=2)
    try:
        clock = FakeClock(start_ms=1_000)  # a node clock decades off: the server's decides
        expression = LeaseClock.for_database(db, clock).now_sql()
        with db.read_session() as s:
            server_ms = s.execute(sa.select(expression)).scalar_one()
            zone = s.execute(sa.text("SHOW timezone")).scalar_one()
            isolation = s.execute(sa.text("SHOW transaction_isolation")).scalar_one()
        assert abs(server_ms - time.time() * 1000) < 5_000
        assert (zone, isolation) == ("UTC", "read committed")
    finally:
        db.dispose()


@pytest.mark.postgres
def test_on_postgresql_a_schedulers_connections_cut_transactions_left_idle_for_a_lease(postgres_url: str) -> None:
    db = Database(postgres_url, pool_size=2)
    own = scheduler_database(db, lease_ms=1500)
    try:
        assert own is not db
        with own.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar_one() == "1500ms"
            assert conn.exec_driver_sql("SHOW transaction_isolation").scalar_one() == "read committed"
    finally:
        own.dispose()
        db.dispose()


def test_a_scheduler_stalled_inside_a_claim_before_writing_lets_its_lease_row_go_within_a_lease(server_url: str) -> None:
    """A claim's first statement share-locks its term's lease row; a node stopped (SIGSTOP, a
    frozen VM) right after it has written nothing yet. Its connection must still be cut within
    about a lease, or every adopter's `FOR UPDATE SKIP LOCKED` skips the term until it wakes."""
    db = Database(server_url, pool_size=2)
    init_schema(db.engine)
    own = scheduler_database(db, lease_ms=1000)
    lease_row = sa.select(SchedulerLease.owner)
    try:
        term_owner = "stalled#00000001"
        with db.session() as s:
            s.add(SchedulerLease(owner=term_owner, node_id="stalled", lease_until_ms=0, send_horizon_ms=0, started_at_ms=0, renewed_at_ms=0))
        stalled = own.engine.connect()
        try:
            assert stalled.execute(lease_row.where(SchedulerLease.owner == term_owner).with_for_update(read=True)).first() is not None
            with db.session() as adopter:
                assert adopter.execute(lease_row.with_for_update(skip_locked=True)).first() is None, "the row was not locked: nothing is tested"
            with db.session() as adopter:
                # Wait for the lock itself, bounded by the server: 10 s, against a cut after 1 s.
                if db.dialect == "postgresql":
                    adopter.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
                else:
                    adopter.execute(sa.text("SET SESSION innodb_lock_wait_timeout = 10"))
                began = time.monotonic()
                assert adopter.execute(lease_row.with_for_update()).first() is not None
                waited_s = time.monotonic() - began
            assert waited_s < 5, f"the stalled node kept its lease row locked for {waited_s:.1f} s"
            with pytest.raises(sa.exc.DBAPIError):  # the node wakes to a transaction that is gone
                stalled.execute(sa.select(1))
        finally:
            stalled.close()
    finally:
        own.dispose()
        db.dispose()
