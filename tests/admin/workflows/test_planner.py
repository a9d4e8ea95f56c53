"""The workflow planner starts scheduled workflows' instances at their planned times, once, on
every backend: cron in the workflow's zone, FIX_RATE, misfires, disabled workflows, two nodes
planning at once, and an edit reaching only the instances planned after it."""

from __future__ import annotations

import json

import sqlalchemy as sa

from shardcron.admin.enums import MisfireStrategy, ScheduleType, StepStatus, TriggerType, WorkflowStatus
from shardcron.admin.models import Fire, Workflow, WorkflowInstance, WorkflowStepRun
from shardcron.admin.schedules.schedule import next_fire_at_ms
from shardcron.admin.workflows.planner import WorkflowPlanner
from tests.support.scheduler_rows import add_group, add_job
from tests.support.together import run_together
from tests.support.workflow_cluster import WorkflowCluster
from tests.support.workflow_rows import add_workflow, states

LOOKAHEAD_MS = 2000
GRACE_MS = 5000


def _planner(db) -> WorkflowPlanner:
    return WorkflowPlanner(db, lookahead_ms=LOOKAHEAD_MS, misfire_grace_ms=GRACE_MS)


def _chain(job: int) -> dict:
    return {"steps": [{"key": "a", "job_id": job}, {"key": "b", "job_id": job}], "edges": [{"from": "a", "to": "b"}]}


_made = iter(range(1_000_000))


def _scheduled(db, now: int, kind: ScheduleType, conf: str, first_ms: int, **fields) -> int:
    n = next(_made)
    group = add_group(db, f"plan-{n}", now)
    job = add_job(db, group, now)
    return add_workflow(db, group, _chain(job), now, name=f"planned-{n}", schedule_type=kind, schedule_conf=conf, enabled=True, next_fire_at_ms=first_ms, **fields)


def _instances(db, workflow_id: int) -> list[WorkflowInstance]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(WorkflowInstance).where(WorkflowInstance.workflow_id == workflow_id).order_by(WorkflowInstance.planned_at_ms)))


def _workflow(db, workflow_id: int) -> Workflow:
    with db.read_session() as s:
        return s.get_one(Workflow, workflow_id)


def _root_fires(db, instance_id: int) -> list[Fire]:
    with db.read_session() as s:
        return list(s.scalars(
            sa.select(Fire).where(Fire.trigger_type == TriggerType.WORKFLOW, Fire.step_run_id.in_(
                sa.select(WorkflowStepRun.id).where(WorkflowStepRun.instance_id == instance_id, WorkflowStepRun.step_key == "a")
            ))
        ))


def test_a_cron_workflow_starts_at_its_planned_time_in_its_zone(admin_db, fake_clock) -> None:
    now = fake_clock.now_ms()
    zone, cron = "Asia/Shanghai", "0 0 9 * * ?"
    first = next_fire_at_ms(ScheduleType.CRON, cron, zone, now)
    assert first is not None
    wf = _scheduled(admin_db, now, ScheduleType.CRON, cron, first, timezone=zone)
    planner = _planner(admin_db)
    assert planner.plan(first - LOOKAHEAD_MS - 1).instance_ids == []  # not within the look-ahead yet
    planned = planner.plan(first - 500)
    [instance] = _instances(admin_db, wf)
    assert planned.instance_ids == [instance.id]
    assert (instance.planned_at_ms, instance.trigger_type, instance.origin_ref, instance.status) == (first, TriggerType.CRON, 0, WorkflowStatus.RUNNING)
    assert instance.triggered_by == "schedule"
    # 09:00 in Shanghai is 01:00 UTC.
    assert (first // 1000) % 86_400 == 3600
    [root] = _root_fires(admin_db, instance.id)
    assert root.fire_at_ms == first  # the root step goes out at the planned time, not at planning
    assert states(admin_db, instance.id) == {"a": StepStatus.FIRED, "b": StepStatus.WAITING}
    row = _workflow(admin_db, wf)
    assert (row.next_fire_at_ms, row.last_fire_at_ms, row.enabled) == (first + 86_400_000, first, True)
    assert planner.plan(first).instance_ids == []  # planned once


def test_a_fix_rate_workflow_gets_an_instance_per_period_within_the_look_ahead(admin_db, fake_clock) -> None:
    now = fake_clock.now_ms()
    wf = _scheduled(admin_db, now, ScheduleType.FIX_RATE, "1", now + 1000)
    planner = _planner(admin_db)
    planner.plan(now)
    assert [i.planned_at_ms for i in _instances(admin_db, wf)] == [now + 1000, now + 2000]
    planner.plan(now + 1000)
    assert [i.planned_at_ms for i in _instances(admin_db, wf)] == [now + 1000, now + 2000, now + 3000]
    assert _workflow(admin_db, wf).next_fire_at_ms == now + 4000


def test_disabled_unscheduled_and_not_yet_due_workflows_are_not_planned(admin_db, fake_clock) -> None:
    now = fake_clock.now_ms()
    disabled = _scheduled(admin_db, now, ScheduleType.FIX_RATE, "1", now + 100)
    with admin_db.session() as s:
        s.get_one(Workflow, disabled).enabled = False
    unscheduled = _scheduled(admin_db, now, ScheduleType.NONE, "", 0)
    later = _scheduled(admin_db, now, ScheduleType.FIX_RATE, "60", now + 60_000)
    planned = _planner(admin_db).plan(now)
    assert planned.instance_ids == [] and planned.workflows == 0
    for wf in (disabled, unscheduled, later):
        assert _instances(admin_db, wf) == []
    assert _workflow(admin_db, disabled).next_fire_at_ms == now + 100
    assert _workflow(admin_db, later).next_fire_at_ms == now + 60_000


def test_a_misfire_with_do_nothing_runs_none_of_the_missed_times(admin_db, fake_clock) -> None:
    now = fake_clock.now_ms()
    cron = "0 */10 * * * ?"  # every ten minutes; `now` is on the hour
    wf = _scheduled(admin_db, now, ScheduleType.CRON, cron, now, misfire_strategy=MisfireStrategy.DO_NOTHING)
    back = now + 35 * 60_000  # the scheduler was down: 00:00, 00:10, 00:20, 00:30 were missed
    assert _planner(admin_db).plan(back).instance_ids == []
    assert _instances(admin_db, wf) == []
    assert _workflow(admin_db, wf).next_fire_at_ms == now + 40 * 60_000


def test_a_misfire_with_fire_once_now_runs_one_misfire_instance_now(admin_db, fake_clock) -> None:
    now = fake_clock.now_ms()
    cron = "0 */10 * * * ?"
    wf = _scheduled(admin_db, now, ScheduleType.CRON, cron, now, misfire_strategy=MisfireStrategy.FIRE_ONCE_NOW)
    back = now + 35 * 60_000
    started = _planner(admin_db).plan(back).instance_ids
    [instance] = _instances(admin_db, wf)
    assert started == [instance.id]
    assert (instance.trigger_type, instance.planned_at_ms, instance.origin_ref) == (TriggerType.MISFIRE, back, 0)
    [root] = _root_fires(admin_db, instance.id)
    assert root.fire_at_ms == back
    row = _workflow(admin_db, wf)
    assert (row.next_fire_at_ms, row.last_fire_at_ms) == (now + 40 * 60_000, back)


def test_a_workflow_within_the_grace_is_not_a_misfire(admin_db, fake_clock) -> None:
    now = fake_clock.now_ms()
    wf = _scheduled(admin_db, now, ScheduleType.FIX_RATE, "60", now, misfire_strategy=MisfireStrategy.DO_NOTHING)
    _planner(admin_db).plan(now + GRACE_MS - 1)  # late, but within the grace: it still runs
    [instance] = _instances(admin_db, wf)
    assert (instance.trigger_type, instance.planned_at_ms) == (TriggerType.CRON, now)


def test_two_nodes_planning_together_start_each_planned_time_once(admin_db, fake_clock) -> None:
    now = fake_clock.now_ms()
    workflows = [_scheduled(admin_db, now, ScheduleType.FIX_RATE, "1", now + 1000) for i in range(6)]
    planners = [_planner(admin_db), _planner(admin_db)]
    for second in range(5):
        at = now + second * 1000
        run_together([lambda p=p, at=at: p.plan(at) for p in planners])  # type: ignore[misc]
        for planner in planners:  # what one node's SKIP LOCKED passed over
            planner.plan(at)
    expected = [now + k * 1000 for k in range(1, 7)]  # up to the last tick's look-ahead
    for wf in workflows:
        assert [i.planned_at_ms for i in _instances(admin_db, wf)] == expected
    with admin_db.read_session() as s:
        roots = s.execute(sa.select(Fire.fire_at_ms, sa.func.count()).where(Fire.trigger_type == TriggerType.WORKFLOW).group_by(Fire.fire_at_ms)).all()
    assert dict(roots) == {at: len(workflows) for at in expected}  # one root fire per instance


def test_an_edit_between_instances_reaches_the_next_instance_only(admin_db, fake_clock) -> None:
    now = fake_clock.now_ms()
    wf = _scheduled(admin_db, now, ScheduleType.FIX_RATE, "10", now + 1000)
    planner = _planner(admin_db)
    planner.plan(now)
    with admin_db.session() as s:
        row = s.get_one(Workflow, wf)
        definition = json.loads(row.definition_json)
        job = definition["steps"][0]["job_id"]
        definition["steps"].append({"key": "c", "job_id": job})
        definition["edges"].append({"from": "b", "to": "c"})
        row.definition_json = json.dumps(definition)
        row.version = 2
    planner.plan(now + 10_000)
    first, second = _instances(admin_db, wf)
    assert (first.workflow_version, second.workflow_version) == (1, 2)
    assert set(states(admin_db, first.id)) == {"a", "b"}
    assert set(states(admin_db, second.id)) == {"a", "b", "c"}


def test_a_workflow_whose_schedule_cannot_be_read_is_stopped(admin_db, fake_clock) -> None:
    now = fake_clock.now_ms()
    wf = _scheduled(admin_db, now, ScheduleType.CRON, "not a cron", now)
    ok = _scheduled(admin_db, now, ScheduleType.FIX_RATE, "60", now)
    _planner(admin_db).plan(now)
    row = _workflow(admin_db, wf)
    assert (row.enabled, row.next_fire_at_ms) == (False, 0)
    assert _instances(admin_db, wf) == []
    assert len(_instances(admin_db, ok)) == 1  # the others are planned all the same


def test_a_planned_instance_runs_to_the_end_on_executors(cluster: WorkflowCluster, admin_db, fake_clock) -> None:
    now = fake_clock.now_ms()
    job = add_job(admin_db, cluster.group_id, now)  # type: ignore[attr-defined]
    first = now + 1500
    wf = add_workflow(admin_db, cluster.group_id, _chain(job), now, schedule_type=ScheduleType.FIX_RATE,  # type: ignore[attr-defined]
                      schedule_conf="3600", enabled=True, next_fire_at_ms=first)
    _planner(admin_db).plan(now)
    cluster.pump()
    assert cluster.received == []  # planned ahead, sent at the planned time
    fake_clock.set(first - 20)
    cluster.pump()
    [instance] = _instances(admin_db, wf)
    assert instance.status == WorkflowStatus.SUCCEEDED
    root, after = cluster.received
    assert root.log_date_ms == first  # the root's trigger time is the planned time
    assert states(admin_db, instance.id) == {"a": StepStatus.SUCCEEDED, "b": StepStatus.SUCCEEDED}
    assert root.log_id != after.log_id and after.job_id == job


def test_every_scheduler_node_runs_the_planner(admin_db, fake_clock, tmp_path) -> None:
    from shardcron.admin import AdminContext
    from shardcron.admin.config import load_config
    from shardcron.admin.scheduling.runner import SchedulerRunner

    now = fake_clock.now_ms()
    wf = _scheduled(admin_db, now, ScheduleType.FIX_RATE, "60", now + 500)
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path), "database_url": admin_db.url, "access_token": "t" * 32, "lookahead_ms": 1000})
    runner = SchedulerRunner(AdminContext(config=config, db=admin_db, clock=fake_clock), node_id="node-p", monitors=[])
    try:
        [planner] = [loop for loop in runner.loops if loop.name == "workflow-planner"]
        assert isinstance(planner, WorkflowPlanner) and planner.lookahead_ms == 1000
        planner.tick(now)
        [instance] = _instances(admin_db, wf)
        assert instance.planned_at_ms == now + 500
    finally:
        runner.client.close()
        if runner.db is not admin_db:
            runner.db.dispose()


def test_a_definition_that_cannot_start_loses_its_planned_time_only(admin_db, fake_clock) -> None:
    now = fake_clock.now_ms()
    broken = _scheduled(admin_db, now, ScheduleType.FIX_RATE, "60", now + 100)
    ok = _scheduled(admin_db, now, ScheduleType.FIX_RATE, "60", now + 100)
    with admin_db.session() as s:
        s.get_one(Workflow, broken).definition_json = '{"steps": "not a list"}'  # a row written by hand
    planned = _planner(admin_db).plan(now)
    assert _instances(admin_db, broken) == []  # its writes were rolled back to the savepoint
    [instance] = _instances(admin_db, ok)
    assert planned.instance_ids == [instance.id] and planned.workflows == 2
    assert _workflow(admin_db, broken).next_fire_at_ms == now + 60_100  # the schedule moves on
