"""The editor's preview of a workflow being edited: its problems, its graph laid out, the names
of its steps' jobs and its next fire times. Nothing is written.

The graph is laid out from what was typed even while the definition has problems (a step
without a valid key is left out, an edge to an unknown step dropped, a cycle drawn against the
flow), so the drawing follows the form as the user edits it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import ScheduleType
from ..models import Job
from ..schedules.schedule import ScheduleError, preview_fire_times
from ..texts import Text, _t
from ..workflows.graph import KEY_PATTERN
from ..workflows.layout import Layout, layout_graph
from .actor import Actor
from .errors import FieldErrors, ServiceError
from .numbers import ID_MAX, ID_MIN
from .workflow_form import check_definition

PREVIEW_FIELDS = frozenset({"definition", "schedule_type", "schedule_conf", "timezone"})
PREVIEW_COUNT = 5


@dataclass(frozen=True)
class WorkflowPreview:
    #: Field -> what is wrong (`steps[1].job_id`, `edges[0].to`, `schedule_conf`, ...); empty: it would save.
    problems: dict[str, Text]
    layout: Layout
    #: Step key -> the name of its job (steps whose job the caller may see).
    job_names: dict[str, str]
    #: The next planned times (UTC epoch ms); empty for schedule NONE or a bad schedule.
    fire_times_ms: list[int]


def _raw_graph(definition: Any) -> tuple[list[str], list[tuple[str, str, str]], dict[str, int]]:
    steps = definition.get("steps") if isinstance(definition, Mapping) else None
    edges = definition.get("edges") if isinstance(definition, Mapping) else None
    keys: list[str] = []
    jobs: dict[str, int] = {}
    for step in steps if isinstance(steps, list) else []:
        if isinstance(step, Mapping) and isinstance(step.get("key"), str) and KEY_PATTERN.match(step["key"]):
            keys.append(step["key"])
            job_id = step.get("job_id")
            if isinstance(job_id, int) and not isinstance(job_id, bool) and ID_MIN <= job_id <= ID_MAX:
                jobs.setdefault(step["key"], job_id)
    links: list[tuple[str, str, str]] = [
        (str(edge["from"]), str(edge["to"]), str(edge.get("on")) if isinstance(edge.get("on"), str) else "SUCCESS")
        for edge in (edges if isinstance(edges, list) else [])
        if isinstance(edge, Mapping) and isinstance(edge.get("from"), str) and isinstance(edge.get("to"), str)
    ]
    return keys, links, jobs


def preview_workflow(session: Session, actor: Actor, data: Mapping[str, Any], *, now_ms: int, max_steps: int, count: int = PREVIEW_COUNT) -> WorkflowPreview:
    """The preview of `data` (definition, and optionally schedule_type, schedule_conf, timezone).
    A body that is not an object, or has other fields, is a ServiceError (400) naming them."""
    if not isinstance(data, Mapping):
        raise ServiceError(_t("no preview"), field_errors={"definition": _t("is required")})
    unknown = sorted(set(data) - PREVIEW_FIELDS)
    if unknown:
        raise ServiceError(_t("no preview"), field_errors={name: _t("unknown field") for name in unknown})
    definition = data.get("definition")
    if definition is None:
        raise ServiceError(_t("no preview"), field_errors={"definition": _t("is required")})
    errors = FieldErrors()
    check_definition(session, actor, errors, definition, max_steps=max_steps)
    keys, links, jobs = _raw_graph(definition)
    if len(keys) > max_steps:  # drawing more than may be saved would only cost time
        keys, links = [], []
    names: dict[int, str] = {}
    if jobs:
        rows = session.execute(sa.select(Job.id, Job.name, Job.group_id).where(Job.id.in_(set(jobs.values()))))
        names = {job_id: name for job_id, name, group_id in rows if actor.can_access_group(group_id)}
    times: list[int] = []
    schedule_type = data.get("schedule_type", ScheduleType.NONE.value)
    conf, zone = data.get("schedule_conf", ""), data.get("timezone", "UTC")
    if not all(isinstance(v, str) for v in (schedule_type, conf, zone)):
        for name, value in (("schedule_type", schedule_type), ("schedule_conf", conf), ("timezone", zone)):
            if not isinstance(value, str):
                errors.add(name, _t("must be text"))
    else:
        try:
            times = preview_fire_times(schedule_type, conf, zone, now_ms, count)
        except ScheduleError as exc:
            errors.add(exc.field, exc.reason)
    return WorkflowPreview(dict(errors.errors), layout_graph(keys, links), {key: names[job] for key, job in jobs.items() if job in names}, times)
