"""Reading an instance under its lock, and the guarded writes of its step rows.

Every change of an instance and its steps happens in a transaction whose first statement is
`lock_instance` (SELECT ... FOR UPDATE; SQLite: BEGIN IMMEDIATE already holds the database), so
what is read after it is what the last holder committed (READ COMMITTED), and step transitions
of one instance are serial across scheduler nodes. Transitions are still guarded by the status
they leave (`WHERE id = ? AND status = ?`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import StepStatus
from ..models import Job, Workflow, WorkflowInstance, WorkflowStepRun
from ..upserts import insert_ignoring_duplicates
from .graph import Definition, load_definition

_STEPS = WorkflowStepRun.__table__
_INSTANCES = WorkflowInstance.__table__
_C = _STEPS.c

# The statements of a step transition are built once (a statement built per call cost more
# CPU than the database's work for it: docs/benchmarks.md, "Workflows"); lists of ids are an
# expanding parameter `ids` (a callback batch or one instance's steps: bounded).
_INSTANCE = sa.select(WorkflowInstance).where(WorkflowInstance.id == sa.bindparam("id")).execution_options(populate_existing=True)
_INSTANCE_LOCKED = _INSTANCE.with_for_update()
#: Each step row with whether its job still exists (job_found NULL: deleted), which a step
#: that becomes ready needs.
_CURRENT = (
    sa.select(_C.id, _C.step_key, _C.generation, _C.job_id, _C.status, _C.fire_id, Job.__table__.c.id.label("job_found"))
    .select_from(_STEPS.outerjoin(Job.__table__, Job.__table__.c.id == _C.job_id))
    .where(_C.instance_id == sa.bindparam("id")).order_by(_C.generation, _C.id)
)
_MOVE = (
    sa.update(_STEPS)
    .where(_C.id == sa.bindparam("b_id"), _C.status == sa.bindparam("b_from"))
    .values(status=sa.bindparam("b_status"), message=sa.bindparam("b_message"), result_json=sa.bindparam("b_result"), finished_at_ms=sa.bindparam("b_finished"))
)
_RESULTS = sa.select(_C.id, _C.result_json).where(_C.id.in_(sa.bindparam("ids", expanding=True)), _C.result_json.is_not(None))


@dataclass(slots=True)
class StepRow:
    """The current row of one step (its highest generation)."""

    id: int
    key: str
    generation: int
    job_id: int
    status: StepStatus
    fire_id: int | None
    #: Whether the step's job exists, as read with the row (None: not read).
    job_exists: bool | None = None


def locking(session: Session) -> bool:
    return session.get_bind().dialect.name != "sqlite"


def lock_instance(session: Session, instance_id: int) -> WorkflowInstance | None:
    """The instance, its row locked for the rest of the transaction (None: no such instance)."""
    return session.execute(_INSTANCE_LOCKED if locking(session) else _INSTANCE, {"id": instance_id}).scalar_one_or_none()


def lock_workflow(session: Session, workflow_id: int) -> None:
    """Serializes what decides between a workflow's instances (overlap, the next waiting one)."""
    if locking(session):
        session.execute(sa.select(Workflow.__table__.c.id).where(Workflow.__table__.c.id == workflow_id).with_for_update())


@functools.lru_cache(maxsize=256)
def definition_of(text: str) -> Definition:
    """An instance's stored definition, parsed once per process (it never changes; the text is
    the key, so an edited workflow's new instances get their own entry)."""
    return load_definition(text)


def current_steps(session: Session, instance_id: int) -> dict[str, StepRow]:
    """step key -> its current row."""
    rows: dict[str, StepRow] = {}
    for row in session.connection().execute(_CURRENT, {"id": instance_id}):
        rows[row.step_key] = StepRow(row.id, row.step_key, row.generation, row.job_id, StepStatus(row.status), row.fire_id, row.job_found is not None)
    return rows


def results_of(session: Session, step_ids: Iterable[int]) -> dict[int, str]:
    """step run id -> its result data (JSON text), for those that have some."""
    ids = set(step_ids)
    if not ids:
        return {}
    return dict(session.connection().execute(_RESULTS, {"ids": sorted(ids)}).all())


def add_generation(session: Session, instance_id: int, entries: list[tuple[str, int, int]], status: StepStatus, now_ms: int) -> dict[str, StepRow]:
    """New rows (key, generation, job id) with `status`, once each (uq_workflow_step_run); returns
    the rows by key."""
    if not entries:
        return {}
    finished = now_ms if status in (StepStatus.SKIPPED,) else None
    insert_ignoring_duplicates(session, _STEPS, [
        {"instance_id": instance_id, "step_key": key, "generation": generation, "job_id": job_id, "status": status.value,
         "created_at_ms": now_ms, "finished_at_ms": finished}
        for key, generation, job_id in entries
    ])
    c = _STEPS.c
    wanted = {(key, generation) for key, generation, _ in entries}
    out: dict[str, StepRow] = {}
    for row in session.execute(
        sa.select(c.id, c.step_key, c.generation, c.job_id, c.status, c.fire_id)
        .where(c.instance_id == instance_id, c.generation.in_(sorted({g for _, g, _ in entries})))
    ):
        if (row.step_key, row.generation) in wanted:
            out[row.step_key] = StepRow(row.id, row.step_key, row.generation, row.job_id, StepStatus(row.status), row.fire_id)
    return out


def move_steps(session: Session, moves: list[dict], from_status: StepStatus) -> int:
    """Guarded transitions: each dict has b_id and the new values (b_status, b_message,
    b_result, b_finished); returns how many rows moved."""
    if not moves:
        return 0
    return session.connection().execute(_MOVE, [{**move, "b_from": from_status.value} for move in moves]).rowcount


def end_move(step_id: int, status: StepStatus, now_ms: int, message: str | None = None, result_json: str | None = None) -> dict:
    return {"b_id": step_id, "b_status": status.value, "b_message": message[:512] if message else message, "b_result": result_json, "b_finished": now_ms}
