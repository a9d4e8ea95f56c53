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
