"""Workflows: list, get, create, update, copy, delete, start, stop, and the editor's preview.

A workflow is seen by the users of its group (`group_id`); saving one also needs every step's
job to be in a group the user may see (services.workflow_form). Each save adds 1 to `version`
(instances keep the definition and version they started with). Starting computes the first
`next_fire_at_ms` after now, as for a job; stopping sets `enabled=False, next_fire_at_ms=0`. An
enabled workflow always has a real next fire time: a save that leaves it none is refused.
Every change is audited in the caller's transaction, with the changed fields; the definition is
audited whole up to AUDIT_DEFINITION_BYTES, beyond that as its size, step count and digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import AuditAction, AuditTarget, MisfireStrategy, OverlapPolicy, ScheduleType, WorkflowStatus
from ..models import ExecutorGroup, Job, Workflow, WorkflowInstance
from ..schedules.schedule import ScheduleError, next_fire_at_ms
from ..texts import Text, _nt, _t
from . import audit
from .access import scope_to_groups
from .actor import Actor
from .errors import Conflict, FieldErrors, NotFound, ServiceError
from .job_form import parse_email_list
from .paging import Page, PageRequest, count_rows
from .workflow_form import clean_workflow, current_values

#: A definition's JSON up to this size is kept whole in the audit trail (its TEXT column holds
#: 64 KiB on MySQL with the other fields); a larger one as size, step count and SHA-256.
AUDIT_DEFINITION_BYTES = 16_384


@dataclass(frozen=True)
class WorkflowView:
    id: int
    group_id: int
    group_app_name: str
    name: str
    description: str
    author: str
    #: {"steps": [...], "edges": [...]} (docs/workflows.md)
    definition: dict[str, Any]
    step_count: int
    #: Grows by 1 with every save; each instance keeps the version it ran.
    version: int
    schedule_type: ScheduleType
    schedule_conf: str
    timezone: str
    misfire_strategy: MisfireStrategy
    #: Between this workflow's instances: ALLOW_ALL, SKIP, BUFFER_ONE or CANCEL_OTHER.
    overlap_policy: OverlapPolicy
    timeout_s: int
    alarm_emails: list[str]
    alarm_webhook: str
    enabled: bool
    next_fire_at_ms: int
    last_fire_at_ms: int
    created_at_ms: int
    updated_at_ms: int


def workflow_view(workflow: Workflow, app_name: str) -> WorkflowView:
    definition = json.loads(workflow.definition_json)
    return WorkflowView(
        id=workflow.id,
        group_id=workflow.group_id,
        group_app_name=app_name,
        name=workflow.name,
        description=workflow.description,
        author=workflow.author,
        definition=definition,
        step_count=len(definition.get("steps", [])),
        version=workflow.version,
        schedule_type=ScheduleType(workflow.schedule_type),
        schedule_conf=workflow.schedule_conf,
        timezone=workflow.timezone,
        misfire_strategy=MisfireStrategy(workflow.misfire_strategy),
        overlap_policy=OverlapPolicy(workflow.overlap_policy),
        timeout_s=workflow.timeout_s,
        alarm_emails=parse_email_list(workflow.alarm_emails),
        alarm_webhook=workflow.alarm_webhook,
        enabled=workflow.enabled,
        next_fire_at_ms=workflow.next_fire_at_ms,
        last_fire_at_ms=workflow.last_fire_at_ms,
        created_at_ms=workflow.created_at_ms,
        updated_at_ms=workflow.updated_at_ms,
    )


def _view(session: Session, workflow: Workflow) -> WorkflowView:
    app_name = session.scalar(sa.select(ExecutorGroup.app_name).where(ExecutorGroup.id == workflow.group_id)) or ""
    return workflow_view(workflow, app_name)


def load_workflow(session: Session, actor: Actor, workflow_id: int, *, for_update: bool = False) -> Workflow:
    """The workflow, if the actor may see its group; NotFound otherwise (the same answer)."""
    workflow = session.get(Workflow, workflow_id, with_for_update=for_update) if isinstance(workflow_id, int) else None
    if workflow is None or not actor.can_access_group(workflow.group_id):
        raise NotFound("workflow", workflow_id)
    return workflow


@dataclass(frozen=True)
class WorkflowFilter:
    group_id: int | None = None
    #: Part of the name (case-sensitive on MySQL's utf8mb4_bin, as the column is).
    name: str | None = None

    def checked(self) -> WorkflowFilter:
        errors = FieldErrors()
        if self.name is not None and len(self.name) > 128:
            errors.add("name", _t("at most 128 characters"))
        errors.raise_if_any(_t("bad workflow filter"))
        return self


def list_workflows(session: Session, actor: Actor, flt: WorkflowFilter, page: PageRequest) -> Page[WorkflowView]:
    flt = flt.checked()
    stmt = scope_to_groups(sa.select(Workflow), Workflow.group_id, actor)
    if flt.group_id is not None:
        stmt = stmt.where(Workflow.group_id == flt.group_id)
    if flt.name:
        pattern = "%" + flt.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(Workflow.name.like(pattern, escape="\\"))
    total = count_rows(session, stmt)
    rows = list(session.scalars(stmt.order_by(Workflow.id).limit(page.per_page).offset(page.offset)))
    names = dict(session.execute(sa.select(ExecutorGroup.id, ExecutorGroup.app_name).where(ExecutorGroup.id.in_({w.group_id for w in rows}))).all()) if rows else {}
    return Page([workflow_view(w, names.get(w.group_id, "")) for w in rows], total, page.page, page.per_page)


def get_workflow(session: Session, actor: Actor, workflow_id: int) -> WorkflowView:
    return _view(session, load_workflow(session, actor, workflow_id))


def _audit_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields as the audit trail keeps them: a large definition by its digest."""
    out = dict(values)
    definition = out.get("definition")
    if definition is not None:
        text = json.dumps(definition, ensure_ascii=False, separators=(",", ":"))
        if len(text.encode("utf-8")) > AUDIT_DEFINITION_BYTES:
            out["definition"] = {
                "bytes": len(text.encode("utf-8")), "steps": len(definition.get("steps", [])),
                "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            }  # fmt: skip
    return out


def _audit(session: Session, actor: Actor, action: AuditAction, workflow: Workflow, *, now_ms: int, before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None) -> None:
    audit.record(
        session, actor, action, AuditTarget.WORKFLOW, target_id=workflow.id, target_name=workflow.name, group_id=workflow.group_id,
        before=_audit_values(before) if before is not None else None, after=_audit_values(after) if after is not None else None, now_ms=now_ms,
    )  # fmt: skip


def create_workflow(
    session: Session, actor: Actor, data: Mapping[str, Any], *, now_ms: int, max_steps: int, default_timezone: str = "UTC",
    approved_webhook: str = "", action: AuditAction = AuditAction.WORKFLOW_CREATE, audit_extra: Mapping[str, Any] | None = None,
) -> WorkflowView:
    """A new, stopped workflow (version 1)."""
    values, _definition = clean_workflow(session, actor, data, None, max_steps=max_steps, default_timezone=default_timezone, approved_webhook=approved_webhook)
    workflow = Workflow(**values, version=1, enabled=False, next_fire_at_ms=0, last_fire_at_ms=0, created_at_ms=now_ms, updated_at_ms=now_ms)
    session.add(workflow)
    session.flush()
    _audit(session, actor, action, workflow, after={**current_values(workflow), **(audit_extra or {})}, now_ms=now_ms)
    return _view(session, workflow)


def copy_workflow(session: Session, actor: Actor, workflow_id: int, *, now_ms: int, max_steps: int, name: str | None = None) -> WorkflowView:
    """A stopped copy, named "<name> (copy)" unless `name` is given."""
    source = load_workflow(session, actor, workflow_id)
    data = current_values(source)
    data["name"] = name if name is not None else (source.name + " (copy)")[:128]
    return create_workflow(
        session, actor, data, now_ms=now_ms, max_steps=max_steps, default_timezone=source.timezone, approved_webhook=source.alarm_webhook,
        action=AuditAction.WORKFLOW_CREATE, audit_extra={"copied_from_workflow_id": source.id},
    )  # fmt: skip


def update_workflow(session: Session, actor: Actor, workflow_id: int, data: Mapping[str, Any], *, now_ms: int, max_steps: int) -> WorkflowView:
    """Change the fields given in `data` (the others keep their value); version + 1."""
    workflow = load_workflow(session, actor, workflow_id, for_update=True)
    values, _definition = clean_workflow(session, actor, data, workflow, max_steps=max_steps)
    before = current_values(workflow)
    schedule_changed = any(values[k] != getattr(workflow, k) for k in ("schedule_type", "schedule_conf", "timezone"))
    for key, value in values.items():
        setattr(workflow, key, value)
    if workflow.enabled and schedule_changed:
        workflow.next_fire_at_ms = _next_fire(workflow, now_ms, _t("workflow %(id)s not saved", id=workflow.id))
    workflow.version += 1
    workflow.updated_at_ms = now_ms
    session.flush()
    was, now = audit.changes(before, current_values(workflow))
    _audit(session, actor, AuditAction.WORKFLOW_UPDATE, workflow, before={**was, "version": workflow.version - 1}, after={**now, "version": workflow.version}, now_ms=now_ms)
    return _view(session, workflow)


def delete_workflow(session: Session, actor: Actor, workflow_id: int, *, now_ms: int) -> None:
    """Delete the workflow; its instances stay as history. Refused while an instance of it runs
    or waits to run."""
    workflow = load_workflow(session, actor, workflow_id, for_update=True)
    active = list(session.scalars(
        sa.select(WorkflowInstance.id).where(WorkflowInstance.workflow_id == workflow.id, WorkflowInstance.status.in_([WorkflowStatus.RUNNING, WorkflowStatus.WAITING]))
        .order_by(WorkflowInstance.id).limit(10)
    ))  # fmt: skip
    if active:
        raise Conflict(
            _nt(
                "workflow %(id)s has an active instance (%(instances)s); cancel it or let it end first",
                "workflow %(id)s has active instances (%(instances)s); cancel them or let them end first",
                len(active), id=workflow.id, instances=", ".join(map(str, active)),
            ),
            object_id=workflow.id,
        )  # fmt: skip
    _audit(session, actor, AuditAction.WORKFLOW_DELETE, workflow, before={**current_values(workflow), "enabled": workflow.enabled, "version": workflow.version}, now_ms=now_ms)
    session.delete(workflow)
    session.flush()


def _next_fire(workflow: Workflow, now_ms: int, what: Text) -> int:
    try:
        nxt = next_fire_at_ms(workflow.schedule_type, workflow.schedule_conf, workflow.timezone, now_ms)
    except ScheduleError as exc:
        raise ServiceError(_t("%(what)s: %(problem)s", what=what, problem=exc.text), field_errors={exc.field: exc.reason}, object_id=workflow.id) from None
    if nxt is None:
        if workflow.schedule_type == ScheduleType.NONE:
            field, reason = "schedule_type", _t("schedule type NONE never fires by itself; trigger it by hand")
        else:
            field, reason = "schedule_conf", _t("its schedule never fires again")
        raise ServiceError(_t("%(what)s: %(problem)s", what=what, problem=reason), field_errors={field: reason}, object_id=workflow.id)
    return nxt


def start_workflow(session: Session, actor: Actor, workflow_id: int, *, now_ms: int) -> WorkflowView:
    workflow = load_workflow(session, actor, workflow_id, for_update=True)
    if not workflow.enabled:
        workflow.next_fire_at_ms = _next_fire(workflow, now_ms, _t("workflow %(id)s not started", id=workflow.id))
        workflow.enabled = True
        workflow.updated_at_ms = now_ms
        session.flush()
        _audit(session, actor, AuditAction.WORKFLOW_START, workflow, before={"enabled": False}, after={"enabled": True, "next_fire_at_ms": workflow.next_fire_at_ms}, now_ms=now_ms)
    return _view(session, workflow)


def stop_workflow(session: Session, actor: Actor, workflow_id: int, *, now_ms: int) -> WorkflowView:
    workflow = load_workflow(session, actor, workflow_id, for_update=True)
    if workflow.enabled or workflow.next_fire_at_ms:
        before = {"enabled": workflow.enabled, "next_fire_at_ms": workflow.next_fire_at_ms}
        workflow.enabled = False
        workflow.next_fire_at_ms = 0
        workflow.updated_at_ms = now_ms
        session.flush()
        _audit(session, actor, AuditAction.WORKFLOW_STOP, workflow, before=before, after={"enabled": False, "next_fire_at_ms": 0}, now_ms=now_ms)
    return _view(session, workflow)


# ---------------------------------------------------------------------------------------------
# What deleting a job or a group would break


def workflows_using_job(session: Session, job_id: int) -> list[str]:
    """Names of the workflows whose definition has a step running job `job_id`."""
    # The stored text is canonical ("job_id":N followed by , or }): LIKE finds the candidates,
    # the parsed definition decides.
    needle = f'%"job_id":{job_id}%'
    names = []
    for name, text in session.execute(sa.select(Workflow.name, Workflow.definition_json).where(Workflow.definition_json.like(needle)).order_by(Workflow.id)):
        if any(step.get("job_id") == job_id for step in json.loads(text).get("steps", [])):
            names.append(name)
    return names


def workflows_of_group(session: Session, group_id: int) -> list[str]:
    """Names of the workflows listed under group `group_id`, or with a step running one of its jobs."""
    names = list(session.scalars(sa.select(Workflow.name).where(Workflow.group_id == group_id).order_by(Workflow.id)))
    for job_id in session.scalars(sa.select(Job.id).where(Job.group_id == group_id)):
        names += [n for n in workflows_using_job(session, job_id) if n not in names]
    return names

