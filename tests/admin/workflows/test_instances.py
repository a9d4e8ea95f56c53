"""Starting instances: once per key, and the overlap policy between a workflow's instances
(SKIP, BUFFER_ONE with the waiting one started when the running one ends, CANCEL_OTHER)."""

from __future__ import annotations

import pytest

from shardcron.admin.enums import OverlapPolicy, RunStatus, StepStatus, TriggerType, WorkflowStatus
from shardcron.admin.models import RunLog
from shardcron.admin.workflows.instances import instances_running
from tests.support.scheduler_rows import add_job
from tests.support.workflow_rows import add_workflow, instance, start, states, status


def _one_step(cluster, policy: OverlapPolicy) -> int:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    return add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "only", "job_id": job}], "edges": []}, now, overlap_policy=policy)


def test_an_instance_is_started_once_per_key_and_its_root_fires_at_the_planned_time(cluster) -> None:
    wf = _one_step(cluster, OverlapPolicy.ALLOW_ALL)
    now = cluster.clock.now_ms()
    planned = now + 1500
    first = start(cluster.db, wf, now, trigger_type=TriggerType.CRON, planned_at_ms=planned, origin_ref=0)
    again = start(cluster.db, wf, now + 3, trigger_type=TriggerType.CRON, planned_at_ms=planned, origin_ref=0)
    assert first is not None and again is None
    assert instances_running(cluster.db)
    cluster.answer = lambda run: None
    cluster.pump(idle_rounds=1)
    assert cluster.received == []  # claimed within the lookahead, sent at its time
    cluster.node.step(planned)
    assert [r.log_date_ms for r in cluster.new_runs()] == [planned]


@pytest.mark.parametrize("policy", [OverlapPolicy.SKIP, OverlapPolicy.BUFFER_ONE])
def test_skip_and_buffer_one_while_an_instance_runs(cluster, policy) -> None:
    wf = _one_step(cluster, policy)
    now = cluster.clock.now_ms()
    held: list[int] = []
    cluster.answer = lambda run: (held.append(run.log_id), None)[1]
    first = start(cluster.db, wf, now)
    second = start(cluster.db, wf, now + 1)
    third = start(cluster.db, wf, now + 2)
    cluster.pump()
    assert status(cluster.db, first) == WorkflowStatus.RUNNING and len(held) == 1
    if policy == OverlapPolicy.SKIP:
        assert [status(cluster.db, i) for i in (second, third)] == [WorkflowStatus.SKIPPED, WorkflowStatus.SKIPPED]
        assert instance(cluster.db, second).message == f"skipped: instance {first} was running (SKIP)"
    else:
        assert [status(cluster.db, i) for i in (second, third)] == [WorkflowStatus.WAITING, WorkflowStatus.SKIPPED]
        assert instance(cluster.db, third).message == f"skipped: instance {second} already waits (BUFFER_ONE)"
        assert states(cluster.db, second) == {}  # no step rows until it starts
    cluster.callback(held[0])
    cluster.pump()
    assert status(cluster.db, first) == WorkflowStatus.SUCCEEDED
    if policy == OverlapPolicy.BUFFER_ONE:
        # The waiting one started in the transaction that ended the first one.
        assert status(cluster.db, second) == WorkflowStatus.RUNNING and len(held) == 2
        cluster.callback(held[1])
        cluster.pump()
        assert status(cluster.db, second) == WorkflowStatus.SUCCEEDED
    assert not instances_running(cluster.db)


def test_cancel_other_cancels_the_running_instance_and_fails_its_runs(cluster) -> None:
    wf = _one_step(cluster, OverlapPolicy.CANCEL_OTHER)
    now = cluster.clock.now_ms()
    held: list[int] = []
    cluster.answer = lambda run: (held.append(run.log_id), None)[1]
    first = start(cluster.db, wf, now)
    cluster.pump()
    second = start(cluster.db, wf, cluster.clock.now_ms())
    cluster.pump()
    assert (status(cluster.db, first), status(cluster.db, second)) == (WorkflowStatus.CANCELLED, WorkflowStatus.RUNNING)
    assert instance(cluster.db, first).message == f"cancelled by instance {second} (CANCEL_OTHER)"
    assert states(cluster.db, first) == {"only": StepStatus.CANCELLED}
    with cluster.db.read_session() as s:
        killed = s.get_one(RunLog, held[0])
    assert (killed.status, killed.handle_msg) == (RunStatus.FAILED, f"killed: workflow instance {first} cancelled")
    # A late result of the killed run changes neither the run nor the ended instance.
    cluster.callback(held[0])
    assert status(cluster.db, first) == WorkflowStatus.CANCELLED
    assert len(held) == 2
