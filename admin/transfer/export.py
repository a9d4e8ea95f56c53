"""Build an export document: executor groups, their jobs and calendars, referring to each other by name.

Calendars are a top-level list `{"name", "timezone", "description", "entries"}` whose entries are
lines as the console and the API take them (`"2026-12-24..2026-12-26 office closed"`); a job
names its calendars in `"calendars"`. A whole export carries every calendar; an export of
chosen groups carries the calendars their jobs use.

Workflows (`"workflows"`, those of the exported groups) carry their fields, `group`, `enabled`
and their definition, whose steps name their job as `"job": {"group": app name, "job": name}`
(null for a job that no longer exists or that the actor may not see).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..calendar_rows import load_calendars, parse_calendar_ids
from ..models import ExecutorGroup, Job, Workflow
from ..services.actor import Actor
from ..services.errors import ServiceError
from ..services.workflow_form import WORKFLOW_FIELDS
from ..texts import _t
from .fields import EXPORT_VERSION, group_fields, job_fields


class ExportError(ServiceError, ValueError):
    """The chosen groups cannot be exported as asked (unknown group, ambiguous job name): 400."""


def _plain(value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value


def _child_ids(job: Job) -> list[int]:
    return [int(part) for part in job.child_job_ids.split(",") if part.strip().isdigit()]


def build_export(session: Session, app_names: Sequence[str] | None = None, actor: Actor | None = None) -> dict[str, Any]:
    """The document for the groups named (all groups when None), jobs sorted by group and name.

    Child jobs are referred to as {"group": app name, "job": job name}; a child outside the exported
    groups is still named, so the importer can find it in its own database or refuse it.
    With an `actor`, only what they may see: their groups, and children in their groups.
    """
    query = select(ExecutorGroup).order_by(ExecutorGroup.app_name)
    if app_names is not None:
        query = query.where(ExecutorGroup.app_name.in_(list(app_names)))
    groups = [group for group in session.scalars(query) if actor is None or actor.can_access_group(group.id)]
    missing = sorted(set(app_names or ()) - {group.app_name for group in groups})
    if missing:
        raise ExportError(
            _t("groups: no executor group with app name %(names)s", names=", ".join(missing)), field_errors={"group": _t("no such executor group")}
        )
    all_jobs = {job.id: job for job in session.scalars(select(Job)) if actor is None or actor.can_access_group(job.group_id)}
    app_by_group_id = {group.id: group.app_name for group in session.scalars(select(ExecutorGroup))}
    exported_group_ids = {group.id for group in groups}
    calendars = load_calendars(session)
    seen: set[tuple[str, str]] = set()
    jobs_out: list[dict[str, Any]] = []
    for job in sorted(all_jobs.values(), key=lambda j: (app_by_group_id[j.group_id], j.name, j.id)):
        if job.group_id not in exported_group_ids:
            continue
        key = (app_by_group_id[job.group_id], job.name)
        if key in seen:
            raise ExportError(_t("jobs: two jobs named %(name)s in group %(group)s; rename one to export them", name=repr(job.name), group=repr(key[0])))
        seen.add(key)
        entry: dict[str, Any] = {"group": key[0]}
        entry.update({field: _plain(getattr(job, field)) for field in job_fields()})
        entry["calendars"] = [calendars[cid].name for cid in parse_calendar_ids(job.calendar_ids) if cid in calendars]
        entry["children"] = [
            {"group": app_by_group_id[all_jobs[child].group_id], "job": all_jobs[child].name}
            for child in _child_ids(job)
            if child in all_jobs
        ]
        jobs_out.append(entry)
    used = {name for job in jobs_out for name in job["calendars"]}
    return {
        "shardcron_export": EXPORT_VERSION,
        "groups": [{field: _plain(getattr(group, field)) for field in group_fields()} for group in groups],
        "calendars": [
            {"name": c.name, "timezone": c.timezone, "description": c.description, "entries": [r.text() for r in c.ranges]}
            for c in sorted(calendars.values(), key=lambda c: c.name)
            if app_names is None or c.name in used
        ],
        "jobs": jobs_out,
        "workflows": _workflows(session, groups, all_jobs, app_by_group_id),
    }


def _workflows(session: Session, groups: Sequence[ExecutorGroup], jobs: dict[int, Job], app_by_group_id: dict[int, str]) -> list[dict[str, Any]]:
    """The exported groups' workflows, sorted by name, their steps' jobs named."""
    group_ids = [group.id for group in groups]
    out: list[dict[str, Any]] = []
    for workflow in session.scalars(select(Workflow).where(Workflow.group_id.in_(group_ids)).order_by(Workflow.name, Workflow.id)) if group_ids else ():
        entry: dict[str, Any] = {"group": app_by_group_id[workflow.group_id]}
        entry.update({field: _plain(getattr(workflow, field)) for field in WORKFLOW_FIELDS if field not in ("group_id", "definition")})
        entry["enabled"] = workflow.enabled
        definition = json.loads(workflow.definition_json)
        steps = []
        for step in definition.get("steps", []):
            job = jobs.get(step.get("job_id"))
            ref = {"group": app_by_group_id[job.group_id], "job": job.name} if job is not None else None
            steps.append({("job" if k == "job_id" else k): (ref if k == "job_id" else v) for k, v in step.items()})
        entry["definition"] = {**definition, "steps": steps}
        out.append(entry)
    return out
