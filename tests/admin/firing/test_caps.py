"""Concurrency caps on a fake clock, on SQLite, MariaDB and PostgreSQL: a cap of K admits K
runs, the next fires wait for a slot (WAIT) or are skipped (SKIP), each decision noted on the
fire; a waiting fire starts when a slot frees and is skipped once it has waited longer than the
bound; a broadcast takes a slot per shard; hung and lost runs hold their slot only until the run
timeout or lost-run detection ends them; two nodes deciding at once never admit more than K."""

from __future__ import annotations


import sqlalchemy as sa

from shardcron.admin.enums import CapPolicy, FireStatus, OverlapPolicy, RouteStrategy, RunStatus, TriggerType
from shardcron.admin.models import ExecutorGroup, Fire, RunLog
from shardcron.admin.monitors.lost_runs import LostRuns
from shardcron.admin.monitors.run_timeouts import RunTimeouts
from shardcron.admin.transport.executor_client import ExecutorClient
from tests.support.executor_calls import TOKEN
from tests.support.scheduler_rows import add_group, add_job
from tests.support.scheduler_node import claim_once
from tests.support.together import run_together

T0 = 1_767_225_600_000  # the fake clock's start


def capped_group(db, receivers_or_addresses, cap, policy=CapPolicy.WAIT, wait_s=60):
    group = add_group(db, "app", T0, manual=list(receivers_or_addresses))
    with db.session() as s:
        s.execute(sa.update(ExecutorGroup).where(ExecutorGroup.id == group).values(cap_runs=cap, cap_policy=policy, cap_wait_s=wait_s))
    return group


def set_cap(db, group, cap):
    with db.session() as s:
        s.execute(sa.update(ExecutorGroup).where(ExecutorGroup.id == group).values(cap_runs=cap))


def manual(db, job, at_ms, ref=1):
    """A manual fire of `job` planned at `at_ms` (PENDING, as a trigger from the console writes it)."""
    with db.session() as s:
        fire = Fire(job_id=job, fire_at_ms=at_ms, trigger_type=TriggerType.MANUAL, origin_ref=ref, status=FireStatus.PENDING, created_at_ms=at_ms)
        s.add(fire)
        s.flush()
        return fire.id


def fire_row(db, fire_id):
    with db.read_session() as s:
        fire = s.get(Fire, fire_id)
        assert fire is not None
        return fire.status, fire.overlap_note


def runs(db, job_id=None):
    with db.read_session() as s:
        query = sa.select(RunLog).order_by(RunLog.id)
        if job_id is not None:
            query = query.where(RunLog.job_id == job_id)
        return s.execute(query).scalars().all()


def active(db):
    return [r for r in runs(db) if r.status in (RunStatus.PENDING, RunStatus.RUNNING)]


def finish(db, run_id):
    """The executor's callback: the run ended."""
    with db.session() as s:
        s.execute(sa.update(RunLog).where(RunLog.id == run_id).values(status=RunStatus.SUCCESS, handle_code=200, handle_at_ms=T0))


def test_a_group_cap_admits_k_runs_and_the_next_waits_for_a_free_slot(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = capped_group(admin_db, [receiver.address], 2)
    jobs = [add_job(admin_db, group, T0, name=f"job{i}") for i in range(3)]
    fires = [manual(admin_db, job, T0 + 1_000) for job in jobs]
    node = make_scheduler(admin_db)
    node.step(T0 + 1_000)
    assert [r.job_id for r in runs(admin_db)] == jobs[:2]
    assert fire_row(admin_db, fires[2]) == (FireStatus.BUFFERED, "waits: group cap 2 reached, 2 runs active (WAIT up to 60 s)")
    node.step(T0 + 2_000)
    assert len(runs(admin_db)) == 2 and fire_row(admin_db, fires[2])[0] == FireStatus.BUFFERED
    finish(admin_db, runs(admin_db)[0].id)
    node.step(T0 + 3_000)
    third = runs(admin_db, jobs[2])
    assert [(r.fire_at_ms, r.trigger_at_ms, r.status) for r in third] == [(T0 + 1_000, T0 + 3_000, RunStatus.RUNNING)]
    assert fire_row(admin_db, fires[2]) == (FireStatus.DONE, "started: a slot was free (group cap 2, 1 active)")
    assert [r.job_id for r in receiver.runs] == [*jobs[:2], jobs[2]]
    assert fire_row(admin_db, fires[0]) == (FireStatus.DONE, None)  # admitted under the cap: nothing to note


def test_skip_over_the_cap_ends_the_fire_at_once_with_a_note(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = capped_group(admin_db, [receiver.address], 1, CapPolicy.SKIP)
    first, second = add_job(admin_db, group, T0, name="a"), add_job(admin_db, group, T0, name="b")
    manual(admin_db, first, T0 + 1_000)
    skipped = manual(admin_db, second, T0 + 1_000)
    node = make_scheduler(admin_db)
    node.step(T0 + 1_000)
    assert [r.job_id for r in runs(admin_db)] == [first]
    assert fire_row(admin_db, skipped) == (FireStatus.DONE, "skipped: group cap 1 reached, 1 run active")
    # A fire claimed within the lookahead is decided at its planned time, not on what is true now.
    later = manual(admin_db, second, T0 + 3_000, ref=2)
    node.step(T0 + 1_500)
    assert fire_row(admin_db, later) == (FireStatus.BUFFERED, "waits for its time: group cap 1 reached, 1 run active")
    finish(admin_db, runs(admin_db)[0].id)
    node.step(T0 + 3_000)
    assert [r.job_id for r in receiver.runs] == [first, second]
    assert fire_row(admin_db, later)[0] == FireStatus.DONE


def test_a_fire_that_waited_longer_than_the_bound_is_skipped(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = capped_group(admin_db, [receiver.address], 1, CapPolicy.WAIT, wait_s=15)
    first, second = add_job(admin_db, group, T0, name="a"), add_job(admin_db, group, T0, name="b")
    manual(admin_db, first, T0 + 1_000)
    waiting = manual(admin_db, second, T0 + 1_000)
    node = make_scheduler(admin_db)
    node.step(T0 + 1_000)
    node.step(T0 + 16_000)  # waited exactly 15 s: still waits
    assert fire_row(admin_db, waiting) == (FireStatus.BUFFERED, "waits: group cap 1 reached, 1 run active (WAIT up to 15 s)")
    node.step(T0 + 16_001)
    assert fire_row(admin_db, waiting) == (FireStatus.DONE, "skipped: waited longer than 15 s, group cap 1 reached, 1 run active")
    assert [r.job_id for r in receiver.runs] == [first]


def test_waiting_fires_start_in_planned_order_as_slots_free(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = capped_group(admin_db, [receiver.address], 1)
    jobs = [add_job(admin_db, group, T0, name=f"job{i}") for i in range(3)]
    for i, job in enumerate(jobs):
        manual(admin_db, job, T0 + 1_000 + i)
    node = make_scheduler(admin_db)
    node.step(T0 + 1_002)
    assert [r.job_id for r in runs(admin_db)] == jobs[:1]
    for _ in range(2):
        finish(admin_db, active(admin_db)[0].id)
        node.step(T0 + 5_000 + len(runs(admin_db)))
    assert [r.job_id for r in receiver.runs] == jobs


def test_a_job_cap_limits_that_job_only(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    capped = add_job(admin_db, group, T0, name="capped", cap_runs=1)
    free = add_job(admin_db, group, T0, name="free")
    manual(admin_db, capped, T0 + 1_000, ref=1)
    waiting = manual(admin_db, capped, T0 + 1_000, ref=2)
    manual(admin_db, free, T0 + 1_000, ref=1)
    manual(admin_db, free, T0 + 1_000, ref=2)
    node = make_scheduler(admin_db)
    node.step(T0 + 1_000)
    assert sorted(r.job_id for r in runs(admin_db)) == sorted([capped, free, free])
    assert fire_row(admin_db, waiting) == (FireStatus.BUFFERED, "waits: job cap 1 reached, 1 run active (WAIT up to 60 s)")


def test_a_broadcast_takes_a_slot_per_shard_and_one_wider_than_the_cap_is_skipped(admin_db, receivers, make_scheduler):
    executors = [receivers() for _ in range(3)]
    group = capped_group(admin_db, [r.address for r in executors], 3)
    broadcast = add_job(admin_db, group, T0, name="broadcast", route_strategy=RouteStrategy.SHARDING_BROADCAST)
    single = add_job(admin_db, group, T0, name="single")
    manual(admin_db, broadcast, T0 + 1_000)
    behind = manual(admin_db, single, T0 + 1_000)
    node = make_scheduler(admin_db)
    node.step(T0 + 1_000)
    assert [(r.job_id, r.shard_index, r.shard_total) for r in runs(admin_db)] == [(broadcast, i, 3) for i in range(3)]
    assert fire_row(admin_db, behind) == (FireStatus.BUFFERED, "waits: group cap 3 reached, 3 runs active (WAIT up to 60 s)")
    for run in runs(admin_db):
        finish(admin_db, run.id)
    set_cap(admin_db, group, 2)
    wide = manual(admin_db, broadcast, T0 + 2_000, ref=2)
    node.step(T0 + 2_000)
    assert fire_row(admin_db, wide) == (FireStatus.DONE, "skipped: its 3 shards need 3 slots, group cap is 2")
    assert fire_row(admin_db, behind)[0] == FireStatus.DONE and [r.job_id for r in active(admin_db)] == [single]


def test_a_hung_run_holds_its_slot_only_until_its_timeout(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = capped_group(admin_db, [receiver.address], 1, wait_s=600)
    hung, other = add_job(admin_db, group, T0, name="hung", timeout_s=15), add_job(admin_db, group, T0, name="other")
    manual(admin_db, hung, T0 + 1_000)
    manual(admin_db, other, T0 + 1_000)
    node = make_scheduler(admin_db)
    node.step(T0 + 1_000)
    node.step(T0 + 10_000)
    assert [r.job_id for r in receiver.runs] == [hung]
    client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
    try:
        RunTimeouts(admin_db, "node-a", client, grace_s=5).tick(T0 + 21_001)  # 15 s + 5 s grace after its trigger
    finally:
        client.close()
    assert runs(admin_db, hung)[0].status == RunStatus.FAILED
    node.step(T0 + 22_000)
    assert [r.job_id for r in receiver.runs] == [hung, other]


def test_a_lost_run_holds_its_slot_only_until_lost_run_detection(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = capped_group(admin_db, [receiver.address], 1, wait_s=600)
    lost, other = add_job(admin_db, group, T0, name="lost"), add_job(admin_db, group, T0, name="other")
    manual(admin_db, lost, T0 + 1_000)
    manual(admin_db, other, T0 + 1_000)
    node = make_scheduler(admin_db)
    node.step(T0 + 1_000)
    receiver.dead_beat = True  # its executor is gone (a MANUAL group's executor stops answering /beat)
    client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
    try:
        monitor = LostRuns(admin_db, "node-a", client, lost_after_s=60)
        monitor.tick(T0 + 2_000)
        monitor.tick(T0 + 62_000)
    finally:
        client.close()
    assert runs(admin_db, lost)[0].status == RunStatus.FAILED
    receiver.dead_beat = False
    node.step(T0 + 63_000)
    assert [r.job_id for r in receiver.runs] == [lost, other]


def test_two_nodes_deciding_at_once_never_admit_more_than_the_cap(admin_db, receivers, make_scheduler):
    """Four fires of a group capped at 2, claimed two by each of two nodes in the same instant:
    the group row's lock serializes the decisions, so two runs start and two fires wait."""
    receiver = receivers()
    group = capped_group(admin_db, [receiver.address], 2)
    jobs = [add_job(admin_db, group, T0, name=f"job{i}") for i in range(4)]
    fires = [manual(admin_db, job, T0) for job in jobs]
    nodes = [make_scheduler(admin_db, "node-a"), make_scheduler(admin_db, "node-b")]
    for node in nodes:
        node.store.batch = 2
        node.live(T0 + 100)
    run_together([lambda node=node: claim_once(node, T0 + 100, 2) for node in nodes])
    for node in nodes:  # fires one node's SKIP LOCKED passed over (MariaDB) are claimed now
        node.step(T0 + 200)
    assert len(runs(admin_db)) == 2 and len(receiver.runs) == 2
    assert sorted(fire_row(admin_db, f)[0] for f in fires) == sorted([FireStatus.DONE] * 2 + [FireStatus.BUFFERED] * 2)
    finish(admin_db, runs(admin_db)[0].id)
    for node in nodes:
        node.step(T0 + 300)
    assert len(active(admin_db)) == 2 and len(runs(admin_db)) == 3


def test_a_retry_obeys_the_cap(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = capped_group(admin_db, [receiver.address], 1)
    busy, retried = add_job(admin_db, group, T0, name="busy"), add_job(admin_db, group, T0, name="retried")
    manual(admin_db, busy, T0 + 1_000)
    node = make_scheduler(admin_db)
    node.step(T0 + 1_000)
    with admin_db.session() as s:
        s.add(Fire(job_id=retried, fire_at_ms=T0 + 2_000, trigger_type=TriggerType.RETRY, origin_ref=99, attempt=1, status=FireStatus.PENDING, created_at_ms=T0))
        s.flush()
        retry = s.execute(sa.select(Fire.id).where(Fire.job_id == retried)).scalar_one()
    node.step(T0 + 2_000)
    assert fire_row(admin_db, retry) == (FireStatus.BUFFERED, "waits: group cap 1 reached, 1 run active (WAIT up to 60 s)")
    assert [r.job_id for r in receiver.runs] == [busy]


def test_a_child_fire_obeys_the_cap(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = capped_group(admin_db, [receiver.address], 1, CapPolicy.SKIP)
    parent, child = add_job(admin_db, group, T0, name="parent"), add_job(admin_db, group, T0, name="child")
    manual(admin_db, parent, T0 + 1_000)
    with admin_db.session() as s:  # what the follow-up writes when the parent's run succeeded
        fire = Fire(job_id=child, fire_at_ms=T0 + 1_000, trigger_type=TriggerType.PARENT, origin_ref=7, status=FireStatus.PENDING, created_at_ms=T0)
        s.add(fire)
        s.flush()
        child_fire = fire.id
    make_scheduler(admin_db).step(T0 + 1_000)
    assert fire_row(admin_db, child_fire) == (FireStatus.DONE, "skipped: group cap 1 reached, 1 run active")
    assert [r.job_id for r in receiver.runs] == [parent]


def test_the_cap_acts_before_the_overlap_policy(admin_db, receivers, make_scheduler):
    """Over the cap, a SKIP-policy job's fire waits for a slot (the cap's WAIT); under it, the
    overlap policy decides and notes its own decision."""
    receiver = receivers()
    group = capped_group(admin_db, [receiver.address], 1)
    other, job = add_job(admin_db, group, T0, name="other"), add_job(admin_db, group, T0, name="skip", overlap_policy=OverlapPolicy.SKIP)
    manual(admin_db, other, T0 + 1_000)
    waiting = manual(admin_db, job, T0 + 1_000)
    node = make_scheduler(admin_db)
    node.step(T0 + 1_000)
    assert fire_row(admin_db, waiting) == (FireStatus.BUFFERED, "waits: group cap 1 reached, 1 run active (WAIT up to 60 s)")
    finish(admin_db, runs(admin_db, other)[0].id)
    node.step(T0 + 2_000)
    assert fire_row(admin_db, waiting) == (FireStatus.DONE, "started: no run was active (SKIP)")
    set_cap(admin_db, group, 5)
    second = manual(admin_db, job, T0 + 3_000, ref=2)
    node.step(T0 + 3_000)  # a slot is free, but the job's own run is active: SKIP
    assert fire_row(admin_db, second) == (FireStatus.DONE, f"skipped: run {runs(admin_db, job)[0].id} was active (SKIP)")


def test_without_caps_nothing_is_locked_or_counted(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0)
    statements: list[str] = []
    sa.event.listen(admin_db.engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: statements.append(statement))
    manual(admin_db, job, T0 + 1_000)
    make_scheduler(admin_db).step(T0 + 1_000)
    assert len(receiver.runs) == 1
    assert not [s for s in statements if "FROM sc_executor_group" in s and "FOR UPDATE" in s]
    assert not [s for s in statements if "count(" in s.lower() and "sc_run_log" in s]

