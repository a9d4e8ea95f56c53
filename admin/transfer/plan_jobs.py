"""The `jobs` section of an import: jobs matched by (group app name, job name).

Each job to be created or updated goes through the same checks as the job form and the API
(services.job_form.clean_job), with the actor's rights; its child references are resolved and
checked for cycles afterwards (plan_children), once every job of the document is known. Its
calendars are named: each must be in the document's `calendars` or the database, and together,
as the import leaves them, they must keep the job a planned time (plan_calendars).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import ExecutorGroup, Job
from ..schedules.schedule import ScheduleError, next_fire_at_ms
from ..services.actor import Actor
from ..services.errors import ServiceError
from ..services.job_form import JOB_FIELDS, MAX_CHILD_JOBS, clean_job, current_values
from ..texts import _t
from .fields import job_fields
from .plan import Action, ImportPlan, JobStep, OnConflict
from .plan_calendars import calendar_names, check_keeps_a_time, job_exclusions
from .plan_groups import unknown_fields

#: Keys of a job entry besides its columns: the group's app name, the child references and the
#: calendars' names.
REFERENCE_KEYS = ("group", "children", "calendars")
CHILD_KEYS = ("group", "job")


def _children(plan: ImportPlan, place: str, value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        plan.problem(f"{place}.children", _t("must be a list of {group, job} objects"))
        return []
    if len(value) > MAX_CHILD_JOBS:
        plan.problem(f"{place}.children", _t("at most %(max)s child jobs", max=MAX_CHILD_JOBS))
    out: list[tuple[str, str]] = []
    for number, child in enumerate(value):
        where = f"{place}.children[{number}]"
        if not isinstance(child, dict):
            plan.problem(where, _t("must be an object with group and job"))
            continue
        unknown_fields(plan, where, child, CHILD_KEYS)
        group, job = child.get("group"), child.get("job")
        if not isinstance(group, str) or not isinstance(job, str) or not group or not job:
            plan.problem(where, _t("needs group (an app name) and job (a job name), both text"))
            continue
        if (group, job) not in out:
            out.append((group, job))
    return out


def _existing_jobs(session: Session, group_id: int, name: str) -> list[Job]:
    return list(session.scalars(sa.select(Job).where(Job.group_id == group_id, Job.name == name).order_by(Job.id)))


def _clean(plan: ImportPlan, session: Session, actor: Actor, place: str, step: JobStep, current: Job | None, default_timezone: str) -> bool:
    """Whether the job passes the job form's checks; its problems are reported under `place`.
    A job of a group the import creates has no group id yet: that one complaint is left out."""
    data: dict[str, Any] = {**step.values, "group_id": step.group_id, "child_job_ids": ""}
    try:
        clean_job(session, actor, data, current, default_timezone=default_timezone)
    except ServiceError as exc:
        fields = {k: v for k, v in exc.field_errors.items() if not (k == "group_id" and step.group_id is None)}
        for name, message in fields.items():
            plan.problem(f"{place}.{name}", message)
        if not exc.field_errors:  # a refusal of the whole job (no right to write scripts in its group)
            plan.problem(place, exc.message)
            return False
        return not fields
    return True


def _check_enabled(plan: ImportPlan, place: str, values: Mapping[str, Any], now_ms: int) -> None:
    """An enabled job must have a next fire time (as services.jobs.start_job requires); `values`
    passed the job form's checks, with the defaults of the fields it leaves out."""
    try:
        nxt = next_fire_at_ms(str(values["schedule_type"]), str(values["schedule_conf"]).strip(), str(values["timezone"]).strip(), now_ms)
    except ScheduleError as exc:
        plan.problem(f"{place}.{exc.field}", exc.reason)
        return
    if nxt is None:
        plan.problem(f"{place}.enabled", _t("the job cannot be enabled: its schedule never fires by itself"))


def plan_jobs(plan: ImportPlan, session: Session, actor: Actor, entries: list[Any], *, now_ms: int, default_timezone: str) -> None:
    """One step per entry of `jobs`, or the problems that refuse it."""
    allowed = set(job_fields()) | set(REFERENCE_KEYS)
    groups_in_file = {step.app_name: step for step in plan.groups}
    seen: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(entries):
        place = f"jobs[{index}]"
        if not isinstance(entry, dict):
            plan.problem(place, _t("must be an object"))
            continue
        unknown_fields(plan, place, entry, allowed)
        app_name, name = entry.get("group"), entry.get("name")
        if not isinstance(app_name, str) or not app_name:
            plan.problem(f"{place}.group", _t("is required: the app name of the job's executor group") if app_name in (None, "") else _t("must be text"))
            continue
        if not isinstance(name, str) or not name.strip():
            plan.problem(f"{place}.name", _t("is required") if name is None or isinstance(name, str) else _t("must be text"))
            continue
        name = name.strip()
        if (app_name, name) in seen:
            plan.problem(f"{place}.name", _t("job %(name)s of group %(group)s is also at jobs[%(index)s]", name=repr(name), group=repr(app_name), index=seen[(app_name, name)]))
            continue
        seen[(app_name, name)] = index
        enabled = entry.get("enabled", False)
        if not isinstance(enabled, bool):
            plan.problem(f"{place}.enabled", _t("must be true or false"))
        children = _children(plan, place, entry.get("children"))
        calendars = calendar_names(plan, place, entry.get("calendars"))
        group_step = groups_in_file.get(app_name)
        group_id = group_step.existing_id if group_step is not None else None
        if group_step is None:
            group_id = session.scalar(sa.select(ExecutorGroup.id).where(ExecutorGroup.app_name == app_name))
            if group_id is not None and not actor.can_access_group(group_id):
                group_id = None
            if group_id is None and app_name not in plan.refused_groups:
                plan.problem(f"{place}.group", _t("no executor group %(name)s in the document or the database", name=repr(app_name)))
                continue
        existing = _existing_jobs(session, group_id, name) if group_id is not None else []
        if len(existing) > 1:
            plan.problem(f"{place}.name", _t("the database has %(count)s jobs named %(name)s in group %(group)s; rename all but one", count=len(existing), name=repr(name), group=repr(app_name)))
            continue
        current = existing[0] if existing else None
        if current is not None and plan.options.on_conflict is OnConflict.FAIL:
            plan.problem(f"{place}.name", _t("job %(name)s of group %(group)s exists already (on_conflict is fail)", name=repr(name), group=repr(app_name)))
            continue
        action = Action.CREATE if current is None else Action.UPDATE if plan.options.on_conflict is OnConflict.UPDATE else Action.SKIP
        values = {k: v for k, v in entry.items() if k in JOB_FIELDS}
        values["name"] = name
        step = JobStep(
            index, app_name, name, values, enabled is True, children, action, calendars, existing_id=current.id if current else None, group_id=group_id
        )
        if action is not Action.SKIP:
            passed = _clean(plan, session, actor, place, step, current if action is Action.UPDATE else None, default_timezone)
            step.ends_enabled = step.enabled if plan.options.keep_state else bool(current is not None and current.enabled)
            excluded = job_exclusions(plan, session, place, calendars) if calendars else None
            base = current_values(current) if current is not None else {k: default for k, (default, _) in JOB_FIELDS.items()}
            merged = {**base, **values}
            merged["timezone"] = merged["timezone"] or default_timezone
            if passed and excluded is not None:
                check_keeps_a_time(plan, place, merged, excluded, now_ms)
            if passed and step.ends_enabled:
                _check_enabled(plan, place, merged, now_ms)
        plan.jobs.append(step)
