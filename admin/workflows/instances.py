"""Starting a workflow instance, once, under the workflow's overlap policy.

An instance is unique per (workflow, planned time, trigger type, origin): the workflow's row is
locked first (`FOR UPDATE`; SQLite holds the database), then the key is looked up, so two nodes
starting the same planned instance write it once and the second gets None. The same lock
serializes the overlap decision between the workflow's instances:

- ALLOW_ALL: it starts;
- SKIP: while another instance runs, it is written SKIPPED with a message naming that instance;
- BUFFER_ONE: while another runs it waits (WAITING), at most one at a time (a second is SKIPPED);
  the oldest waiting one starts when the running one ends (advance.end_instance);
- CANCEL_OTHER: the running instances are cancelled (their runs killed: operate.stop_instance;
  the kills are kept on the session for the caller to send after the commit, `take_kills`),
  then it starts.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db import Database
from ..enums import OverlapPolicy, TriggerType, WorkflowStatus
from ..models import Workflow, WorkflowInstance
from .advance import begin
from .operate import Kill, stop_instance
from .step_fires import UPSTREAM_MAX_BYTES
from .step_rows import lock_workflow

_KILLS = "shardcron.workflow_kills"


def instances_running(db: Database) -> bool:
    """Whether any workflow instance runs (one indexed lookup: ix_workflow_instance_status)."""
    t = WorkflowInstance.__table__.c
    with db.read_session() as session:
        return session.execute(sa.select(t.id).where(t.status == WorkflowStatus.RUNNING.value).limit(1)).first() is not None


def take_kills(session: Session) -> list[Kill]:
    """The kills the session's instance starts asked for (CANCEL_OTHER); send them after the
    commit with operate.send_kills."""
    return session.info.pop(_KILLS, [])


def start_instance(
    session: Session, workflow: Workflow, *, trigger_type: TriggerType, planned_at_ms: int, origin_ref: int,
    params: dict[str, Any] | None, now_ms: int, triggered_by: str, upstream_max_bytes: int = UPSTREAM_MAX_BYTES,
) -> int | None:
    """Insert the instance (once per (workflow, planned_at_ms, trigger_type, origin_ref)) with the
    workflow's definition and version, apply the overlap policy, create its step rows and fire
    its first steps. Returns the instance id, or None when that instance already existed."""
    lock_workflow(session, workflow.id)
    t = WorkflowInstance.__table__.c
    key = (t.workflow_id == workflow.id, t.planned_at_ms == planned_at_ms, t.trigger_type == trigger_type.value, t.origin_ref == origin_ref)
    if session.execute(sa.select(t.id).where(*key)).first() is not None:
        return None
    others = session.execute(
        sa.select(t.id, t.status).where(t.workflow_id == workflow.id, t.status.in_([WorkflowStatus.RUNNING.value, WorkflowStatus.WAITING.value])).order_by(t.id)
    ).all()
    running = [row.id for row in others if row.status == WorkflowStatus.RUNNING]
    waiting = [row.id for row in others if row.status == WorkflowStatus.WAITING]
    policy = OverlapPolicy(workflow.overlap_policy)
    status, message = WorkflowStatus.RUNNING, None
    if running and policy == OverlapPolicy.SKIP:
        status, message = WorkflowStatus.SKIPPED, f"skipped: instance {running[0]} was running (SKIP)"
    elif (running or waiting) and policy == OverlapPolicy.BUFFER_ONE:
        if waiting:
            status, message = WorkflowStatus.SKIPPED, f"skipped: instance {waiting[0]} already waits (BUFFER_ONE)"
        else:
            status, message = WorkflowStatus.WAITING, f"waits for instance {running[0]} to end (BUFFER_ONE)"
    instance = WorkflowInstance(
        workflow_id=workflow.id, workflow_version=workflow.version, definition_json=workflow.definition_json, trigger_type=trigger_type,
        planned_at_ms=planned_at_ms, origin_ref=origin_ref, params_json=json.dumps(params, ensure_ascii=False, separators=(",", ":")) if params else None,
        status=status, message=message, triggered_by=triggered_by[:64], created_at_ms=now_ms, deadline_at_ms=0,
        finished_at_ms=now_ms if status == WorkflowStatus.SKIPPED else None,
    )
    session.add(instance)
    session.flush()
    if status != WorkflowStatus.RUNNING:
        return instance.id
    if running and policy == OverlapPolicy.CANCEL_OTHER:
        kills: list[Kill] = []
        for other in running:
            kills += stop_instance(session, other, WorkflowStatus.CANCELLED, f"cancelled by instance {instance.id} (CANCEL_OTHER)", now_ms, start_waiting=False) or []
        session.info.setdefault(_KILLS, []).extend(kills)
    begin(session, instance, now_ms, upstream_max_bytes=upstream_max_bytes)
    return instance.id
