"""Moving an instance on: ended steps recorded, next steps fired, the instance ended.

`advance_instance` is called after results of step runs were committed (the callback's fast
path, the follow-up monitor's catch-all, the workflow monitor's sweep) and after anything a
person did to an instance. It is idempotent: with nothing new it changes nothing, and two nodes
calling it at once are serialized by the instance's lock (step_rows.lock_instance), so every step
is fired once.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..enums import StepStatus, WorkflowStatus
from ..db import Database, changed_rows
from ..firing.fire_bell import bell_for
from ..firing.fire_store import retry_on_deadlock
from ..models import Workflow, WorkflowInstance, WorkflowStepRun
from . import graph
from .graph import Definition
from .instance_alarms import write_instance_alarms
from .step_fires import UPSTREAM_MAX_BYTES, start_steps
from .step_results import step_ends
from .step_rows import StepRow, add_generation, current_steps, definition_of, end_move, lock_instance, lock_workflow, move_steps

log = logging.getLogger("shardcron.admin.workflows")
_STEP = WorkflowStepRun.__table__.c
_INSTANCES_OF = sa.select(_STEP.id, _STEP.instance_id).where(_STEP.id.in_(sa.bindparam("ids", expanding=True)))  # built once


def advance_instance(
    session: Session, instance_id: int, now_ms: int, *, upstream_max_bytes: int = UPSTREAM_MAX_BYTES,
    finished: Collection[int] | None = None, forced: frozenset[str] = frozenset(),
) -> None:
    """Record the FIRED steps that ended (only those in `finished`, step run ids, when given:
    the callback knows which it finished), start what that makes ready, mark NOT_RUN what can
    never run, and end the instance once no step waits or runs. `forced`: steps to start whatever
    their inbound edges say (a re-run's starting steps). Locks the instance first."""
    instance = lock_instance(session, instance_id)
    if instance is None or instance.status != WorkflowStatus.RUNNING:
        return
    definition = definition_of(instance.definition_json)
    rows = current_steps(session, instance_id)
    fired = [row for row in rows.values() if row.status == StepStatus.FIRED and (finished is None or row.id in finished)]
    known: dict[int, str | None] = {}
    if fired:
        ends = step_ends(session, fired)
        if ends:
            move_steps(session, [end_move(step_id, end.status, now_ms, end.message, end.result_json) for step_id, end in ends.items()], StepStatus.FIRED)
            for row in rows.values():
                end = ends.get(row.id)
                if end is not None:
                    row.status = end.status
            known = {step_id: end.result_json for step_id, end in ends.items()}
    progress(session, instance, definition, rows, now_ms, upstream_max_bytes=upstream_max_bytes, forced=forced, known_results=known)


def has_moves(session: Session, instance_id: int) -> bool:
    """Whether `advance_instance` would change anything now, read without the instance's lock
    (a read transaction: on SQLite it does not take the write lock). The sweep asks this first
    and advances only the instances that answer yes; a change between the read and the advance
    is judged again under the lock."""
    t = WorkflowInstance.__table__.c
    row = session.execute(sa.select(t.status, t.definition_json).where(t.id == instance_id)).first()
    if row is None or row.status != WorkflowStatus.RUNNING:
        return False
    definition = definition_of(row.definition_json)
    rows = current_steps(session, instance_id)
    fired = [r for r in rows.values() if r.status == StepStatus.FIRED]
    if fired and step_ends(session, fired):
        return True
    states = {key: r.status for key, r in rows.items()}
    moves = graph.advance(definition, states)
    return bool(moves.ready or moves.not_run) or graph.outcome(definition, states) is not None


def progress(
    session: Session, instance: WorkflowInstance, definition: Definition, rows: dict[str, StepRow], now_ms: int,
    *, upstream_max_bytes: int = UPSTREAM_MAX_BYTES, forced: frozenset[str] = frozenset(), known_results: Mapping[int, str | None] | None = None,
) -> None:
    """With the instance locked and `rows` current: fire ready steps (and `forced` ones), mark
    NOT_RUN ones, until nothing moves; then end the instance if every step ended.
    `known_results`: step run id -> result data of steps that ended in this transaction (not
    read again for their successors)."""
    first = [key for key in definition.order() if key in forced and rows[key].status == StepStatus.WAITING]
    if first:
        start_steps(session, instance, definition, rows, first, now_ms, upstream_max_bytes=upstream_max_bytes, forced=forced, known_results=known_results)
    while True:
        states = {key: row.status for key, row in rows.items()}
        moves = graph.advance(definition, states)
        if not moves.ready and not moves.not_run:
            break
        if moves.not_run:
            move_steps(session, [end_move(rows[key].id, StepStatus.NOT_RUN, now_ms) for key in moves.not_run], StepStatus.WAITING)
            for key in moves.not_run:
                rows[key].status = StepStatus.NOT_RUN
        # Steps whose start fails at once (a template, a deleted job) change what is ready next.
        start_steps(session, instance, definition, rows, moves.ready, now_ms, upstream_max_bytes=upstream_max_bytes, known_results=known_results)
    states = {key: row.status for key, row in rows.items()}
    result = graph.outcome(definition, states)
    if result is not None:
        message = None
        if result == WorkflowStatus.FAILED:
            message = "failed step(s) with no failure branch: " + ", ".join(graph.unhandled_failures(definition, states))
        end_instance(session, instance, result, now_ms, message, upstream_max_bytes=upstream_max_bytes)


def end_instance(
    session: Session, instance: WorkflowInstance, status: WorkflowStatus, now_ms: int, message: str | None,
    *, upstream_max_bytes: int = UPSTREAM_MAX_BYTES,
) -> None:
    """End the (locked, RUNNING or WAITING) instance, write its alarms (FAILED, TIMED_OUT:
    instance_alarms), then start the workflow's oldest WAITING instance (overlap BUFFER_ONE),
    all in the same transaction. An instance that had ended already changes nothing."""
    t = WorkflowInstance.__table__.c
    ended = changed_rows(session.execute(
        sa.update(WorkflowInstance.__table__)
        .where(t.id == instance.id, t.status.in_([WorkflowStatus.RUNNING.value, WorkflowStatus.WAITING.value]))
        .values(status=status.value, finished_at_ms=now_ms, message=message[:512] if message else None)
    ))
    if not ended:
        return
    instance.status, instance.finished_at_ms, instance.message = status, now_ms, message
    log.info("workflow instance %d ended %s", instance.id, status, extra={"workflow_id": instance.workflow_id, "instance_id": instance.id})
    write_instance_alarms(session, instance.id, instance.workflow_id, status, now_ms)
    start_next_waiting(session, instance.workflow_id, now_ms, upstream_max_bytes=upstream_max_bytes)


def start_next_waiting(session: Session, workflow_id: int, now_ms: int, *, upstream_max_bytes: int = UPSTREAM_MAX_BYTES) -> int | None:
    """The oldest WAITING instance of the workflow starts, when none of its instances runs."""
    lock_workflow(session, workflow_id)
    t = WorkflowInstance.__table__.c
    running = session.execute(
        sa.select(t.id).where(t.workflow_id == workflow_id, t.status == WorkflowStatus.RUNNING.value).limit(1)
    ).scalar()
    if running is not None:
        return None
    waiting = session.execute(
        sa.select(t.id).where(t.workflow_id == workflow_id, t.status == WorkflowStatus.WAITING.value).order_by(t.id).limit(1)
    ).scalar()
    if waiting is None:
        return None
    instance = lock_instance(session, waiting)
    if instance is None or instance.status != WorkflowStatus.WAITING:
        return None
    begin(session, instance, now_ms, upstream_max_bytes=upstream_max_bytes)
    return instance.id


def begin(session: Session, instance: WorkflowInstance, now_ms: int, *, upstream_max_bytes: int = UPSTREAM_MAX_BYTES) -> None:
    """A created (or waiting) instance starts: RUNNING, its deadline set, its first steps fired."""
    definition = definition_of(instance.definition_json)
    # The workflow's timeout when the instance starts (a waiting one may start after an edit).
    timeout_s = session.execute(sa.select(Workflow.__table__.c.timeout_s).where(Workflow.__table__.c.id == instance.workflow_id)).scalar() or 0
    t = WorkflowInstance.__table__.c
    deadline = now_ms + timeout_s * 1000 if timeout_s > 0 else 0
    session.execute(
        sa.update(WorkflowInstance.__table__).where(t.id == instance.id)
        .values(status=WorkflowStatus.RUNNING.value, started_at_ms=now_ms, deadline_at_ms=deadline, message=None)
    )
    instance.status, instance.started_at_ms, instance.deadline_at_ms, instance.message = WorkflowStatus.RUNNING, now_ms, deadline, None
    rows = add_generation(session, instance.id, [(step.key, 0, step.job_id) for step in definition.steps], StepStatus.WAITING, now_ms)
    progress(session, instance, definition, rows, now_ms, upstream_max_bytes=upstream_max_bytes)


def advance_step_runs(db: Database, step_run_ids: Collection[int], now_ms: int, *, upstream_max_bytes: int = UPSTREAM_MAX_BYTES) -> None:
    """Advance the instances of these step runs after the results that finished them were
    committed: all in one transaction, the instances locked in id order (two callers lock in the
    same order, so they never deadlock) — one transaction per batch, not per instance, since on
    SQLite every transaction queues for the one write lock. Should that transaction fail, each
    instance is tried alone, so one bad instance does not hold back the others. Errors are
    logged: the follow-up monitor advances them again (the catch-all). The fire bell rings after
    each commit: this process's fire loops claim the new steps' fires at once."""
    if not step_run_ids:
        return
    with db.read_session() as session:
        instances = instances_of(session, step_run_ids)
    bell = bell_for(db)
    if len(instances) > 1:
        try:
            retry_on_deadlock(lambda: _advance_together(db, instances, now_ms, upstream_max_bytes))
            bell.ring()
            return
        except Exception:
            log.warning("workflow instances not advanced together; advancing each alone", exc_info=True)
    for instance_id, steps in instances:
        try:
            retry_on_deadlock(lambda: _advance_together(db, [(instance_id, steps)], now_ms, upstream_max_bytes))  # noqa: B023 (called at once)
            bell.ring()
        except Exception:  # the follow-up monitor's catch-all does it again
            log.exception("workflow instance %d not advanced; the follow-up monitor will", instance_id)


class AdvanceFailed(Exception):
    """`advance_in` failed with something other than a database's operational error: the
    caller's transaction holds part of an advance and must be rolled back whole."""


def advance_in(session: Session, step_instances: Mapping[int, int], now_ms: int, *, upstream_max_bytes: int = UPSTREAM_MAX_BYTES) -> None:
    """Advance the instances of these step runs (step run id -> its instance id) inside the
    caller's transaction, the one that wrote their results (the callback's: one transaction per
    result batch instead of two, so a step's successor waits for one turn at SQLite's write
    lock, not two). No savepoint (two round trips per callback): should it fail, AdvanceFailed
    says so and the caller rolls back and writes the results again without it, leaving the
    instances to `advance_step_runs` after that commit or to the follow-up monitor
    (rpc/views.py); an OperationalError (a deadlock, a lost connection) is raised as it is, for
    the whole transaction to be retried or to fail. The caller rings the fire bell after its
    commit."""
    try:
        for instance_id, steps in by_instance(step_instances.items()):
            advance_instance(session, instance_id, now_ms, upstream_max_bytes=upstream_max_bytes, finished=steps)
    except OperationalError:
        raise
    except Exception as exc:
        log.exception("workflow instances of step runs %s not advanced with their results; advancing after the commit", sorted(step_instances)[:20])
        raise AdvanceFailed(str(exc)) from exc


def instances_of(session: Session, step_run_ids: Collection[int]) -> list[tuple[int, set[int]]]:
    """(instance id, its step run ids among these), in instance id order (the lock order)."""
    return by_instance((row.id, row.instance_id) for row in session.connection().execute(_INSTANCES_OF, {"ids": sorted(set(step_run_ids))}))


def by_instance(pairs: Iterable[tuple[int, int]]) -> list[tuple[int, set[int]]]:
    """(step run id, instance id) pairs as (instance id, its step run ids), in instance id
    order (the lock order)."""
    grouped: dict[int, set[int]] = {}
    for step_id, instance_id in pairs:
        grouped.setdefault(instance_id, set()).add(step_id)
    return sorted(grouped.items())


def _advance_together(db: Database, instances: list[tuple[int, set[int]]], now_ms: int, upstream_max_bytes: int) -> None:
    with db.session() as session:
        for instance_id, steps in instances:
            advance_instance(session, instance_id, now_ms, upstream_max_bytes=upstream_max_bytes, finished=steps)
