"""Overlap policies on a fake clock, on SQLite, MariaDB and PostgreSQL: each decision made at
fire time in the claim transaction and recorded on the fire; waiting fires start when the active
run ends; a timed-out run stops blocking; two nodes deciding at once start one run."""

from __future__ import annotations


import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, FollowupStatus, OverlapPolicy, RunStatus, ScheduleType, TriggerType
from shardcron.admin.models import Fire, RunLog
from shardcron.admin.monitors.run_timeouts import RunTimeouts
from shardcron.admin.transport.executor_client import ExecutorClient
from tests.support.executor_calls import TOKEN
from tests.support.scheduler_rows import add_group, add_job
from tests.support.scheduler_node import claim_once
from tests.support.together import run_together

T0 = 1_767_225_600_000  # the fake clock's start


def fires(db, job_id):
    with db.read_session() as s:
        return [(f.fire_at_ms - T0, f.status, f.overlap_note) for f in s.execute(sa.select(Fire).where(Fire.job_id == job_id).order_by(Fire.fire_at_ms)).scalars()]


def runs(db, job_id):
    with db.read_session() as s:
        return s.execute(sa.select(RunLog).where(RunLog.job_id == job_id).order_by(RunLog.id)).scalars().all()


def finish(db, run_id):
    """The executor's callback: the run ended."""
    with db.session() as s:
        s.execute(sa.update(RunLog).where(RunLog.id == run_id).values(status=RunStatus.SUCCESS, handle_code=200, handle_at_ms=T0))


def every_10_s(admin_db, receivers, policy, **fields):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    return receiver, add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="10", overlap_policy=policy, **fields)


def started(receiver, job):
    return [r.log_date_ms - T0 for r in receiver.runs if r.job_id == job]


def test_allow_all_is_the_default_and_starts_every_fire(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="10")
    node = make_scheduler(admin_db)
    for now in (T0 + 10_000, T0 + 20_000, T0 + 30_000):
        node.step(now)
    assert started(receiver, job) == [10_000, 20_000, 30_000]
    assert {note for _, _, note in fires(admin_db, job)} == {None}


def test_skip_drops_fires_while_a_run_is_active_and_says_which(admin_db, receivers, make_scheduler):
    receiver, job = every_10_s(admin_db, receivers, OverlapPolicy.SKIP)
    node = make_scheduler(admin_db)
    node.step(T0 + 10_000)
    first = runs(admin_db, job)[0]
    assert first.status == RunStatus.RUNNING
    node.step(T0 + 20_000)
    node.step(T0 + 30_000)
    assert started(receiver, job) == [10_000]
    assert fires(admin_db, job)[1:] == [
        (20_000, FireStatus.DONE, f"skipped: run {first.id} was active (SKIP)"),
        (30_000, FireStatus.DONE, f"skipped: run {first.id} was active (SKIP)"),
    ]
    finish(admin_db, first.id)
    node.step(T0 + 40_000)
    assert started(receiver, job) == [10_000, 40_000]
    assert fires(admin_db, job)[-1] == (40_000, FireStatus.DONE, None)


def test_a_fire_claimed_early_is_decided_at_its_time(admin_db, receivers, make_scheduler):
    """Claimed within the lookahead while a run is active, the fire waits for its planned time;
    the run ends before it, so it starts — not skipped on what was true two seconds earlier."""
    receiver, job = every_10_s(admin_db, receivers, OverlapPolicy.SKIP)
    node = make_scheduler(admin_db)
    node.step(T0 + 10_000)
    first = runs(admin_db, job)[0]
    node.step(T0 + 18_500)  # claims the fire at 20 s (2 s lookahead): run 1 is active
    assert fires(admin_db, job)[1] == (20_000, FireStatus.BUFFERED, f"waits for its time: run {first.id} is active (SKIP)")
    finish(admin_db, first.id)
    node.step(T0 + 19_999)
    assert started(receiver, job) == [10_000]
    node.step(T0 + 20_000)
    assert started(receiver, job) == [10_000, 20_000]
    assert fires(admin_db, job)[1][:2] == (20_000, FireStatus.DONE)


def test_buffer_one_keeps_one_fire_and_starts_it_when_the_run_ends(admin_db, receivers, make_scheduler):
    receiver, job = every_10_s(admin_db, receivers, OverlapPolicy.BUFFER_ONE)
    node = make_scheduler(admin_db)
    node.step(T0 + 10_000)
    first = runs(admin_db, job)[0]
    node.step(T0 + 20_000)
    node.step(T0 + 30_000)
    assert fires(admin_db, job)[1:] == [
        (20_000, FireStatus.BUFFERED, f"buffered: run {first.id} was active (BUFFER_ONE)"),
        (30_000, FireStatus.DONE, f"skipped: another fire already waits (BUFFER_ONE, run {first.id} active)"),
    ]
    finish(admin_db, first.id)
    node.step(T0 + 31_000)
    assert started(receiver, job) == [10_000, 20_000]  # the buffered fire keeps its planned time (logDateTime)
    assert fires(admin_db, job)[1] == (20_000, FireStatus.DONE, "started: no run was active (BUFFER_ONE)")
    second = runs(admin_db, job)[-1]
    assert (second.fire_at_ms, second.trigger_at_ms, second.status) == (T0 + 20_000, T0 + 31_000, RunStatus.RUNNING)


def test_buffer_all_starts_every_waiting_fire_one_after_another(admin_db, receivers, make_scheduler):
    receiver, job = every_10_s(admin_db, receivers, OverlapPolicy.BUFFER_ALL)
    node = make_scheduler(admin_db)
    node.step(T0 + 10_000)
    node.step(T0 + 20_000)
    node.step(T0 + 30_000)
    assert [status for _, status, _ in fires(admin_db, job)] == [FireStatus.DONE, FireStatus.BUFFERED, FireStatus.BUFFERED]
    finish(admin_db, runs(admin_db, job)[-1].id)
    node.step(T0 + 31_000)
    assert started(receiver, job) == [10_000, 20_000]
    assert fires(admin_db, job)[2][:2] == (30_000, FireStatus.BUFFERED)
    finish(admin_db, runs(admin_db, job)[-1].id)
    node.step(T0 + 32_000)
    assert started(receiver, job) == [10_000, 20_000, 30_000]


def test_cancel_other_kills_the_active_run_then_starts_when_it_ended(admin_db, receivers, make_scheduler):
    receiver, job = every_10_s(admin_db, receivers, OverlapPolicy.CANCEL_OTHER)
    node = make_scheduler(admin_db)
    node.step(T0 + 10_000)
    first = runs(admin_db, job)[0]
    node.step(T0 + 20_000)
    assert receiver.calls.count("/kill") == 1
    assert fires(admin_db, job)[1] == (20_000, FireStatus.BUFFERED, f"waits: kill of run {first.id} sent (CANCEL_OTHER)")
    node.step(T0 + 21_000)  # still running (the executor has not reported the kill): no second kill
    assert receiver.calls.count("/kill") == 1 and started(receiver, job) == [10_000]
    finish(admin_db, first.id)
    node.step(T0 + 22_000)
    assert started(receiver, job) == [10_000, 20_000]


def test_terminate_other_fails_the_active_run_and_starts_at_once(admin_db, receivers, make_scheduler):
    receiver, job = every_10_s(admin_db, receivers, OverlapPolicy.TERMINATE_OTHER, retry_count=3)
    node = make_scheduler(admin_db)
    node.step(T0 + 10_000)
    first = runs(admin_db, job)[0]
    node.step(T0 + 20_000)
    assert started(receiver, job) == [10_000, 20_000]
    # The kill reached the executor before the run that replaces it.
    assert [c for c in receiver.calls if c in ("/kill", "/run")] == ["/run", "/kill", "/run"]
    old = runs(admin_db, job)[0]
    assert (old.status, old.handle_code, old.followup_status) == (RunStatus.FAILED, 500, FollowupStatus.DONE)  # no retry, no alarm
    assert old.handle_msg == f"terminated by fire {fires_ids(admin_db, job)[1]} of the job (overlap policy TERMINATE_OTHER)"
    assert fires(admin_db, job)[1] == (20_000, FireStatus.DONE, f"started after terminating run {first.id} (TERMINATE_OTHER)")


def fires_ids(db, job_id):
    with db.read_session() as s:
        return list(s.execute(sa.select(Fire.id).where(Fire.job_id == job_id).order_by(Fire.fire_at_ms)).scalars())


def test_a_hung_run_blocks_only_until_its_timeout(admin_db, receivers, make_scheduler):
    receiver, job = every_10_s(admin_db, receivers, OverlapPolicy.SKIP, timeout_s=15)
    node = make_scheduler(admin_db)
    node.step(T0 + 10_000)
    node.step(T0 + 20_000)
    node.step(T0 + 30_000)
    assert started(receiver, job) == [10_000]
    client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
    try:
        RunTimeouts(admin_db, "node-a", client, grace_s=5).tick(T0 + 30_001)  # 15 s + 5 s grace after its trigger
    finally:
        client.close()
    assert runs(admin_db, job)[0].status == RunStatus.FAILED
    node.step(T0 + 40_000)
    assert started(receiver, job) == [10_000, 40_000]


def test_a_waiting_fire_of_a_stopped_job_is_dropped(admin_db, receivers, make_scheduler):
    receiver, job = every_10_s(admin_db, receivers, OverlapPolicy.BUFFER_ONE)
    node = make_scheduler(admin_db)
    node.step(T0 + 10_000)
    node.step(T0 + 20_000)
    with admin_db.session() as s:
        s.execute(sa.text("UPDATE sc_job SET enabled = :off WHERE id = :id"), {"off": False, "id": job})
    finish(admin_db, runs(admin_db, job)[0].id)
    node.step(T0 + 21_000)
    assert started(receiver, job) == [10_000]
    assert fires(admin_db, job)[1][:2] == (20_000, FireStatus.DONE)


def test_two_nodes_deciding_at_once_start_one_run(admin_db, receivers, make_scheduler):
    """Two manual fires of a SKIP job, claimed by two nodes in the same instant: the job row's
    lock serializes the decisions, so one run starts and the other fire is skipped."""
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, overlap_policy=OverlapPolicy.SKIP)
    nodes = [make_scheduler(admin_db, "node-a"), make_scheduler(admin_db, "node-b")]
    with admin_db.session() as s:
        for ref in (1, 2):
            s.add(Fire(job_id=job, fire_at_ms=T0, trigger_type=TriggerType.MANUAL, origin_ref=ref, status=FireStatus.PENDING, created_at_ms=T0))
    for node in nodes:
        node.store.batch = 1  # one fire each
        node.live(T0 + 100)
    run_together([lambda node=node: claim_once(node, T0 + 100, 1) for node in nodes])
    for node in nodes:  # a fire one node's SKIP LOCKED passed over (MariaDB) is claimed now
        node.step(T0 + 200)
    assert len(runs(admin_db, job)) == 1 and len(receiver.runs) == 1
    notes = sorted(((status, note) for _, status, note in fires(admin_db, job)), key=lambda n: n[1] or "")
    assert notes == [(FireStatus.DONE, None), (FireStatus.DONE, f"skipped: run {runs(admin_db, job)[0].id} was active (SKIP)")]


def test_cancel_other_sends_its_kill_once_the_run_is_running(admin_db, receivers, make_scheduler):
    receiver, job = every_10_s(admin_db, receivers, OverlapPolicy.CANCEL_OTHER)
    node = make_scheduler(admin_db)
    node.step(T0 + 10_000)
    first = runs(admin_db, job)[0]
    with admin_db.session() as s:  # its /run not answered yet: nothing to kill on the executor
        s.execute(sa.update(RunLog).where(RunLog.id == first.id).values(status=RunStatus.PENDING))
    node.step(T0 + 20_000)
    assert receiver.calls.count("/kill") == 0
    assert fires(admin_db, job)[1] == (20_000, FireStatus.BUFFERED, f"waits: run {first.id} was active (CANCEL_OTHER)")
    with admin_db.session() as s:
        s.execute(sa.update(RunLog).where(RunLog.id == first.id).values(status=RunStatus.RUNNING))
    node.step(T0 + 21_000)
    node.step(T0 + 22_000)
    assert receiver.calls.count("/kill") == 1
    assert fires(admin_db, job)[1] == (20_000, FireStatus.BUFFERED, f"waits: kill of run {first.id} sent (CANCEL_OTHER)")
    finish(admin_db, first.id)
    node.step(T0 + 23_000)
    assert started(receiver, job) == [10_000, 20_000]
