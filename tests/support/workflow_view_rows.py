"""Workflow rows written directly (sc_workflow, instances, step runs, their runs) for the tests of
what reads, shows and operates on them, without running the scheduler."""

from __future__ import annotations

import itertools
import json
from typing import Any

from shardcron.admin.db import Database
from shardcron.admin.enums import RunStatus, StepStatus, TriggerType, WorkflowStatus
from shardcron.admin.models import RunLog, Workflow, WorkflowInstance, WorkflowStepRun
from tests.support.admin_data import NOW


def chain(*steps: tuple[str, int], on: str = "SUCCESS") -> dict[str, Any]:
    """A definition running `steps` (key, job id) one after the other."""
    return {
        "steps": [{"key": key, "job_id": job_id} for key, job_id in steps],
        "edges": [{"from": a[0], "to": b[0], "on": on} for a, b in zip(steps, steps[1:], strict=False)],
    }


def add_workflow(db: Database, group_id: int, name: str, definition: dict[str, Any], **values: Any) -> int:
    with db.session() as s:
        row = Workflow(group_id=group_id, name=name, definition_json=json.dumps(definition), created_at_ms=NOW, updated_at_ms=NOW, **values)
        s.add(row)
        s.flush()
        return row.id


#: Instances written here are told apart by origin_ref (uq_workflow_instance_once), as those started by hand are.
_ORIGIN_REFS = itertools.count(1)


def add_instance(
    db: Database,
    workflow_id: int,
    definition: dict[str, Any],
    *,
    status: WorkflowStatus = WorkflowStatus.RUNNING,
    created_at_ms: int = NOW,
    params: dict[str, Any] | None = None,
    **values: Any,
) -> int:
    fields: dict[str, Any] = dict(
        workflow_version=1, trigger_type=TriggerType.MANUAL, planned_at_ms=created_at_ms, origin_ref=next(_ORIGIN_REFS), started_at_ms=created_at_ms, triggered_by="alice"
    )
    fields.update(values)
    with db.session() as s:
        row = WorkflowInstance(
            workflow_id=workflow_id,
            definition_json=json.dumps(definition),
            status=status,
            created_at_ms=created_at_ms,
            params_json=None if params is None else json.dumps(params),
            **fields,
        )
        s.add(row)
        s.flush()
        return row.id


def add_step_run(
    db: Database, instance_id: int, key: str, job_id: int, status: StepStatus, *, generation: int = 0, result: Any = None, **values: Any
) -> int:
    with db.session() as s:
        row = WorkflowStepRun(
            instance_id=instance_id,
            step_key=key,
            generation=generation,
            job_id=job_id,
            status=status,
            result_json=None if result is None else json.dumps(result),
            created_at_ms=values.pop("created_at_ms", NOW),
            **values,
        )
        s.add(row)
        s.flush()
        return row.id


def add_step_run_log(db: Database, step_run_id: int, job_id: int, group_id: int, *, status: RunStatus = RunStatus.SUCCESS, **values: Any) -> int:
    fields: dict[str, Any] = dict(trigger_type=TriggerType.WORKFLOW, fire_at_ms=NOW, trigger_at_ms=NOW, handler="demo")
    fields.update(values)
    with db.session() as s:
        run = RunLog(job_id=job_id, group_id=group_id, status=status, step_run_id=step_run_id, **fields)
        s.add(run)
        s.flush()
        return run.id


def add_failed_instance(db: Database, workflow_id: int, key: str, job_id: int) -> int:
    """A FAILED instance of a one-step workflow (`key` on `job_id`) whose step failed."""
    definition = chain((key, job_id))
    instance_id = add_instance(db, workflow_id, definition, status=WorkflowStatus.FAILED, finished_at_ms=NOW)
    add_step_run(db, instance_id, key, job_id, StepStatus.FAILED, started_at_ms=NOW, finished_at_ms=NOW, message="boom")
    return instance_id
