"""How a step ends: broadcasts when every shard did (a shard's retry included), joins, failure
branches, and steps that cannot start (deleted job, template, upstream bound, skipped fire)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import FollowupStatus, OverlapPolicy, RouteStrategy, RunStatus, StepStatus, WorkflowStatus
from shardcron.admin.models import Job, RunLog
from shardcron.admin.workflows.advance import advance_step_runs
from shardcron.admin.services import workflow_runs
from shardcron.admin.services.actor import cli_actor
from tests.support.scheduler_rows import add_job
from tests.support.workflow_cluster import succeed
from tests.support.workflow_rows import add_workflow, result, start, states, status, steps, workflow_fires


def _edges(*pairs: tuple[str, str, str]) -> list[dict]:
    return [{"from": a, "to": b, "on": on} for a, b, on in pairs]


def test_a_broadcast_step_ends_when_every_shard_did_with_one_shard_retried(cluster) -> None:
    now = cluster.clock.now_ms()
    spread = add_job(cluster.db, cluster.group_id, now, route_strategy=RouteStrategy.SHARDING_BROADCAST, retry_count=1, retry_delay_s=0)
    after = add_job(cluster.db, cluster.group_id, now)
    wf = add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "spread", "job_id": spread}, {"key": "after", "job_id": after}], "edges": _edges(("spread", "after", "SUCCESS"))}, now)
    failed_once: set[int] = set()

    def answer(run):
        if run.job_id == spread and run.shard_index == 1 and not failed_once:
            failed_once.add(run.log_id)
            return (500, None, "shard 1 fell over")
        return succeed({"shard": run.shard_index} if run.job_id == spread and run.shard_index != 2 else None)

    cluster.answer = answer
    instance_id = start(cluster.db, wf, now)
    cluster.pump()

    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    spread_runs = [(r.shard_index, r.shard_total) for r in cluster.received if r.job_id == spread]
    assert sorted(spread_runs) == [(0, 3), (1, 3), (1, 3), (2, 3)]
    # The successor started only after the retried shard succeeded, and saw every shard's data.
    order = [r.job_id for r in cluster.received]
    assert order.index(after) == len(order) - 1
    shards = {"shards": [{"shard": 0}, {"shard": 1}, None]}
    assert result(steps(cluster.db, instance_id)["spread"]) == shards
    assert cluster.received[-1].upstream == {"spread": shards}


def test_join_any_starts_on_the_first_branch_and_all_waits_for_every_one(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    slow = add_job(cluster.db, cluster.group_id, now, name="slow")
    definition = {
        "steps": [
            {"key": "a", "job_id": job}, {"key": "b", "job_id": slow},
            {"key": "any", "job_id": job, "join": "ANY", "param": "any"}, {"key": "all", "job_id": job, "param": "all"},
        ],
        "edges": _edges(("a", "any", "SUCCESS"), ("b", "any", "SUCCESS"), ("a", "all", "SUCCESS"), ("b", "all", "SUCCESS")),
    }
    wf = add_workflow(cluster.db, cluster.group_id, definition, now)
    held: list[int] = []
    cluster.answer = lambda run: (held.append(run.log_id), None)[1] if run.job_id == slow else succeed()
    instance_id = start(cluster.db, wf, now)
    cluster.pump()
    assert states(cluster.db, instance_id) == {"a": StepStatus.SUCCEEDED, "b": StepStatus.FIRED, "any": StepStatus.SUCCEEDED, "all": StepStatus.WAITING}
    cluster.callback(held[0])
    cluster.pump()
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    assert [r.params for r in cluster.received if r.params in ("any", "all")] == ["any", "all"]


def test_a_failure_branch_runs_and_the_success_branch_does_not(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    definition = {
        "steps": [{"key": "work", "job_id": job, "param": "work"}, {"key": "ok", "job_id": job, "param": "ok"},
                  {"key": "cleanup", "job_id": job, "param": "cleanup"}, {"key": "notify", "job_id": job, "param": "notify"}],
        "edges": _edges(("work", "ok", "SUCCESS"), ("work", "cleanup", "FAILURE"), ("work", "notify", "ALWAYS")),
    }
    wf = add_workflow(cluster.db, cluster.group_id, definition, now)
    cluster.answer = lambda run: (500, {"why": "disk"}, "disk full") if run.params == "work" else succeed()
    instance_id = start(cluster.db, wf, now)
    cluster.pump()
    assert states(cluster.db, instance_id) == {"work": StepStatus.FAILED, "ok": StepStatus.NOT_RUN, "cleanup": StepStatus.SUCCEEDED, "notify": StepStatus.SUCCEEDED}
    # The failure was handled by a branch: the instance succeeds.
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    work = steps(cluster.db, instance_id)["work"]
    assert "disk full" in work.message and result(work) == {"why": "disk"}
    assert sorted(r.params for r in cluster.received) == ["cleanup", "notify", "work"]


def test_an_unhandled_failure_fails_the_instance(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    wf = add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "a", "job_id": job}, {"key": "b", "job_id": job}], "edges": _edges(("a", "b", "SUCCESS"))}, now)
    cluster.answer = lambda run: (500, None, "boom")
    instance_id = start(cluster.db, wf, now)
    cluster.pump()
    assert states(cluster.db, instance_id) == {"a": StepStatus.FAILED, "b": StepStatus.NOT_RUN}
    row = status(cluster.db, instance_id)
    assert row == WorkflowStatus.FAILED


def test_steps_that_cannot_start_fail_with_the_reason(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    gone = add_job(cluster.db, cluster.group_id, now, name="gone")
    definition = {
        "steps": [
            {"key": "first", "job_id": job},
            {"key": "deleted", "job_id": gone},
            {"key": "template", "job_id": job, "param": "{{upstream.first.missing}}"},
            {"key": "nothing", "job_id": job, "param": "{{params.day}}"},
        ],
        "edges": _edges(("first", "deleted", "SUCCESS"), ("first", "template", "SUCCESS"), ("first", "nothing", "SUCCESS")),
    }
    wf = add_workflow(cluster.db, cluster.group_id, definition, now)
    with cluster.db.session() as s:
        s.execute(sa.delete(Job).where(Job.id == gone))
    cluster.answer = lambda run: succeed({"rows": 1})
    instance_id = start(cluster.db, wf, now)
    cluster.pump()
    rows = steps(cluster.db, instance_id)
    assert {k: r.status for k, r in rows.items()} == {"first": StepStatus.SUCCEEDED, "deleted": StepStatus.FAILED, "template": StepStatus.FAILED, "nothing": StepStatus.FAILED}
    assert rows["deleted"].message == f"job {gone} no longer exists"
    assert "has no field 'missing'" in rows["template"].message
    assert "without parameter 'day'" in rows["nothing"].message
    assert status(cluster.db, instance_id) == WorkflowStatus.FAILED
    assert len(cluster.received) == 1


def _a_then_b(cluster, now: int) -> tuple[int, int, int]:
    """A workflow a -> b (on success), each step a job of its own: (workflow, a's job, b's job)."""
    first = add_job(cluster.db, cluster.group_id, now)
    second = add_job(cluster.db, cluster.group_id, now, name="second")
    definition = {"steps": [{"key": "a", "job_id": first}, {"key": "b", "job_id": second}], "edges": _edges(("a", "b", "SUCCESS"))}
    return add_workflow(cluster.db, cluster.group_id, definition, now), first, second


def _delete_job(cluster, job_id: int) -> None:
    with cluster.db.session() as s:
        s.execute(sa.delete(Job).where(Job.id == job_id))


def test_a_root_step_whose_job_was_deleted_fails_when_the_instance_starts(cluster) -> None:
    now = cluster.clock.now_ms()
    wf, gone, _ = _a_then_b(cluster, now)
    _delete_job(cluster, gone)
    instance_id = start(cluster.db, wf, now)  # its steps' rows are new: the job is looked up
    rows = steps(cluster.db, instance_id)
    assert rows["a"].status == StepStatus.FAILED and rows["a"].message == f"job {gone} no longer exists"
    assert rows["b"].status == StepStatus.NOT_RUN
    assert status(cluster.db, instance_id) == WorkflowStatus.FAILED


def test_a_step_whose_job_is_deleted_after_its_fire_was_written_fails_naming_the_job(cluster) -> None:
    now = cluster.clock.now_ms()
    wf, _, second = _a_then_b(cluster, now)
    cluster.answer = lambda run: None  # a's result is sent by hand below
    instance_id = start(cluster.db, wf, now)
    cluster.pump()
    [run] = cluster.received
    cluster.callback(run.log_id)  # a succeeded: b's fire is written, not yet claimed
    assert states(cluster.db, instance_id) == {"a": StepStatus.SUCCEEDED, "b": StepStatus.FIRED}
    _delete_job(cluster, second)
    cluster.pump()  # the claim finds no job: the fire ends without a run
    assert states(cluster.db, instance_id)["b"] == StepStatus.FIRED
    # what the runner does with the claim's ended steps (FireLoop.on_steps_ended)
    advance_step_runs(cluster.db, [steps(cluster.db, instance_id)["b"].id], cluster.clock.now_ms())
    rows = steps(cluster.db, instance_id)
    assert rows["b"].status == StepStatus.FAILED and rows["b"].message == f"job {second} no longer exists"
    assert status(cluster.db, instance_id) == WorkflowStatus.FAILED
    assert len(cluster.received) == 1


@pytest.mark.parametrize("admin_overrides", [{"workflow_upstream_max_bytes": 1024}])
def test_upstream_data_over_the_bound_fails_the_step_naming_size_and_bound(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    wf = add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "big", "job_id": job}, {"key": "next", "job_id": job}], "edges": _edges(("big", "next", "SUCCESS"))}, now)
    cluster.answer = lambda run: succeed({"blob": "x" * 2000})
    instance_id = start(cluster.db, wf, now)
    cluster.pump()
    row = steps(cluster.db, instance_id)["next"]
    assert row.status == StepStatus.FAILED
    assert "is 2019 bytes, over the bound of 1024 bytes (workflow_upstream_max_bytes)" in row.message
    assert len(cluster.received) == 1


def test_a_fire_its_jobs_overlap_policy_skips_fails_the_step_with_the_note(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now, overlap_policy=OverlapPolicy.SKIP)
    with cluster.db.session() as s:
        s.add(RunLog(job_id=job, group_id=cluster.group_id, trigger_type="MANUAL", fire_at_ms=now, trigger_at_ms=now, handler="echo", status=RunStatus.RUNNING))
    wf = add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "a", "job_id": job}], "edges": []}, now)
    instance_id = start(cluster.db, wf, now)
    # No run, so no callback: the fire loop advances the instance once the claim committed (as the
    # runner wires it), and the workflow monitor's sweep would.
    cluster.node.loop.on_steps_ended = lambda ids, at: advance_step_runs(cluster.db, ids, at)
    cluster.pump()
    row = steps(cluster.db, instance_id)["a"]
    assert row.status == StepStatus.FAILED and row.message.startswith("skipped: run ")
    assert status(cluster.db, instance_id) == WorkflowStatus.FAILED
    assert len(workflow_fires(cluster.db)) == 1 and cluster.received == []


def test_a_failed_run_of_a_step_cancelled_before_its_follow_up_is_not_retried(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now, retry_count=3, retry_delay_s=0)
    wf = add_workflow(cluster.db, cluster.group_id, {"steps": [{"key": "a", "job_id": job}], "edges": []}, now)
    followups, cluster.monitors = cluster.monitors, []
    cluster.answer = lambda run: (500, None, "boom")
    instance_id = start(cluster.db, wf, now)
    cluster.pump()
    # Failed with retries left and not followed up yet: the step still runs (its retry is coming).
    assert states(cluster.db, instance_id) == {"a": StepStatus.FIRED}
    workflow_runs.cancel_instance(cluster.db, cli_actor("ops"), instance_id, now_ms=cluster.clock.now_ms())
    for monitor in followups:
        monitor.tick(cluster.clock.now_ms())
    cluster.pump()
    assert status(cluster.db, instance_id) == WorkflowStatus.CANCELLED
    assert len(cluster.received) == 1
    with cluster.db.read_session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(RunLog)).scalar_one() == 1
        assert s.execute(sa.select(RunLog.followup_status)).scalar_one() == FollowupStatus.DONE
