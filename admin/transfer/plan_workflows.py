"""The `workflows` section of an import: workflows matched by name (unique in an admin).

An entry is the workflow's fields, `group` (the app name of its executor group), `enabled`, and
`definition` as docs/workflows.md has it except that each step names its job the way a child job
is named, `"job": {"group": APP NAME, "job": JOB NAME}`, instead of by id. A step's job must be a
job of the document or of the database that the actor may see; ids are given at apply time.

Each workflow to be created or updated goes through the workflow form's checks
(services.workflow_form.clean_workflow) with the actor's rights, so every problem of the
definition (graph.parse_definition: cycles, unknown steps, bad templates...) and of the fields is
reported with its place under `workflows[N]`; a step's job that the import itself creates, or a
group it creates, has no id yet: those placeholders' complaints are left out.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import ExecutorGroup, Job, Workflow
from ..schedules.schedule import ScheduleError, next_fire_at_ms
from ..services.actor import Actor
from ..services.errors import ServiceError
from ..services.numbers import ID_MAX
from ..services.workflow_form import WORKFLOW_FIELDS, clean_workflow
from ..texts import Text, _t
from .plan import Action, ImportPlan, OnConflict, WorkflowStep
from .named_entries import named_entries

#: Keys of a workflow entry besides its fields.
REFERENCE_KEYS = ("group", "enabled")
JOB_REF_KEYS = ("group", "job")
#: Stands for an id the import has not given yet (a new group or job) while the form checks.
PLACEHOLDER_ID = ID_MAX
_STEP_JOB = re.compile(r"^steps\[(\d+)\]\.job_id$")


def job_ref(value: Any) -> tuple[str, str] | None:
    """(group app name, job name) of a step's `job`, or None when it is not such an object."""
    if not isinstance(value, dict) or set(value) - set(JOB_REF_KEYS):
        return None
    group, job = value.get("group"), value.get("job")
    if not isinstance(group, str) or not isinstance(job, str) or not group or not job:
        return None
    return group, job


def visible_job_ids(session: Session, actor: Actor) -> dict[tuple[str, str], int]:
    """(group app name, job name) -> id of every job the actor may see."""
    rows = session.execute(sa.select(ExecutorGroup.app_name, Job.name, Job.id, Job.group_id).join(ExecutorGroup, ExecutorGroup.id == Job.group_id).order_by(Job.id))
    return {(app, name): job_id for app, name, job_id, group_id in rows if actor.can_access_group(group_id)}


def visible_group_id(session: Session, app_name: str) -> int | None:
    return session.scalar(sa.select(ExecutorGroup.id).where(ExecutorGroup.app_name == app_name))


def _group_id(plan: ImportPlan, session: Session, actor: Actor, place: str, app_name: Any) -> tuple[bool, int | None]:
    """(known, id): whether the group is in the document or the database, and its id if it has one."""
    if not isinstance(app_name, str) or not app_name:
        plan.problem(f"{place}.group", _t("is required: the app name of the workflow's executor group") if app_name in (None, "") else _t("must be text"))
        return False, None
    in_file = next((step for step in plan.groups if step.app_name == app_name), None)
    if in_file is not None:
        return True, in_file.existing_id
    group_id = visible_group_id(session, app_name)
    if group_id is None or not actor.can_access_group(group_id):
        if app_name not in plan.refused_groups:
            plan.problem(f"{place}.group", _t("no executor group %(name)s in the document or the database", name=repr(app_name)))
        return False, None
    return True, group_id


def _definition_with_ids(plan: ImportPlan, place: str, raw: Any, existing: Mapping[tuple[str, str], int], in_file: set[tuple[str, str]]) -> tuple[Any, set[int]]:
    """The definition with `job_id`s for the form's checks, and the steps whose id is a
    placeholder (a job the import creates, or one already reported here)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), list):
        return raw, set()
    out = copy.deepcopy(raw)
    placeholders: set[int] = set()
    for number, step in enumerate(out["steps"]):
        if not isinstance(step, dict):
            continue
        where = f"{place}.definition.steps[{number}]"
        if "job_id" in step:
            plan.problem(f"{where}.job_id", _t("unknown field: a step names its job as job: {group, job}"))
            placeholders.add(number)
        ref = job_ref(step.pop("job", None))
        step.pop("job_id", None)
        if ref is None:
            if number not in placeholders:
                plan.problem(f"{where}.job", _t("needs group (an app name) and job (a job name), both text"))
            placeholders.add(number)
        elif ref in existing and ref not in in_file:
            step["job_id"] = existing[ref]
            continue
        elif ref in in_file:
            placeholders.add(number)
        else:
            plan.problem(f"{where}.job", _t("no job %(name)s of group %(group)s in the document or the database", name=repr(ref[1]), group=repr(ref[0])))
            placeholders.add(number)
        step["job_id"] = PLACEHOLDER_ID
    return out, placeholders


def _place(place: str, field: str) -> str:
    """The document's place of a form's field error."""
    if field == "group_id":
        return f"{place}.group"
    step = _STEP_JOB.match(field)
    if step is not None:
        return f"{place}.definition.steps[{step.group(1)}].job"
    if field.startswith(("steps", "edges")):
        return f"{place}.definition.{field}"
    return f"{place}.{field}"


def _clean(
    plan: ImportPlan, session: Session, actor: Actor, place: str, data: dict[str, Any], current: Workflow | None, placeholders: set[int], *,
    group_known: bool, max_steps: int, default_timezone: str,
) -> bool:
    """Whether the workflow passes the form's checks; its problems are reported under `place`."""
    try:
        clean_workflow(session, actor, data, current, max_steps=max_steps, default_timezone=default_timezone)
    except ServiceError as exc:
        left_out = {f"steps[{number}].job_id" for number in placeholders}
        if data.get("group_id") == PLACEHOLDER_ID or not group_known:
            left_out.add("group_id")
        fields = {k: v for k, v in exc.field_errors.items() if k not in left_out}
        for field, message in fields.items():
            plan.problem(_place(place, field), message)
        if not exc.field_errors:
            plan.problem(place, exc.message)
            return False
        return not fields
    return True


def _also_at(name: str, index: int) -> Text:
    return _t("workflow %(name)s is also at workflows[%(index)s]", name=name, index=index)


def plan_workflows(plan: ImportPlan, session: Session, actor: Actor, entries: list[Any], *, now_ms: int, default_timezone: str, max_steps: int) -> None:
    """One step per entry of `workflows`, or the problems that refuse it."""
    allowed = (set(WORKFLOW_FIELDS) - {"group_id"}) | set(REFERENCE_KEYS)
    existing_jobs = visible_job_ids(session, actor)
    in_file = {step.key for step in plan.jobs if step.action is Action.CREATE}
    for named in named_entries(plan, "workflows", entries, allowed, also_at=_also_at):
        index, place, entry, name = named.index, named.place, named.entry, named.name
        enabled = entry.get("enabled", False)
        if not isinstance(enabled, bool):
            plan.problem(f"{place}.enabled", _t("must be true or false"))
        group_known, group_id = _group_id(plan, session, actor, place, entry.get("group"))
        current = session.scalar(sa.select(Workflow).where(Workflow.name == name))
        if current is not None and not actor.can_access_group(current.group_id):
            plan.problem(f"{place}.name", _t("another workflow is named %(name)s", name=repr(name)))
            continue
        if current is not None and plan.options.on_conflict is OnConflict.FAIL:
            plan.problem(f"{place}.name", _t("workflow %(name)s exists already (on_conflict is fail)", name=repr(name)))
            continue
        action = Action.CREATE if current is None else Action.UPDATE if plan.options.on_conflict is OnConflict.UPDATE else Action.SKIP
        values = {k: v for k, v in entry.items() if k in WORKFLOW_FIELDS and k != "definition"}
        values["name"] = name
        raw_definition = entry.get("definition")
        step = WorkflowStep(index, str(entry.get("group")), name, values, raw_definition if isinstance(raw_definition, dict) else {}, action, existing_id=current.id if current else None)
        if action is not Action.SKIP:
            definition, placeholders = _definition_with_ids(plan, place, raw_definition, existing_jobs, in_file)
            data = {**values, "group_id": group_id if group_id is not None else PLACEHOLDER_ID, "definition": definition}
            passed = _clean(plan, session, actor, place, data, current if action is Action.UPDATE else None, placeholders,
                            group_known=group_known, max_steps=max_steps, default_timezone=default_timezone)  # fmt: skip
            step.ends_enabled = enabled is True if plan.options.keep_state else bool(current is not None and current.enabled)
            if passed and step.ends_enabled:
                _check_enabled(plan, place, {**({} if current is None else {k: getattr(current, k) for k in ("schedule_type", "schedule_conf", "timezone")}), **values}, now_ms, default_timezone)
        plan.workflows.append(step)


def _check_enabled(plan: ImportPlan, place: str, values: Mapping[str, Any], now_ms: int, default_timezone: str) -> None:
    """An enabled workflow must have a next fire time (as services.workflows.start_workflow requires)."""
    try:
        nxt = next_fire_at_ms(
            str(values.get("schedule_type", "NONE")), str(values.get("schedule_conf", "")).strip(), str(values.get("timezone") or default_timezone).strip(), now_ms
        )
    except ScheduleError as exc:
        plan.problem(f"{place}.{exc.field}", exc.reason)
        return
    if nxt is None:
        plan.problem(f"{place}.enabled", _t("the workflow cannot be enabled: its schedule never fires by itself"))
