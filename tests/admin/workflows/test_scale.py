"""A 1,000-step chain and a 1,000-wide fan-out run to their end through the scheduler and the
callback path, each step fired and sent once. On the database servers the chain has 200 steps:
its steps go one after another, a fake-clock pump round each, and 1,000 of them took minutes of
the suite per server; bench/workflow_bench.py runs the full 1,000 on each backend."""

from __future__ import annotations

from collections import Counter


from shardcron.admin.enums import StepStatus, WorkflowStatus
from tests.support.scheduler_rows import add_job
from tests.support.workflow_rows import add_workflow, start, states, status, workflow_fires

STEPS = 1000
#: The chain's length on MariaDB and PostgreSQL (see the module's docstring).
SERVER_CHAIN_STEPS = 200


def _check_each_step_fired_once(cluster, instance_id: int, steps: int = STEPS) -> None:
    assert status(cluster.db, instance_id) == WorkflowStatus.SUCCEEDED
    assert set(states(cluster.db, instance_id).values()) == {StepStatus.SUCCEEDED}
    fires = workflow_fires(cluster.db)
    assert len(fires) == steps and len({f.step_run_id for f in fires}) == steps
    assert len(cluster.received) == steps and set(Counter(r.log_id for r in cluster.received).values()) == {1}


def test_a_thousand_step_chain_runs_to_its_end(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    steps = STEPS if cluster.db.engine.dialect.name == "sqlite" else SERVER_CHAIN_STEPS
    keys = [f"s{i}" for i in range(steps)]
    definition = {"steps": [{"key": k, "job_id": job} for k in keys], "edges": [{"from": a, "to": b} for a, b in zip(keys, keys[1:], strict=False)]}
    instance_id = start(cluster.db, add_workflow(cluster.db, cluster.group_id, definition, now), now)
    cluster.pump(step_ms=1, max_rounds=20 * steps)
    _check_each_step_fired_once(cluster, instance_id, steps)
    # One step at a time: each /run was sent after the one before it had finished.
    assert [r.log_id for r in cluster.received] == sorted(r.log_id for r in cluster.received)


def test_a_thousand_wide_fan_out_runs_to_its_end(cluster) -> None:
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now)
    keys = [f"s{i}" for i in range(1, STEPS - 1)]
    definition = {
        "steps": [{"key": "root", "job_id": job}, *({"key": k, "job_id": job} for k in keys), {"key": "end", "job_id": job}],
        "edges": [*({"from": "root", "to": k} for k in keys), *({"from": k, "to": "end"} for k in keys)],
    }
    instance_id = start(cluster.db, add_workflow(cluster.db, cluster.group_id, definition, now), now)
    cluster.pump(step_ms=10, max_rounds=2000)
    _check_each_step_fired_once(cluster, instance_id)
