"""An instance runs to its end through the scheduler and the callback path: steps fire in order,
once each, with their parameters' templates filled in and their predecessors' data as upstream."""

from __future__ import annotations

from shardcron.admin.enums import StepStatus, WorkflowStatus
from tests.support.scheduler_rows import add_job
from tests.support.workflow_cluster import succeed
from tests.support.workflow_rows import add_workflow, result, start, states, status, steps, workflow_fires


def test_a_chain_runs_in_order_passing_result_data_downstream(cluster) -> None:
    now = cluster.clock.now_ms()
    extract = add_job(cluster.db, cluster.group_id, now, name="extract")
    load = add_job(cluster.db, cluster.group_id, now, name="load", param="own")
    definition = {
        "steps": [
            {"key": "extract", "job_id": extract, "param": "day={{params.day}}"},
            {"key": "load", "job_id": load, "param": "rows={{upstream.extract.rows}} of {{instance.id}}"},
            {"key": "report", "job_id": load},
        ],
        "edges": [{"from": "extract", "to": "load"}, {"from": "load", "to": "report"}],
    }
    wf = add_workflow(cluster.db, cluster.group_id, definition, now)
    data = {"extract": {"rows": 42}, "load": {"loaded": True}, "report": None}
    by_job = {extract: "extract"}
    cluster.answer = lambda run: succeed(data[by_job.get(run.job_id) or ("load" if run.params.startswith("rows=") else "report")])
    instance_id = start(cluster.db, wf, now, params={"day": "2026-01-01"})
    assert instance_id is not None
    cluster.pump()

    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    assert states(cluster.db, instance_id) == dict.fromkeys(["extract", "load", "report"], StepStatus.SUCCEEDED)
    got = [(run.job_id, run.params, run.upstream) for run in cluster.received]
    assert got == [
        (extract, "day=2026-01-01", None),
        (load, f"rows=42 of {instance_id}", {"extract": {"rows": 42}}),
        (load, "own", {"load": {"loaded": True}}),
    ]
    rows = steps(cluster.db, instance_id)
    assert result(rows["extract"]) == {"rows": 42} and result(rows["report"]) is None
    assert rows["load"].param == f"rows=42 of {instance_id}" and rows["report"].param is None
    assert len(workflow_fires(cluster.db)) == 3


def test_a_join_gets_the_data_of_predecessors_that_ended_in_earlier_callbacks_and_in_its_own(cluster) -> None:
    # Each run is answered by its own callback: the join starts in the callback of the last
    # branch to end, with that branch's data from the same transaction and the others' read back.
    now = cluster.clock.now_ms()
    jobs = {key: add_job(cluster.db, cluster.group_id, now, name=key) for key in ("root", "a", "b", "c", "join")}
    definition = {
        "steps": [{"key": key, "job_id": job_id} for key, job_id in jobs.items()],
        "edges": [{"from": "root", "to": key} for key in ("a", "b", "c")] + [{"from": key, "to": "join"} for key in ("a", "b", "c")],
    }
    wf = add_workflow(cluster.db, cluster.group_id, definition, now)
    key_of = {job_id: key for key, job_id in jobs.items()}
    data = {"root": {"day": 1}, "a": {"rows": 1}, "b": None, "c": {"rows": 3}, "join": None}
    cluster.answer = lambda run: succeed(data[key_of[run.job_id]])
    instance_id = start(cluster.db, wf, now)
    assert instance_id is not None
    cluster.pump()

    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    upstream = {key_of[run.job_id]: run.upstream for run in cluster.received}
    assert [key_of[run.job_id] for run in cluster.received][-1] == "join"
    assert upstream["join"] == {"a": {"rows": 1}, "c": {"rows": 3}}
    assert upstream["a"] == upstream["b"] == upstream["c"] == {"root": {"day": 1}}
