"""The callback advances a step's instance in the results' own transaction: the successor's fire
is written with the result, the run needs no follow-up, and a failing advance is rolled back with
the transaction: the results are written again on their own and the instance advanced after."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, FollowupStatus, StepStatus, TriggerType, WorkflowStatus
from shardcron.admin.firing.fire_bell import bell_for
from shardcron.admin.models import Fire, RunLog
from shardcron.admin.workflows import advance
from tests.support.scheduler_rows import add_job
from tests.support.workflow_rows import add_workflow, start, states, status


def _chain(cluster, now: int) -> int:
    first = add_job(cluster.db, cluster.group_id, now, name="first")
    second = add_job(cluster.db, cluster.group_id, now, name="second")
    definition = {"steps": [{"key": "a", "job_id": first}, {"key": "b", "job_id": second}], "edges": [{"from": "a", "to": "b"}]}
    return add_workflow(cluster.db, cluster.group_id, definition, now)


def _runs(cluster) -> list:
    with cluster.db.read_session() as s:
        return list(s.execute(sa.select(RunLog.id, RunLog.status, RunLog.followup_status, RunLog.step_run_id).order_by(RunLog.id)))


def _step_fires(cluster) -> list:
    with cluster.db.read_session() as s:
        return list(s.execute(sa.select(Fire.id, Fire.status).where(Fire.trigger_type == TriggerType.WORKFLOW).order_by(Fire.id)))


def test_the_result_writes_the_successors_fire_and_rings_the_bell(cluster) -> None:
    now = cluster.clock.now_ms()
    wf = _chain(cluster, now)
    cluster.answer = lambda run: None  # results are sent by hand below
    instance_id = start(cluster.db, wf, now)
    cluster.pump()
    [run] = cluster.new_runs() or cluster.received
    bell = bell_for(cluster.db)
    rings = bell.rings
    cluster.callback(run.log_id)
    # In the same transaction as the result: step a ended, b's fire is waiting to be claimed,
    # and nothing is left for the follow-up monitor.
    assert states(cluster.db, instance_id) == {"a": StepStatus.SUCCEEDED, "b": StepStatus.FIRED}
    assert [f.status for f in _step_fires(cluster)] == [FireStatus.DONE, FireStatus.PENDING]
    [row] = _runs(cluster)
    assert (row.status, row.followup_status) == ("SUCCESS", FollowupStatus.NONE)
    assert bell.rings == rings + 1


def test_a_failing_advance_keeps_the_results_and_leaves_the_instance_to_the_catch_all(cluster, monkeypatch, caplog) -> None:
    now = cluster.clock.now_ms()
    wf = _chain(cluster, now)
    cluster.answer = lambda run: None
    instance_id = start(cluster.db, wf, now)
    cluster.pump()
    [run] = cluster.received
    real = advance.advance_instance
    calls: list[int] = []

    def broken(session, instance_id, now_ms, **kw):  # fails inside the callback's transaction only
        calls.append(instance_id)
        if len(calls) == 1:
            real(session, instance_id, now_ms, **kw)  # its writes are rolled back with the results'
            raise RuntimeError("boom")
        return real(session, instance_id, now_ms, **kw)

    monkeypatch.setattr(advance, "advance_instance", broken)
    with caplog.at_level(logging.INFO, logger="shardcron.admin.rpc"):
        cluster.callback(run.log_id)  # answered 200: the result is kept
    [row] = _runs(cluster)
    assert row.status == "SUCCESS" and row.followup_status == FollowupStatus.PENDING
    # the result was written twice (the first transaction rolled back), logged once: after the commit
    assert [r.log_id for r in caplog.records if r.getMessage() == "run finished"] == [run.log_id]
    # the advance after the commit (its own transaction) moved the instance on, once
    assert len(calls) == 2
    assert states(cluster.db, instance_id) == {"a": StepStatus.SUCCEEDED, "b": StepStatus.FIRED}
    assert len(_step_fires(cluster)) == 2
    monkeypatch.setattr(advance, "advance_instance", real)
    cluster.answer = lambda run: (200, None, None)
    cluster.pump()
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    assert len(_step_fires(cluster)) == 2  # b fired once
