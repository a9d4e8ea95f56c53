"""A workflow instance that ends FAILED or TIMED_OUT writes one alarm per channel of its workflow,
in the transaction that ends it, once even when two nodes end it together; SUCCEEDED and
CANCELLED instances, and workflows without alarm settings, write none."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import ActorKind, AlarmChannel, AlarmStatus, RunStatus, UserRole, WorkflowStatus
from shardcron.admin.models import Alarm, RunLog
from shardcron.admin.monitors.workflow_instances import WorkflowInstances
from shardcron.admin.services import workflow_runs
from shardcron.admin.services.actor import Actor
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.admin.workflows.advance import advance_instance
from shardcron.admin.workflows.operate import stop_instance
from tests.support.executor_calls import TOKEN
from tests.support.scheduler_node import claim_once
from tests.support.scheduler_rows import add_group, add_job, register
from tests.support.together import run_together
from tests.support.workflow_cluster import succeed
from tests.support.workflow_rows import add_workflow, instance, start, status

ADMIN = Actor(1, "ada", UserRole.ADMIN, kind=ActorKind.CONSOLE)
HOOK = "https://hooks.example.com/wf"
ALARMS = {"alarm_emails": "ops@example.com,oncall@example.com", "alarm_webhook": HOOK}


def alarms(db) -> list[Alarm]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(Alarm).order_by(Alarm.id)))


def two_steps(cluster, **workflow_fields) -> int:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)  # the job has no alarm settings: its runs alarm nobody
    definition = {"steps": [{"key": "extract", "job_id": job, "param": "extract"}, {"key": "load", "job_id": job, "param": "load"}],
                  "edges": [{"from": "extract", "to": "load"}]}
    return add_workflow(cluster.db, cluster.group_id, definition, now, **workflow_fields)


def test_a_failed_instance_writes_one_alarm_per_channel_as_it_ends(cluster) -> None:
    wf = two_steps(cluster, **ALARMS)
    cluster.answer = lambda run: (500, None, "db down") if run.params == "load" else succeed()
    instance_id = start(cluster.db, wf, cluster.clock.now_ms())
    cluster.pump()
    row = instance(cluster.db, instance_id)
    assert row.status == WorkflowStatus.FAILED
    rows = alarms(cluster.db)
    assert sorted((a.channel, a.target) for a in rows) == [(AlarmChannel.EMAIL, "ops@example.com,oncall@example.com"), (AlarmChannel.WEBHOOK, HOOK)]
    for alarm in rows:
        assert (alarm.workflow_instance_id, alarm.run_log_id, alarm.job_id, alarm.status, alarm.attempts) == (instance_id, None, None, AlarmStatus.PENDING, 0)
        # written with the end: the same instant, due at once
        assert alarm.created_at_ms == alarm.next_attempt_at_ms == row.finished_at_ms


def test_a_timed_out_instance_alarms(cluster) -> None:
    wf = two_steps(cluster, timeout_s=60, alarm_webhook=HOOK)
    cluster.answer = lambda run: None  # the first step runs on
    now = cluster.clock.now_ms()
    instance_id = start(cluster.db, wf, now)
    cluster.pump()
    monitor = WorkflowInstances(cluster.db, "node-a", ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5))
    try:
        monitor.tick(now + 59_999)
        assert alarms(cluster.db) == []
        monitor.tick(now + 60_000)
    finally:
        monitor.client.close()
    assert status(cluster.db, instance_id) == WorkflowStatus.TIMED_OUT
    [alarm] = alarms(cluster.db)
    assert (alarm.workflow_instance_id, alarm.channel, alarm.target, alarm.created_at_ms) == (instance_id, AlarmChannel.WEBHOOK, HOOK, now + 60_000)


def test_succeeded_and_cancelled_instances_do_not_alarm(cluster) -> None:
    wf = two_steps(cluster, **ALARMS)
    done = start(cluster.db, wf, cluster.clock.now_ms())
    cluster.pump()
    assert status(cluster.db, done) == WorkflowStatus.SUCCEEDED
    cluster.answer = lambda run: None
    cancelled = start(cluster.db, wf, cluster.clock.now_ms() + 1)
    cluster.pump()
    client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
    try:
        workflow_runs.cancel_instance(cluster.db, ADMIN, cancelled, now_ms=cluster.clock.now_ms(), client=client)
    finally:
        client.close()
    assert status(cluster.db, cancelled) == WorkflowStatus.CANCELLED
    assert alarms(cluster.db) == []


def test_a_workflow_without_alarm_settings_does_not_alarm(cluster) -> None:
    wf = two_steps(cluster)
    cluster.answer = lambda run: (500, None, "db down")
    instance_id = start(cluster.db, wf, cluster.clock.now_ms())
    cluster.pump()
    assert status(cluster.db, instance_id) == WorkflowStatus.FAILED
    assert alarms(cluster.db) == []


def test_a_rerun_that_fails_again_sends_the_same_rows_again(cluster) -> None:
    wf = two_steps(cluster, alarm_emails="ops@example.com")
    cluster.answer = lambda run: (500, None, "db down") if run.params == "load" else succeed()
    instance_id = start(cluster.db, wf, cluster.clock.now_ms())
    cluster.pump()
    with cluster.db.session() as s:  # as if the sender delivered it
        s.execute(sa.update(Alarm).values(status=AlarmStatus.SENT, attempts=1, sent_at_ms=1))
    rerun_at = cluster.clock.now_ms()
    workflow_runs.rerun_instance(cluster.db, ADMIN, instance_id, None, now_ms=rerun_at)
    cluster.pump()
    assert status(cluster.db, instance_id) == WorkflowStatus.FAILED
    [alarm] = alarms(cluster.db)
    assert (alarm.status, alarm.attempts, alarm.sent_at_ms, alarm.workflow_instance_id) == (AlarmStatus.PENDING, 0, None, instance_id)
    assert alarm.created_at_ms == instance(cluster.db, instance_id).finished_at_ms >= rerun_at


def test_two_nodes_ending_the_same_instance_write_one_alarm_per_channel(admin_db, receivers, make_scheduler, fake_clock) -> None:
    now = fake_clock.now_ms()
    receiver = receivers()
    group = add_group(admin_db, "race-app", now)
    register(admin_db, "race-app", receiver.address, now)
    job = add_job(admin_db, group, now)
    wf = add_workflow(admin_db, group, {"steps": [{"key": "only", "job_id": job}], "edges": []}, now, timeout_s=1, **ALARMS)
    node = make_scheduler(admin_db, "node-a")
    instance_id = start(admin_db, wf, now)
    assert instance_id is not None
    node.live(now + 100)
    claim_once(node, now + 100, 5000)
    node.step(now + 110)
    with admin_db.session() as s:  # the run failed; written as a callback would, nothing advanced yet
        changed = s.execute(sa.update(RunLog).where(RunLog.status == RunStatus.RUNNING).values(status=RunStatus.FAILED, handle_code=500, handle_at_ms=now + 120))
        assert changed.rowcount == 1
    at = now + 2_000  # past the deadline too: a timeout and the failure race to end it

    def advance() -> None:
        with admin_db.session() as s:
            advance_instance(s, instance_id, at)

    def time_out() -> None:
        with admin_db.session() as s:
            stop_instance(s, instance_id, WorkflowStatus.TIMED_OUT, "timed out", at)

    run_together([advance, time_out, advance, time_out])
    assert status(admin_db, instance_id) in (WorkflowStatus.FAILED, WorkflowStatus.TIMED_OUT)
    rows = alarms(admin_db)
    assert sorted(a.channel for a in rows) == [AlarmChannel.EMAIL, AlarmChannel.WEBHOOK]
    assert {a.workflow_instance_id for a in rows} == {instance_id}
