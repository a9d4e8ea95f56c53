"""Two scheduler nodes advance the same instance at once, and claim its fires at once: every step
is fired once and sent once."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from shardcron.admin.enums import RunStatus, WorkflowStatus
from shardcron.admin.models import RunLog
from shardcron.admin.workflows.advance import advance_instance
from tests.support.scheduler_node import claim_once
from tests.support.scheduler_rows import add_group, add_job, register
from tests.support.together import run_together
from tests.support.workflow_rows import add_workflow, start, status, workflow_fires


def _finish_running_runs(db, now_ms: int) -> None:
    """Every running run succeeds, written as a callback would, without advancing anything."""
    with db.session() as s:
        s.execute(sa.update(RunLog).where(RunLog.status == RunStatus.RUNNING).values(status=RunStatus.SUCCESS, handle_code=200, handle_at_ms=now_ms))


def test_two_nodes_advancing_and_claiming_together_fire_every_step_once(admin_db, receivers, make_scheduler, fake_clock) -> None:
    now = fake_clock.now_ms()
    receiver = receivers()
    group = add_group(admin_db, "race-app", now)
    register(admin_db, "race-app", receiver.address, now)
    job = add_job(admin_db, group, now)
    fan = [f"s{i}" for i in range(20)]
    definition = {
        "steps": [{"key": "root", "job_id": job}, *({"key": k, "job_id": job} for k in fan), {"key": "join", "job_id": job}],
        "edges": [*({"from": "root", "to": k} for k in fan), *({"from": k, "to": "join"} for k in fan)],
    }
    wf = add_workflow(admin_db, group, definition, now)
    nodes = [make_scheduler(admin_db, "node-a"), make_scheduler(admin_db, "node-b")]
    instance_id = start(admin_db, wf, now)
    assert instance_id is not None
    for round_no in range(1, 5):
        at = now + round_no * 100
        for node in nodes:
            node.live(at)
        run_together([lambda node=node, at=at: claim_once(node, at, 5000) for node in nodes])  # type: ignore[misc]
        for node in nodes:  # what one node's SKIP LOCKED passed over is claimed now
            node.step(at + 10)
        _finish_running_runs(admin_db, at + 20)

        def advance(at: int = at) -> None:
            with admin_db.session() as s:
                advance_instance(s, instance_id, at + 30)

        run_together([advance, advance])
    assert status(admin_db, instance_id) == WorkflowStatus.SUCCEEDED
    fires = workflow_fires(admin_db)
    assert len(fires) == 22 and len({f.step_run_id for f in fires}) == 22
    sent = Counter(run.log_id for run in receiver.runs)
    assert len(receiver.runs) == 22 and set(sent.values()) == {1} and receiver.repeats == 0
