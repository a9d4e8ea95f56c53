"""A callback in a process whose fire loop holds a lease term claims the successors' fires in its
own transaction (firing/local_claims.py): their run rows are written with the result and their
`/run` calls queued at the commit, with no tick of the fire loop and no bell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, StepStatus, TriggerType, WorkflowStatus
from shardcron.admin.firing.fire_bell import bell_for
from shardcron.admin.models import Fire, RunLog
from tests.support.scheduler_rows import add_job
from tests.support.workflow_cluster import WorkflowCluster
from tests.support.workflow_rows import add_workflow, start, states, status


@pytest.fixture
def local(cluster: WorkflowCluster) -> Iterator[WorkflowCluster]:
    """The cluster's node as `shardcron admin` runs it: its fire loop joined the bell of the
    database the admin app writes to (SchedulerRunner.start does that)."""
    bell = bell_for(cluster.db)
    bell.join(cluster.node.loop)
    yield cluster
    bell.leave(cluster.node.loop)


def _chain(cluster: WorkflowCluster, now: int, length: int = 3) -> int:
    jobs = [add_job(cluster.db, cluster.group_id, now, name=f"step{k}") for k in range(length)]  # type: ignore[attr-defined]
    keys = [f"s{k}" for k in range(length)]
    definition = {"steps": [{"key": k, "job_id": j} for k, j in zip(keys, jobs, strict=True)], "edges": [{"from": a, "to": b} for a, b in zip(keys, keys[1:], strict=False)]}
    return add_workflow(cluster.db, cluster.group_id, definition, now)  # type: ignore[attr-defined]


def _step_fires(cluster: WorkflowCluster) -> list:
    with cluster.db.read_session() as s:
        return list(s.execute(sa.select(Fire.id, Fire.status, Fire.owner).where(Fire.trigger_type == TriggerType.WORKFLOW).order_by(Fire.id)))


def _run_count(cluster: WorkflowCluster) -> int:
    with cluster.db.read_session() as s:
        return s.execute(sa.select(sa.func.count()).select_from(RunLog)).scalar_one()


def test_the_result_claims_the_successors_fire_and_its_run_goes_out_without_a_tick(local: WorkflowCluster) -> None:
    cluster = local
    now = cluster.clock.now_ms()
    instance_id = start(cluster.db, _chain(cluster, now), now)
    cluster.answer = lambda run: None  # results are sent by hand below
    cluster.pump()
    [first] = cluster.new_runs() or cluster.received
    bell = bell_for(cluster.db)
    rings = bell.rings
    cluster.callback(first.log_id)
    # In the result's transaction: s1's fire claimed for the node's term and its run row written.
    fires = _step_fires(cluster)
    assert [(f.status, f.owner) for f in fires[1:]] == [(FireStatus.CLAIMED, cluster.node.owner)]
    assert _run_count(cluster) == 2
    assert bell.rings == rings  # nothing left for the fire loop to wake for
    # Queued at the commit: sending what is due sends it; the fire loop never ticked.
    cluster.node.dispatcher.send_due(cluster.clock.now_ms())
    [second] = cluster.new_runs()
    assert second.log_id != first.log_id and states(cluster.db, instance_id)["s1"] == StepStatus.FIRED
    cluster.answer = lambda run: (200, None, None)
    cluster.callback(second.log_id)
    cluster.pump()
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    log_ids = [run.log_id for run in cluster.received]
    assert len(log_ids) == 3 == len(set(log_ids))  # every step's /run once
    assert sum(executor.repeats for executor in cluster.executors) == 0


def test_a_whole_workflow_runs_through_local_claims_each_step_once(local: WorkflowCluster) -> None:
    cluster = local
    now = cluster.clock.now_ms()
    instance_id = start(cluster.db, _chain(cluster, now, length=6), now)
    cluster.pump()
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    fires = _step_fires(cluster)
    assert len(fires) == 6 and {f.status for f in fires} == {FireStatus.DONE}
    assert sorted(r.job_id for r in cluster.received) == sorted({r.job_id for r in cluster.received})
    assert len(cluster.received) == 6 and sum(executor.repeats for executor in cluster.executors) == 0


def test_with_no_lease_term_held_the_fire_stays_pending_for_the_fire_loop(local: WorkflowCluster) -> None:
    cluster = local
    now = cluster.clock.now_ms()
    instance_id = start(cluster.db, _chain(cluster, now, length=2), now)
    cluster.answer = lambda run: None
    cluster.pump()
    [first] = cluster.received
    term = cluster.node.lease.current()
    assert term is not None
    cluster.node.lease.end(term, "a test ends it")  # this process's loop may claim nothing now
    bell = bell_for(cluster.db)
    rings = bell.rings
    cluster.callback(first.log_id)
    assert [f.status for f in _step_fires(cluster)] == [FireStatus.DONE, FireStatus.PENDING]
    assert bell.rings == rings + 1
    cluster.answer = lambda run: (200, None, None)
    cluster.pump()  # a new term; the fire loop claims it
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    assert len(cluster.received) == 2 == len({r.log_id for r in cluster.received})


def test_a_claim_whose_commit_may_have_failed_is_recovered_and_sent_once(local: WorkflowCluster) -> None:
    """The commit went through but the writer could not tell (a connection lost at COMMIT):
    nothing was queued; the fire loop's next claim recovers the term's fires with their run rows
    and sends the run once (this process never queued it, so it never went out)."""
    cluster = local
    now = cluster.clock.now_ms()
    cluster.node.step(now)  # the store's first claim (which recovers anyway) is behind us
    instance_id = start(cluster.db, _chain(cluster, now, length=1), now)
    with cluster.db.read_session() as s:
        [fire_id] = s.execute(sa.select(Fire.id).where(Fire.status == FireStatus.PENDING)).scalars().all()
    with cluster.db.session() as s:
        claim = cluster.node.loop.claim_in(s, [fire_id], now)
        assert claim is not None and claim.fire_ids == [fire_id] and claim.complete
    claim.abandon(commit_unknown=True)  # it committed, but the caller could not tell
    assert fire_id not in cluster.node.dispatcher.held and _run_count(cluster) == 1
    cluster.node.dispatcher.send_due(now)
    assert cluster.new_runs() == []  # nothing was queued
    cluster.pump()
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    assert len(cluster.received) == 1 and _run_count(cluster) == 1  # the run row written by the claim, sent once
    assert sum(executor.repeats for executor in cluster.executors) == 0


def test_a_reserved_fire_is_left_out_of_the_fire_loops_claims(local: WorkflowCluster) -> None:
    cluster = local
    now = cluster.clock.now_ms()
    start(cluster.db, _chain(cluster, now, length=1), now)
    with cluster.db.read_session() as s:
        [fire_id] = s.execute(sa.select(Fire.id).where(Fire.status == FireStatus.PENDING)).scalars().all()
    cluster.node.dispatcher.reserve([fire_id])
    cluster.node.step(now + 10)  # claims it (a reserved fire may be the term's already) but prepares nothing
    assert cluster.new_runs() == [] and _run_count(cluster) == 0
    cluster.node.dispatcher.unreserve([fire_id])
