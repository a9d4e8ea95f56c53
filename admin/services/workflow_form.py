"""Checking a workflow's fields, written once for the console and the API.

`clean_workflow` takes what a form or a JSON body gave (a partial dict for an update), merges it
over the current workflow, checks everything at once and returns the column values, or raises
one `ServiceError` whose `field_errors` name every bad field. Problems of the definition are
named by their place in it (`steps[2].job_id`, `edges[0].to`, `definition`), as
`workflows.graph.Problem` gives them. The e-mail, webhook and schedule rules are the job's
(services.job_form, schedules.schedule).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import WORKFLOW_OVERLAP_POLICIES, MisfireStrategy, OverlapPolicy, ScheduleType
from ..models import Job, Workflow
from ..schedules.schedule import ScheduleError, validate_schedule
from ..texts import _t
from ..workflows.graph import Definition, DefinitionError, parse_definition
from .actor import Actor
from .errors import FieldErrors
from .job_form import MAX_TEXT_BYTES, MAX_TIMEOUT_S, _emails, _text, _webhook, check_group
from .numbers import ID_MAX, ID_MIN, check_whole

#: A workflow fires like a job, but has no catch-up window: these misfire strategies only.
WORKFLOW_MISFIRE_STRATEGIES = (MisfireStrategy.DO_NOTHING, MisfireStrategy.FIRE_ONCE_NOW)

#: Field -> (default for a new workflow, column length or None).
WORKFLOW_FIELDS: dict[str, tuple[Any, int | None]] = {
    "group_id": (None, None),
    "name": (None, 128),
    "description": ("", 512),
    "author": ("", 64),
    "definition": (None, None),
    "schedule_type": (ScheduleType.NONE, None),
    "schedule_conf": ("", 255),
    "timezone": (None, 64),
    "misfire_strategy": (MisfireStrategy.DO_NOTHING, None),
    "overlap_policy": (OverlapPolicy.ALLOW_ALL, None),
    "timeout_s": (0, None),
    "alarm_emails": ("", 512),
    "alarm_webhook": ("", 512),
}


def current_values(workflow: Workflow) -> dict[str, Any]:
    """The workflow's fields as a form or body gives them (the definition as its object)."""
    values = {name: getattr(workflow, name) for name in WORKFLOW_FIELDS if name != "definition"}
    values["definition"] = json.loads(workflow.definition_json)
    return values


#: What MySQL/MariaDB's text column types hold, in bytes.
_MYSQL_TEXT_BYTES = {"TEXT": 65_535, "MEDIUMTEXT": 16_777_215, "LONGTEXT": 4_294_967_295}


def stored_definition_limit(session: Session) -> int:
    """The most bytes a definition may take stored: on MySQL/MariaDB what the column type of
    sc_workflow.definition_json holds there (read from the model, so a wider type raises it);
    SQLite's and PostgreSQL's TEXT holds far more than workflow_max_steps steps take, so there
    the bound (16 MiB) is only a guard."""
    dialect = session.get_bind().dialect
    if dialect.name != "mysql":
        return 16 * 1024 * 1024
    column_type = Workflow.__table__.c.definition_json.type.compile(dialect=dialect).split("(")[0].split()[0].upper()
    return _MYSQL_TEXT_BYTES.get(column_type, MAX_TEXT_BYTES)


def check_definition(session: Session, actor: Actor, errors: FieldErrors, raw: Any, *, max_steps: int) -> Definition | None:
    """The definition checked as a whole (graph.parse_definition) and its steps' jobs: a job
    that does not exist, or that belongs to a group the actor may not see (said without its
    name), is named at its step's `job_id`. Problems go to `errors`; None when there are any."""
    definition: Definition | None = None
    try:
        definition = parse_definition(raw, max_steps=max_steps)
    except DefinitionError as exc:
        for problem in exc.problems:
            errors.add(problem.where, problem.message)
    steps = raw.get("steps") if isinstance(raw, Mapping) else None
    if isinstance(steps, list) and len(steps) <= max_steps:
        wanted = {
            i: step["job_id"] for i, step in enumerate(steps)
            if isinstance(step, Mapping) and isinstance(step.get("job_id"), int) and not isinstance(step.get("job_id"), bool) and step["job_id"] > 0
        }  # fmt: skip
        # an id beyond the id columns' range names no job (and must not reach the query)
        in_range = {job_id for job_id in wanted.values() if ID_MIN <= job_id <= ID_MAX}
        groups = dict(session.execute(sa.select(Job.id, Job.group_id).where(Job.id.in_(in_range))).all()) if in_range else {}
        for i, job_id in wanted.items():
            if job_id not in groups:
                errors.add(f"steps[{i}].job_id", _t("no job %(id)s", id=job_id))
            elif not actor.can_access_group(groups[job_id]):
                errors.add(f"steps[{i}].job_id", _t("job %(id)s belongs to an executor group you may not see", id=job_id))
    limit = stored_definition_limit(session)
    if definition is not None and len(definition.to_json().encode("utf-8")) > limit:
        errors.add("definition", _t("takes %(size)s bytes stored; at most %(limit)s fit", size=len(definition.to_json().encode("utf-8")), limit=limit))
    return None if errors else definition


def _enum(errors: FieldErrors, name: str, value: Any, allowed: tuple[Any, ...]) -> Any:
    for member in allowed:
        if value == member.value:
            return member
    errors.add(name, _t("%(value)s is not one of %(allowed)s", value=repr(value), allowed=", ".join(m.value for m in allowed)))
    return None


def _schedule(errors: FieldErrors, out: dict[str, Any], merged: Mapping[str, Any]) -> None:
    out["schedule_type"] = _enum(errors, "schedule_type", merged["schedule_type"], tuple(ScheduleType))
    conf = _text(errors, "schedule_conf", merged["schedule_conf"], max_chars=255)
    out["schedule_conf"] = conf.strip() if isinstance(conf, str) else conf
    zone = _text(errors, "timezone", merged["timezone"], max_chars=64, required=True)
    out["timezone"] = zone.strip() if isinstance(zone, str) else zone
    if "schedule_type" in errors or "schedule_conf" in errors:
        return
    # A bad zone must not hide a bad expression: the expression is then checked in UTC.
    for candidate in [out["timezone"], "UTC"] if "timezone" not in errors else ["UTC"]:
        try:
            validate_schedule(out["schedule_type"], out["schedule_conf"], candidate)
            break
        except ScheduleError as exc:
            errors.add(exc.field, exc.reason)
            if exc.field != "timezone":
                break


def clean_workflow(
    session: Session,
    actor: Actor,
    data: Mapping[str, Any],
    current: Workflow | None,
    *,
    max_steps: int,
    default_timezone: str = "UTC",
    approved_webhook: str = "",
) -> tuple[dict[str, Any], Definition | None]:
    """The column values for a new workflow (`current` None) or an update, and its definition.

    As for jobs, only an ADMIN may point the alarm webhook somewhere new (the admin calls it);
    a USER may keep the current one (or `approved_webhook`, that of a workflow being copied)."""
    errors = FieldErrors()
    for unknown in sorted(set(data) - set(WORKFLOW_FIELDS)):
        errors.add(unknown, _t("unknown field"))
    merged = current_values(current) if current is not None else {k: d for k, (d, _) in WORKFLOW_FIELDS.items()}
    merged.update({k: v for k, v in data.items() if k in WORKFLOW_FIELDS})
    if current is None and not merged["timezone"]:
        merged["timezone"] = default_timezone
    out: dict[str, Any] = {}

    out["group_id"] = check_group(errors, session, actor, merged["group_id"])

    name = _text(errors, "name", merged["name"], max_chars=128, required=True)
    out["name"] = name.strip() if name else name
    if out["name"] and "name" not in errors:
        clash = sa.select(Workflow.id).where(Workflow.name == out["name"])
        if current is not None:
            clash = clash.where(Workflow.id != current.id)
        if session.scalar(clash) is not None:
            errors.add("name", _t("another workflow is named %(name)s", name=repr(out["name"])))
    for field in ("description", "author"):
        value = _text(errors, field, merged[field], max_chars=WORKFLOW_FIELDS[field][1])
        out[field] = value.strip() if isinstance(value, str) else value

    if merged["definition"] is None:
        errors.add("definition", _t("is required"))
        definition = None
    else:
        definition = check_definition(session, actor, errors, merged["definition"], max_steps=max_steps)
    out["definition_json"] = definition.to_json() if definition is not None else None

    _schedule(errors, out, merged)
    out["misfire_strategy"] = _enum(errors, "misfire_strategy", merged["misfire_strategy"], WORKFLOW_MISFIRE_STRATEGIES)
    out["overlap_policy"] = _enum(errors, "overlap_policy", merged["overlap_policy"], WORKFLOW_OVERLAP_POLICIES)
    out["timeout_s"] = check_whole(errors, "timeout_s", merged["timeout_s"], 0, MAX_TIMEOUT_S)

    out["alarm_emails"] = ",".join(_emails(errors, merged["alarm_emails"]))
    out["alarm_webhook"] = _webhook(errors, merged["alarm_webhook"])
    allowed = {"", approved_webhook, current.alarm_webhook if current is not None else ""}
    if not actor.is_admin and "alarm_webhook" not in errors and out["alarm_webhook"] not in allowed:
        errors.add("alarm_webhook", _t("only an admin may set a webhook URL (the admin calls it); ask one, or use alarm e-mails"))

    errors.raise_if_any(_t("workflow not saved") if current is None else _t("workflow %(id)s not saved", id=current.id), object_id=current.id if current else None)
    return out, definition
