"""Routing strategies: pure choices, then each one end to end against real executors on loopback."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, FollowupStatus, RouteStrategy, RunStatus, TriggerType
from shardcron.admin.models import Fire, RunLog
from shardcron.admin.schedules.routing import (
    RouteState,
    route_consistent_hash,
    route_one,
)
from shardcron.core.protocol import Envelope, normalize_address
from tests.support.net import wait_until
from tests.support.scheduler_rows import add_group, add_job

T0 = 1_767_225_600_000
ADDRS = ["http://10.0.0.1:9999", "http://10.0.0.2:9999", "http://10.0.0.3:9999"]


def pick(strategy, n=1, addrs=ADDRS, job_id=7, state=None, prober=None):
    state = state or RouteState(random.Random(1))
    return [route_one(strategy, addrs, job_id, state, T0, prober).address for _ in range(n)]


def test_first_and_last_take_the_ends_of_the_sorted_list():
    assert pick(RouteStrategy.FIRST, 3) == [ADDRS[0]] * 3
    assert pick(RouteStrategy.LAST, 3) == [ADDRS[2]] * 3


def test_round_cycles_through_every_executor():
    got = pick(RouteStrategy.ROUND, 6)
    assert Counter(got) == Counter(ADDRS * 2)
    assert got[:3] != got[1:4] and got[0] == got[3]


def test_random_stays_in_the_list_and_reaches_everyone():
    assert set(pick(RouteStrategy.RANDOM, 200)) == set(ADDRS)


def test_least_frequently_used_balances_counts():
    got = Counter(pick(RouteStrategy.LEAST_FREQUENTLY_USED, 30))
    assert max(got.values()) - min(got.values()) <= 2 and set(got) == set(ADDRS)


def test_least_recently_used_picks_the_one_unused_longest():
    got = pick(RouteStrategy.LEAST_RECENTLY_USED, 6)
    assert got == ADDRS + ADDRS


def test_route_state_is_per_job():
    state = RouteState(random.Random(1))
    a = [route_one(RouteStrategy.LEAST_RECENTLY_USED, ADDRS, 1, state, T0).address for _ in range(2)]
    b = [route_one(RouteStrategy.LEAST_RECENTLY_USED, ADDRS, 2, state, T0).address for _ in range(2)]
    assert a == b == ADDRS[:2]


def test_consistent_hash_is_stable_and_moves_only_the_departed_executors_jobs():
    many = [f"http://10.0.0.{i}:9999" for i in range(1, 11)]
    before = {job: route_consistent_hash(many, job).address for job in range(500)}
    assert before == {job: route_consistent_hash(list(many), job).address for job in range(500)}
    assert len(set(before.values())) == 10
    gone = many[3]
    after = {job: route_consistent_hash([a for a in many if a != gone], job).address for job in range(500)}
    moved = {job for job in before if before[job] != after[job]}
    assert moved == {job for job, a in before.items() if a == gone}


class Prober:
    def __init__(self, beat_ok=(), idle_ok=()):
        self.beat_ok, self.idle_ok, self.calls = set(beat_ok), set(idle_ok), []

    def beat(self, address):
        self.calls.append(("beat", address))
        return Envelope.success() if address in self.beat_ok else Envelope.failure("down")

    def idle_beat(self, address, job_id):
        self.calls.append(("idleBeat", address))
        return Envelope.success() if address in self.idle_ok else Envelope.failure("busy")


def test_failover_takes_the_first_that_answers_beat_and_traces_the_others():
    prober = Prober(beat_ok=ADDRS[1:])
    route = route_one(RouteStrategy.FAILOVER, ADDRS, 7, RouteState(), T0, prober)
    assert route.address == ADDRS[1]
    assert prober.calls == [("beat", ADDRS[0]), ("beat", ADDRS[1])]
    assert "down" in route.trace


def test_busyover_takes_the_first_idle_one_or_none():
    assert route_one(RouteStrategy.BUSYOVER, ADDRS, 7, RouteState(), T0, Prober(idle_ok=[ADDRS[2]])).address == ADDRS[2]
    none = route_one(RouteStrategy.BUSYOVER, ADDRS, 7, RouteState(), T0, Prober())
    assert none.address is None and "no executor is idle" in none.trace


# ---------------------------------------------------------------------------- end to end


def manual_fire(db, job_id, now_ms, ref, **fields):
    with db.session() as s:
        fire = Fire(job_id=job_id, fire_at_ms=now_ms, trigger_type=fields.pop("trigger_type", TriggerType.MANUAL), origin_ref=ref,
                    status=FireStatus.PENDING, created_at_ms=now_ms, **fields)
        s.add(fire)
        s.flush()
        return fire.id


def runs_of(db, job_id):
    with db.read_session() as s:
        return s.execute(sa.select(RunLog).where(RunLog.job_id == job_id).order_by(RunLog.id)).scalars().all()


def setup(db, execs, **job_fields):
    addrs = [normalize_address(e.address) for e in execs]
    group = add_group(db, "routing-app", T0, manual=addrs)
    return addrs, add_job(db, group, T0, **job_fields)


@pytest.mark.parametrize("strategy", [s for s in RouteStrategy if s is not RouteStrategy.SHARDING_BROADCAST])
def test_each_strategy_delivers_to_a_real_executor(strategy, sqlite_admin_db, executors, fake_admin, make_scheduler):
    execs = executors(3)
    addrs, job = setup(sqlite_admin_db, execs, route_strategy=strategy)
    node = make_scheduler(sqlite_admin_db)
    for i in range(6):
        manual_fire(sqlite_admin_db, job, T0, ref=i + 1, param=f"p{i}")
        node.step()
    rows = runs_of(sqlite_admin_db, job)
    assert [r.status for r in rows] == [RunStatus.RUNNING] * 6
    for row in rows:
        assert fake_admin.wait_for_result(row.id, timeout_s=10).handle_code == 200
    used = Counter(r.executor_address for r in rows)
    expected = {
        RouteStrategy.FIRST: {addrs[0]: 6},
        RouteStrategy.LAST: {addrs[2]: 6},
        RouteStrategy.ROUND: {a: 2 for a in addrs},
        RouteStrategy.LEAST_RECENTLY_USED: {a: 2 for a in addrs},
        RouteStrategy.FAILOVER: {addrs[0]: 6},
        RouteStrategy.BUSYOVER: {addrs[0]: 6},
        RouteStrategy.CONSISTENT_HASH: {route_consistent_hash(addrs, job).address: 6},
    }.get(strategy)
    if expected is not None:
        assert dict(used) == expected
    elif strategy is RouteStrategy.LEAST_FREQUENTLY_USED:
        # Counters start at random 0..n-1, so 6 picks may leave one executor out, never two:
        # seeds (0, 0, 2) over sorted a, b, c pick a, b, a, b, a, b and never c.
        assert set(used) <= set(addrs) and len(used) >= 2
    else:
        assert set(used) <= set(addrs)


def test_failover_skips_a_dead_executor(sqlite_admin_db, executors, make_scheduler):
    execs = executors(3)
    addrs, job = setup(sqlite_admin_db, execs, route_strategy=RouteStrategy.FAILOVER)
    execs[0].stop(timeout_s=2)
    node = make_scheduler(sqlite_admin_db)
    manual_fire(sqlite_admin_db, job, T0, ref=1)
    node.step()
    [row] = runs_of(sqlite_admin_db, job)
    assert (row.status, row.executor_address) == (RunStatus.RUNNING, addrs[1])
    assert f"beat {addrs[0]}: 500" in row.trigger_msg


def test_busyover_skips_the_executor_running_the_job(sqlite_admin_db, executors, make_scheduler):
    execs = executors(2)
    addrs, job = setup(sqlite_admin_db, execs, route_strategy=RouteStrategy.BUSYOVER, handler="block")
    node = make_scheduler(sqlite_admin_db)
    manual_fire(sqlite_admin_db, job, T0, ref=1, address=addrs[0])  # occupy executor 0
    node.step()
    manual_fire(sqlite_admin_db, job, T0, ref=2)
    node.step()
    first, second = runs_of(sqlite_admin_db, job)
    assert first.executor_address == addrs[0] and second.executor_address == addrs[1]
    assert second.status == RunStatus.RUNNING


def test_broadcast_records_a_busy_shards_discard_on_its_own_row(sqlite_admin_db, executors, make_scheduler):
    execs = executors(3)
    addrs, job = setup(sqlite_admin_db, execs, route_strategy=RouteStrategy.SHARDING_BROADCAST, handler="block", block_strategy="DISCARD_LATER")
    node = make_scheduler(sqlite_admin_db)
    manual_fire(sqlite_admin_db, job, T0, ref=1, shard_index=1, shard_total=3)  # shard 1 keeps executor 1 busy
    node.step()
    wait_until(lambda: execs[1].dispatcher.is_busy(job), timeout_s=5, what="executor 1 busy with the job")
    broadcast = manual_fire(sqlite_admin_db, job, T0, ref=2)  # the whole broadcast
    node.step()
    rows = [r for r in runs_of(sqlite_admin_db, job) if r.fire_id == broadcast]
    assert [(r.shard_index, r.shard_total, r.executor_address) for r in rows] == [(i, 3, addrs[i]) for i in range(3)]
    assert [r.status for r in rows] == [RunStatus.RUNNING, RunStatus.FAILED, RunStatus.RUNNING]
    busy = rows[1]
    assert busy.trigger_code == 500 and "Discard Later" in busy.trigger_msg
    assert busy.followup_status == FollowupStatus.PENDING
    assert {r.followup_status for r in (rows[0], rows[2])} == {FollowupStatus.NONE}
