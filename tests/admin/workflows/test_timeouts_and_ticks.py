"""The workflow monitor times out instances past their deadline (running runs failed and killed)
and sweeps what no result reported; the fire loop ticks fast only while instances run."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import OverlapPolicy, RunStatus, StepStatus, WorkflowStatus
from shardcron.admin.firing.fire_loop import FireLoop
from shardcron.admin.models import RunLog
from shardcron.admin.monitors.workflow_instances import WorkflowInstances
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.admin.workflows.instances import instances_running
from tests.support.executor_calls import TOKEN
from tests.support.scheduler_rows import add_job
from tests.support.workflow_rows import add_workflow, instance, start, states, status


def _monitor(cluster) -> WorkflowInstances:
    return WorkflowInstances(cluster.db, "node-a", ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5))


def test_an_instance_past_its_timeout_ends_timed_out_with_its_runs_killed(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    wf = add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "slow", "job_id": job}, {"key": "next", "job_id": job}], "edges": [{"from": "slow", "to": "next"}]}, now, timeout_s=60)
    cluster.answer = lambda run: None
    instance_id = start(cluster.db, wf, now)
    cluster.pump()
    assert instance(cluster.db, instance_id).deadline_at_ms == now + 60_000
    monitor = _monitor(cluster)
    monitor.tick(now + 59_999)
    assert status(cluster.db, instance_id) == WorkflowStatus.RUNNING
    monitor.tick(now + 60_000)
    row = instance(cluster.db, instance_id)
    assert (row.status, row.finished_at_ms) == (WorkflowStatus.TIMED_OUT, now + 60_000)
    assert row.message == "timed out: still running 60 s after it started (workflow timeout 60 s)"
    assert states(cluster.db, instance_id) == {"slow": StepStatus.CANCELLED, "next": StepStatus.CANCELLED}
    with cluster.db.read_session() as s:
        [run] = s.scalars(sa.select(RunLog)).all()
    assert (run.status, run.handle_msg) == (RunStatus.FAILED, f"killed: workflow instance {instance_id} timed out")
    calls = [c for e in cluster.executors for c in e.calls]
    assert "/kill" in calls
    monitor.client.close()


def test_the_fire_loop_ticks_fast_while_an_instance_runs_and_slow_again_after(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    wf = add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "a", "job_id": job}], "edges": []}, now)
    node = cluster.node
    asked: list[int] = []

    def busy() -> bool:
        asked.append(1)
        return instances_running(cluster.db)

    loop = FireLoop(node.store, node.dispatcher, 0.2, busy=busy, busy_interval_s=0.01)
    node.live(now + 10)
    loop.tick(now + 10)
    assert loop.interval_s == 0.2
    held: list[int] = []
    cluster.answer = lambda run: (held.append(run.log_id), None)[1]
    instance_id = start(cluster.db, wf, now + 20)
    # the tick that claims the step's fire turns fast at once, without asking busy() again
    loop.tick(now + 500)
    assert loop.interval_s == 0.01 and len(asked) == 1
    loop.tick(now + 1010)
    assert loop.interval_s == 0.01 and len(asked) == 1  # asked at most once a second (from 500)
    loop.tick(now + 1500)
    assert loop.interval_s == 0.01 and len(asked) == 2  # still running: stays fast
    cluster.pump()
    cluster.callback(held[0])
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    loop.tick(now + 2500)
    assert loop.interval_s == 0.2 and len(asked) == 3


def test_an_instance_started_elsewhere_turns_the_loop_fast_by_the_next_check(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    wf = add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "a", "job_id": job}], "edges": []}, now)
    node = cluster.node
    loop = FireLoop(node.store, node.dispatcher, 0.2, busy=lambda: instances_running(cluster.db), busy_interval_s=0.01)
    node.live(now + 10)
    loop.tick(now + 10)
    assert loop.interval_s == 0.2
    cluster.answer = lambda run: None
    start(cluster.db, wf, now + 20)
    cluster.pump()  # another node claimed and sent the step's fire: this loop claims nothing
    loop.tick(now + 500)
    assert loop.interval_s == 0.2
    loop.tick(now + 1010)
    assert loop.interval_s == 0.01


def test_the_sweep_ends_a_step_whose_fire_ended_without_a_run(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now, overlap_policy=OverlapPolicy.SKIP)
    with cluster.db.session() as s:
        s.add(RunLog(job_id=job, group_id=cluster.group_id, trigger_type="MANUAL", fire_at_ms=now, trigger_at_ms=now, handler="echo", status=RunStatus.RUNNING))
    wf = add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "a", "job_id": job}], "edges": []}, now)
    instance_id = start(cluster.db, wf, now)
    cluster.pump()  # the node's loop has no on_steps_ended: nothing moves the step
    assert states(cluster.db, instance_id) == {"a": StepStatus.FIRED}
    monitor = _monitor(cluster)
    monitor.tick(cluster.clock.now_ms())
    assert states(cluster.db, instance_id) == {"a": StepStatus.FAILED}
    assert status(cluster.db, instance_id) == WorkflowStatus.FAILED
    monitor.client.close()


def test_fast_ticks_claim_only_when_a_fire_is_due_or_the_bell_rang(cluster) -> None:
    """Between two full ticks a fast tick reads first and writes (claims) only for a due
    PENDING fire; a bell rung since the last tick claims without asking."""
    import threading

    from shardcron.admin.firing.fire_bell import FireBell

    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    wf = add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "a", "job_id": job}, {"key": "b", "job_id": job}], "edges": [{"from": "a", "to": "b"}]}, now)
    node = cluster.node
    bell = FireBell()
    loop = FireLoop(node.store, node.dispatcher, 1.0, busy=lambda: instances_running(cluster.db), busy_interval_s=0.01, bell=bell)
    claims: list[int] = []
    claim_then = node.store.claim_then
    mine = [False]

    def counting(now_ms, *args, **kwargs):
        if mine[0]:  # this loop's claims, not those of the node's own loop (cluster.pump)
            claims.append(now_ms)
        return claim_then(now_ms, *args, **kwargs)

    def tick(at: int) -> None:
        mine[0] = True
        try:
            loop.tick(at)
        finally:
            mine[0] = False

    node.store.claim_then = counting  # type: ignore[method-assign]
    held: list[int] = []
    cluster.answer = lambda run: (held.append(run.log_id), None)[1]
    node.live(now + 10)
    start(cluster.db, wf, now + 20)
    tick(now + 30)  # the first, full tick: claims a's fire and turns fast
    assert loop.interval_s == 0.01 and len(claims) == 1
    cluster.pump()  # a's run is sent (by the node's loop) and held
    at = cluster.clock.now_ms()
    for step in range(1, 30):  # fast ticks, nothing due: no claim at all
        tick(at + 10 * step)
    assert len(claims) == 1 and held
    cluster.callback(held[0])  # writes b's PENDING fire
    tick(at + 300)  # a fast tick that finds it due claims
    assert len(claims) == 2
    tick(at + 310)
    assert len(claims) == 2
    bell.ring()
    loop.wait(5.0, threading.Event())  # returns at once: the bell rang
    tick(at + 320)  # rung: claims without reading first
    assert len(claims) == 3
    tick(now + 30 + 1000)  # a full tick (a second after the last full one) always claims
    assert len(claims) == 4


def test_the_sweep_takes_no_write_lock_for_an_instance_with_nothing_to_move(cluster, monkeypatch) -> None:
    from shardcron.admin.monitors import workflow_instances

    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    wf = add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "a", "job_id": job}], "edges": []}, now)
    cluster.answer = lambda run: None  # the run stays RUNNING
    instance_id = start(cluster.db, wf, now)
    cluster.pump()
    advanced: list[int] = []
    real = workflow_instances.advance_instance
    monkeypatch.setattr(workflow_instances, "advance_instance", lambda session, iid, *a, **kw: (advanced.append(iid), real(session, iid, *a, **kw))[1])
    monitor = _monitor(cluster)
    monitor.tick(cluster.clock.now_ms())
    assert advanced == [] and states(cluster.db, instance_id) == {"a": StepStatus.FIRED}
    # its run fails, and no callback tells (as if the node died before advancing): the sweep does
    with cluster.db.session() as s:
        s.execute(sa.update(RunLog).values(status=RunStatus.FAILED, retry_remaining=0))
    monitor.tick(cluster.clock.now_ms() + workflow_instances.WorkflowInstances.SWEEP_MS)
    assert advanced == [instance_id]
    assert status(cluster.db, instance_id) == WorkflowStatus.FAILED
    monitor.client.close()
