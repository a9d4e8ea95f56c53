"""What people do to instances (services.workflow_runs): trigger with parameters, cancel, re-run,
skip — access, audit in the same transaction, refusals naming the field or the state."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import ActorKind, AuditAction, StepStatus, TriggerType, UserRole, WorkflowStatus
from shardcron.admin.models import AuditEntry, WorkflowInstance
from shardcron.admin.services import workflow_runs
from shardcron.admin.services.actor import Actor
from shardcron.admin.services.errors import Conflict, Forbidden, NotFound, ServiceError
from tests.support.scheduler_rows import add_group, add_job
from tests.support.workflow_cluster import succeed
from tests.support.workflow_rows import add_workflow, all_step_rows, instance, states, status

ADMIN = Actor(1, "ada", UserRole.ADMIN, kind=ActorKind.CONSOLE)


def _user(*groups: int) -> Actor:
    return Actor(2, "bob", UserRole.USER, frozenset(groups), kind=ActorKind.CONSOLE)


def _audit(db) -> list[tuple[str, str, int | None]]:
    with db.read_session() as s:
        return [(e.action, e.target_type, e.target_id) for e in s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))]


def _instances(db) -> int:
    with db.read_session() as s:
        return s.execute(sa.select(sa.func.count()).select_from(WorkflowInstance)).scalar_one()


@pytest.fixture
def two_steps(cluster) -> tuple[int, int]:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    definition = {"steps": [{"key": "a", "job_id": job, "param": "{{params.day}}"}, {"key": "b", "job_id": job, "param": "b"}], "edges": [{"from": "a", "to": "b"}]}
    return add_workflow(cluster.db, cluster.group_id, definition, now), job


def test_trigger_starts_an_instance_with_its_parameters_and_audits_it(cluster, two_steps) -> None:
    wf, _ = two_steps
    now = cluster.clock.now_ms()
    instance_id = workflow_runs.trigger_workflow(cluster.db, ADMIN, wf, {"day": "2026-03-01"}, 77, now_ms=now, trigger_type=TriggerType.API)
    again = workflow_runs.trigger_workflow(cluster.db, ADMIN, wf, {"day": "2026-03-01"}, 77, now_ms=now + 5, trigger_type=TriggerType.API)
    assert again == instance_id and _instances(cluster.db) == 1
    cluster.pump()
    assert [r.params for r in cluster.received] == ["2026-03-01", "b"]
    row = instance(cluster.db, instance_id)
    assert (row.status, row.trigger_type, row.triggered_by, row.origin_ref) == (WorkflowStatus.SUCCEEDED, TriggerType.API, "ada", 77)
    assert _audit(cluster.db) == [(AuditAction.WORKFLOW_TRIGGER, "workflow", wf)]


@pytest.mark.parametrize(("params", "fragment"), [([1, 2], "must be a JSON object"), ("day", "must be a JSON object"), ({"x": "y" * 70_000}, "bytes long; at most 65536 fit")])
def test_bad_parameters_are_refused_naming_the_field_and_nothing_is_written(cluster, two_steps, params, fragment) -> None:
    with pytest.raises(ServiceError) as refused:
        workflow_runs.trigger_workflow(cluster.db, ADMIN, two_steps[0], params, now_ms=cluster.clock.now_ms())
    assert refused.value.status == 400 and fragment in refused.value.field_errors["params"]
    assert _instances(cluster.db) == 0 and _audit(cluster.db) == []


def test_a_user_must_see_the_workflows_group_and_every_steps_jobs_group(cluster, two_steps) -> None:
    now = cluster.clock.now_ms()
    other = add_group(cluster.db, "other-app", now)
    foreign = add_job(cluster.db, other, now)
    wf_foreign = add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "x", "job_id": foreign}], "edges": []}, now)
    with pytest.raises(NotFound):
        workflow_runs.trigger_workflow(cluster.db, _user(other), two_steps[0], None, now_ms=now)
    # the workflow's group lets a user read it; starting it would run a job of a group not theirs
    with pytest.raises(Forbidden) as refused:
        workflow_runs.trigger_workflow(cluster.db, _user(cluster.group_id), wf_foreign, None, now_ms=now)
    assert refused.value.status == 403 and "runs jobs of groups not granted to you" in refused.value.message
    instance_id = workflow_runs.trigger_workflow(cluster.db, _user(cluster.group_id, other), wf_foreign, None, now_ms=now)
    assert instance_id > 0
    with pytest.raises(Forbidden):
        workflow_runs.cancel_instance(cluster.db, _user(cluster.group_id), instance_id, now_ms=now)
    with pytest.raises(NotFound):
        workflow_runs.cancel_instance(cluster.db, _user(other), instance_id, now_ms=now)
    with pytest.raises(NotFound):
        workflow_runs.cancel_instance(cluster.db, _user(cluster.group_id), 10**9, now_ms=now)


def test_cancel_rerun_and_skip_refuse_what_the_state_does_not_allow_with_the_state(cluster, two_steps) -> None:
    wf, _ = two_steps
    now = cluster.clock.now_ms()
    instance_id = workflow_runs.trigger_workflow(cluster.db, ADMIN, wf, {"day": "d"}, now_ms=now)
    cluster.pump()
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    with pytest.raises(Conflict) as refused:
        workflow_runs.cancel_instance(cluster.db, ADMIN, instance_id, now_ms=now)
    assert "is SUCCEEDED" in refused.value.message and refused.value.status == 409
    with pytest.raises(Conflict, match="is SUCCEEDED"):
        workflow_runs.rerun_instance(cluster.db, ADMIN, instance_id, None, now_ms=now)
    with pytest.raises(ServiceError) as unknown:
        workflow_runs.skip_step(cluster.db, ADMIN, instance_id, "nope", now_ms=now)
    assert unknown.value.status == 400 and "'nope'" in unknown.value.field_errors["step_key"]
    with pytest.raises(Conflict, match="is SUCCEEDED"):
        workflow_runs.skip_step(cluster.db, ADMIN, instance_id, "a", now_ms=now)
    assert [a for a, _, _ in _audit(cluster.db)] == [AuditAction.WORKFLOW_TRIGGER]


def test_rerun_from_the_failed_steps_keeps_the_succeeded_ones(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    definition = {"steps": [{"key": k, "job_id": job, "param": k} for k in ("a", "b", "c", "side")], "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "a", "to": "side"}]}
    wf = add_workflow(cluster.db, cluster.group_id, definition, now)
    broken = {"b"}
    cluster.answer = lambda run: (500, None, "broken") if run.params in broken else succeed({"v": run.params})
    instance_id = workflow_runs.trigger_workflow(cluster.db, ADMIN, wf, None, now_ms=now)
    cluster.pump()
    assert states(cluster.db, instance_id) == {"a": StepStatus.SUCCEEDED, "b": StepStatus.FAILED, "c": StepStatus.NOT_RUN, "side": StepStatus.SUCCEEDED}
    assert status(cluster.db, instance_id) == WorkflowStatus.FAILED
    broken.clear()
    assert workflow_runs.rerun_instance(cluster.db, ADMIN, instance_id, None, now_ms=cluster.clock.now_ms()) == ["b", "c"]
    cluster.pump()
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    assert [r.params for r in cluster.received] == ["a", "b", "side", "b", "c"] or [r.params for r in cluster.received] == ["a", "side", "b", "b", "c"]
    # b's second run was sent a's data again: the kept step's result.
    assert cluster.received[-2].upstream == {"a": {"v": "a"}}
    row = instance(cluster.db, instance_id)
    assert (row.finished_at_ms is not None, row.message) == (True, None)
    assert sorted((r.step_key, r.generation) for r in all_step_rows(cluster.db, instance_id)) == [("a", 0), ("b", 0), ("b", 1), ("c", 0), ("c", 1), ("side", 0)]
    assert [a for a, _, _ in _audit(cluster.db)] == [AuditAction.WORKFLOW_TRIGGER, AuditAction.WORKFLOW_RERUN]


def test_rerun_from_a_step_and_skip_a_failed_step(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    definition = {"steps": [{"key": k, "job_id": job, "param": k} for k in ("a", "b", "c")], "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]}
    wf = add_workflow(cluster.db, cluster.group_id, definition, now)
    cluster.answer = lambda run: (500, None, "broken") if run.params == "b" else succeed()
    instance_id = workflow_runs.trigger_workflow(cluster.db, ADMIN, wf, None, now_ms=now)
    cluster.pump()
    workflow_runs.skip_step(cluster.db, ADMIN, instance_id, "b", now_ms=cluster.clock.now_ms())
    cluster.pump()
    assert states(cluster.db, instance_id) == {"a": StepStatus.SUCCEEDED, "b": StepStatus.SKIPPED, "c": StepStatus.SUCCEEDED}
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    assert [r.params for r in cluster.received] == ["a", "b", "c"]
    # Re-run from a (a succeeded step): it and everything after it run again.
    cluster.answer = lambda run: succeed()
    assert workflow_runs.rerun_instance(cluster.db, ADMIN, instance_id, "a", now_ms=cluster.clock.now_ms()) == ["a", "b", "c"]
    cluster.pump()
    assert [r.params for r in cluster.received] == ["a", "b", "c", "a", "b", "c"]
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    with pytest.raises(ServiceError) as unknown:
        workflow_runs.rerun_instance(cluster.db, ADMIN, instance_id, "zzz", now_ms=cluster.clock.now_ms())
    assert "'zzz'" in unknown.value.field_errors["from_step"]
    assert [a for a, _, _ in _audit(cluster.db)] == [AuditAction.WORKFLOW_TRIGGER, AuditAction.WORKFLOW_SKIP_STEP, AuditAction.WORKFLOW_RERUN]
