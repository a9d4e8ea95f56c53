"""Starting ready steps: their parameter and `upstream` data, then one WORKFLOW fire each.

A step's fire: `trigger_type=WORKFLOW`, `origin_ref` and `step_run_id` = the step run's id (so
`uq_fire_once` writes it once, whoever advances the instance), `param` = the step's parameter with
its templates filled in (NULL: the job's own), `fire_at_ms` = now, or the planned time for the
root steps of a scheduled instance. The step becomes FIRED. A step that cannot start fails at
once: its job no longer exists, a template cannot be filled in, or the `upstream` data it would
be sent is over `workflow_upstream_max_bytes`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import FireStatus, StepStatus, TriggerType
from ..models import Fire, Job, WorkflowInstance, WorkflowStepRun
from ..upserts import insert_ignoring_duplicates, insert_ignoring_duplicates_returning
from .graph import Definition, TemplateError, render_param
from .step_results import job_gone
from .step_rows import StepRow, end_move, move_steps, results_of

#: The default of config `workflow_upstream_max_bytes`.
UPSTREAM_MAX_BYTES = 262_144
#: What a fire's (and a run's) parameter holds: a job's parameter's bound (services.job_form).
PARAM_MAX_BYTES = 65_535
#: Instances started by people or scripts: their root steps fire now, not at a planned time.
_BY_HAND = (TriggerType.MANUAL, TriggerType.API)

# Built once (a statement built per call cost more CPU than the database's work for it:
# docs/benchmarks.md, "Workflows"); lists of ids are expanding parameters (one instance's steps).
_JOB, _FIRE, _STEP = Job.__table__.c, Fire.__table__.c, WorkflowStepRun.__table__.c
_EXISTING_JOBS = sa.select(_JOB.id).where(_JOB.id.in_(sa.bindparam("ids", expanding=True)))
_STEP_FIRES = sa.select(_FIRE.step_run_id, _FIRE.id).where(
    _FIRE.job_id.in_(sa.bindparam("jobs", expanding=True)), _FIRE.fire_at_ms.in_(sa.bindparam("times", expanding=True)),
    _FIRE.trigger_type == TriggerType.WORKFLOW.value, _FIRE.origin_ref.in_(sa.bindparam("steps", expanding=True)),
)
_FIRE_OF_STEP = (_FIRE.step_run_id, _FIRE.id)
_FIRED = (
    sa.update(WorkflowStepRun.__table__)
    .where(_STEP.id == sa.bindparam("b_id"), _STEP.status == StepStatus.WAITING.value)
    .values(status=StepStatus.FIRED.value, fire_id=sa.bindparam("b_fire"), param=sa.bindparam("b_param"),
            upstream_json=sa.bindparam("b_upstream"), started_at_ms=sa.bindparam("b_now"))
)


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def upstream_of(definition: Definition, key: str, rows: Mapping[str, StepRow], results: Mapping[int, str]) -> dict[str, Any]:
    """{predecessor key: its result data} of the steps with an edge into `key` that left data."""
    out: dict[str, Any] = {}
    for pred in definition.predecessors(key):
        row = rows.get(pred)
        text = results.get(row.id) if row is not None else None
        if text is not None:
            out[pred] = json.loads(text)
    return out


def _write_fires(session: Session, fires: list[dict]) -> dict[int, int]:
    """Write the steps' fires (a fire written already, by whoever advanced the instance first,
    is kept); step run id -> its fire's id. Read back in the INSERT's own round trip where the
    database can (a step's successor starts within the callback that brought the result: one
    round trip fewer there), and by their unique key for what that did not return."""
    returned = insert_ignoring_duplicates_returning(session, Fire.__table__, fires, _FIRE_OF_STEP)
    if returned is None:
        insert_ignoring_duplicates(session, Fire.__table__, fires)
        returned = []
    fire_ids: dict[int, int] = {step_id: fire_id for step_id, fire_id in returned}
    missing = [fire for fire in fires if fire["step_run_id"] not in fire_ids]
    if missing:
        fire_ids.update(session.connection().execute(_STEP_FIRES, {
            "jobs": sorted({f["job_id"] for f in missing}), "times": sorted({f["fire_at_ms"] for f in missing}),
            "steps": [f["step_run_id"] for f in missing],
        }).all())
    return fire_ids


def start_steps(
    session: Session, instance: WorkflowInstance, definition: Definition, rows: dict[str, StepRow], ready: list[str], now_ms: int,
    *, upstream_max_bytes: int, forced: frozenset[str] = frozenset(), known_results: Mapping[int, str | None] | None = None,
) -> None:
    """Fire the WAITING steps `ready` (their rows in `rows` are updated to what they became).
    `known_results`: step run id -> result data, of steps that ended in this transaction (the
    others' are read)."""
    if not ready:
        return
    preds = {rows[p].id for key in ready for p in definition.predecessors(key) if p in rows}
    known = known_results or {}
    results: dict[int, str] = {step_id: text for step_id in preds if (text := known.get(step_id)) is not None}
    results.update(results_of(session, preds - known.keys()))
    connection = session.connection()
    unknown = sorted({rows[k].job_id for k in ready if rows[k].job_exists is None})  # rows read by current_steps know
    existing = {rows[k].job_id for k in ready if rows[k].job_exists}
    if unknown:
        existing.update(connection.execute(_EXISTING_JOBS, {"ids": unknown}).scalars())
    params = json.loads(instance.params_json) if instance.params_json else {}
    fires: list[dict] = []
    started: list[tuple[StepRow, str | None, str | None]] = []
    failed: list[dict] = []
    for key in ready:
        row = rows[key]
        step = definition.step(key)
        upstream = upstream_of(definition, key, rows, results)
        upstream_json = compact(upstream) if upstream else None
        problem: str | None = None
        param: str | None = None
        size = len(upstream_json.encode("utf-8")) if upstream_json else 0
        if row.job_id not in existing:
            problem = job_gone(row.job_id)
        elif size > upstream_max_bytes:
            problem = f"the upstream data of step {key!r} is {size} bytes, over the bound of {upstream_max_bytes} bytes (workflow_upstream_max_bytes)"
        else:
            try:
                param = render_param(step.param, upstream, params, instance.id, instance.planned_at_ms)
            except TemplateError as exc:
                problem = str(exc)
            if param is not None and len(param.encode("utf-8")) > PARAM_MAX_BYTES:
                problem = f"the parameter of step {key!r}, templates filled in, is {len(param.encode('utf-8'))} bytes; at most {PARAM_MAX_BYTES} fit"
        if problem is not None:
            failed.append(end_move(row.id, StepStatus.FAILED, now_ms, problem))
            continue
        root = not definition.inbound(key) and row.generation == 0 and key not in forced
        fire_at_ms = instance.planned_at_ms if root and instance.trigger_type not in _BY_HAND else now_ms
        fires.append({
            "job_id": row.job_id, "fire_at_ms": fire_at_ms, "trigger_type": TriggerType.WORKFLOW.value, "origin_ref": row.id,
            "status": FireStatus.PENDING.value, "owner": None, "lease_until_ms": 0, "param": param, "shard_index": None, "shard_total": None,
            "address": None, "attempt": 0, "created_at_ms": now_ms, "resume_from_run_id": None, "step_run_id": row.id,
        })
        started.append((row, param, upstream_json))
    if failed:
        move_steps(session, failed, StepStatus.WAITING)
        by_id = {m["b_id"] for m in failed}
        for row in rows.values():
            if row.id in by_id:
                row.status = StepStatus.FAILED
    if not started:
        return
    fire_ids = _write_fires(session, fires)
    connection.execute(_FIRED, [
        {"b_id": row.id, "b_fire": fire_ids.get(row.id), "b_param": param, "b_upstream": upstream_json, "b_now": now_ms}
        for row, param, upstream_json in started
    ])
    for row, _, _ in started:
        row.status = StepStatus.FIRED
        row.fire_id = fire_ids.get(row.id)
