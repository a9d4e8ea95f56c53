"""Workflows written straight into the admin database, and what their instances became, for the
workflow engine's tests (definition CRUD is the console's and API's business)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.enums import OverlapPolicy, StepStatus, TriggerType, WorkflowStatus
from shardcron.admin.models import Fire, Workflow, WorkflowInstance, WorkflowStepRun
from shardcron.admin.workflows.graph import parse_definition
from shardcron.admin.workflows.instances import start_instance


def add_workflow(db: Database, group_id: int, definition: dict[str, Any], now_ms: int, **fields: Any) -> int:
    """A workflow with `definition` (checked as the console would), overlap ALLOW_ALL unless given."""
    text = parse_definition(definition, max_steps=100_000).to_json()
    values: dict[str, Any] = {"name": f"wf-{now_ms}-{len(text)}", "overlap_policy": OverlapPolicy.ALLOW_ALL, "created_at_ms": now_ms, "updated_at_ms": now_ms}
    values.update(fields)
    with db.session() as s:
        row = Workflow(group_id=group_id, definition_json=text, **values)
        s.add(row)
        s.flush()
        return row.id


def start(db: Database, workflow_id: int, now_ms: int, *, params: dict | None = None, trigger_type: TriggerType = TriggerType.API,
          planned_at_ms: int | None = None, origin_ref: int | None = None) -> int | None:
    with db.session() as s:
        workflow = s.get_one(Workflow, workflow_id)
        return start_instance(
            s, workflow, trigger_type=trigger_type, planned_at_ms=now_ms if planned_at_ms is None else planned_at_ms,
            origin_ref=now_ms if origin_ref is None else origin_ref, params=params, now_ms=now_ms, triggered_by="test",
        )


def instance(db: Database, instance_id: int) -> WorkflowInstance:
    with db.read_session() as s:
        return s.get_one(WorkflowInstance, instance_id)


def status(db: Database, instance_id: int) -> WorkflowStatus:
    return WorkflowStatus(instance(db, instance_id).status)


def steps(db: Database, instance_id: int) -> dict[str, WorkflowStepRun]:
    """step key -> its current row (highest generation)."""
    with db.read_session() as s:
        rows = s.scalars(sa.select(WorkflowStepRun).where(WorkflowStepRun.instance_id == instance_id).order_by(WorkflowStepRun.generation)).all()
    return {row.step_key: row for row in rows}


def states(db: Database, instance_id: int) -> dict[str, StepStatus]:
    return {key: StepStatus(row.status) for key, row in steps(db, instance_id).items()}


def all_step_rows(db: Database, instance_id: int) -> list[WorkflowStepRun]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(WorkflowStepRun).where(WorkflowStepRun.instance_id == instance_id).order_by(WorkflowStepRun.id)))


def workflow_fires(db: Database) -> list[Fire]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(Fire).where(Fire.trigger_type == TriggerType.WORKFLOW).order_by(Fire.id)))


def result(row: WorkflowStepRun) -> Any:
    return None if row.result_json is None else json.loads(row.result_json)
