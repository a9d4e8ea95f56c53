"""What people do to workflow instances: trigger by hand (with parameters), cancel, re-run, skip a
step. Each checks access (the workflow's group and every step's job's group; admins see all),
changes the instance and writes its audit entry in one transaction, and sends the `/kill`s a
cancel asked for after that transaction committed (HTTP never runs under a lock).

Refusals: an unknown or unseen workflow / instance is 404; an operation the instance's state
does not allow is 409 naming the state; bad input is 400 naming the field.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db import Database
from ..enums import AuditAction, AuditTarget, TriggerType, WorkflowStatus
from ..firing.fire_store import retry_on_deadlock
from ..models import Job, Workflow, WorkflowInstance
from ..texts import Text, _t
from ..transport.executor_client import ExecutorClient
from ..workflows import operate
from ..workflows.graph import Definition, load_definition
from ..workflows.instances import start_instance, take_kills
from ..workflows.step_fires import UPSTREAM_MAX_BYTES
from ..workflows.step_rows import definition_of
from . import audit
from .actor import Actor
from .errors import Conflict, FieldErrors, Forbidden, NotFound

#: The default of config `workflow_params_max_bytes`.
PARAMS_MAX_BYTES = 65_536


def _hidden_groups(session: Session, actor: Actor, definition: Definition) -> list[int]:
    """The groups of the definition's jobs the actor may not see (none for admins)."""
    if actor.is_admin:
        return []
    groups = set(session.execute(sa.select(Job.group_id).where(Job.id.in_(sorted(definition.job_ids())))).scalars())
    return sorted(group for group in groups if not actor.can_access_group(group))


def _may_operate(session: Session, actor: Actor, name: str, definition: Definition, object_id: int) -> None:
    """Who sees a workflow (its group) may read it and its instances; starting or changing them
    also needs every step's job's group, or the user would run jobs not granted to them."""
    if _hidden_groups(session, actor, definition):
        raise Forbidden(
            _t("workflow %(name)s runs jobs of groups not granted to you: ask an admin to start or change its instances", name=name),
            object_id=object_id,
        )


def _load_workflow(session: Session, actor: Actor, workflow_id: Any) -> Workflow:
    row = session.get(Workflow, workflow_id) if isinstance(workflow_id, int) and not isinstance(workflow_id, bool) else None
    if row is None or not (actor.is_admin or actor.can_access_group(row.group_id)):
        raise NotFound("workflow", workflow_id)
    _may_operate(session, actor, row.name, load_definition(row.definition_json), row.id)
    return row


def _load_instance(session: Session, actor: Actor, instance_id: Any) -> tuple[WorkflowInstance, int, str]:
    """The instance, its workflow's group and name (a deleted workflow's instance: admins only)."""
    row = session.get(WorkflowInstance, instance_id) if isinstance(instance_id, int) and not isinstance(instance_id, bool) else None
    workflow = session.get(Workflow, row.workflow_id) if row is not None else None
    visible = row is not None and (actor.is_admin if workflow is None else actor.is_admin or actor.can_access_group(workflow.group_id))
    if row is None or not visible:
        raise NotFound("workflow instance", instance_id)
    name = workflow.name if workflow is not None else f"workflow {row.workflow_id}"
    _may_operate(session, actor, name, definition_of(row.definition_json), row.id)
    return row, (workflow.group_id if workflow is not None else 0), name


def check_params(params: Any, max_bytes: int) -> dict[str, Any] | None:
    """The parameters of an instance started by hand: a JSON object of at most `max_bytes`."""
    errors = FieldErrors()
    if params is not None and not isinstance(params, dict):
        errors.add("params", _t("must be a JSON object of parameters (name: value)"))
    elif params:
        size = len(json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        if size > max_bytes:
            errors.add("params", _t("is %(length)s bytes long; at most %(limit)s fit", length=size, limit=max_bytes))
    errors.raise_if_any(_t("workflow not triggered"))
    return params or None


def trigger_workflow(
    db: Database, actor: Actor, workflow_id: int, params: Any, request_id: int | None = None, *, now_ms: int,
    client: ExecutorClient | None = None, trigger_type: TriggerType = TriggerType.MANUAL,
    params_max_bytes: int = PARAMS_MAX_BYTES, upstream_max_bytes: int = UPSTREAM_MAX_BYTES,
) -> int:
    """Start an instance now with `params` (a JSON object, or None). `request_id` makes a retried
    request start one instance (the same id is returned); without it every call starts one.
    Returns the instance id (its status follows the workflow's overlap policy)."""
    if trigger_type not in (TriggerType.MANUAL, TriggerType.API):
        raise ValueError(f"trigger_workflow starts MANUAL or API instances, not {trigger_type}")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, int) or not 1 <= request_id <= 2**62):
        errors = FieldErrors()
        errors.add("request_id", _t("must be a whole number between %(low)s and %(high)s", low=1, high=2**62))
        errors.raise_if_any(_t("workflow not triggered"))
    origin_ref = request_id or secrets.randbelow(2**62) + 1

    def work() -> tuple[int, list[operate.Kill]]:
        with db.session() as session:
            workflow = _load_workflow(session, actor, workflow_id)
            checked = check_params(params, params_max_bytes)
            t = WorkflowInstance.__table__.c
            if request_id is not None:
                # A request sent again (a client's retry): its instance, whenever it was started.
                existing = session.execute(
                    sa.select(t.id).where(t.workflow_id == workflow.id, t.trigger_type == trigger_type.value, t.origin_ref == origin_ref).order_by(t.id).limit(1)
                ).scalar()
                if existing is not None:
                    return existing, []
            started = start_instance(
                session, workflow, trigger_type=trigger_type, planned_at_ms=now_ms, origin_ref=origin_ref, params=checked,
                now_ms=now_ms, triggered_by=actor.username, upstream_max_bytes=upstream_max_bytes,
            )
            if started is None:  # the same request in the same millisecond
                return session.execute(sa.select(t.id).where(t.workflow_id == workflow.id, t.origin_ref == origin_ref, t.planned_at_ms == now_ms)).scalar_one(), []
            after = {"instance_id": started, "trigger_type": trigger_type, "params": checked}
            audit.record(
                session, actor, AuditAction.WORKFLOW_TRIGGER, AuditTarget.WORKFLOW, target_id=workflow.id, target_name=workflow.name,
                group_id=workflow.group_id, after=after, now_ms=now_ms,
            )
            return started, take_kills(session)

    instance_id, kills = retry_on_deadlock(work)
    if kills and client is not None:
        operate.send_kills(client, kills)
    return instance_id


def _refused(instance_id: int, reason: Text, state: str) -> Conflict:
    return Conflict(_t("workflow instance %(id)s is %(state)s: %(reason)s", id=instance_id, state=state, reason=reason), object_id=instance_id)


def cancel_instance(db: Database, actor: Actor, instance_id: int, *, now_ms: int, client: ExecutorClient | None = None) -> None:
    """Cancel a RUNNING or WAITING instance: its waiting steps are cancelled, its running steps'
    runs killed (the executors are told after the commit)."""

    def work() -> list[operate.Kill]:
        with db.session() as session:
            row, group_id, name = _load_instance(session, actor, instance_id)
            before = {"status": row.status}
            kills = operate.stop_instance(session, row.id, WorkflowStatus.CANCELLED, f"cancelled by {actor.username}", now_ms)
            if kills is None:
                raise _refused(row.id, _t("only a running or waiting instance is cancelled"), str(row.status))
            audit.record(
                session, actor, AuditAction.WORKFLOW_CANCEL, AuditTarget.WORKFLOW_INSTANCE, target_id=row.id, target_name=name, group_id=group_id or None,
                before=before, after={"status": WorkflowStatus.CANCELLED, "killed_runs": [k.run_id for k in kills]}, now_ms=now_ms,
            )
            return kills

    kills = retry_on_deadlock(work)
    if kills and client is not None:
        operate.send_kills(client, kills)


def rerun_instance(db: Database, actor: Actor, instance_id: int, from_step: str | None, *, now_ms: int, upstream_max_bytes: int = UPSTREAM_MAX_BYTES) -> list[str]:
    """Re-run from the failed steps (`from_step` None) or from step `from_step`; returns the
    steps that get a new generation."""
    if from_step is not None and not isinstance(from_step, str):
        errors = FieldErrors()
        errors.add("from_step", _t("must be a step key"))
        errors.raise_if_any(_t("workflow instance %(id)s not re-run", id=instance_id))

    def work() -> list[str]:
        with db.session() as session:
            row, group_id, name = _load_instance(session, actor, instance_id)
            before = {"status": row.status}
            try:
                keys = operate.rerun_instance(session, row.id, from_step, now_ms, upstream_max_bytes=upstream_max_bytes)
            except KeyError:
                errors = FieldErrors()
                errors.add("from_step", _t("no step of this instance has the key %(key)s", key=repr(from_step)))
                errors.raise_if_any(_t("workflow instance %(id)s not re-run", id=row.id), object_id=row.id)
                raise
            except operate.OperationRefused as exc:
                raise _refused(row.id, exc.reason, exc.state) from None
            audit.record(
                session, actor, AuditAction.WORKFLOW_RERUN, AuditTarget.WORKFLOW_INSTANCE, target_id=row.id, target_name=name, group_id=group_id or None,
                before=before, after={"status": WorkflowStatus.RUNNING, "from_step": from_step, "steps": keys}, now_ms=now_ms,
            )
            return keys

    return retry_on_deadlock(work)


def skip_step(db: Database, actor: Actor, instance_id: int, step_key: str, *, now_ms: int, upstream_max_bytes: int = UPSTREAM_MAX_BYTES) -> None:
    """Skip a waiting, failed, cancelled or not run step (it counts as succeeded); refused (409)
    for a running step: cancel or wait."""
    if not isinstance(step_key, str):
        errors = FieldErrors()
        errors.add("step_key", _t("must be a step key"))
        errors.raise_if_any(_t("step of workflow instance %(id)s not skipped", id=instance_id))

    def work() -> None:
        with db.session() as session:
            row, group_id, name = _load_instance(session, actor, instance_id)
            before = {"status": row.status}
            try:
                operate.skip_step(session, row.id, step_key, now_ms, upstream_max_bytes=upstream_max_bytes)
            except KeyError:
                errors = FieldErrors()
                errors.add("step_key", _t("no step of this instance has the key %(key)s", key=repr(step_key)))
                errors.raise_if_any(_t("step of workflow instance %(id)s not skipped", id=row.id), object_id=row.id)
                raise
            except operate.OperationRefused as exc:
                raise _refused(row.id, exc.reason, exc.state) from None
            audit.record(
                session, actor, AuditAction.WORKFLOW_SKIP_STEP, AuditTarget.WORKFLOW_INSTANCE, target_id=row.id, target_name=name,
                group_id=group_id or None, before=before, after={"step_key": step_key}, now_ms=now_ms,
            )

    retry_on_deadlock(work)
