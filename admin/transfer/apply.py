"""Carrying out an import plan in the caller's transaction, through the services, so every group,
calendar, job and workflow written is checked and audited as if the actor had saved it by hand."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..services import calendars, groups, jobs, workflows
from ..services.actor import Actor
from .plan import Action, ImportPlan
from .plan_children import Node, creation_order
from .plan_workflows import job_ref, visible_group_id, visible_job_ids

#: The remark of an imported script's first kept version.
IMPORT_REMARK = "imported"


def apply_groups(plan: ImportPlan, session: Session, actor: Actor, *, now_ms: int) -> None:
    for step in plan.groups:
        if step.action is Action.CREATE:
            step.new_id = groups.create_group(session, actor, step.values, now_ms=now_ms).id
        elif step.action is Action.UPDATE and not step.unchanged:
            assert step.existing_id is not None
            groups.update_group(session, actor, step.existing_id, step.values, now_ms=now_ms)


def apply_calendars(plan: ImportPlan, session: Session, actor: Actor, *, now_ms: int, default_timezone: str, max_entries: int) -> None:
    for step in plan.calendars:
        if step.action is Action.CREATE:
            step.new_id = calendars.create_calendar(session, actor, step.values, now_ms=now_ms, default_timezone=default_timezone, max_entries=max_entries).id
        elif step.action is Action.UPDATE and not step.unchanged:
            assert step.existing_id is not None
            calendars.update_calendar(session, actor, step.existing_id, step.values, now_ms=now_ms, max_entries=max_entries)


def apply_jobs(plan: ImportPlan, session: Session, actor: Actor, resolved: dict[int, list[Node]], *, now_ms: int, default_timezone: str) -> None:
    """Jobs in an order where each job's children are saved before it; then their states."""
    group_ids = {step.app_name: step.target_id for step in plan.groups}
    new_ids: dict[Node, int] = {}
    for step in creation_order(plan, resolved):
        group_id = step.group_id if step.group_id is not None else group_ids[step.app_name]
        children = [node if isinstance(node, int) else new_ids[node] for node in resolved.get(step.index, [])]
        data = {**step.values, "group_id": group_id, "child_job_ids": children, "glue_remark": IMPORT_REMARK}
        if step.calendars is not None:
            data["calendars"] = step.calendars
        if step.action is Action.CREATE:
            step.new_id = jobs.create_job(session, actor, data, now_ms=now_ms, default_timezone=default_timezone).id
            new_ids[("new", step.index)] = step.new_id
        else:
            assert step.existing_id is not None
            jobs.update_job(session, actor, step.existing_id, data, now_ms=now_ms)
    for step in plan.jobs:
        if step.action is Action.SKIP or step.target_id is None:
            continue
        if step.ends_enabled:
            jobs.start_job(session, actor, step.target_id, now_ms=now_ms)
        elif step.action is Action.UPDATE and plan.options.keep_state:
            jobs.stop_job(session, actor, step.target_id, now_ms=now_ms)


def apply_workflows(plan: ImportPlan, session: Session, actor: Actor, *, now_ms: int, default_timezone: str, max_steps: int) -> None:
    """Workflows after the jobs: each step's (group, job) is now a job id; then their states."""
    group_ids = {step.app_name: step.target_id for step in plan.groups}
    job_ids = visible_job_ids(session, actor)
    for step in plan.workflows:
        if step.action is Action.SKIP:
            continue
        definition = {**step.definition, "steps": []}
        for entry in step.definition.get("steps", []):
            ref = job_ref(entry.get("job"))
            assert ref is not None  # the plan refused any other
            definition["steps"].append({("job_id" if k == "job" else k): (job_ids[ref] if k == "job" else v) for k, v in entry.items()})
        group_id = group_ids.get(step.app_name) or visible_group_id(session, step.app_name)
        data = {**step.values, "group_id": group_id, "definition": definition}
        if step.action is Action.CREATE:
            step.new_id = workflows.create_workflow(session, actor, data, now_ms=now_ms, max_steps=max_steps, default_timezone=default_timezone).id
        else:
            assert step.existing_id is not None
            workflows.update_workflow(session, actor, step.existing_id, data, now_ms=now_ms, max_steps=max_steps)
        if step.ends_enabled:
            workflows.start_workflow(session, actor, step.target_id, now_ms=now_ms)  # type: ignore[arg-type]
        elif step.action is Action.UPDATE and plan.options.keep_state:
            workflows.stop_workflow(session, actor, step.target_id, now_ms=now_ms)  # type: ignore[arg-type]
