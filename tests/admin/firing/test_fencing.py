"""Exactly once without the executor's help: a stalled node sends nothing it may no longer hold,
and a /run whose outcome is unknown is settled with the executor before it is sent again.

Nodes run on one fake clock, on SQLite and MariaDB; the executor is a RunReceiver answering `/log`
the way shardcron's executor, pyxxl or an executor that cannot tell would.
"""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import Delivery, FireStatus, FollowupStatus, RouteStrategy, RunStatus, ScheduleType
from shardcron.admin.models import Fire, RunLog
from shardcron.admin.transport.executor_client import ExecutorClient
from tests.support.executor_calls import TOKEN
from tests.support.scheduler_node import build_node
from tests.support.scheduler_rows import add_group, add_job

T0 = 1_767_225_600_000
LEASE = {"lease_ms": 2000, "renew_ms": 500, "margin_ms": 500}


def runs(db) -> list[RunLog]:
    with db.read_session() as s:
        return s.execute(sa.select(RunLog).order_by(RunLog.fire_at_ms, RunLog.id)).scalars().all()


def fires(db) -> list[Fire]:
    with db.read_session() as s:
        return s.execute(sa.select(Fire).order_by(Fire.fire_at_ms)).scalars().all()


def queued(node) -> list:
    return node.dispatcher._timers.queued()  # noqa: SLF001


def send_without_recording(node) -> None:
    """The node sends every queued /run and dies before any answer is written."""
    for send in queued(node):
        assert node.dispatcher.client.run_encoded(send.address, send.body).ok


def test_a_stalled_node_drops_what_it_queued_and_each_fire_goes_out_once_from_its_adopter(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1")
    a = make_scheduler(admin_db, "node-a", **LEASE)
    b = make_scheduler(admin_db, "node-b", **LEASE)
    a.step(T0)  # claims and prepares the fires at +1 s and +2 s; nothing is due yet
    assert len(queued(a)) == 2 and receiver.runs == []
    stalled = a.lease.term
    b.step(T0 + 2100)  # A froze at T0: its lease (until +2 s) ran out; B adopts and sends both
    assert sorted((r.job_id, r.log_date_ms - T0) for r in receiver.runs) == [(job, 1000), (job, 2000)]
    # A wakes up: its fence passed long ago, so the sends it still had queued are dropped.
    assert a.dispatcher.send_due(T0 + 2100) == 2
    assert len(receiver.runs) == 2 and queued(a) == []
    assert stalled.over
    a.live(T0 + 2100)  # its next renewal ends the term for good and starts another
    assert a.lease.term is not stalled and stalled.ended
    assert a.dispatcher.held == set()
    adopted = [f for f in fires(admin_db) if f.fire_at_ms <= T0 + 2000]
    assert [(f.owner, f.status) for f in adopted] == [(b.owner, FireStatus.DONE)] * 2
    # The fire planned before A's horizon (+1.5 s) may have been sent: B asked first.
    assert receiver.log_asks == [min(r.id for r in runs(admin_db))]


def test_a_run_sent_before_its_node_died_is_settled_and_never_sent_twice(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1", route_strategy=RouteStrategy.SHARDING_BROADCAST)
    a = make_scheduler(admin_db, "node-a", **LEASE)
    b = make_scheduler(admin_db, "node-b", **LEASE)
    a.live(T0 + 900)
    a.loop.tick(T0 + 900)
    send_without_recording(a)
    sent = {s.run_id for s in queued(a)}
    b.step(T0 + 3000)
    first, second = [r for r in runs(admin_db) if r.id in sent]
    assert sorted(r.log_id for r in receiver.runs if r.log_id in sent) == sorted(sent) and receiver.repeats == 0  # nothing arrived twice
    assert first.status == RunStatus.RUNNING and first.trigger_msg.startswith("settled: executor")
    assert second.status == RunStatus.RUNNING and second.trigger_msg.startswith("settled: executor")


def test_answers_of_a_term_another_node_adopted_are_not_written_by_it(admin_db, receivers, make_scheduler):
    receiver = receivers()
    receiver.busy_jobs.add(add_job(admin_db, add_group(admin_db, "app", T0, manual=[receiver.address]), T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1"))
    a = make_scheduler(admin_db, "node-a", **LEASE)
    b = make_scheduler(admin_db, "node-b", **LEASE)
    a.live(T0 + 900)
    a.loop.tick(T0 + 900)
    for send in queued(a):  # A sends; the executor refuses (busy); A stalls before writing that
        a.dispatcher._execute(send)  # noqa: SLF001
    assert a.dispatcher._sender.drive_until_idle(10)  # noqa: SLF001  (the refusals wait, unrecorded)
    receiver.busy_jobs.clear()
    refused = {s.run_id for s in queued(a)}
    b.step(T0 + 3000)  # B asks: the executor never took those logIds; B sends them, accepted
    a.dispatcher.record_answers()  # A's stale refusals come too late
    assert [(r.status, r.followup_status) for r in runs(admin_db) if r.id in refused] == [(RunStatus.RUNNING, FollowupStatus.NONE)] * 2


def test_an_at_most_once_run_the_executor_cannot_tell_about_is_unknown_and_not_sent_again(admin_db, receivers, make_scheduler):
    receiver = receivers()
    receiver.log_mode = "silent"
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60")
    a = make_scheduler(admin_db, "node-a", **LEASE)
    b = make_scheduler(admin_db, "node-b", **LEASE)
    a.live(T0 + 59_000)
    a.loop.tick(T0 + 59_000)
    b.step(T0 + 62_000)  # A never sent it, but nothing tells B so, and the executor cannot say
    [run] = runs(admin_db)
    assert receiver.runs == []
    assert (run.status, run.trigger_code, run.followup_status) == (RunStatus.UNKNOWN, 0, FollowupStatus.PENDING)
    assert run.trigger_msg == (
        f"outcome unknown: executor {receiver.address} answered /log for logId {run.id} with an empty page, which cannot tell; "
        "not sent again (delivery AT_MOST_ONCE)"
    )
    assert fires(admin_db)[0].status == FireStatus.DONE


def test_an_at_least_once_run_the_executor_cannot_tell_about_is_sent_again(admin_db, receivers, make_scheduler):
    receiver = receivers()
    receiver.log_mode = "fail"
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60", delivery=Delivery.AT_LEAST_ONCE)
    a = make_scheduler(admin_db, "node-a", **LEASE)
    b = make_scheduler(admin_db, "node-b", **LEASE)
    a.live(T0 + 59_000)
    a.loop.tick(T0 + 59_000)
    send_without_recording(a)
    b.step(T0 + 62_000)
    [run] = runs(admin_db)
    assert [r.log_id for r in receiver.runs] == [run.id]  # the re-send was refused as a repeat
    assert receiver.repeats == 1 and run.status == RunStatus.RUNNING and receiver.runs[0].job_id == job


def test_pyxxl_answers_settle_both_ways(admin_db, receivers, make_scheduler):
    """pyxxl logs "No such logid logs." for a logId it never got, and lines for one it has."""
    receiver = receivers()
    receiver.log_mode = "pyxxl"
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1")
    a = make_scheduler(admin_db, "node-a", **LEASE)
    b = make_scheduler(admin_db, "node-b", **LEASE)
    a.live(T0 + 500)
    a.loop.tick(T0 + 500)  # fires at +1 s and +2 s prepared; A's horizon is +2 s
    sent, unsent = sorted(queued(a), key=lambda s: s.fire_at_ms)[:2]
    assert a.dispatcher.client.run_encoded(sent.address, sent.body).ok
    b.step(T0 + 2600)  # A's lease ran until +2.5 s
    assert sorted(r.log_id for r in receiver.runs) == [sent.run_id, unsent.run_id] and receiver.repeats == 0
    assert {r.id: r.trigger_msg for r in runs(admin_db) if r.fire_at_ms <= T0 + 2000} == {
        sent.run_id: f"settled: executor {receiver.address} has a log of logId {sent.run_id}; not sent again",
        unsent.run_id: None,
    }


def test_a_probe_route_run_is_settled_with_every_candidate(admin_db, receivers, make_scheduler):
    """FAILOVER chooses its executor when it sends: the adopter asks each live one."""
    one, two = receivers(), receivers()
    group = add_group(admin_db, "app", T0, manual=[one.address, two.address])
    add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60", route_strategy=RouteStrategy.FAILOVER)
    a = make_scheduler(admin_db, "node-a", **LEASE)
    b = make_scheduler(admin_db, "node-b", **LEASE)
    a.live(T0 + 59_500)
    a.loop.tick(T0 + 59_500)
    [send] = queued(a)
    assert send.probe and a.dispatcher.client.run_encoded(two.address, send.body).ok  # A had chosen the second
    b.step(T0 + 62_000)
    [run] = runs(admin_db)
    assert (run.status, run.executor_address) == (RunStatus.RUNNING, two.address)
    assert one.runs == [] and len(two.runs) == 1 and sorted(one.log_asks + two.log_asks) == [run.id, run.id]


def test_a_call_cut_after_its_request_went_out_is_settled_on_the_node_that_made_it(admin_db, receivers, fake_clock):
    """The executor takes the /run and never answers: the call times out, the node asks, the
    executor says it has it, and the run is RUNNING; nothing is sent twice."""
    receiver = receivers()
    receiver.swallow_s = 5
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1")
    client = ExecutorClient(TOKEN, connect_timeout_s=1, read_timeout_s=0.3)
    try:
        node = build_node(admin_db, fake_clock, client, **LEASE)
        node.step(T0 + 900)
        node.step(T0 + 1000)
    finally:
        client.close()
    [run] = [r for r in runs(admin_db) if r.fire_at_ms == T0 + 1000]
    assert run.status == RunStatus.RUNNING and run.trigger_msg.startswith("settled: executor")
    assert len(receiver.runs) == 1 and receiver.repeats == 0
